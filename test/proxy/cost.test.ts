import * as assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import type { Clock, ProxyConfig } from '../../src/core/types';
import { assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** A clock the test moves: budgets' periods are UTC days and months (`now` is bound: the proxy passes it around). */
class TestClock implements Clock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
}

const chat = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hi' }] });

async function status(h: Harness): Promise<any> {
  const r = await request(`${h.endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.statusCode, 200);
  const text = await r.body.text();
  assertNoKeys(text, '/keyrelay/status');
  return JSON.parse(text);
}

suite('cost and budgets through the proxy', () => {
  let h: Harness | undefined;
  teardown(async () => {
    await h?.close();
    h = undefined;
  });

  test('each request costs its tokens at the table price, per key, per model and per day; an unknown model says unknown', async () => {
    h = await startHarness();
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    const a = await openai.chat.completions.create(chat('gpt-4o'));
    const b = await openai.chat.completions.create(chat('gpt-4o-mini'));
    // The fake's Anthropic models are newer than the shipped table: no price.
    await anthropic.messages.create({
      model: 'claude-opus-4-6',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const usd = (u: OpenAI.CompletionUsage, input: number, output: number) =>
      (u.prompt_tokens * input + u.completion_tokens * output) / 1e6;
    const gpt4o = usd(a.usage!, 2.5, 10);
    const mini = usd(b.usage!, 0.15, 0.6);
    const doc = await status(h);
    const near = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
    near(doc.cost.byModel['gpt-4o'].costUsd, gpt4o, 'gpt-4o');
    near(doc.cost.byModel['gpt-4o-mini'].costUsd, mini, 'gpt-4o-mini');
    assert.deepEqual(doc.cost.byModel['claude-opus-4-6'].costUsd, null, 'unknown, not $0');
    assert.equal(doc.cost.byModel['claude-opus-4-6'].unpricedAttempts, 1);
    assert.ok(doc.cost.byModel['claude-opus-4-6'].inputTokens > 0, 'its tokens are still counted');
    near(doc.cost.costUsd, gpt4o + mini, 'total');
    assert.equal(doc.cost.unpricedAttempts, 1);
    assert.match(doc.cost.pricesAsOf, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(doc.cost.byDay.length, 1);
    assert.ok(Math.abs(doc.cost.byDay[0].costUsd - (gpt4o + mini)) < 2e-6, 'per day (micro-dollar cells)');
    const byId = new Map<string, any>(doc.keys.map((k: any) => [k.id, k]));
    // Round-robin: openai-1 served gpt-4o, openai-2 gpt-4o-mini.
    near(byId.get('openai-1').cost.costUsd, gpt4o, 'openai-1');
    near(byId.get('openai-2').cost.costUsd, mini, 'openai-2');
    assert.deepEqual(byId.get('anthropic-1').cost, { costUsd: null, unpricedAttempts: 1 });
    const text = await request(`${h.endpoint}/keyrelay/status?format=text`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const table = await text.body.text();
    assert.match(table, /^ {2}anthropic-1 +sk-ant-…\w{4} +active +1 today +100% ok +cost unknown$/m);
    assert.match(table, /· claude-opus-4-6 cost unknown/);
  });

  test('a price override in the settings replaces the table at once', async () => {
    h = await startHarness();
    h.proxy.updateConfig({ ...h.config, prices: { 'gpt-4o': { input: 1_000_000, output: 0 } } });
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const r = await openai.chat.completions.create(chat('gpt-4o'));
    assert.equal((await status(h)).cost.costUsd, r.usage!.prompt_tokens, '$1 per input token');
  });

  test('budgets: the key that crossed its budget is skipped until the next UTC day; all over budget → budget_exceeded in each API shape', async () => {
    const clock = new TestClock(Date.UTC(2026, 11, 6, 23, 50));
    const budgets: ProxyConfig['budgets'] = { keys: { 'openai-1': { dailyUsd: 0.00001 } }, accounts: {} };
    h = await startHarness({ clock, config: { budgets } });
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await openai.chat.completions.create(chat('gpt-4o')); // openai-1 spends more than $0.00001
    h.fake.reset();
    for (let i = 0; i < 4; i++) await openai.chat.completions.create(chat('gpt-4o'));
    assert.equal(h.fake.countsByKey()[OPENAI_KEYS[0]], undefined, 'openai-1 is skipped');
    const doc = await status(h);
    const k1 = doc.keys.find((k: any) => k.id === 'openai-1');
    assert.equal(k1.state, 'active');
    assert.equal(k1.overBudget.until, Date.UTC(2026, 11, 7));
    assert.ok(k1.budget.spent.dayUsd > 0.00001 && k1.budget.limit.dailyUsd === 0.00001);

    // Every key over budget: KeyRelay's own 429, in the caller's shape, naming the fix.
    // Every OpenAI key has spent more than $0.00001 today; the Anthropic keys may spend nothing at all.
    const none = { dailyUsd: 0 };
    const all = { '*': { dailyUsd: 0.00001 }, 'anthropic-1': none, 'anthropic-2': none, 'anthropic-3': none };
    h.proxy.updateConfig({ ...h.config, budgets: { keys: all, accounts: {} } });
    const err = await openai.chat.completions.create(chat('gpt-4o')).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.code, 'budget_exceeded');
    assert.match(
      err.message,
      /Every OpenAI key in KeyRelay has spent its budget \(3 keys\); the first is back at 2026-12-07 00:00 UTC\. Raise the limit in keyRelay\.budgets/,
    );
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    const aerr = await anthropic.messages
      .create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    assert.ok(aerr instanceof Anthropic.APIError, String(aerr));
    assert.equal(aerr.status, 429);
    assert.equal((aerr.error as any).error.type, 'keyrelay_budget_exceeded');

    // The new UTC day: every OpenAI key is back (their spend starts again at 0).
    clock.t = Date.UTC(2026, 11, 7, 0, 0, 1);
    h.fake.reset();
    for (let i = 0; i < 3; i++) await openai.chat.completions.create(chat('gpt-4o'));
    assert.deepEqual(Object.values(h.fake.countsByKey()), [1, 1, 1], 'each of the three served again');
  });
});
