import * as assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, connect } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/upstreamServer';
import { ANTHROPIC_KEYS, assertNoKeys, OPENAI_KEYS } from './harness';
import { parseReply, portOf, rawProbe, startCli } from './hostileKit';
import type { CliRun, RawOptions, RawReply } from './hostileKit';

/** Not the harness's token: this suite runs its own CLI, and greps everything for this one too. */
const TOKEN = 'kr-hostile-token-5f1c9a7e3b2d4c6a8e0f';
const KEYS = [...OPENAI_KEYS, ...ANTHROPIC_KEYS];
/** The timeouts the suite sets through the config file, so slow clients are cut in about a second. */
const HEADER_TIMEOUT_MS = 1000;
const BODY_TIMEOUT_MS = 800;
const MAX_BODY = 64 * 1024;

function assertClean(text: string, where: string): void {
  assertNoKeys(text, where);
  for (const k of KEYS) assert.ok(!text.includes(k), `${where} holds a key`);
  assert.ok(!text.includes(TOKEN), `${where} holds the access token`);
}

type Shape = 'openai' | 'anthropic';

/** The error body in the caller's API shape, with this code (OpenAI) or a type (Anthropic). */
function assertShape(r: RawReply, shape: Shape, code?: string): void {
  assert.ok(r.json, `a JSON body, got: ${r.raw.slice(0, 300)}`);
  if (shape === 'openai') {
    assert.equal(typeof r.json.error?.message, 'string', r.body);
    if (code) assert.equal(r.json.error.code, code, r.body);
  } else {
    assert.equal(r.json.type, 'error', r.body);
    assert.equal(typeof r.json.error?.message, 'string', r.body);
    if (code) assert.equal(r.headers['x-keyrelay-error'], code, r.head);
  }
}

interface Row {
  group: string;
  name: string;
  /** The probe; `port` is the running CLI's. */
  run(port: number): Promise<RawReply>;
  check(r: RawReply): void;
  /** The upstream must have seen no request for this probe (the default). */
  reachesUpstream?: boolean;
  /** Set behaviour on the fake before the probe. */
  before?(fake: FakeUpstream): void;
}

const CHAT = '/v1/chat/completions';
const BODY = '{"model":"mock/gpt-4o","messages":[{"role":"user","content":"hi"}]}';
const ABODY = '{"model":"mocka/claude-x","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}';

/** A request as raw text; `host` undefined means the right one. */
function req(
  port: number,
  o: {
    method?: string;
    target?: string;
    headers?: Array<[string, string]>;
    body?: string | Buffer;
    host?: string | null;
    auth?: string | null;
  } = {},
): Buffer {
  const lines = [`${o.method ?? 'POST'} ${o.target ?? CHAT} HTTP/1.1`];
  if (o.host !== null) lines.push(`Host: ${o.host ?? `127.0.0.1:${port}`}`);
  if (o.auth !== null) lines.push(`Authorization: ${o.auth ?? `Bearer ${TOKEN}`}`);
  const body = o.body === undefined ? Buffer.from(BODY) : Buffer.from(o.body);
  const headers = o.headers ?? [];
  if (!headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n)))
    headers.push(['Content-Length', String(body.length)]);
  if (!headers.some(([n]) => /^content-type$/i.test(n))) headers.push(['Content-Type', 'application/json']);
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

const send =
  (build: (port: number) => Buffer | string, extra: Omit<RawOptions, 'parts'> = {}) =>
  (port: number) =>
    rawProbe(port, { parts: [build(port)], ...extra });

/** 400 from KeyRelay in the caller's shape, and that code. */
const refused =
  (status: number, shape: Shape, code?: string) =>
  (r: RawReply): void => {
    assert.equal(r.status, status, r.raw.slice(0, 400));
    assertShape(r, shape, code);
  };

/** Node's HTTP parser refused it before KeyRelay saw a request: still JSON that says why, then closed. */
const parserRefused =
  (status: number, code: string) =>
  (r: RawReply): void => {
    assert.equal(r.status, status, r.raw.slice(0, 400));
    assertShape(r, 'openai', code);
  };

/** No CORS permission of any kind in the answer. */
function noCors(r: RawReply): void {
  for (const h of Object.keys(r.headers)) assert.ok(!h.startsWith('access-control-'), `${h} was sent`);
}

const ROWS: Row[] = [];
const row = (group: string, name: string, r: Omit<Row, 'group' | 'name'>): void => {
  ROWS.push({ group, name, ...r });
};

