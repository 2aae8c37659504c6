// Builds a deliberately slowed KeyRelay CLI to show the benchmark can fail. The product is not
// touched: an esbuild banner patches http.Server's 'request' dispatch with a busy loop of
// --spin-us microseconds, so every proxied request costs that much extra CPU.
//   node test/bench/slowBuild.mjs [--spin-us 40] [--out bench-results/slow/cli.js]
//   node test/bench/run.mjs --quick --keyrelay-cli bench-results/slow/cli.js     → CPU/throughput FAIL
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const a = process.argv.slice(2);
const arg = (n, d) => (a.includes(n) ? a[a.indexOf(n) + 1] : d);
const spinUs = Number(arg('--spin-us', 40));
const out = path.resolve(root, arg('--out', 'bench-results/slow/cli.js'));

const banner = `#!/usr/bin/env node
{ const http = require('node:http'); const emit = http.Server.prototype.emit;
  const SPIN = BigInt(${Math.round(spinUs * 1000)});
  http.Server.prototype.emit = function (ev, ...rest) {
    if (ev === 'request') { const end = process.hrtime.bigint() + SPIN; while (process.hrtime.bigint() < end); }
    return emit.call(this, ev, ...rest);
  }; }`;

await esbuild.build({
  entryPoints: [path.join(root, 'src/cli.ts')],
  outfile: out,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  banner: { js: banner },
  logLevel: 'warning',
  absWorkingDir: root,
});
console.log(`slowed CLI (${spinUs} µs busy loop per request): ${path.relative(process.cwd(), out)}`);
