// The bare reference pass-through (issues 4 and 13): the cheapest correct proxy, node:http server,
// undici Pool with keep-alive, request body piped, response sent with pool.stream. It swaps the
// client's auth for one fixed key so its upstream traffic looks like KeyRelay's. Anything KeyRelay
// costs beyond this is KeyRelay's overhead. No AbortController and no 'close' listener per
// request: pool.stream watches the destination (`res`) and aborts the upstream request when it
// closes early, which the bench's gate "bare closes the upstream on client cancel" checks.
//   node test/bench/bare.mjs --upstream http://127.0.0.1:PORT --key sk-… [--port 0]
// prints `BARE listening on http://127.0.0.1:PORT`.
import http from 'node:http';
import { Pool } from 'undici';

// Hop-by-hop headers (RFC 9110 §7.6.1) and the auth headers we replace.
const DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'authorization',
  'x-api-key',
]);

export function startBare({ upstream, key, port = 0 }) {
  const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });
  const server = http.createServer((req, res) => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k)) headers[k] = v;
    if (req.url.includes('/messages')) headers['x-api-key'] = key;
    else headers.authorization = `Bearer ${key}`;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    pool.stream(
      { path: req.url, method: req.method, headers, body: hasBody ? req : undefined },
      ({ statusCode, headers: up }) => {
        const out = {};
        for (const [k, v] of Object.entries(up)) if (!DROP.has(k)) out[k] = v;
        res.writeHead(statusCode, out);
        return res;
      },
      (err) => {
        if (!err) return;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(`{"error":{"message":"bare proxy: ${err.code ?? err.name}"}}`);
        } else res.destroy(err);
      },
    );
  });
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: async () => {
          server.closeAllConnections();
          server.close();
          await pool.close();
        },
      }),
    );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const a = process.argv.slice(2);
  const arg = (n, d) => (a.includes(n) ? a[a.indexOf(n) + 1] : d);
  const b = await startBare({ upstream: arg('--upstream'), key: arg('--key'), port: Number(arg('--port', 0)) });
  console.log(`BARE listening on http://127.0.0.1:${b.port}`);
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