// --- token (DESIGN §6; issue 9 point 10) ---------------------------------------------------------
const unauthorized = (shape: Shape) => (r: RawReply) => {
  assert.equal(r.status, 401, r.raw.slice(0, 300));
  assertShape(r, shape, shape === 'openai' ? 'unauthorized' : undefined);
  assert.ok(!r.body.includes(TOKEN.slice(3, 20)), 'no part of the token is echoed');
};
row('token', 'missing (OpenAI path)', { run: send((p) => req(p, { auth: null })), check: unauthorized('openai') });
row('token', 'missing (Anthropic path)', {
  run: send((p) => req(p, { target: '/v1/messages', auth: null, body: ABODY })),
  check: unauthorized('anthropic'),
});
row('token', 'wrong, same length', {
  run: send((p) => req(p, { auth: `Bearer ${TOKEN.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'))}` })),
  check: unauthorized('openai'),
});
row('token', 'a prefix of the token', {
  run: send((p) => req(p, { auth: `Bearer ${TOKEN.slice(0, -1)}` })),
  check: unauthorized('openai'),
});
row('token', 'the token plus one character', {
  run: send((p) => req(p, { auth: `Bearer ${TOKEN}x` })),
  check: unauthorized('openai'),
});
row('token', 'one character', { run: send((p) => req(p, { auth: 'Bearer k' })), check: unauthorized('openai') });
row('token', 'empty Bearer', { run: send((p) => req(p, { auth: 'Bearer ' })), check: unauthorized('openai') });
row('token', 'the token under another scheme (Basic)', {
  run: send((p) => req(p, { auth: `Basic ${Buffer.from(`:${TOKEN}`).toString('base64')}` })),
  check: unauthorized('openai'),
});
row('token', 'in the query string (?token=) is not accepted', {
  run: send((p) => req(p, { auth: null, target: `${CHAT}?token=${TOKEN}` })),
  check: unauthorized('openai'),
});
row('token', 'in the query string (?api_key=) is not accepted', {
  run: send((p) => req(p, { auth: null, target: `${CHAT}?api_key=${TOKEN}&key=${TOKEN}` })),
  check: unauthorized('openai'),
});
row('token', 'wrong x-api-key on /v1/messages', {
  run: send((p) =>
    req(p, { target: '/v1/messages', auth: null, body: ABODY, headers: [['x-api-key', 'sk-ant-nope']] }),
  ),
  check: unauthorized('anthropic'),
});
row('token', '20 KB Authorization header: refused before parsing, connection closed', {
  run: send((p) => req(p, { auth: `Bearer ${'k'.repeat(20_000)}` }), { untilClosed: true }),
  check: (r) => {
    parserRefused(431, 'headers_too_large')(r);
    assert.ok(r.closed);
  },
});
row('token', 'status endpoint without the token', {
  run: send((p) => req(p, { method: 'GET', target: '/keyrelay/status', auth: null, body: '' })),
  check: unauthorized('openai'),
});
row('token', 'Discard through the leader without the token', {
  run: send((p) => req(p, { target: '/keyrelay/keys/mock-1/discard', auth: null, body: '' })),
  check: unauthorized('openai'),
});

// --- Host (DNS rebinding; point 4) -----------------------------------------------------------------
const forbiddenHost = refused(403, 'openai', 'forbidden_host');
row('host', 'foreign Host', { run: send((p) => req(p, { host: `evil.example:${p}` })), check: forbiddenHost });
row('host', 'right name, wrong port', {
  run: send((p) => req(p, { host: `127.0.0.1:${p + 1}` })),
  check: forbiddenHost,
});
row('host', 'localhost.evil.example', {
  run: send((p) => req(p, { host: `localhost.evil.example:${p}` })),
  check: forbiddenHost,
});
row('host', 'userinfo in Host', {
  run: send((p) => req(p, { host: `127.0.0.1:${p}@evil.example` })),
  check: (r) => assert.ok([400, 403].includes(r.status), r.raw.slice(0, 200)),
});
row('host', 'two Host headers: allowed then foreign', {
  run: send((p) => req(p, { headers: [['Host', `evil.example:${p}`]] })),
  check: refused(400, 'openai'),
});
row('host', 'two Host headers: foreign then allowed', {
  run: send((p) => req(p, { host: `evil.example:${p}`, headers: [['Host', `127.0.0.1:${p}`]] })),
  check: (r) => assert.ok([400, 403].includes(r.status), r.raw.slice(0, 200)),
});
row('host', 'two identical Host headers', {
  run: send((p) => req(p, { headers: [['Host', `127.0.0.1:${p}`]] })),
  check: refused(400, 'openai'),
});
row('host', 'absent Host (HTTP/1.1)', {
  run: send((p) => req(p, { host: null })),
  check: refused(400, 'openai', 'bad_request_target'),
});
row('host', 'foreign Host on the open health endpoint', {
  run: send((p) => req(p, { method: 'GET', target: '/keyrelay/health', host: 'attacker.example', body: '' })),
  check: forbiddenHost,
});

