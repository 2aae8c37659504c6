// The bare-listen baseline for the activation benchmark: the least a proxy extension must do on
// activation (load node:http and undici, create a keep-alive Pool, listen on 127.0.0.1). Bundled
// with esbuild exactly like dist/extension.js so the A/B compares like with like.
'use strict';
const http = require('node:http');
const { Pool } = require('undici');
const vscode = require('vscode');

exports.activate = function activate(context) {
  const out = vscode.window.createOutputChannel('Baseline', { log: true });
  const pool = new Pool('http://127.0.0.1:9', { connections: 16 });
  const server = http.createServer((req, res) => {
    res.end('baseline');
  });
  server.listen(Number(process.env.BENCH_VSCODE_PORT || 0), '127.0.0.1', () => out.info('listening'));
  context.subscriptions.push({
    dispose: () => {
      server.close();
      pool.close();
    },
  });
};
exports.deactivate = function deactivate() {};
