// Mock OpenAI/Anthropic upstream for the benchmark. It must be far cheaper than the proxy under
// test, so responses are precomputed buffers, request bodies are drained unparsed and the key is
// read from the auth header only. Run as its own process (pinned to a CPU by run.mjs):
//   node test/bench/mockUpstream.mjs [--port 0] [--fail <key>=<status>]...
// prints `MOCK listening <port>`. Per-request knobs come as headers (they pass through proxies):
//   x-mock-mode: json | sse    x-mock-chunks: N (SSE events)    x-mock-delay: ms between chunks
//   (-1 = whole stream in one write, 0 = one write per chunk on setImmediate, `burst` = one write
//   per chunk, all in the same tick: N HTTP chunks back to back, so the proxy, not the mock's
//   event loop, sets the pace: the CPU-bound streaming row)
// Control (JSON): GET /__mock/stats, POST /__mock/reset, POST /__mock/fail {"<key>": status|null}.
import http from 'node:http';

const OPENAI_JSON = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o-mini',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Hello from the mock upstream.' }, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  }),
);
const ANTHROPIC_JSON = Buffer.from(
  JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model: 'claude-3-5-haiku-latest',
    content: [{ type: 'text', text: 'Hello from the mock upstream.' }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 12, output_tokens: 7 },
  }),
);

/** SSE events for one response (array of Buffers), cached per shape × chunk count. */
const sseCache = new Map();
function sseChunks(anthropic, n) {
  const k = (anthropic ? 'a' : 'o') + n;
  let c = sseCache.get(k);
  if (c) return c;
  c = [];
  if (anthropic) {
    c.push(
      `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-3-5-haiku-latest","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}\n\n`,
    );
    for (let i = 0; i < n - 2; i++)
      c.push(
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok${i} "}}\n\n`,
      );
    c.push(
      `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":${n}}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`,
    );
  } else {
    for (let i = 0; i < n - 1; i++)
      c.push(
        `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"tok${i} "},"finish_reason":null}]}\n\n`,
      );
    c.push(
      `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":${n},"total_tokens":${12 + n}}}\n\ndata: [DONE]\n\n`,
    );
  }
  c = c.map((s) => Buffer.from(s));
  c.whole = Buffer.concat(c);
  sseCache.set(k, c);
  return c;
}

const JSON_HEADERS = (len) => ['content-type', 'application/json', 'content-length', String(len)];
const SSE_HEADERS = ['content-type', 'text/event-stream', 'cache-control', 'no-cache'];

/** Error bodies for injected failures, by status. */
function errorBody(anthropic, status) {
  const type =
    status === 429
      ? 'rate_limit_error'
      : status === 400
        ? 'invalid_request_error'
        : status === 401
          ? 'authentication_error'
          : 'api_error';
  const msg = `mock injected ${status}`;
  return Buffer.from(
    JSON.stringify(
      anthropic ? { type: 'error', error: { type, message: msg } } : { error: { message: msg, type, code: type } },
    ),
  );
}

