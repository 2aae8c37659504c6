// Loads one bundled extension with the stub `vscode`, runs activate() with a fake context and
// prints `ACTIVATED <ms from require to listening> <ms since process start> <port> <ms in require>` once a server
// listens (any net.Server: the product's proxy or the baseline's). Then deactivates and exits.
// The built-ins a real extension host has already loaded are loaded first (hostBuiltins.cjs).
// BENCH_SAVE_CODE_CACHE=1: before exiting, waits (≤ 10 s) for the extension to save its V8 code
// cache into <storageDir>/global/code-cache (src/core/codeCache.ts), for the next samples.
//   node test/bench/activationHarness.cjs <bundle.js> <storageDir>
'use strict';
require('./hostBuiltins.cjs').loadHostBuiltins();
const { performance } = require('node:perf_hooks');
const fs = require('node:fs');
const Module = require('node:module');
const net = require('node:net');
const path = require('node:path');
const { vscode, makeContext } = require('./vscodeStub.cjs');

const [bundle, storageDir] = process.argv.slice(2);
const origLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return vscode;
  return origLoad.call(this, request, parent, isMain);
};

let t0;
let tRequired = NaN;
let done = false;
const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    if (done) return;
    done = true;
    const now = performance.now();
    process.stdout.write(
      `ACTIVATED ${(now - t0).toFixed(2)} ${now.toFixed(2)} ${this.address().port} ${(tRequired - t0).toFixed(2)}\n`,
    );
    setImmediate(finish);
  });
  return origListen.apply(this, args);
};

const timer = setTimeout(() => {
  process.stdout.write('ACTIVATION_TIMEOUT\n');
  process.exit(3);
}, 15_000);
let ext, ctx;
async function codeCacheSaved() {
  const dir = path.join(storageDir, 'global', 'code-cache');
  const has = () => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.v8cache'));
  for (let i = 0; i < 200 && !has(); i++) await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(has() ? 'CODE_CACHE_SAVED\n' : 'CODE_CACHE_MISSING\n');
}

async function finish() {
  clearTimeout(timer);
  if (process.env.BENCH_SAVE_CODE_CACHE) await codeCacheSaved();
  try {
    if (ext && ext.deactivate) await Promise.race([ext.deactivate(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    /* measuring, not testing */
  }
  for (const d of ctx.subscriptions) {
    try {
      d.dispose();
    } catch {
      /* ignore */
    }
  }
  process.exit(0);
}

t0 = performance.now();
ext = require(path.resolve(bundle));
tRequired = performance.now();
ctx = makeContext(path.resolve(__dirname, '../..'), storageDir);
Promise.resolve(ext.activate(ctx)).catch((e) => {
  process.stdout.write(
    `ACTIVATION_ERROR ${String((e && e.stack) || e)
      .split('\n')
      .slice(0, 3)
      .join(' | ')}\n`,
  );
  process.exit(4);
});
