import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join, resolve } from 'node:path';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyError } from '../../../src/core/errors';
import { Upstream, classifyNetworkError } from '../../../src/core/proxy/upstream';
import type { UpstreamRequest } from '../../../src/core/proxy/upstream';

/** An error shaped like the ones undici and the socket layer raise. */
function netErr(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

suite('classifyNetworkError', () => {
  const where = 'OpenAI (api.openai.com)';

  test('headers timeout is a 504 upstream_timeout that names the setting', () => {
    const f = classifyNetworkError(netErr('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'), where);
    assert.equal(f.error.code, 'upstream_timeout');
    assert.equal(f.error.status, 504);
    assert.deepEqual([f.isConnect, f.isTimeout], [false, true]);
    assert.match(f.error.message, /keyRelay\.timeouts\.headersSeconds/);
    assert.ok(f.error.message.startsWith(where));
  });

  test('body (idle) timeout is a 504 upstream_timeout that names the idle setting', () => {
    const f = classifyNetworkError(netErr('UND_ERR_BODY_TIMEOUT', 'Body Timeout Error'), where);
    assert.equal(f.error.code, 'upstream_timeout');
    assert.equal(f.error.status, 504);
    assert.deepEqual([f.isConnect, f.isTimeout], [false, true]);
    assert.match(f.error.message, /keyRelay\.timeouts\.idleSeconds/);
  });

  test('connect failures are 502 upstream_connect_failed with isConnect', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']) {
      const f = classifyNetworkError(netErr(code, `connect ${code} 10.0.0.1:443`), where);
      assert.equal(f.error.code, 'upstream_connect_failed', code);
      assert.equal(f.error.status, 502, code);
      assert.deepEqual([f.isConnect, f.isTimeout], [true, false], code);
      assert.match(f.error.message, new RegExp(code));
    }
  });

  test('a connect timeout is both a connect failure and a timeout', () => {
    const f = classifyNetworkError(netErr('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'), where);
    assert.equal(f.error.code, 'upstream_connect_failed');
    assert.deepEqual([f.isConnect, f.isTimeout], [true, true]);
  });

  test('ECONNRESET counts as a connect failure only while connecting', () => {
    const during = classifyNetworkError(
      netErr(
        'ECONNRESET',
        'Client network socket disconnected before secure TLS connection was established; connect ECONNRESET',
      ),
      where,
    );
    assert.equal(during.isConnect, true);
    const after = classifyNetworkError(netErr('ECONNRESET', 'read ECONNRESET'), where);
    assert.equal(after.isConnect, false);
    assert.equal(after.error.code, 'upstream_error');
    assert.equal(after.error.status, 502);
  });

  test('anything else is a 502 upstream_error carrying the cause', () => {
    const cause = netErr('UND_ERR_SOCKET', 'other side closed');
    const f = classifyNetworkError(cause, where);
    assert.ok(f.error instanceof ProxyError);
    assert.equal(f.error.code, 'upstream_error');
    assert.deepEqual([f.isConnect, f.isTimeout], [false, false]);
    assert.equal(f.error.cause, cause);
    assert.match(f.error.message, /UND_ERR_SOCKET/);
  });

  test('an error without a code falls back to its message', () => {
    const f = classifyNetworkError(new Error('socket hang up'), where);
    assert.equal(f.error.code, 'upstream_error');
    assert.match(f.error.message, /socket hang up/);
  });
});

suite('Upstream.target', () => {
  let up: Upstream;
  setup(() => {
    up = new Upstream(1000);
  });
  teardown(() => up.destroy());

  test('splits origin and base path, dropping trailing slashes', () => {
    assert.deepEqual(up.target('https://api.openai.com/v1'), { origin: 'https://api.openai.com', basePath: '/v1' });
    assert.deepEqual(up.target('https://generativelanguage.googleapis.com/v1beta/openai/'), {
      origin: 'https://generativelanguage.googleapis.com',
      basePath: '/v1beta/openai',
    });
    assert.deepEqual(up.target('https://openrouter.ai/api/v1//'), {
      origin: 'https://openrouter.ai',
      basePath: '/api/v1',
    });
  });

  test('a bare origin has an empty base path, so "/v1/…" joins to exactly that', () => {
    const t = up.target('https://gateway.example.com');
    assert.deepEqual(t, { origin: 'https://gateway.example.com', basePath: '' });
    assert.equal(`${t.basePath}/v1/messages`, '/v1/messages');
  });

  test('keeps explicit ports, drops default ones', () => {
    assert.deepEqual(up.target('http://127.0.0.1:9999/v1'), { origin: 'http://127.0.0.1:9999', basePath: '/v1' });
    assert.deepEqual(up.target('https://api.example.com:443/v1'), {
      origin: 'https://api.example.com',
      basePath: '/v1',
    });
  });

  test('caches per base URL and rejects a malformed one', () => {
    assert.equal(up.target('https://api.groq.com/openai/v1'), up.target('https://api.groq.com/openai/v1'));
    assert.throws(() => up.target('api.openai.com/v1'));
  });
});

