import * as assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readJsonFile,
  stringifyInSlices,
  writeFileAtomic,
  writeJsonFileAtomic,
  writeJsonFileAtomicAsync,
  writeJsonInSlices,
} from '../../../src/core/config/stateFile';
import { LazyRecord } from '../../../src/core/config/lazyRecord';

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

  test('stringifyInSlices writes what JSON.stringify writes, pausing inside large objects', async () => {
    const byKey: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < 2_100; i++)
      byKey[`k${i}`] = { requests: i, failures: { rate_limit: i % 3 }, last: i % 7 === 0 ? undefined : 1.5 };
    const big: Record<string, number> = {};
    for (let i = 0; i < 600; i++) big[`model-"${i}"\n✓`] = i;
    const value = {
      version: 1,
      empty: {},
      list: [1, 'two', null, { three: [3] }, undefined],
      when: new Date(0),
      skip: undefined,
      fn: () => 1,
      stats: { total: { requests: 5 }, byKey, today: { day: '2026-12-01', byKey: big } },
      nested: { inner: { large: big } },
    };
    let pauses = 0;
    const text = await stringifyInSlices(value, async () => {
      pauses++;
    });
    assert.equal(text, JSON.stringify(value));
    // 2,100 + 600 + 600 entries of large objects, a pause after every 500.
    assert.equal(pauses, Math.floor((2_100 + 600 + 600) / 500));
    assert.equal(await stringifyInSlices('plain'), '"plain"');
    assert.equal(await stringifyInSlices({ a: undefined }), '{}');
  });

  test('stringifyInSlices lets other work run between slices; entries changed meanwhile stay whole', async () => {
    const byKey: Record<string, { n: number }> = {};
    for (let i = 0; i < 1_500; i++) byKey[`k${i}`] = { n: 0 };
    let ticks = 0;
    let running = true;
    // Other work on the loop, every turn (setImmediate has no timer threshold to miss).
    const work = (): void => {
      ticks++;
      byKey.k1499.n++;
      delete byKey.k1498;
      if (running) setImmediate(work);
    };
    setImmediate(work);
    try {
      const parsed = JSON.parse(await stringifyInSlices({ byKey })) as { byKey: Record<string, { n: number }> };
      assert.ok(ticks > 0, 'a timer ran while the document was being written');
      assert.equal(parsed.byKey.k1498, undefined, 'an entry removed before it was reached is left out');
      assert.ok(parsed.byKey.k1499.n > 0, 'an entry is read as it is when reached');
      assert.equal(Object.keys(parsed.byKey).length, 1_499);
    } finally {
      running = false;
    }
    const file = join(dir, 'state.json');
    await writeJsonFileAtomicAsync(file, { byKey });
    assert.deepEqual(readJsonFile(file), JSON.parse(JSON.stringify({ byKey })));
  });

  test('a LazyRecord makes each entry only when the writer reaches it, and never holds the document', async () => {
    const ids = Array.from({ length: 3_000 }, (_, i) => `key-${i}`);
    let made = 0;
    const lazy = new LazyRecord(ids, (id, i) => {
      made++;
      return i % 10 === 9 ? undefined : ([id, { requests: i, model: `m-${i % 3}` }] as const);
    });
    const value = { version: 1, stats: { byKey: lazy, small: new LazyRecord(['a'], () => ['a', 1] as const) } };
    const expected = JSON.stringify(value);
    assert.equal(made, 3_000, 'JSON.stringify reads it whole through toJSON');
    made = 0;
    const madeAtPause: number[] = [];
    const pieces: number[] = [];
    await writeJsonInSlices(
      value,
      (text) => void pieces.push(text.length),
      async () => void madeAtPause.push(made),
    );
    // A pause after every 500 entries written (2,700 of the 3,000 are): each slice made as it is written.
    assert.deepEqual(madeAtPause, [555, 1111, 1666, 2222, 2777]);
    assert.ok(pieces.length >= 2, `handed on in pieces, not as one document (${pieces.length})`);
    assert.ok(pieces.slice(0, -1).every((n) => n >= 64 * 1024 && n < 80 * 1024));
    assert.equal(await stringifyInSlices(value, async () => undefined), expected);
    const file = join(dir, 'lazy.json');
    await writeJsonFileAtomicAsync(file, value);
    assert.equal(readFileSync(file, 'utf8'), expected, 'the pieces follow one another in the file');
    assert.deepEqual(readdirSync(dir), ['lazy.json'], 'no temp file left');
  });

  test('a missing file reads as undefined without complaint', () => {
    let complained = false;
    assert.equal(
      readJsonFile(join(dir, 'health.json'), () => {
        complained = true;
      }),
      undefined,
    );
    assert.equal(complained, false);
  });

  test('writes and reads back the same value', () => {
    const file = join(dir, 'health.json');
    const value = {
      version: 1,
      keys: { k1: { state: 'cooling', coolingUntil: 1_700_000_060_000, history: [] } },
      note: 'ünïcode ✓',
    };
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
    assert.equal(
      readJsonFile(file, (m) => messages.push(m)),
      undefined,
    );
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
