import * as assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { request } from 'undici';
import { OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const body = (stream: boolean) =>
  JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] });
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

/** Sends a streaming request through the proxy and reads until its first chunk arrived; cancel with the controller. */
async function firstChunk(h: Harness): Promise<AbortController> {
  const ac = new AbortController();
  const r = await request(`${h.endpoint}/v1/chat/completions`, {
    method: 'POST',
    body: body(true),
    headers,
    signal: ac.signal,
  });
  for await (const _ of r.body) break;
  return ac;
}

/** Cuts, stalls, cancels and fallback mode (DESIGN §2, §5.3, §5.5, §5.7). */
suite('upstream failures, client cancels and fallback mode', () => {
  let h: Harness;

  teardown(async () => {
    await h?.close();
  });

  test('client abort mid-stream closes the upstream connection at once', async () => {
    h = await startHarness({ fake: { chunks: 50, chunkDelayMs: 50 } });
    const ac = await firstChunk(h); // now cancel
    const aborted = h.fake.waitForAbort(2000);
    ac.abort();
    const rec = await aborted;
    assert.ok(rec.aborted);
    assert.equal(h.stats.snapshot().total.failures.aborted, 1);
  });

  test('a forwarded response carries one close listener while its attempt is in flight, and it still aborts', async () => {
    h = await startHarness({ fake: { chunks: 50, chunkDelayMs: 50 } });
    const port = Number(new URL(h.endpoint).port);
    const responses: ServerResponse[] = [];
    const grab = (m: unknown): void => {
      const { server, response } = m as { server: Server; response: ServerResponse };
      if ((server.address() as AddressInfo | null)?.port === port) responses.push(response);
    };
    diagnostics.subscribe('http.server.request.start', grab);
    try {
      const ac = await firstChunk(h); // the attempt is in flight
      assert.equal(responses.length, 1);
      // A second 'close' listener (one per attempt, beside the server's) puts both in an array per
      // request, which V8 may tenure under load (test/bench/README.md, "The load generator's cut").
      assert.equal(responses[0].listenerCount('close'), 1);
      const aborted = h.fake.waitForAbort(2000);
      ac.abort();
      assert.ok((await aborted).aborted);
      assert.equal(h.stats.snapshot().total.failures.aborted, 1);
    } finally {
      diagnostics.unsubscribe('http.server.request.start', grab);
    }
  });

  test('an upstream that resets mid-stream: the SDK reports an error, the proxy keeps serving', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, fake: { chunks: 10 } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'cut-mid-stream', afterChunks: 3 });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await assert.rejects(async () => {
      const s = await sdk.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      for await (const _ of s) {
        /* drain */
      }
    });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'ok' });
    const ok = await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(ok.choices[0].message.content);
  });

  test('an upstream that never answers: 504 after the headers timeout, on every key in turn', async () => {
    h = await startHarness({ config: { headersTimeoutMs: 300 }, keys: { openai: OPENAI_KEYS.slice(0, 2) } });
    for (const k of OPENAI_KEYS.slice(0, 2)) h.fake.setKeyBehaviour(k, { kind: 'stall-headers' });
    const started = Date.now();
    const r = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', body: body(false), headers });
    const json = (await r.body.json()) as { error: { code: string; message: string } };
    assert.equal(r.statusCode, 504);
    assert.equal(json.error.code, 'upstream_timeout');
    assert.match(json.error.message, /headersSeconds/);
    assert.ok(Date.now() - started < 3000);
  });

  test('an upstream that stalls mid-stream is cut after the idle timeout', async () => {
    h = await startHarness({ config: { idleTimeoutMs: 300 }, keys: { openai: [OPENAI_KEYS[0]] } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'stall-mid-stream', afterChunks: 2 });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const started = Date.now();
    await assert.rejects(async () => {
      const s = await sdk.chat.completions.create({
        model: 'gpt-4o',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      for await (const _ of s) {
        /* drain */
      }
    });
    assert.ok(Date.now() - started < 3000);
    assert.equal(h.stats.snapshot().total.failures.network ?? h.stats.snapshot().total.failures.timeout, 1);
  });

  test('a long healthy stream is never cut for being long', async () => {
    h = await startHarness({
      config: { idleTimeoutMs: 200, headersTimeoutMs: 200 },
      fake: { chunks: 15, chunkDelayMs: 50 },
    });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    let n = 0;
    const s = await sdk.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const _ of s) n++;
    assert.ok(n >= 15);
  });

  test('an upstream redirect is not followed: 502 naming the base URL', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'redirect', location: 'http://127.0.0.1:1/steal' });
    const r = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', body: body(false), headers });
    const json = (await r.body.json()) as { error: { message: string } };
    assert.equal(r.statusCode, 502);
    assert.match(json.error.message, /redirect/);
    assert.equal(h.fake.requests.length, 1);
  });

  test('an unreachable provider: 502 at once, not one try per key', async () => {
    h = await startHarness();
    await h.fake.close();
    const r = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', body: body(false), headers });
    const json = (await r.body.json()) as { error: { code: string } };
    assert.equal(r.statusCode, 502);
    assert.equal(json.error.code, 'upstream_connect_failed');
    for (const id of ['openai-1', 'openai-2', 'openai-3'])
      assert.equal(h.pool.health(id)!.state, 'active', "the network is not the key's fault");
  });

  test("fallback mode: no keys for the provider forwards the client's own key, never the token", async () => {
    h = await startHarness({ keys: { anthropic: [] } });
    const clientKey = 'sk-client-own-key-123456789';
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: clientKey, maxRetries: 0 });
    const r = await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(r.choices[0].message.content);
    assert.equal(h.fake.requests.at(-1)!.key, clientKey);
    assert.ok(
      h.log.lines.some((l) => /fallback mode/.test(l)),
      'a log line says so',
    );
    assert.ok(!h.log.lines.join('\n').includes(clientKey));
    // With the token and no keys: a 503 that names the command.
    const t = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', body: body(false), headers });
    const json = (await t.body.json()) as { error: { code: string; message: string } };
    assert.equal(t.statusCode, 503);
    assert.equal(json.error.code, 'no_keys');
    assert.match(json.error.message, /Add Key/);
  });

  test('fallback mode on every interface (0.0.0.0): the own key goes through only with x-keyrelay-token, which stays here', async () => {
    h = await startHarness({ keys: { anthropic: [] }, config: { host: '0.0.0.0' } });
    const clientKey = 'sk-client-own-key-123456789';
    const bare = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: clientKey, maxRetries: 0 });
    const refused = await bare.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (err: InstanceType<typeof OpenAI.APIError>) => err,
      );
    assert.equal(refused?.status, 401);
    assert.match(refused!.message, /x-keyrelay-token/);
    assert.equal(h.fake.requests.length, 0, 'nothing went upstream');
    const proved = new OpenAI({
      baseURL: `${h.endpoint}/v1`,
      apiKey: clientKey,
      maxRetries: 0,
      defaultHeaders: { 'x-keyrelay-token': TOKEN },
    });
    await proved.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const sent = h.fake.requests.at(-1)!;
    assert.equal(sent.key, clientKey);
    assert.equal(sent.headers['x-keyrelay-token'], undefined, 'the token never goes upstream');
  });

  test('stop() lets an in-flight stream finish within the grace period', async () => {
    h = await startHarness({ fake: { chunks: 6, chunkDelayMs: 30 } });
    const r = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', body: body(true), headers });
    const stopping = h.proxy.stop(2000);
    const text = await r.body.text();
    await stopping;
    assert.match(text, /\[DONE\]/);
  });
});
