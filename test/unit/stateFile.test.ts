import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonFileAtomic } from '../../src/core/stateFile';

// Modes are POSIX; Windows does not enforce them, so mode assertions are made elsewhere only.
const posix = process.platform !== 'win32';

suite('stateFile', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-state-'));
  });
  teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a missing file reads as undefined without complaint', () => {
    let complained = false;
    assert.equal(readJsonFile(join(dir, 'health.json'), () => { complained = true; }), undefined);
    assert.equal(complained, false);
  });

  test('writes and reads back the same value', () => {
    const file = join(dir, 'health.json');
    const value = { version: 1, keys: { k1: { state: 'cooling', coolingUntil: 1_700_000_060_000, history: [] } }, note: 'ünïcode ✓' };
    writeJsonFileAtomic(file, value);
    assert.deepEqual(readJsonFile(file), value);
  });

  test('the file is owner-only (0600), also when it replaces a world-readable one', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    writeFileAtomic(file, 'kr-test-Zq8vLm3Np7Rt');
    if (posix) assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'kr-test-Zq8vLm3Np7Rt');
  });

  test('missing parent directories are created owner-only', () => {
    const file = join(dir, 'a', 'b', 'stats.json');
    writeJsonFileAtomic(file, { n: 1 });
    assert.deepEqual(readJsonFile(file), { n: 1 });
    if (posix) assert.equal(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o700);
  });

  test('replaces the whole file and leaves no temp file behind', () => {
    const file = join(dir, 'stats.json');
    writeJsonFileAtomic(file, { big: 'x'.repeat(10_000) });
    writeJsonFileAtomic(file, { small: true });
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { small: true });
    assert.deepEqual(readdirSync(dir), ['stats.json']);
  });

  test('writing goes through a temp file and a rename: the old file is never rewritten in place', () => {
    // A rename swaps in a new inode; an in-place write (truncate, then write) would keep the old
    // one, and a crash in between would leave half a file.
    const file = join(dir, 'health.json');
    writeFileSync(file, '{"old":true}');
    const before = statSync(file).ino;
    writeJsonFileAtomic(file, { new: true });
    assert.notEqual(statSync(file).ino, before);
    assert.deepEqual(readJsonFile(file), { new: true });
  });

  test('a corrupt file is kept aside as .corrupt, reported, and reads as undefined', () => {
    const file = join(dir, 'health.json');
    writeFileSync(file, '{"keys": {"k1": ');
    const messages: string[] = [];
    assert.equal(readJsonFile(file, (m) => messages.push(m)), undefined);
    assert.equal(existsSync(file), false);
    assert.equal(readFileSync(`${file}.corrupt`, 'utf8'), '{"keys": {"k1": ');
    assert.equal(messages.length, 1);
    assert.match(messages[0], /health\.json\.corrupt/);
    // Starting fresh works: the next write creates the file again.
    writeJsonFileAtomic(file, { keys: {} });
    assert.deepEqual(readJsonFile(file), { keys: {} });
  });

  test('errors other than "missing" are not swallowed', () => {
    const sub = join(dir, 'is-a-dir');
    mkdirSync(sub);
    assert.throws(() => readJsonFile(sub), /EISDIR/);
  });
});
