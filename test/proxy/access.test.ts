import * as assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'undici';
import { assertNoKeys, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** Whether `out` holds one whole HTTP/1.1 response: a chunked body's last chunk, or content-length bytes. */
function answered(out: string): boolean {
  const head = out.indexOf('\r\n\r\n');
  if (head < 0) return false;
  if (/\r\ntransfer-encoding: *chunked/i.test(out.slice(0, head))) return out.endsWith('\r\n0\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(out.slice(0, head));
  return !!length && Buffer.byteLength(out) >= head + 4 + Number(length[1]);
}

/** Sends raw bytes and returns the raw response (for request targets undici refuses to send). */
function raw(port: number, text: string, keepOpen = false): Promise<string> {
  return new Promise((resolve, reject) => {
    // keepOpen: write without half-closing, as a stalled client does.
    const s = connect(port, '127.0.0.1', () => (keepOpen ? s.write(text) : s.end(text)));
    let out = '';
    s.on('data', (d) => {
      out += d.toString();
    });
    // The proxy answers and closes; a bound, not a wait: no end within 3 s is a failure.
    const bound = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer within 3 s; got: ${out.slice(0, 200)}`));
    }, 3000);
    const done = (): void => {
      clearTimeout(bound);
      s.destroy();
      resolve(out);
    };
    s.on('data', () => {
      // A stalled client's connection stays open after the answer: the answer is whole at its length.
      if (keepOpen && answered(out)) done();
    });
    s.on('end', done);
    s.on('error', (err) => {
      clearTimeout(bound);
      reject(err);
    });
  });
}

const json = { 'content-type': 'application/json' };
const auth = { authorization: `Bearer ${TOKEN}` };

/** DESIGN §6 and the "what bad input gets": a specific status, JSON in the caller's shape. */
suite('local access and bad input', () => {
  let h: Harness;
  let port: number;

  setup(async () => {
    h = await startHarness({ config: { maxBodyBytes: 64 * 1024, bodyTimeoutMs: 300 } });
    port = h.proxy.port!;
  });
  teardown(async () => {
    await h.close();
  });

  async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const r = await request(`${h.endpoint}${path}`, {
      method: init.method ?? 'POST',
      headers: init.headers,
      body: init.body,
    });
    const text = await r.body.text();
    assertNoKeys(text, `${path} response`);
    return { status: r.statusCode, headers: r.headers, text, json: text ? JSON.parse(text) : undefined };
  }

  test('health needs no token and says only that this is KeyRelay', async () => {
    const r = await call('/keyrelay/health', { method: 'GET' });
    assert.equal(r.status, 200);
    assert.equal(r.json.keyrelay, true);
    assert.deepEqual(Object.keys(r.json).sort(), ['instanceId', 'keyrelay', 'port', 'version']);
  });

  test('missing token: 401 in the OpenAI shape naming the command; Anthropic shape for /v1/messages', async () => {
    const o = await call('/v1/chat/completions', { headers: json, body: '{"model":"gpt-4o"}' });
    assert.equal(o.status, 401);
    assert.equal(o.json.error.code, 'unauthorized');
    assert.match(o.json.error.message, /Copy Access Token/);
    const a = await call('/v1/messages', { headers: json, body: '{"model":"claude-sonnet-4-5"}' });
    assert.equal(a.status, 401);
    assert.equal(a.json.type, 'error');
    assert.equal(a.json.error.type, 'authentication_error');
    assert.equal(h.fake.requests.length, 0);
  });

  test('a wrong token while the provider has keys is refused, never forwarded', async () => {
    const r = await call('/v1/chat/completions', {
      headers: { ...json, authorization: 'Bearer sk-not-the-token-000000' },
      body: '{"model":"gpt-4o","messages":[]}',
    });
    assert.equal(r.status, 401);
    assert.equal(h.fake.requests.length, 0);
  });

  test('the token is accepted as x-api-key and api-key too', async () => {
    for (const header of ['x-api-key', 'api-key']) {
      const r = await call('/v1/chat/completions', {
        headers: { ...json, [header]: TOKEN },
        body: '{"model":"gpt-4o","messages":[]}',
      });
      assert.equal(r.status, 200, header);
    }
  });

  test('a foreign Host is refused (DNS rebinding); localhost and [::1] are fine', async () => {
    const bad = await raw(
      port,
      `GET /keyrelay/health HTTP/1.1\r\nHost: evil.example:${port}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(bad, /^HTTP\/1\.1 403/);
    assert.match(bad, /forbidden_host/);
    for (const host of [`localhost:${port}`, `[::1]:${port}`]) {
      const ok = await raw(port, `GET /keyrelay/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(ok, /^HTTP\/1\.1 200/, host);
    }
  });

  test('a request with an Origin is refused unless allowed, and no CORS header is ever sent', async () => {
    const r = await call('/v1/chat/completions', {
      headers: { ...json, ...auth, origin: 'https://evil.example' },
      body: '{"model":"gpt-4o","messages":[]}',
    });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'forbidden_origin');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(h.fake.requests.length, 0);
    const ok = await call('/v1/chat/completions', {
      headers: { ...json, ...auth },
      body: '{"model":"gpt-4o","messages":[]}',
    });
    assert.equal(ok.headers['access-control-allow-origin'], undefined);
  });

  test('absolute-form and //host request targets are a 400', async () => {
    const abs = await raw(
      port,
      `GET http://evil.example/v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(abs, /^HTTP\/1\.1 400/);
    assert.match(abs, /bad_request_target/);
    const dbl = await raw(
      port,
      `GET //evil.example/v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(dbl, /^HTTP\/1\.1 400/);
    assert.equal(h.fake.requests.length, 0);
  });

  test('an unknown path is a 404 that lists what is served', async () => {
    const r = await call('/nope', { method: 'GET', headers: auth });
    assert.equal(r.status, 404);
    assert.match(r.json.error.message, /\/v1\/chat\/completions/);
  });

  test('a body that is not a JSON object is a 400 from KeyRelay, not sent upstream', async () => {
    const r = await call('/v1/chat/completions', { headers: { ...json, ...auth }, body: 'model=gpt-4o' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_json');
    assert.equal(h.fake.requests.length, 0);
  });

  test('an oversized body is a 413 naming the setting, and the server keeps serving', async () => {
    const big = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] });
    const r = await call('/v1/chat/completions', { headers: { ...json, ...auth }, body: big });
    assert.equal(r.status, 413);
    assert.match(r.json.error.message, /maxBodyMB/);
    const ok = await call('/v1/chat/completions', {
      headers: { ...json, ...auth },
      body: '{"model":"gpt-4o","messages":[]}',
    });
    assert.equal(ok.status, 200);
  });

  test('a body that stalls gets a 408 within the body timeout', async () => {
    const out = await raw(
      port,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`,
      true,
    );
    assert.match(out, /^HTTP\/1\.1 408/);
    assert.match(out, /body_timeout/);
    // 300 ms reads "<1 s", not "0 s"; and the connection is not reused for the rest of that body.
    assert.match(out, /nothing arrived for <1 s/);
    assert.match(out, /\r\nconnection: close\r\n/i);
  });

  test('another window can discard and restore a key through the leader, with the token only', async () => {
    assert.equal((await call('/keyrelay/keys/openai-1/discard', { headers: {} })).status, 401);
    const d = await call('/keyrelay/keys/openai-1/discard', { headers: auth });
    assert.deepEqual([d.status, d.json.state], [200, 'discarded']);
    assert.equal(h.pool.health('openai-1')!.state, 'discarded');
    const r = await call('/keyrelay/keys/openai-1/restore', { headers: auth });
    assert.deepEqual([r.status, r.json.state], [200, 'active']);
    const missing = await call('/keyrelay/keys/nope/restore', { headers: auth });
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /Reload/);
  });

  test('status needs the token and holds masked keys only', async () => {
    assert.equal((await call('/keyrelay/status', { method: 'GET' })).status, 401);
    const r = await call('/keyrelay/status', { method: 'GET', headers: auth });
    assert.equal(r.status, 200);
    assert.equal(r.json.keys.length, 6);
  });

  test('a provider prefix routes and is stripped; an OpenRouter-style id whose prefix is no provider stays whole', async () => {
    await call('/v1/chat/completions', {
      headers: { ...json, ...auth },
      body: '{"model":"openai/gpt-4o","messages":[]}',
    });
    assert.equal(h.fake.requests.at(-1)!.model, 'gpt-4o');
    await call('/v1/chat/completions', {
      headers: { ...json, ...auth },
      body: '{"model":"meta-llama/llama-3-70b","messages":[]}',
    });
    assert.equal(h.fake.requests.at(-1)!.model, 'meta-llama/llama-3-70b');
  });
});

suite('fill-in-the-middle routing', () => {
  test('a preset without FIM answers 404 naming a provider that has it; a custom provider is forwarded', async () => {
    // groq is a real preset without FIM: the answer is local, nothing leaves the machine.
    const h = await startHarness({
      keys: { openai: ['sk-test-fimfimfimfimfimfimfim9999'], groq: ['gsk_testgroqgroqgroqgroq7777'] },
    });
    try {
      const r = await request(`${h.endpoint}/v1/fim/completions`, {
        method: 'POST',
        headers: { ...json, ...auth },
        body: '{"model":"groq/llama-3.3-70b","prompt":"def f(","suffix":")"}',
      });
      const body = (await r.body.json()) as { error: { message: string } };
      assert.equal(r.statusCode, 404);
      assert.match(body.error.message, /mistral/);
      assert.equal(h.fake.requests.length, 0);
      // The harness's openai provider points at the fake as a custom entry: forwarded.
      const ok = await request(`${h.endpoint}/v1/fim/completions`, {
        method: 'POST',
        headers: { ...json, ...auth },
        body: '{"model":"gpt-4o","prompt":"def f(","suffix":")"}',
      });
      await ok.body.text();
      assert.equal(ok.statusCode, 200);
    } finally {
      await h.close();
    }
  });
});
