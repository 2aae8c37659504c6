import * as assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { assertNoKeys, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** `GET /v1/providers` and `GET /v1/models`: what a client can discover, without a secret. */
suite('discovery endpoints', () => {
  let h: Harness;

  setup(async () => {
    h = await startHarness({
      keyExtras: {
        'openai-1': { models: ['gpt-5', 'gpt-4o'] },
        'anthropic-1': { models: ['claude-sonnet-4-6'] },
      },
      extraProviders: [
        {
          id: 'local',
          name: 'Local vLLM',
          shape: 'openai',
          baseUrl: 'http://127.0.0.1:9/v1',
          auth: 'bearer',
          testRequest: { method: 'GET', path: '/models' },
          envNames: [],
          models: ['qwen2.5-coder'],
        },
      ],
    });
  });
  teardown(async () => {
    await h.close();
  });

  const get = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
    const r = await request(`${h.endpoint}${path}`, { headers });
    return { status: r.statusCode, text: await r.body.text() };
  };

  test('GET /v1/providers: configured providers with key counts by state, never a key', async () => {
    h.pool.report('openai-2', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    for (const path of ['/v1/providers', '/providers']) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assertNoKeys(r.text, path);
      assert.ok(!r.text.includes('sk-'), 'not even a masked key');
      const body = JSON.parse(r.text) as { data: Array<{ id: string; keys: Record<string, number> }> };
      assert.deepEqual(
        body.data.map((p) => p.id),
        ['openai', 'anthropic', 'local'],
      );
      assert.deepEqual(body.data[0].keys, { total: 3, usable: 2, active: 2, cooling: 0, invalid: 1, discarded: 0 });
      assert.equal(body.data[2].keys.total, 0, 'a custom provider without keys is listed too');
    }
    assert.equal(h.fake.requests.length, 0, 'answered by KeyRelay, not forwarded');
  });

  test('GET /v1/providers without the access token is not answered from the pool', async () => {
    const r = await get('/v1/providers', { authorization: 'Bearer sk-client-own-key-000000000000' });
    assert.equal(r.status, 401, r.text);
    assert.match(r.text, /access token/, 'the answer says which credential to send');
    assert.ok(!r.text.includes('"object":"provider"'));
  });

  test('GET /v1/models through the real SDKs: the union, each model with its provider', async () => {
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const models = (await openai.models.list()).data as Array<OpenAI.Models.Model & { provider: string }>;
    assert.deepEqual(
      models.map((m) => [m.id, m.provider]),
      [
        ['gpt-5', 'openai'],
        ['gpt-4o', 'openai'],
      ],
      'only providers with keys can serve a model: local, without keys, is not offered',
    );
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    const claude = (await anthropic.models.list()).data as Array<Anthropic.Models.ModelInfo & { provider: string }>;
    assert.deepEqual(
      claude.map((m) => [m.id, m.provider]),
      [['claude-sonnet-4-6', 'anthropic']],
    );
    assert.equal(h.fake.requests.length, 0);
  });
});