/** Starts the mock in this process; resolves with its control handle. */
export function startMock({ port = 0, fail = {} } = {}) {
  const perKey = new Map();
  const failures = new Map(Object.entries(fail));
  const connGroups = new Map(); // key family (index stripped) → connections opened
  const groupRequests = new Map(); // key family → requests (never reset: connections outlive resets)
  const aborted = []; // hrtime ns (string) when an unfinished response closed
  let requests = 0,
    open = 0,
    connections = 0,
    abortedCount = 0;

  const server = http.createServer((req, res) => {
    const url = req.url;
    if (url.startsWith('/__mock/')) return control(req, res, url);
    requests++;
    const h = req.headers;
    const auth = h['x-api-key'] ?? (h.authorization ? h.authorization.slice(7) : '');
    perKey.set(auth, (perKey.get(auth) ?? 0) + 1);
    const sock = req.socket;
    if (sock.benchGroup === undefined) {
      sock.benchGroup = auth.replace(/-\d+-/, '-#-');
      connGroups.set(sock.benchGroup, (connGroups.get(sock.benchGroup) ?? 0) + 1);
    }
    groupRequests.set(sock.benchGroup, (groupRequests.get(sock.benchGroup) ?? 0) + 1);
    const anthropic = url.includes('/messages');
    // Drain the body without looking at it; answer once it is all in (like a real API).
    req.on('data', noop);
    req.on('end', () => respond(req, res, h, auth, anthropic));
  });
  server.keepAliveTimeout = 120_000; // upstream connections must survive the gaps between rounds
  server.headersTimeout = 125_000;
  server.requestTimeout = 0;
  server.on('connection', (s) => {
    open++;
    connections++;
    s.on('close', () => {
      open--;
    });
  });

  function respond(req, res, h, auth, anthropic) {
    const f = failures.size ? failures.get(auth) : undefined;
    if (f) {
      const body = errorBody(anthropic, f);
      const hdrs = JSON_HEADERS(body.length);
      if (f === 429) hdrs.push('retry-after', '1');
      res.writeHead(f, hdrs);
      res.end(body);
      return;
    }
    if (h['x-mock-mode'] !== 'sse') {
      const body = anthropic ? ANTHROPIC_JSON : OPENAI_JSON;
      res.writeHead(200, JSON_HEADERS(body.length));
      res.end(body);
      return;
    }
    const chunks = sseChunks(anthropic, Math.max(2, Number(h['x-mock-chunks'] ?? 20)));
    const delay = h['x-mock-delay'] === 'burst' ? 'burst' : Number(h['x-mock-delay'] ?? 0);
    res.writeHead(200, SSE_HEADERS);
    if (delay < 0) {
      res.end(chunks.whole);
      return;
    }
    if (delay === 'burst') {
      for (let i = 0; i < chunks.length - 1; i++) res.write(chunks[i]);
      res.end(chunks[chunks.length - 1]);
      return;
    }
    let i = 0;
    let finished = false;
    res.on('close', () => {
      if (!finished) {
        abortedCount++;
        aborted.push(process.hrtime.bigint().toString());
        if (aborted.length > 100) aborted.shift();
      }
    });
    const next = () => {
      if (res.destroyed) return;
      if (i === chunks.length - 1) {
        finished = true;
        res.end(chunks[i]);
        return;
      }
      res.write(chunks[i++]);
      if (delay === 0) setImmediate(next);
      else setTimeout(next, delay);
    };
    next();
  }

  function control(req, res, url) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      let out;
      if (url === '/__mock/stats') {
        out = {
          requests,
          open,
          connections,
          aborted: abortedCount,
          abortedAt: aborted,
          perKey: Object.fromEntries(perKey),
          connGroups: Object.fromEntries(connGroups),
          groupRequests: Object.fromEntries(groupRequests),
        };
      } else if (url === '/__mock/reset') {
        requests = 0;
        abortedCount = 0;
        perKey.clear();
        aborted.length = 0;
        failures.clear();
        out = { ok: true };
      } else if (url === '/__mock/fail') {
        for (const [k, v] of Object.entries(JSON.parse(body || '{}'))) {
          if (v) failures.set(k, v);
          else failures.delete(k);
        }
        out = { ok: true, failures: failures.size };
      } else {
        res.writeHead(404).end();
        return;
      }
      const b = Buffer.from(JSON.stringify(out));
      res.writeHead(200, JSON_HEADERS(b.length)).end(b);
    });
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(r);
          }),
      }),
    );
  });
}
function noop() {}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  let port = 0;
  const fail = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i] === '--fail') {
      const [k, s] = args[++i].split('=');
      fail[k] = Number(s);
    }
  }
  const m = await startMock({ port, fail });
  console.log(`MOCK listening ${m.port}`);
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
