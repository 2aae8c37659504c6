import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Script } from 'node:vm';

/** What `loadCached` reports: whether V8's code cache was there and taken. */
export type CodeCacheState = 'used' | 'absent' | 'rejected' | 'unreadable';

export interface CachedModule<T> {
  exports: T;
  state: CodeCacheState;
  /** Writes the cache (with every function compiled so far) when it was not used; never throws. */
  save(): void;
}

/**
 * Loads a CommonJS bundle as `require` would, but compiled with V8's code cache kept in `cacheDir`
 * (the extension's entry, src/boot.ts): the extension host (code-server's at least) caches no
 * extension's bytecode, and compiling our bundle was a third of activation. The cache file is named
 * after the bundle's SHA-256 and V8's version (V8 checks only the source's length itself), so a
 * rebuilt or updated bundle never runs stale bytecode; older files are removed when a new one is
 * written. Any failure to read or write it only costs the compile it would have saved.
 * `cacheDir` must be the user's own (V8 runs what it finds there): never a shared temp dir.
 */
export function loadCached<T>(file: string, cacheDir: string): CachedModule<T> {
  const source = fs.readFileSync(file, 'utf8');
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 32);
  const name = `${path.basename(file)}.${digest}.${process.versions.v8}.${process.arch}.v8cache`;
  const cacheFile = path.join(cacheDir, name);
  let cachedData: Buffer | undefined;
  let state: CodeCacheState = 'absent';
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') state = 'unreadable';
  }
  // The wrapper CommonJS gives a module; its own line, so the bundle's line numbers stay as they are.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: file,
    lineOffset: -1,
    cachedData,
  });
  if (cachedData) state = script.cachedDataRejected ? 'rejected' : 'used';
  const module = { exports: {} as T };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  const save = (): void => {
    if (state === 'used') return;
    try {
      fs.mkdirSync(cacheDir, { recursive: true });
      const temp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(temp, script.createCachedData());
      fs.renameSync(temp, cacheFile);
      state = 'used';
      for (const f of fs.readdirSync(cacheDir))
        if (f !== name && f.endsWith('.v8cache')) fs.rmSync(path.join(cacheDir, f), { force: true });
    } catch {
      // A read-only or full disk: the next start compiles, as it would without a cache.
    }
  };
  return { exports: module.exports, state, save };
}