/** Drives one request through Upstream.dispatch and resolves with the error undici reports. */
function dispatchForError(up: Upstream, req: UpstreamRequest): Promise<Error> {
  return new Promise((resolve, reject) => {
    up.dispatch(req, {
      onConnect: () => undefined,
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => reject(new Error('expected the request to fail')),
      onError: resolve,
    });
  });
}

suite('Upstream + classifyNetworkError with real undici errors', () => {
  let up: Upstream;
  let server: Server | undefined;
  const held: ServerResponse[] = [];
  setup(() => {
    up = new Upstream(2000);
  });
  teardown(async () => {
    up.destroy();
    for (const r of held.splice(0)) r.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
  });

  /** A loopback server that answers however `onRequest` says (or never). */
  async function listen(onRequest: (res: ServerResponse) => void): Promise<string> {
    server = createServer((req, res) => {
      held.push(res);
      req.resume();
      onRequest(res);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const base = (origin: string, over: Partial<UpstreamRequest> = {}): UpstreamRequest => ({
    origin,
    path: '/v1/chat/completions',
    method: 'POST',
    headers: ['content-type', 'application/json'],
    body: Buffer.from('{"model":"gpt-4o"}'),
    headersTimeout: 2000,
    bodyTimeout: 2000,
    ...over,
  });

  test('a refused connection maps to upstream_connect_failed', async () => {
    // Take a free port, then release it, so nothing listens there.
    const origin = await listen(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const err = await dispatchForError(up, base(origin));
    const f = classifyNetworkError(err, 'mock');
    assert.equal(f.error.code, 'upstream_connect_failed');
    assert.equal(f.isConnect, true);
  });

  test('an upstream that never sends headers maps to the headers timeout', async () => {
    const origin = await listen(() => undefined);
    const err = await dispatchForError(up, base(origin, { headersTimeout: 150 }));
    const f = classifyNetworkError(err, 'mock');
    assert.equal(f.error.code, 'upstream_timeout');
    assert.match(f.error.message, /headers timeout/);
  });

  test('an upstream that goes silent mid-stream maps to the idle timeout', async () => {
    const origin = await listen((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {}\n\n');
    });
    const err = await dispatchForError(up, base(origin, { bodyTimeout: 150 }));
    const f = classifyNetworkError(err, 'mock');
    assert.equal(f.error.code, 'upstream_timeout');
    assert.match(f.error.message, /idle timeout/);
  });

  test('an HTTPS upstream with a self-signed certificate says so and names NODE_EXTRA_CA_CERTS', async () => {
    const tls = resolve(__dirname, '../../../../test/fakes/tls');
    const https = createHttpsServer(
      { cert: readFileSync(join(tls, 'selfSigned.crt')), key: readFileSync(join(tls, 'selfSigned.key')) },
      (_req, res) => res.end('{}'),
    );
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    try {
      const origin = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
      const f = classifyNetworkError(await dispatchForError(up, base(origin)), 'My gateway (127.0.0.1)');
      assert.equal(f.error.code, 'upstream_connect_failed');
      assert.equal(f.isConnect, true);
      assert.match(
        f.error.message,
        /^My gateway \(127\.0\.0\.1\)'s TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
      );
      assert.match(f.error.message, /NODE_EXTRA_CA_CERTS=/);
    } finally {
      https.closeAllConnections();
      await new Promise<void>((r) => https.close(() => r()));
    }
  });

  test('an upstream that drops the connection mid-response is upstream_error, not a connect failure', async () => {
    const origin = await listen((res) => {
      res.writeHead(200, { 'content-length': '100' });
      // Dropped once the partial body has left: the client sees a response cut short, not a refusal.
      res.write('partial', () => res.socket?.destroy());
    });
    const err = await dispatchForError(up, base(origin));
    const f = classifyNetworkError(err, 'mock');
    assert.equal(f.error.code, 'upstream_error');
    assert.equal(f.isConnect, false);
  });
});