// --- Origin, CORS, preflight (web pages) ------------------------------------------------------------
const forbiddenOrigin = (r: RawReply): void => {
  refused(403, 'openai', 'forbidden_origin')(r);
  noCors(r);
};
row('origin', 'a web page POSTs with the token', {
  run: send((p) => req(p, { headers: [['Origin', 'https://evil.example']] })),
  check: forbiddenOrigin,
});
row('origin', 'Origin: null (sandboxed iframe, file://)', {
  run: send((p) => req(p, { headers: [['Origin', 'null']] })),
  check: forbiddenOrigin,
});
row('origin', 'a local dev server page (http://localhost:3000)', {
  run: send((p) => req(p, { headers: [['Origin', 'http://localhost:3000']] })),
  check: forbiddenOrigin,
});
row('origin', 'a page reads the status', {
  run: send((p) =>
    req(p, { method: 'GET', target: '/keyrelay/status', body: '', headers: [['Origin', 'https://evil.example']] }),
  ),
  check: forbiddenOrigin,
});
row('origin', 'a page probes health', {
  run: send((p) =>
    req(p, {
      method: 'GET',
      target: '/keyrelay/health',
      auth: null,
      body: '',
      headers: [['Origin', 'https://a.example']],
    }),
  ),
  check: forbiddenOrigin,
});
row('origin', 'CORS preflight (OPTIONS with Access-Control-Request-Method)', {
  run: send((p) =>
    req(p, {
      method: 'OPTIONS',
      auth: null,
      body: '',
      headers: [
        ['Origin', 'https://evil.example'],
        ['Access-Control-Request-Method', 'POST'],
        ['Access-Control-Request-Headers', 'authorization, content-type'],
      ],
    }),
  ),
  check: forbiddenOrigin,
});
row('origin', 'OPTIONS without an Origin: no CORS grant either', {
  run: send((p) => req(p, { method: 'OPTIONS', body: '' })),
  check: (r) => {
    assert.ok(r.status >= 400 && r.status < 500, r.raw.slice(0, 200));
    noCors(r);
  },
});
row('origin', 'a page with a simple (text/plain) request: no Origin allowed, no CORS', {
  run: send((p) =>
    req(p, {
      auth: null,
      headers: [
        ['Origin', 'https://evil.example'],
        ['Content-Type', 'text/plain'],
      ],
    }),
  ),
  check: forbiddenOrigin,
});

// --- request targets -----------------------------------------------------------------------------
const badTarget = (shape: Shape = 'openai') => refused(400, shape, 'bad_request_target');
row('target', 'absolute-form to another host', {
  run: send((p) => req(p, { target: 'http://evil.example/v1/chat/completions' })),
  check: badTarget(),
});
row('target', 'absolute-form to the proxy itself', {
  run: send((p) => req(p, { target: `http://127.0.0.1:${p}/v1/chat/completions` })),
  check: badTarget(),
});
row('target', '//host (scheme-relative)', {
  run: send((p) => req(p, { target: '//evil.example/v1/chat/completions' })),
  check: badTarget(),
});
row('target', 'asterisk-form (OPTIONS *)', {
  run: send((p) => req(p, { method: 'OPTIONS', target: '*', body: '' })),
  check: badTarget(),
});
row('target', 'authority-form (CONNECT host:443): never tunnelled', {
  run: send((p) => `CONNECT evil.example:443 HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n\r\n`, { untilClosed: true }),
  check: (r) => {
    assert.ok(r.closed, 'the connection is closed');
    assert.ok(r.status === 0 || r.status >= 400, r.raw.slice(0, 200));
    assert.ok(!/^HTTP\/1\.1 200/.test(r.raw));
  },
});
row('target', 'no leading slash', {
  run: send((p) => req(p, { target: 'v1/chat/completions' })),
  check: (r) => assert.equal(r.status, 400),
});
row('target', 'unknown method on an API path', {
  run: send((p) => req(p, { method: 'PUT' })),
  check: refused(405, 'openai', 'method_not_allowed'),
});

// --- path traversal (point 2): 400 in the caller's shape, nothing upstream ------------------------
for (const [name, target, shape] of [
  ['raw ../', '/v1/chat/../../../admin/keys', 'openai'],
  ['%2e%2e', '/v1/chat/%2e%2e/%2e%2e/admin', 'openai'],
  ['%2E%2E upper case', '/v1/chat/%2E%2E/admin', 'openai'],
  ['.%2e mixed', '/v1/chat/.%2e/admin', 'openai'],
  ['single dot segment', '/v1/./chat/completions', 'openai'],
  ['trailing ..', '/v1/models/..', 'openai'],
  ['raw backslash', '/v1/chat\\..\\..\\admin', 'openai'],
  ['%5c', '/v1/chat%5c..%5cadmin', 'openai'],
  ['%2f', '/v1/chat%2f..%2fadmin', 'openai'],
  ['%2F upper case', '/v1/chat%2F..%2Fadmin', 'openai'],
  ['double-encoded %252e', '/v1/chat/%252e%252e/admin', 'openai'],
  ['%00', '/v1/chat/completions%00.json', 'openai'],
  ['../ under /v1/messages (Anthropic shape)', '/v1/messages/../../admin', 'anthropic'],
  ['%2f under /v1/messages (Anthropic shape)', '/v1/messages%2f..%2fadmin', 'anthropic'],
] as const) {
  row('traversal', name, {
    run: send((p) => req(p, { target, body: shape === 'anthropic' ? ABODY : BODY })),
    check: badTarget(shape),
  });
}

// --- redirects from upstream (never followed with a key) ------------------------------------------
for (const status of [301, 302, 307, 308]) {
  row('redirect', `upstream ${status} to another host: 502, not followed, Location not passed on`, {
    reachesUpstream: true,
    before: (f) => {
      for (const k of OPENAI_KEYS)
        f.setKeyBehaviour(k, { kind: 'status', status, headers: { location: `http://127.0.0.1:1/steal?k=${k}` } });
    },
    run: send((p) => req(p)),
    check: (r) => {
      refused(502, 'openai')(r);
      assert.match(r.json.error.message, /redirect/);
      assert.equal(r.headers.location, undefined);
    },
  });
}

