import * as assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { ANTHROPIC_BUDGETS, ANSWER_ROOM } from '../../src/core/proxy/reasoning';
import type { ReasoningSetting } from '../../src/core/types';
import { ANTHROPIC_KEYS, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** `keyRelay.reasoning` end to end: the real SDKs send, the fake upstream records what arrived. */
suite('reasoning levels through the proxy', () => {
  let h: Harness;
  let openai: OpenAI;
  let anthropic: Anthropic;

  setup(async () => {
    h = await startHarness({
      keys: { openai: OPENAI_KEYS, anthropic: ANTHROPIC_KEYS, gemini: ['AIza-test-gggggggggggggggg7777'] },
    });
    // Gemini's preset, pointed at the fake like the other two (the fake speaks OpenAI's shape).
    const gemini = { ...h.catalogue.get('gemini')!, baseUrl: h.fake.openaiBase };
    h.catalogue.set([h.catalogue.get('openai')!, h.catalogue.get('anthropic')!, gemini]);
    openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
  });
  teardown(async () => {
    await h.close();
  });

  const set = (reasoning: ReasoningSetting): void => h.proxy.updateConfig({ ...h.config, reasoning });
  const lastBody = (): Record<string, unknown> => JSON.parse(h.fake.requests.at(-1)!.body);

  test('each level reaches OpenAI chat, Responses, Anthropic and Gemini in its own field', async () => {
    const effort = { off: 'minimal', low: 'low', medium: 'medium', high: 'high', max: 'high' } as const;
    for (const level of ['off', 'low', 'medium', 'high', 'max'] as const) {
      set(level);
      await openai.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(lastBody().reasoning_effort, effort[level], `chat ${level}`);

      await openai.responses.create({ model: 'gpt-5', input: 'hi' });
      assert.deepEqual(lastBody().reasoning, { effort: effort[level] }, `responses ${level}`);

      await openai.chat.completions.create({
        model: 'gemini/gemini-2.5-pro',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const g = lastBody();
      assert.equal(g.model, 'gemini-2.5-pro', 'the provider prefix is stripped as before');
      assert.equal(g.reasoning_effort, level === 'off' ? 'none' : effort[level], `gemini ${level}`);

      const m = await anthropic.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(m.type, 'message');
      const a = lastBody();
      if (level === 'off') {
        assert.equal(a.thinking, undefined);
        assert.equal(a.max_tokens, 100);
      } else {
        assert.deepEqual(a.thinking, { type: 'enabled', budget_tokens: ANTHROPIC_BUDGETS[level] });
        assert.equal(a.max_tokens, ANTHROPIC_BUDGETS[level] + ANSWER_ROOM, 'max_tokens raised above the budget');
      }
    }
  });

  test('auto (the default) forwards every body byte for byte, the client own reasoning fields included', async () => {
    const bodies = [
      [
        '/v1/chat/completions',
        '{"model":"gpt-5",  "reasoning_effort":"low", "messages":[{"role":"user","content":"hi"}]}',
      ],
      ['/v1/responses', '{"model":"gpt-5","input":"hi","reasoning":{"effort":"high"}}'],
      [
        '/v1/messages',
        '{"model":"claude-sonnet-4-6","max_tokens":5000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}',
      ],
    ] as const;
    for (const [path, body] of bodies) {
      const r = await request(`${h.endpoint}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body,
      });
      await r.body.dump();
      assert.equal(r.statusCode, 200);
      assert.equal(h.fake.requests.at(-1)!.body, body, path);
    }
  });

  test('per model patterns and the non-reasoning list: only the matching models are rewritten', async () => {
    set({ 'claude-*': 'high', 'gpt-5*': 'medium' });
    await openai.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(lastBody().reasoning_effort, 'medium');
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal('reasoning_effort' in lastBody(), false, 'no pattern names gpt-4o: auto');
    await anthropic.messages.create({ model: 'claude-opus-4-6', max_tokens: 50, messages: [] });
    assert.equal((lastBody().thinking as { budget_tokens: number }).budget_tokens, ANTHROPIC_BUDGETS.high);

    set('high');
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal('reasoning_effort' in lastBody(), false, 'gpt-4o is on the built-in non-reasoning list');
  });
});
