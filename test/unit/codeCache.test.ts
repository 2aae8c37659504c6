import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCached } from '../../src/core/codeCache';

interface Probe {
  answer: number;
  sibling: string;
  where: string;
  dir: string;
  sep: string;
  thisIsExports: boolean;
  fail(): never;
}

/** A small CommonJS module: a sibling through a relative require, a built-in, its own names. */
function bundle(answer: number): string {
  return [
    "'use strict';",
    "const sibling = require('./sibling.js');",
    "const { sep } = require('node:path');",
    `module.exports = { answer: ${answer}, sibling, where: __filename, dir: __dirname, sep, thisIsExports: this === exports };`,
    "module.exports.fail = () => { throw new Error('line 5'); };",
    '',
  ].join('\n');
}

/**
 * loadCached in a fresh process, as each extension host start is one: in this process V8 would
 * answer a second compile of the same source from its in-memory cache and never read the file's.
 */
function loadFresh(file: string, cacheDir: string, save = false): { state: string; answer: number } {
  const lib = path.resolve(__dirname, '../../src/core/codeCache.js');
  const script = `const m = require(${JSON.stringify(lib)}).loadCached(${JSON.stringify(file)}, ${JSON.stringify(cacheDir)});
${save ? 'm.save();' : ''}
process.stdout.write(JSON.stringify({ state: m.state, answer: m.exports.answer }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as {
    state: string;
    answer: number;
  };
}

suite('loadCached (V8 code cache for the extension bundle)', () => {
  let dir: string;
  let file: string;
  let cacheDir: string;
  const cacheFiles = (): string[] => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []);
  setup(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyrelay-codecache-'));
    file = path.join(dir, 'main.js');
    cacheDir = path.join(dir, 'storage', 'code-cache');
    fs.writeFileSync(path.join(dir, 'sibling.js'), "module.exports = 'sibling';\n");
    fs.writeFileSync(file, bundle(41));
  });
  teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('loads the module as require would; saved, the next load takes the cache', () => {
    const first = loadCached<Probe>(file, cacheDir);
    assert.equal(first.state, 'absent');
    assert.deepEqual(
      { ...first.exports, fail: undefined },
      { answer: 41, sibling: 'sibling', where: file, dir, sep: path.sep, thisIsExports: true, fail: undefined },
    );
    assert.deepEqual(cacheFiles(), [], 'nothing is written before save()');
    first.save();
    assert.equal(cacheFiles().length, 1);
    assert.match(
      cacheFiles()[0],
      new RegExp(`^main\\.js\\.[0-9a-f]{32}\\.${process.versions.v8}\\.${process.arch}\\.v8cache$`),
    );
    const written = fs.statSync(path.join(cacheDir, cacheFiles()[0])).mtimeMs;
    assert.deepEqual(loadFresh(file, cacheDir, true), { state: 'used', answer: 41 });
    assert.equal(
      fs.statSync(path.join(cacheDir, cacheFiles()[0])).mtimeMs,
      written,
      'a used cache is not written again',
    );
  });

  test("errors point at the bundle's own lines", () => {
    const m = loadCached<Probe>(file, cacheDir);
    assert.throws(
      () => m.exports.fail(),
      (err: Error) => err.stack!.includes(`${file}:5:`),
    );
  });

  test('a rebuilt bundle of the same length never runs the old bytecode, and replaces its cache', () => {
    loadCached<Probe>(file, cacheDir).save();
    const before = cacheFiles();
    fs.writeFileSync(file, bundle(42));
    const rebuilt = loadCached<Probe>(file, cacheDir);
    assert.equal(rebuilt.state, 'absent');
    assert.equal(rebuilt.exports.answer, 42);
    rebuilt.save();
    assert.equal(cacheFiles().length, 1);
    assert.notDeepEqual(cacheFiles(), before, "the old bundle's cache is removed");
    assert.deepEqual(loadFresh(file, cacheDir), { state: 'used', answer: 42 });
  });

  test('a corrupt cache is rejected by V8, the module still loads, and save() writes a good one', () => {
    loadCached<Probe>(file, cacheDir).save();
    const cached = path.join(cacheDir, cacheFiles()[0]);
    fs.writeFileSync(cached, Buffer.alloc(fs.statSync(cached).size, 7));
    assert.deepEqual(loadFresh(file, cacheDir, true), { state: 'rejected', answer: 41 });
    assert.deepEqual(loadFresh(file, cacheDir), { state: 'used', answer: 41 });
  });

  test('a cache dir that cannot be written costs only the cache', () => {
    fs.mkdirSync(path.dirname(cacheDir), { recursive: true });
    fs.writeFileSync(cacheDir, 'a file where the dir should be');
    const m = loadCached<Probe>(file, cacheDir);
    assert.equal(m.state, 'unreadable');
    assert.doesNotThrow(() => m.save());
    assert.equal(loadCached<Probe>(file, cacheDir).exports.answer, 41);
    assert.deepEqual(fs.readdirSync(path.dirname(cacheDir)), ['code-cache'], 'no temp file left behind');
  });
});