// --- request smuggling ---------------------------------------------------------------------------
const smuggle = (name: string, headers: Array<[string, string]>, body: string): void =>
  row('smuggling', name, {
    run: send((p) => req(p, { headers, body }), { untilClosed: true }),
    check: (r) => {
      parserRefused(400, 'malformed_request')(r);
      assert.ok(r.closed, 'the connection is not reused after a framing error');
    },
  });
smuggle(
  'Content-Length and Transfer-Encoding both',
  [
    ['Content-Length', '4'],
    ['Transfer-Encoding', 'chunked'],
  ],
  `0\r\n\r\nGET /keyrelay/status HTTP/1.1\r\n\r\n`,
);
smuggle(
  'two different Content-Lengths',
  [
    ['Content-Length', String(BODY.length)],
    ['Content-Length', '5'],
  ],
  BODY,
);
smuggle('Content-Length list "n, m"', [['Content-Length', `${BODY.length}, 5`]], BODY);
smuggle('Content-Length with a sign', [['Content-Length', `+${BODY.length}`]], BODY);
smuggle('bad chunk size', [['Transfer-Encoding', 'chunked']], `zz\r\n${BODY}\r\n0\r\n\r\n`);
smuggle('chunk longer than it says', [['Transfer-Encoding', 'chunked']], `2\r\n${BODY}\r\n0\r\n\r\n`);
smuggle('Transfer-Encoding: chunked, identity', [['Transfer-Encoding', 'chunked, identity']], BODY);
smuggle('space before the colon', [['Transfer-Encoding ', 'chunked']], `0\r\n\r\n`);

// --- slow clients (point 5) ----------------------------------------------------------------------
const slowHead = (p: number): string[] =>
  `POST ${CHAT} HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nX-Slow: ${'a'.repeat(40)}`.split('');
row('slowloris', 'headers trickled byte by byte: closed at the header timeout', {
  run: (p) => rawProbe(p, { parts: slowHead(p), gapMs: 100, untilClosed: true, boundMs: HEADER_TIMEOUT_MS + 3000 }),
  check: (r) => {
    assert.ok(r.closed, 'the proxy closed the trickling connection');
    assert.ok(r.status === 0 || r.status === 408, r.raw.slice(0, 200));
  },
});
row('slowloris', 'request line sent, headers never finished', {
  run: (p) =>
    rawProbe(p, {
      parts: [`POST ${CHAT} HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\n`],
      untilClosed: true,
      boundMs: HEADER_TIMEOUT_MS + 3000,
    }),
  check: (r) => assert.ok(r.closed, 'closed'),
});
row('slowloris', '20 trickling sockets at once are all closed', {
  run: async (p) => {
    const all = await Promise.all(
      Array.from({ length: 20 }, () =>
        rawProbe(p, { parts: slowHead(p), gapMs: 100, untilClosed: true, boundMs: HEADER_TIMEOUT_MS + 3000 }),
      ),
    );
    const open = all.filter((r) => !r.closed).length;
    return parseReply(`HTTP/1.1 ${open === 0 ? 200 : 500} x\r\n\r\n`, true);
  },
  check: (r) => assert.equal(r.status, 200, 'some trickling sockets were still open'),
});

// --- stalled and oversize bodies -----------------------------------------------------------------
row('body', 'stalls after the headers (Content-Length): 408, connection closed', {
  run: send((p) => req(p, { headers: [['Content-Length', '500']], body: '{"model":' }), {
    untilClosed: true,
    boundMs: BODY_TIMEOUT_MS + 3000,
  }),
  check: (r) => {
    refused(408, 'openai', 'body_timeout')(r);
    assert.match(r.json.error.message, /<1 s/);
    assert.ok(r.closed, 'closed after the 408');
  },
});
row('body', 'stalls mid-chunk (chunked): 408, connection closed', {
  run: send((p) => req(p, { headers: [['Transfer-Encoding', 'chunked']], body: '20\r\n{"model":' }), {
    untilClosed: true,
    boundMs: BODY_TIMEOUT_MS + 3000,
  }),
  check: (r) => {
    refused(408, 'openai', 'body_timeout')(r);
    assert.ok(r.closed);
  },
});
row('body', 'stalls on /v1/messages: 408 in the Anthropic shape', {
  run: send((p) => req(p, { target: '/v1/messages', headers: [['Content-Length', '500']], body: '{' }), {
    untilClosed: true,
    boundMs: BODY_TIMEOUT_MS + 3000,
  }),
  check: (r) => {
    refused(408, 'anthropic', 'body_timeout')(r);
    assert.ok(r.closed);
  },
});
row('body', 'declared larger than the limit: 413 at once, connection closed', {
  run: send((p) => req(p, { headers: [['Content-Length', String(MAX_BODY * 4)]], body: '{' }), { untilClosed: true }),
  check: (r) => {
    refused(413, 'openai', 'body_too_large')(r);
    assert.ok(r.closed);
  },
});
row('body', 'chunked body that grows past the limit: 413, connection closed', {
  run: (p) =>
    rawProbe(p, {
      parts: [
        req(p, { headers: [['Transfer-Encoding', 'chunked']], body: '' }),
        ...Array.from({ length: 5 }, () => `4000\r\n${'x'.repeat(0x4000)}\r\n`),
      ],
      untilClosed: true,
    }),
  check: (r) => {
    refused(413, 'openai', 'body_too_large')(r);
    assert.ok(r.closed);
  },
});
row('body', 'oversize on /v1/messages: 413 in the Anthropic shape', {
  run: send((p) => req(p, { target: '/v1/messages', headers: [['Content-Length', String(MAX_BODY + 1)]], body: '{' }), {
    untilClosed: true,
  }),
  check: (r) => {
    refused(413, 'anthropic', 'body_too_large')(r);
    assert.ok(r.closed);
  },
});

