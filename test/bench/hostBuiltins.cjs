// The Node built-ins a real VS Code extension host has loaded before it requires any extension
// (code-server 4.139, Node 24; `node test/bench/probeHostBuiltins.mjs` reads them again from
// `process.moduleLoadList` in an extension of its own). The activation bench loads them in every
// sample before its clock starts, the empty start included: inside the editor an extension does not
// pay for `http` or `crypto`, the host did, and a stub host that charged them to the extension
// (~14 ms on a slow VM) would measure Node, not the extension.
//   node test/bench/hostBuiltins.cjs   (the "empty host": loads them, prints READY)
'use strict';

const HOST_BUILTINS = [
  'events',
  'util/types',
  'buffer',
  'diagnostics_channel',
  'async_hooks',
  'timers',
  'path',
  'querystring',
  'fs',
  'util',
  'url',
  'string_decoder',
  'stream/promises',
  'stream',
  'net',
  'dgram',
  'child_process',
  'module',
  'os',
  'perf_hooks',
  'http',
  'assert',
  'crypto',
  'tls',
  'http2',
  'zlib',
  'worker_threads',
  'fs/promises',
  'console',
  'dns',
  'https',
  'tty',
  'cluster',
];

function loadHostBuiltins() {
  for (const m of HOST_BUILTINS) require(`node:${m}`);
}

module.exports = { HOST_BUILTINS, loadHostBuiltins };

if (require.main === module) {
  loadHostBuiltins();
  process.stdout.write('READY\n');
}
