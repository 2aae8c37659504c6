// Activation benchmark: the bundled dist/extension.js loaded with a stub `vscode`, activate() run
// until its proxy listens, A/B against a bundled bare-listen baseline (baselineExtension.cjs) and an
// empty Node start. Fresh process per sample, the three kinds interleaved in random order.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PIN, pinned, startChild, stop, tempDir, removeTemp, median, shuffle } from './lib.mjs';

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
    logLevel: 'error',
    nodePaths: [path.join(root, 'node_modules')],
  });
  return outfile;
}

async function sample(kind, bundle, dir) {
  const start = process.hrtime.bigint();
  let cmd, args, ready;
  if (kind === 'empty') {
    [cmd, args] = pinned(PIN.proxy, process.execPath, ['-e', 'process.stdout.write("READY\\n")']);
    ready = /READY/;
  } else {
    [cmd, args] = pinned(PIN.proxy, process.execPath, [
      path.join(here, 'activationHarness.cjs'),
      bundle,
      fs.mkdtempSync(path.join(dir, 's-')),
    ]);
    ready = /ACTIVATED ([\d.]+) ([\d.]+) \d+ ([\d.]+)|ACTIVATION_(TIMEOUT|ERROR.*)/;
  }
  const p = await startChild(cmd, args, {
    ready,
    timeoutMs: 20_000,
    env: { BENCH_VSCODE_PORT: String(await freePort()) },
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  await stop(p.child);
  if (kind !== 'empty' && !p.match[1]) throw new Error(`${kind}: ${p.match[0]}`);
  return {
    wallMs,
    activateMs: kind === 'empty' ? 0 : Number(p.match[1]),
    requireMs: kind === 'empty' ? 0 : Number(p.match[3]),
  };
}

/** Returns per-kind arrays of samples, or { error } when the extension bundle cannot activate. */
export async function activationBench({ samples = 7, extension = path.join(root, 'dist/extension.js') } = {}) {
  if (!fs.existsSync(extension)) return { error: `${path.relative(root, extension)} missing (run node esbuild.mjs)` };
  const dir = tempDir('keyrelay-bench-act-');
  try {
    const baseline = await bundleBaseline(dir);
    const res = { empty: [], baseline: [], extension: [] };
    const bundles = { empty: undefined, baseline, extension };
    for (const k of Object.keys(res)) await sample(k, bundles[k], dir); // warm the file cache
    for (let i = 0; i < samples; i++) {
      for (const k of shuffle(Object.keys(res))) res[k].push(await sample(k, bundles[k], dir));
    }
    const m = (k, f) => median(res[k].map((x) => x[f]));
    return {
      samples: res,
      emptyWallMs: m('empty', 'wallMs'),
      baselineWallMs: m('baseline', 'wallMs'),
      extensionWallMs: m('extension', 'wallMs'),
      baselineActivateMs: m('baseline', 'activateMs'),
      extensionActivateMs: m('extension', 'activateMs'),
      baselineRequireMs: m('baseline', 'requireMs'),
      extensionRequireMs: m('extension', 'requireMs'),
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
  const r = await activationBench({ samples: Number(process.argv[2] ?? 7) });
  delete r.samples;
  console.log(JSON.stringify(r, null, 2));
}