// --- malformed JSON and invalid UTF-8 --------------------------------------------------------------
for (const [name, body, shape] of [
  ['form-encoded body', 'model=gpt-4o', 'openai'],
  ['a JSON array', '[{"model":"mock/gpt-4o"}]', 'openai'],
  ['a JSON string', '"hello"', 'openai'],
  ['truncated object', '{"model":"mock/gpt-4o","messages":[', 'openai'],
  ['not JSON on /v1/messages', 'hello', 'anthropic'],
] as const) {
  row('json', name, {
    run: send((p) => req(p, { target: shape === 'anthropic' ? '/v1/messages' : CHAT, body })),
    check: refused(400, shape, 'invalid_json'),
  });
}
// Not KeyRelay's to judge: the provider answers (a real one with its own 400), the key is not penalised.
row('json', 'an empty body: forwarded once, answered without a 5xx from KeyRelay', {
  reachesUpstream: true,
  run: send((p) => req(p, { body: '' })),
  check: (r) => assert.ok(r.status > 0 && r.status < 500, r.raw.slice(0, 300)),
});
row('utf8', 'invalid UTF-8 in the model name: the model re-encoded valid, answered', {
  reachesUpstream: true,
  run: send((p) =>
    req(p, {
      body: Buffer.concat([Buffer.from('{"model":"mock/gpt-'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    }),
  ),
  check: (r) => assert.ok(r.status > 0 && r.status < 500, r.raw.slice(0, 300)),
});
row('utf8', 'invalid UTF-8 in a message: forwarded as bytes, answered', {
  reachesUpstream: true,
  run: send((p) =>
    req(p, {
      body: Buffer.concat([
        Buffer.from('{"model":"mock/gpt-4o","messages":[{"role":"user","content":"'),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
        Buffer.from('"}]}'),
      ]),
    }),
  ),
  check: (r) => assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), r.raw.slice(0, 300)),
});
row('utf8', 'invalid UTF-8 in a header value', {
  reachesUpstream: true,
  run: send((p) => {
    const b = req(p, { headers: [['X-Title', 'caf\u00ff\u00fe']] });
    return b;
  }),
  check: (r) => assert.ok([200, 400].includes(r.status), r.raw.slice(0, 300)),
});
// %ff is no dot, slash or escape: it cannot climb out of the base URL; the provider says 404.
row('utf8', 'invalid percent-encoded UTF-8 in the path', {
  reachesUpstream: true,
  run: send((p) => req(p, { target: '/v1/chat/completions%ff%fe' })),
  check: (r) => assert.ok(r.status === 400 || r.status === 404, r.raw.slice(0, 300)),
});

/**
 * Issue 9's hostile-input probe, in one place (DESIGN §1, §5.2, §6): every row talks to the built
 * `keyrelay serve` over a real socket, raw where a client library would tidy the input up, and
 * every answer, the CLI's output and every file it wrote are searched for key and token text.
 */
suite('hostile input against keyrelay serve', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: FakeUpstream;
  let cli: CliRun;
  let port: number;
  const others: CliRun[] = [];
  const answers: string[] = [];

  function writeConfig(name: string, proxy: Record<string, unknown>): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      JSON.stringify({
        proxy: {
          port: 0,
          clientHeadersTimeoutMs: HEADER_TIMEOUT_MS,
          bodyTimeoutMs: BODY_TIMEOUT_MS,
          maxBodyBytes: MAX_BODY,
          ...proxy,
        },
        providers: [
          { id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' },
          { id: 'mocka', name: 'MockA', shape: 'anthropic', baseUrl: `${fake.url}/v1`, auth: 'x-api-key' },
        ],
        keys: [
          ...OPENAI_KEYS.map((key) => ({ provider: 'mock', key })),
          ...ANTHROPIC_KEYS.map((key) => ({ provider: 'mocka', key })),
        ],
      }),
    );
    return file;
  }

  suiteSetup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-hostile-'));
    fake = await FakeUpstream.start();
    const cfg = writeConfig('config.json', {});
    cli = startCli(['serve', '--config', cfg, '--data-dir', join(dir, 'data'), '--log-level', 'trace'], {
      KEYRELAY_TOKEN: TOKEN,
    });
    port = await portOf(cli);
  });

  suiteTeardown(async () => {
    for (const r of [cli, ...others])
      if (r && r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  teardown(() => {
    for (const k of KEYS) fake.setKeyBehaviour(k, { kind: 'ok' });
  });

  test(`the probe has at least 74 rows (${ROWS.length} table rows plus the process rows below)`, () => {
    assert.ok(ROWS.length + 6 >= 74, `${ROWS.length} rows`);
  });

  for (const r of ROWS) {
    test(`${r.group}: ${r.name}`, async () => {
      r.before?.(fake);
      const seen = fake.requests.length;
      const reply = await r.run(port);
      answers.push(reply.raw);
      assertClean(reply.raw, 'the answer');
      r.check(reply);
      if (!r.reachesUpstream) assert.equal(fake.requests.length, seen, 'nothing reached the upstream');
      else assert.ok(fake.requests.length - seen <= 1, 'one upstream call at most, no redirect followed');
    });
  }

  test('Connection-named headers are not forwarded upstream (RFC 9110 §7.6.1)', async () => {
    const seen = fake.requests.length;
    const reply = await rawProbe(port, {
      parts: [
        req(port, {
          headers: [
            ['Connection', 'keep-alive, X-Hop-Secret'],
            ['X-Hop-Secret', 'hop-value'],
          ],
        }),
      ],
    });
    assert.equal(reply.status, 200, reply.raw.slice(0, 300));
    assert.equal(fake.requests.length, seen + 1);
    assert.equal(fake.requests.at(-1)!.headers['x-hop-secret'], undefined);
  });

  test('1,000 dropped connections: the proxy still serves and holds no extra file descriptors', async () => {
    const fds = (): number => readdirSync(`/proc/${cli.child.pid}/fd`).length;
    const before = fds();
    const partial = (i: number): Buffer => {
      const whole = req(port);
      // Cut at every stage: before anything, mid request line, mid headers, mid body.
      return whole.subarray(0, [0, 10, 60, whole.length - 5][i % 4]);
    };
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) =>
            new Promise<void>((resolve) => {
              const s = connect(port, '127.0.0.1', () => {
                const part = partial(batch * 100 + i);
                if (part.length) s.write(part);
                s.destroy();
              });
              s.on('close', () => resolve());
              s.on('error', () => resolve());
            }),
        ),
      );
    }
    const ok = await rawProbe(port, { parts: [req(port)] });
    assert.equal(ok.status, 200, ok.raw.slice(0, 300));
    // The server closes its ends as it notices the resets: polled (nothing to await across processes), bounded.
    for (const deadline = Date.now() + 5000; fds() > before + 5 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(fds() <= before + 5, `the CLI holds ${fds()} fds, ${before} before the 1,000 connections`);
  });

  test('a second instance on the same port refuses with one clear line, exit 2', async () => {
    const r = startCli(['serve', '--config', writeConfig('second.json', { port }), '--data-dir', join(dir, 'd2')], {
      KEYRELAY_TOKEN: TOKEN,
    });
    others.push(r);
    assert.equal(await r.exited, 2);
    assert.match(r.out, /already in use/);
    assert.doesNotMatch(r.out, /\n\s+at /, 'no stack trace');
    assertClean(r.out, 'the second instance output');
  });

  test('a [::1] squatter on the port: refuses to start, naming it and the way out', async function () {
    const squatter: NetServer = createNetServer((s) => s.destroy());
    const bound = await new Promise<boolean>((resolve) => {
      squatter.once('error', () => resolve(false));
      squatter.listen(0, '::1', () => resolve(true));
    });
    if (!bound) return; // no IPv6 loopback on this machine: nothing can squat it
    const squatPort = (squatter.address() as { port: number }).port;
    try {
      const r = startCli(
        ['serve', '--config', writeConfig('squat.json', { port: squatPort }), '--data-dir', join(dir, 'd3')],
        { KEYRELAY_TOKEN: TOKEN },
      );
      others.push(r);
      assert.equal(await r.exited, 2);
      assert.match(r.out, /\[::1\]:\d+ .*held by another program/);
      assert.match(r.out, /ipv4Only/);
      assert.doesNotMatch(r.out, /\n\s+at /);
      // With ipv4Only the user accepts the squatter: it starts on 127.0.0.1.
      const v4 = startCli(
        [
          'serve',
          '--config',
          writeConfig('v4.json', { port: squatPort, ipv4Only: true }),
          '--data-dir',
          join(dir, 'd4'),
        ],
        { KEYRELAY_TOKEN: TOKEN },
      );
      others.push(v4);
      assert.equal(await portOf(v4), squatPort);
      v4.child.kill('SIGTERM');
      assert.equal(await v4.exited, 0);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  test('the dual-stack listener answers on [::1] too, with the same checks', async function () {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '::1', () => {
        s.end(`GET /keyrelay/status HTTP/1.1\r\nHost: [::1]:${port}\r\nConnection: close\r\n\r\n`);
      });
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(/^HTTP\/1\.1 401/.test(out)));
      s.on('error', () => resolve(true)); // no IPv6 loopback here
    });
    assert.ok(ok, 'a token-less status on [::1] is refused as on 127.0.0.1');
  });

  test('no key or token in any answer, in the CLI output, or in any file it wrote', async () => {
    for (const a of answers) assertClean(a, 'an answer');
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0, cli.out);
    assertClean(cli.out, 'the CLI output (trace level)');
    const data = join(dir, 'data');
    for (const f of readdirSync(data)) {
      const file = join(data, f);
      if (f === 'token') {
        assert.equal(statSync(file).mode & 0o777, 0o600);
        continue;
      }
      if (statSync(file).isFile()) assertClean(readFileSync(file, 'utf8'), f);
    }
  });
});

