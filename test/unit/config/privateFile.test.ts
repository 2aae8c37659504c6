import * as assert from 'node:assert/strict';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile } from '../../../src/core/config/privateFile';

// Modes and symlinks are POSIX behaviour; on Windows only the content rows apply.
const posix = process.platform !== 'win32';

/** Issue 9, point 8: assistants' config files hold the access token. */
suite('writePrivateFile (assistant config files)', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-private-'));
  });
  teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a new file is created 0600 in a new directory, and no temporary file is left', async () => {
    const file = join(dir, '.continue', 'config.yaml');
    const w = await writePrivateFile(file, 'apiKey: kr-token\n');
    assert.equal(readFileSync(file, 'utf8'), 'apiKey: kr-token\n');
    assert.equal(w.written, file);
    assert.equal(w.wasMode, undefined);
    if (posix) assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, '.continue')), ['config.yaml']);
  });

  test('an existing world-readable file is replaced by rename (a new inode), made 0600, and the old mode reported', async () => {
    const file = join(dir, 'settings.json');
    writeFileSync(file, '{"old":true}');
    if (posix) chmodSync(file, 0o644);
    const inode = statSync(file).ino;
    const w = await writePrivateFile(file, '{"new":true}');
    assert.equal(readFileSync(file, 'utf8'), '{"new":true}');
    // Written in place, a reader could see half a file; renamed over, it sees the old or the new one.
    assert.notEqual(statSync(file).ino, inode, 'replaced by rename, not rewritten in place');
    if (posix) {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(w.wasMode, 0o644);
    }
    assert.deepEqual(readdirSync(dir), ['settings.json']);
  });

  test('a symlinked config file is written through its real path: the link stays a link', async () => {
    if (!posix) return; // no symlinks without privileges on Windows
    const real = join(dir, 'dotfiles', 'config.toml');
    mkdirSync(join(dir, 'dotfiles'));
    writeFileSync(real, 'old = 1\n');
    const link = join(dir, 'config.toml');
    symlinkSync('dotfiles/config.toml', link);
    const w = await writePrivateFile(link, 'new = 2\n');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link was not replaced by a file');
    assert.equal(readlinkSync(link), 'dotfiles/config.toml');
    assert.equal(readFileSync(real, 'utf8'), 'new = 2\n');
    assert.equal(w.written, real);
    assert.equal(statSync(real).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'dotfiles')), ['config.toml'], 'the temp file sat beside the target');
  });

  test('a dangling symlink creates its target and stays a link', async () => {
    if (!posix) return; // no symlinks without privileges on Windows
    const link = join(dir, '.aider.conf.yml');
    symlinkSync(join(dir, 'elsewhere.yml'), link);
    await writePrivateFile(link, 'openai-api-key: t\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(join(dir, 'elsewhere.yml'), 'utf8'), 'openai-api-key: t\n');
  });

  test('a write that fails leaves the old content and no temporary file', async () => {
    // A directory where the file should be: the rename fails after the temp file was written.
    const file = join(dir, 'config.yaml');
    mkdirSync(file);
    writeFileSync(join(file, 'keep'), 'x');
    await assert.rejects(writePrivateFile(file, 'new'));
    assert.deepEqual(readdirSync(dir), ['config.yaml']);
    assert.equal(readFileSync(join(file, 'keep'), 'utf8'), 'x');
  });
});
