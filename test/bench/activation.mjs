// Activation benchmark: the extension as the .vsix ships it (`node esbuild.mjs --production`, built
// into a temp dir) loaded with a stub `vscode`, activate() run until its proxy listens, A/B against
// a bare-listen baseline (baselineExtension.cjs) bundled and minified the same way, and an empty
// host: a Node start that loads the built-ins VS Code's extension host has loaded before any
// extension (hostBuiltins.cjs; the other two load them too, before their clock starts). Fresh
// process per sample, the three kinds interleaved in random order.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PIN, pinned, startChild, stop, tempDir, removeTemp, median, shuffle, sleep } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function bundleBaseline(dir) {
  const esbuild = await import('esbuild');
  const outfile = path.join(dir, 'baseline.js');
  await esbuild.build({
    entryPoints: [path.join(here, 'baselineExtension.cjs')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode'],
    outfile,
    minify: true,
    logLevel: 'error',
    nodePaths: [path.join(root, 'node_modules')],
  });
  return outfile;
}

/**
 * One fresh process. `storage`: its storage dir (a fresh one by default); `saveCache`: wait for the
 * extension to save its code cache there before it exits.
 */
async function sample(kind, bundle, dir, { storage, saveCache = false } = {}) {
  const start = process.hrtime.bigint();
  let cmd, args, ready;
  if (kind === 'empty') {
    [cmd, args] = pinned(PIN.proxy, process.execPath, [path.join(here, 'hostBuiltins.cjs')]);
    ready = /READY/;
  } else {
    storage ??= fs.mkdtempSync(path.join(dir, 's-'));
    [cmd, args] = pinned(PIN.proxy, process.execPath, [path.join(here, 'activationHarness.cjs'), bundle, storage]);
    ready = /ACTIVATED ([\d.]+) ([\d.]+) \d+ ([\d.]+)|ACTIVATION_(TIMEOUT|ERROR.*)/;
  }
  const p = await startChild(cmd, args, {
    ready,
    timeoutMs: 20_000,
    env: { BENCH_VSCODE_PORT: String(await freePort()), ...(saveCache ? { BENCH_SAVE_CODE_CACHE: '1' } : {}) },
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (saveCache) await untilOutput(p, /CODE_CACHE_\w+/, 15_000);
  await stop(p.child);
  if (kind !== 'empty' && !p.match[1]) throw new Error(`${kind}: ${p.match[0]}`);
  return {
    wallMs,
    activateMs: kind === 'empty' ? 0 : Number(p.match[1]),
  };
}

/** Resolves once the child's output so far matches `re`, it exits, or `ms` pass. */
async function untilOutput(p, re, ms) {
  for (let t = 0; t < ms && p.child.exitCode === null && !re.test(p.stdout()); t += 50) await sleep(50);
}

/** The production build (minified, no source maps), as `vscode:prepublish` makes it for the .vsix. */
function bundleProduction(dir) {
  const outdir = path.join(dir, 'dist');
  execFileSync(process.execPath, ['esbuild.mjs', '--production', '--outdir', outdir], { cwd: root, stdio: 'inherit' });
  return path.join(outdir, 'extension.js');
}

/**
 * Returns per-kind arrays of samples, or { error } when the extension bundle cannot activate.
 * `extension`: a bundle to measure instead of the production build (e.g. dist/extension.js).
 */
export async function activationBench({ samples = 7, extension } = {}) {
  const dir = tempDir('keyrelay-bench-act-');
  try {
    extension ??= bundleProduction(dir);
    const baseline = await bundleBaseline(dir);
    // Every start but the first after an install finds the code cache the first one saved
    // (src/core/codeCache.ts): `extension` samples get a copy of it, `extensionCold` none.
    const warm = fs.mkdtempSync(path.join(dir, 'warm-'));
    await sample('extension', extension, dir, { storage: warm, saveCache: true });
    const cache = path.join(warm, 'global', 'code-cache');
    const withCache = () => {
      const s = fs.mkdtempSync(path.join(dir, 's-'));
      if (fs.existsSync(cache)) fs.cpSync(cache, path.join(s, 'global', 'code-cache'), { recursive: true });
      return { storage: s };
    };
    const res = { empty: [], baseline: [], extension: [], extensionCold: [] };
    const bundles = { empty: undefined, baseline, extension, extensionCold: extension };
    const run = (k) => sample(k, bundles[k], dir, k === 'extension' ? withCache() : {});
    for (const k of Object.keys(res)) await run(k); // warm the file cache
    for (let i = 0; i < samples; i++) {
      for (const k of shuffle(Object.keys(res))) res[k].push(await run(k));
    }
    const m = (k, f) => median(res[k].map((x) => x[f]));
    return {
      samples: res,
      emptyWallMs: m('empty', 'wallMs'),
      baselineWallMs: m('baseline', 'wallMs'),
      extensionWallMs: m('extension', 'wallMs'),
      baselineActivateMs: m('baseline', 'activateMs'),
      extensionActivateMs: m('extension', 'activateMs'),
      extensionColdWallMs: m('extensionCold', 'wallMs'),
      extensionColdActivateMs: m('extensionCold', 'activateMs'),
      codeCache: fs.existsSync(cache) && fs.readdirSync(cache).some((f) => f.endsWith('.v8cache')),
    };
  } catch (e) {
    return {
      error: String(e.message ?? e)
        .split('\n')
        .slice(0, 4)
        .join(' | '),
    };
  } finally {
    removeTemp(dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bundle = process.argv[3] && path.resolve(process.argv[3]);
  const r = await activationBench({ samples: Number(process.argv[2] ?? 7), extension: bundle });
  delete r.samples;
  console.log(JSON.stringify(r, null, 2));
}
