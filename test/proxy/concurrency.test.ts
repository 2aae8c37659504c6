import * as assert from 'node:assert/strict';
import OpenAI from 'openai';
import { request } from 'undici';
import { until } from '../fakes/waits';
import { OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const chatBody = (model = 'gpt-4o') => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

/** Settings maxConcurrentPerKey / maxConcurrentPerKeyModel: busy keys are skipped, a full pool queues. */
suite('per-key concurrency limits', () => {
  let h: Harness;

  teardown(async () => {
    await h?.close();
  });

  test('20 concurrent streams over 2 keys with maxConcurrentPerKey 1 all succeed, never 2 at once on a key', async () => {
    h = await startHarness({
      keys: { openai: OPENAI_KEYS.slice(0, 2) },
      config: { maxConcurrentPerKey: 1 },
      fake: { chunks: 4, chunkDelayMs: 2 },
    });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const texts = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const stream = await sdk.chat.completions.create({
          model: 'gpt-4o',
          stream: true,
          messages: [{ role: 'user', content: 'hi' }],
        });
        let text = '';
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
        return text;
      }),
    );
    assert.equal(texts.length, 20);
    for (const t of texts) assert.ok(t.length > 0, 'every stream carried text');
    assert.equal(h.fake.requests.length, 20, 'one upstream call each: nothing failed over or was refused');
    for (const k of OPENAI_KEYS.slice(0, 2)) {
      assert.equal(h.fake.peakInFlight.get(k), 1, 'at most one request in flight per key');
      assert.ok((h.fake.countsByKey()[k] ?? 0) >= 1, 'both keys served');
    }
    const s = h.stats.snapshot().total;
    assert.equal(s.failures['rate-limit'] ?? 0, 0);
  });

  test('maxConcurrentPerKeyModel counts per model: two models share one key, each model one at a time', async () => {
    h = await startHarness({
      keys: { openai: [OPENAI_KEYS[0]] },
      config: { maxConcurrentPerKeyModel: 1 },
      fake: { chunks: 3, chunkDelayMs: 2 },
    });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const models = ['gpt-4o', 'gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini'];
    const answers = await Promise.all(
      models.map((model) => sdk.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })),
    );
    assert.deepEqual(
      answers.map((a) => a.model),
      models,
    );
    assert.ok((h.fake.peakInFlight.get(OPENAI_KEYS[0]) ?? 0) <= 2, 'never more than one per model on the key');
  });

  test('every key busy past maxWaitMs: a clear 429 in OpenAI shape, and the busy request still finishes', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxConcurrentPerKey: 1, maxWaitMs: 300 } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'delay-headers', ms: 1500 });
    const first = request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', headers, body: chatBody() });
    await h.fake.waitForRequest(1);
    const second = await request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', headers, body: chatBody() });
    const err = (await second.body.json()) as { error: { type: string; code: string; message: string } };
    assert.equal(second.statusCode, 429);
    assert.equal(err.error.code, 'all_keys_busy');
    assert.match(err.error.message, /busy \(maxConcurrentPerKey: 1 per key\).*Raise the limit/);
    const r1 = await first;
    assert.equal(r1.statusCode, 200);
    await r1.body.dump();
    assert.equal(h.fake.requests.length, 1, 'the refused request never reached the upstream');
  });

  test('a queued request whose client goes away leaves the queue; the next one gets the slot', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxConcurrentPerKey: 1 } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'delay-headers', ms: 400 });
    const first = request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', headers, body: chatBody() });
    await h.fake.waitForRequest(1);
    const ac = new AbortController();
    const gone = request(`${h.endpoint}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: chatBody(),
      signal: ac.signal,
    });
    const gate = h.kit.deps.gate;
    await until(gate.onDidChangeQueue, () => gate.waiting('openai') === 1, 'the second request queued');
    const third = request(`${h.endpoint}/v1/chat/completions`, { method: 'POST', headers, body: chatBody() });
    await until(gate.onDidChangeQueue, () => gate.waiting('openai') === 2, 'the third request queued behind it');
    ac.abort();
    await assert.rejects(gone);
    await until(gate.onDidChangeQueue, () => gate.waiting('openai') === 1, 'the cancelled request left the queue');
    const [r1, r3] = await Promise.all([first, third]);
    assert.equal(r1.statusCode, 200);
    assert.equal(r3.statusCode, 200);
    await Promise.all([r1.body.dump(), r3.body.dump()]);
    assert.equal(h.fake.requests.length, 2, 'the cancelled request never reached the upstream');
    assert.equal(h.fake.peakInFlight.get(OPENAI_KEYS[0]), 1);
  });
});
