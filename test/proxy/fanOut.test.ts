import * as assert from 'node:assert/strict';
import { request } from 'undici';
import type { ModelResponse } from '../../src/core/proxy/fanOut';
import { ANTHROPIC_KEYS, assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

interface Summary {
  prompt: string;
  total_duration: number;
  total_models: number;
  successful: number;
  failed: number;
  key_rotation: string;
  responses: ModelResponse[];
}

/** `POST /keyrelay/run`: one prompt to several models, each with its own key and failover. */
suite('fan-out: POST /keyrelay/run', () => {
  let h: Harness;

  setup(async () => {
    h = await startHarness({ fake: { chunks: 3 } });
  });
  teardown(async () => {
    await h.close();
  });

  const run = (body: unknown, signal?: AbortSignal) =>
    request(`${h.endpoint}/keyrelay/run`, { method: 'POST', headers, body: JSON.stringify(body), signal });

  test('3 models, one whose keys are all invalid: 2 answers and 1 clear failure, keys spread over the pool', async () => {
    for (const k of ANTHROPIC_KEYS) h.fake.setKeyBehaviour(k, { kind: 'status', status: 401 });
    const r = await run({ prompt: 'Say hi', models: ['gpt-4o', 'claude-sonnet-4-6', 'gpt-4o-mini'] });
    assert.equal(r.statusCode, 200);
    const text = await r.body.text();
    assertNoKeys(text, 'the fan-out answer');
    const s = JSON.parse(text) as Summary;
    assert.equal(s.prompt, 'Say hi');
    assert.equal(s.total_models, 3);
    assert.equal(s.successful, 2);
    assert.equal(s.failed, 1);
    assert.equal(s.key_rotation, 'round-robin');
    assert.deepEqual(
      s.responses.map((x) => x.model),
      ['gpt-4o', 'claude-sonnet-4-6', 'gpt-4o-mini'],
      'one entry per model, in the order asked',
    );
    const [a, failed, b] = s.responses;
    for (const ok of [a, b]) {
      assert.equal(ok.status, 200);
      assert.equal(ok.error, null);
      assert.equal(ok.provider, 'openai');
      assert.match(ok.output, /Hello/);
      assert.ok(ok.ttft !== null && ok.ttft <= ok.duration);
      assert.ok(ok.usage && ok.usage.output_tokens! > 0, 'tokens counted');
      assert.match(ok.key!, /^sk-…/);
    }
    assert.notEqual(a.key_label, b.key_label, 'each model call took its own key');
    assert.equal(failed.provider, 'anthropic');
    assert.equal(failed.status, 401);
    assert.equal(failed.output, '');
    assert.match(failed.error!, /No usable Anthropic key in KeyRelay \(3 invalid\).*Add Key/);
    assert.equal(failed.attempts, 3, 'failover tried every Anthropic key');
    const seen = new Set(h.fake.requests.filter((q) => q.shape === 'openai').map((q) => q.key));
    assert.equal(seen.size, 2);
  });

  test('"stream": true sends each chunk as an event tagged with its model, then results and the summary', async () => {
    const r = await run({ prompt: 'hi', models: ['gpt-4o', 'anthropic/claude-haiku-4-5'], stream: true });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /text\/event-stream/);
    const events = (await r.body.text())
      .split('\n\n')
      .filter(Boolean)
      .map((block) => {
        const [ev, data] = block.split('\n');
        return { event: ev.slice('event: '.length), data: JSON.parse(data.slice('data: '.length)) };
      });
    const deltas = events.filter((e) => e.event === 'delta');
    const results = events.filter((e) => e.event === 'result').map((e) => e.data as ModelResponse);
    assert.equal(results.length, 2);
    for (const res of results) {
      const own = deltas.filter((d) => d.data.model === res.model).map((d) => d.data.delta as string);
      assert.ok(own.length >= 2, `${res.model} streamed in chunks`);
      assert.equal(own.join(''), res.output, 'the chunks add up to the output');
    }
    const done = events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal((done.data as Summary).successful, 2);
    const anthropicCall = h.fake.requests.find((q) => q.shape === 'anthropic')!;
    assert.equal(anthropicCall.model, 'claude-haiku-4-5', 'the provider prefix was taken off');
  });

  test('"messages" instead of "prompt", and "random_key"', async () => {
    const r = await run({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
      models: ['gpt-4o', 'claude-sonnet-4-6'],
      random_key: true,
    });
    const s = (await r.body.json()) as Summary;
    assert.equal(s.key_rotation, 'random');
    assert.equal(s.successful, 2);
    const anthropicBody = JSON.parse(h.fake.requests.find((q) => q.shape === 'anthropic')!.body);
    assert.equal(anthropicBody.system, 'Be brief.', 'a system message goes where Anthropic wants it');
    assert.deepEqual(anthropicBody.messages, [{ role: 'user', content: 'hi' }]);
  });

  test('a Claude model goes to the OpenAI shape when no Anthropic-shape provider has keys', async () => {
    await h.close();
    h = await startHarness({ fake: { chunks: 3 }, keys: { openai: OPENAI_KEYS } });
    const s = (await (await run({ prompt: 'hi', models: ['claude-sonnet-4-6'] })).body.json()) as Summary;
    assert.equal(s.successful, 1, JSON.stringify(s.responses));
    assert.equal(s.responses[0].provider, 'openai');
    assert.deepEqual(
      h.fake.requests.map((q) => [q.shape, JSON.parse(q.body).model]),
      [['openai', 'claude-sonnet-4-6']],
      'sent once, whole, to the provider with keys',
    );
  });

  test('the client going away aborts every model call', async () => {
    for (const k of OPENAI_KEYS) h.fake.setKeyBehaviour(k, { kind: 'stall-headers' });
    const ac = new AbortController();
    const pending = run({ prompt: 'hi', models: ['gpt-4o', 'gpt-4o-mini'] }, ac.signal);
    await h.fake.waitForRequests(2);
    ac.abort();
    await assert.rejects(pending);
    await h.fake.waitFor(() => h.fake.requests.filter((q) => q.aborted).length === 2, 'both upstream calls closed');
    assert.equal(h.fake.requests.length, 2, 'no failover after the client left');
  });

  test('bad input: 400 in OpenAI shape that shows what to send', async () => {
    for (const body of [{ prompt: 'hi' }, { prompt: 'hi', models: [] }, { models: ['gpt-4o'] }, 'not json']) {
      const r = await request(`${h.endpoint}/keyrelay/run`, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      assert.equal(r.statusCode, 400);
      const e = (await r.body.json()) as { error: { message: string } };
      assert.match(e.error.message, /Send \{"prompt"/);
    }
    assert.equal(h.fake.requests.length, 0);
  });
});