/** The CLI's own hostile inputs: its config, its token file, signals, and who it proves itself to. */
suite('hostile configuration, signals and the leader challenge (keyrelay serve)', function () {
  this.timeout(20_000);
  let dir: string;
  let fake: FakeUpstream;
  const runs: CliRun[] = [];

  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-hostile-cfg-'));
    fake = await FakeUpstream.start({ chunks: 20, chunkDelayMs: 40 });
  });
  teardown(async () => {
    for (const r of runs.splice(0))
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function cli(args: string[], env: Record<string, string> = { KEYRELAY_TOKEN: TOKEN }): CliRun {
    const r = startCli(args, env);
    runs.push(r);
    return r;
  }

  function configWith(keys: unknown[], name = 'config.json'): string {
    const file = join(dir, name);
    writeFileSync(
      file,
      JSON.stringify({
        proxy: { port: 0, shutdownGraceMs: 5000 },
        providers: [{ id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' }],
        keys,
      }),
    );
    return file;
  }

  for (const [name, baseUrl, says] of [
    ['not a URL', 'not a url', /keys\[0\]: "baseUrl" is not a URL/],
    ['not http(s)', 'ftp://files.example/v1', /keys\[0\]: "baseUrl" must start with http:\/\/ or https:\/\//],
    ['with user:password@', 'https://u:p@gw.example/v1', /must not contain user:password@/],
  ] as const) {
    test(`a key's baseUrl ${name}: refused at load, exit 2, one line`, async () => {
      const r = cli([
        'serve',
        '--config',
        configWith([{ provider: 'mock', key: OPENAI_KEYS[0], baseUrl }]),
        '--data-dir',
        join(dir, 'd'),
      ]);
      assert.equal(await r.exited, 2, r.out);
      assert.match(r.out, says);
      assert.equal(r.out.trim().split('\n').length, 1, r.out);
      assertClean(r.out, 'the error');
    });
  }

  test('a key pasted into "provider" is not echoed by the error', async () => {
    const r = cli([
      'serve',
      '--config',
      configWith([{ provider: OPENAI_KEYS[1], key: OPENAI_KEYS[0] }]),
      '--data-dir',
      join(dir, 'd'),
    ]);
    assert.equal(await r.exited, 2, r.out);
    assert.match(r.out, /looks like a key/);
    assertClean(r.out, 'the error');
  });

  test('--help warns that --token shows in the process list and names the safer ways', async () => {
    const r = cli(['--help'], {});
    assert.equal(await r.exited, 0);
    assert.match(r.out.replace(/\s+/g, ' '), /--token .*visible .* process list .*KEYRELAY_TOKEN or the token file/);
  });

  test('a token file others can read is refused with the chmod fix; at 0600 it serves', async () => {
    const data = join(dir, 'data');
    const first = cli(['serve', '--config', configWith([]), '--data-dir', data], {});
    await portOf(first);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    const tokenFile = join(data, 'token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    chmodSync(tokenFile, 0o644);
    const loose = cli(['serve', '--config', configWith([]), '--data-dir', data], {});
    assert.equal(await loose.exited, 2);
    assert.match(loose.out, /can be read by other users \(mode 0644\).*chmod 600/);
    assert.ok(!loose.out.includes(readFileSync(tokenFile, 'utf8').trim()), 'the token is not printed');
    chmodSync(tokenFile, 0o600);
    const ok = cli(['serve', '--config', configWith([]), '--data-dir', data], {});
    await portOf(ok);
  });

  test('SIGHUP: an added key serves at once, a removed key finishes its in-flight stream, state saved on exit', async () => {
    const data = join(dir, 'data');
    const cfg = configWith([{ provider: 'mock', key: OPENAI_KEYS[0], label: 'old' }]);
    const r = cli(['serve', '--config', cfg, '--data-dir', data]);
    const port = await portOf(r);
    const endpoint = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const streamBody = JSON.stringify({
      model: 'mock/gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const inFlight = await request(`${endpoint}/v1/chat/completions`, { method: 'POST', headers, body: streamBody });
    assert.equal(inFlight.statusCode, 200);
    assert.equal(fake.requests.at(-1)!.key, OPENAI_KEYS[0]);

    configWith([{ provider: 'mock', key: OPENAI_KEYS[1], label: 'new' }]);
    r.child.kill('SIGHUP');
    await untilOut(r, /Reloaded \(SIGHUP\): 1 key\(s\)/);
    assert.equal(r.child.exitCode, null, 'SIGHUP does not stop the CLI');

    const next = await request(`${endpoint}/v1/chat/completions`, { method: 'POST', headers, body: BODY });
    await next.body.text();
    assert.equal(next.statusCode, 200);
    assert.equal(fake.requests.at(-1)!.key, OPENAI_KEYS[1], 'the added key serves at once, the removed one no more');
    assert.match(await inFlight.body.text(), /\[DONE\]/, "the removed key's stream finished");

    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    const state = readFileSync(join(data, 'state.json'), 'utf8');
    assertClean(state, 'state.json');
    assert.match(state, /"requests"/);
    assertClean(r.out, 'the CLI output');
  });

  test('a second SIGINT mid-stream exits at once (130) and still saves state', async () => {
    const data = join(dir, 'data');
    const r = cli(['serve', '--config', configWith([{ provider: 'mock', key: OPENAI_KEYS[0] }]), '--data-dir', data]);
    const port = await portOf(r);
    const streaming = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/gpt-4o', stream: true, messages: [] }),
    });
    r.child.kill('SIGINT');
    await untilOut(r, /SIGINT: finishing in-flight requests/);
    r.child.kill('SIGINT');
    assert.equal(await r.exited, 130);
    await streaming.body.text().catch(() => '');
    assert.ok(statSync(join(data, 'state.json')).size > 0, 'state saved on the hard way out too');
  });

  test("fallback mode: two overlapping requests with a client's own key; neither the logs nor the request log hold it", async () => {
    const data = join(dir, 'data');
    const logDir = join(dir, 'requests');
    const file = join(dir, 'fallback.json');
    writeFileSync(
      file,
      JSON.stringify({
        proxy: { port: 0, requestLogDir: logDir },
        providers: [{ id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' }],
        keys: [],
      }),
    );
    const r = cli(['serve', '--config', file, '--data-dir', data, '--log-level', 'trace']);
    const port = await portOf(r);
    const own = 'sk-client-own-9f8e7d6c5b4a39281706';
    const headers = { authorization: `Bearer ${own}`, 'content-type': 'application/json' };
    const url = `http://127.0.0.1:${port}/v1/chat/completions?user_key=${own}`;
    // The long one starts first and ends last: the short one's end must not unmask the key.
    const long = await request(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'mock/gpt-4o', stream: true, messages: [] }),
    });
    const short = await request(url, { method: 'POST', headers, body: BODY });
    await short.body.text();
    assert.match(await long.body.text(), /\[DONE\]/);
    assert.equal(fake.requests.at(-1)!.key, own, "the client's own key went upstream");
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 0);
    assert.ok(!r.out.includes(own), 'the trace log holds the client key');
    assert.match(r.out, /fallback mode/);
    const logs = readdirSync(logDir);
    assert.ok(logs.length > 0, 'a request log was written');
    for (const f of logs) {
      const text = readFileSync(join(logDir, f), 'utf8');
      assert.equal(text.trim().split('\n').length, 2, text);
      assert.ok(!text.includes(own), `${f} holds the client key`);
    }
  });

  test('the leader challenge: an HMAC of a fresh nonce proves the token; the token never crosses; nonces are one-time', async () => {
    const r = cli([
      'serve',
      '--config',
      configWith([{ provider: 'mock', key: OPENAI_KEYS[0] }]),
      '--data-dir',
      join(dir, 'd'),
    ]);
    const port = await portOf(r);
    const base = `http://127.0.0.1:${port}`;
    const mine = randomBytes(16).toString('hex');
    const c = await request(`${base}/keyrelay/challenge?nonce=${mine}`);
    const text = await c.body.text();
    assertClean(text, 'the challenge answer');
    const answer = JSON.parse(text) as { keyrelay: boolean; proof: string; nonce: string };
    // Computed here from the protocol's definition, not with the code under test.
    assert.equal(answer.proof, createHmac('sha256', TOKEN).update(`keyrelay leader\0${mine}`).digest('hex'));
    const other = await request(`${base}/keyrelay/challenge?nonce=${randomBytes(16).toString('hex')}`);
    assert.notEqual(((await other.body.json()) as { proof: string }).proof, answer.proof, 'a fresh proof per nonce');

    const prove = (nonce: string, token = TOKEN) =>
      `KeyRelay-HMAC ${nonce}:${createHmac('sha256', token).update(`keyrelay client\0${nonce}`).digest('hex')}`;
    const sync = (authorization: string) => request(`${base}/keyrelay/sync`, { headers: { authorization } });
    const wrong = await sync(prove(answer.nonce, 'kr-not-the-token'));
    await wrong.body.text();
    assert.equal(wrong.statusCode, 401, 'a proof with another token');
    const c2 = (await (await request(`${base}/keyrelay/challenge?nonce=${mine}`)).body.json()) as { nonce: string };
    const ok = await sync(prove(c2.nonce));
    assertClean(await ok.body.text(), 'the sync answer');
    assert.equal(ok.statusCode, 200);
    const replay = await sync(prove(c2.nonce));
    await replay.body.text();
    assert.equal(replay.statusCode, 401, 'a nonce is good for one request');
    const bad = await request(`${base}/keyrelay/challenge?nonce=../../x`);
    await bad.body.text();
    assert.equal(bad.statusCode, 400);
  });
});

/** Resolves once the CLI's output matches `re`; fails after `ms` (a bound). */
function untilOut(r: CliRun, re: RegExp, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!re.test(r.out)) return;
      clearTimeout(timer);
      r.child.stdout!.off('data', check);
      r.child.stderr!.off('data', check);
      resolve();
    };
    const timer = setTimeout(() => {
      r.child.stdout!.off('data', check);
      r.child.stderr!.off('data', check);
      reject(new Error(`no ${re} within ${ms} ms:\n${r.out}`));
    }, ms);
    r.child.stdout!.on('data', check);
    r.child.stderr!.on('data', check);
    check();
  });
}
