import * as assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import type { APIError } from 'openai';
import OpenAI from 'openai';
import { request } from 'undici';
import { ANTHROPIC_KEYS, assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const chat = (model = 'gpt-4o') => ({ model, messages: [{ role: 'user' as const, content: 'hi' }] });

/** DESIGN §3 and §5.3–5.4: failures before the first byte move to the next key. */
suite('key rotation and failover', () => {
  let h: Harness;
  let openai: OpenAI;

  setup(async () => {
    h = await startHarness();
    openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
  });
  teardown(async () => {
    await h.close();
  });

  test('round-robin spreads requests over the three keys evenly', async () => {
    for (let i = 0; i < 9; i++) await openai.chat.completions.create(chat());
    const counts = h.fake.countsByKey();
    for (const k of OPENAI_KEYS) assert.equal(counts[k], 3);
  });

  test('one of three keys rate-limited: the client sees only successes, the key cools with retry-after', async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    for (let i = 0; i < 12; i++) {
      const r = await openai.chat.completions.create(chat());
      assert.ok(r.choices[0].message.content);
    }
    const counts = h.fake.countsByKey();
    assert.equal(counts[OPENAI_KEYS[1]], 1, 'the limited key is tried once, then left to cool');
    const health = h.pool.health('openai-2')!;
    assert.ok(health.state === 'cooling' || health.modelCooldowns['gpt-4o'] !== undefined, 'key × model cooling');
    const until = health.modelCooldowns['gpt-4o'] ?? health.coolingUntil!;
    const left = until - Date.now();
    assert.ok(left > 25_000 && left <= 30_000, `cooldown honours retry-after (${left} ms)`);
  });

  test('401 marks a key invalid, 402 discards it; the request still succeeds on another key', async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 401 });
    h.fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 402 });
    for (let i = 0; i < 3; i++) await openai.chat.completions.create(chat());
    assert.equal(h.pool.health('openai-1')!.state, 'invalid');
    assert.equal(h.pool.health('openai-2')!.state, 'discarded');
    assert.equal(h.pool.health('openai-3')!.state, 'active');
    const history = h.pool.health('openai-1')!.history;
    assert.equal(history.at(-1)!.to, 'invalid');
    assert.equal(history.at(-1)!.status, 401);
    assertNoKeys(JSON.stringify(h.pool.snapshot()), 'pool snapshot');
  });

  test('OpenAI insufficient_quota 429 discards the key instead of cooling it', async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], {
      kind: 'status',
      status: 429,
      body: JSON.stringify({
        error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
      }),
    });
    await openai.chat.completions.create(chat());
    await openai.chat.completions.create(chat());
    assert.equal(h.pool.health('openai-1')!.state, 'discarded');
  });

  test('a 200 stream whose first event is an error is retried on the next key', async () => {
    h.fake.setKeyBehaviour(ANTHROPIC_KEYS[0], { kind: 'stream-error-first' });
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const m = await anthropic.messages
        .stream({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
        .finalMessage();
      assert.equal(m.type, 'message');
    }
    // Overloaded is the provider's state, not the key's: the key stays in rotation, and every
    // time it opens a stream with an error the request moves on before the client sees a byte.
    const failedFirst = h.fake.countsByKey()[ANTHROPIC_KEYS[0]];
    assert.ok(failedFirst >= 1);
    assert.equal(h.fake.requests.length, 3 + failedFirst);
    // Attempts are counted on the key, client requests in the totals (three, all answered).
    assert.equal(h.stats.snapshot().byKey['anthropic-1'].failures.server, failedFirst);
    const total = h.stats.snapshot().total;
    assert.deepEqual([total.requests, total.successes, total.failures], [3, 3, {}]);
  });

  test("a 400 is the client's fault: passed through untouched, exactly one upstream call, no penalty", async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], {
      kind: 'status',
      status: 400,
      body: JSON.stringify({ error: { message: 'bad messages', type: 'invalid_request_error', code: null } }),
    });
    await assert.rejects(openai.chat.completions.create(chat()), (err: APIError) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /bad messages/);
      return true;
    });
    assert.equal(h.fake.requests.length, 1);
    assert.equal(h.pool.health('openai-1')!.state, 'active');
  });

  test('every key rate-limited: 429 with an integer retry-after, x-should-retry and a distinct type, quickly', async () => {
    for (const k of OPENAI_KEYS)
      h.fake.setKeyBehaviour(k, { kind: 'status', status: 429, headers: { 'retry-after': '60' } });
    const started = Date.now();
    await assert.rejects(openai.chat.completions.create(chat()), (err: APIError) => {
      assert.equal(err.status, 429);
      assert.equal((err.error as { type?: string }).type, 'keyrelay_all_keys_cooling');
      assert.match(String(err.headers?.get('retry-after')), /^\d+$/);
      assert.ok(Number(err.headers?.get('retry-after')) >= 59);
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      return true;
    });
    assert.equal(h.fake.requests.length, 3, 'each key tried once');
    // The next request does not touch upstream at all.
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN });
    await assert.rejects(sdk.chat.completions.create(chat()), { status: 429 });
    assert.equal(h.fake.requests.length, 3);
    assert.ok(Date.now() - started < 5000, 'the SDK with retries on did not wait out the cooldown');
  });

  test('all keys invalid: a 401 naming the states and the fix', async () => {
    for (const k of OPENAI_KEYS) h.fake.setKeyBehaviour(k, { kind: 'status', status: 401 });
    // The request that finds them all invalid already gets KeyRelay's answer, not the provider's
    // "invalid API key" (which would point the user at the access token), with the provider's words.
    await assert.rejects(openai.chat.completions.create(chat()), (err: APIError) => {
      assert.equal(err.status, 401);
      assert.equal((err.error as { code?: string }).code, 'keys_unusable');
      assert.match(err.message, /3 invalid.*the provider said/);
      return true;
    });
    const r = await request(`${h.endpoint}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(chat()),
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    const body = (await r.body.json()) as { error: { message: string; code: string } };
    assert.equal(r.statusCode, 401);
    assert.equal(body.error.code, 'keys_unusable');
    assert.match(body.error.message, /3 invalid/);
    assert.match(body.error.message, /Add Key|Restore Key/);
  });

  test('two keys cooling and the last one revoked: the client hears "cooling", not "invalid key"', async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[2], { kind: 'status', status: 401 });
    // Without the wait: the answer itself is the subject here (a key frees in 7 s, within the default wait).
    h.proxy.updateConfig({ ...h.config, maxWaitMs: 0 });
    await assert.rejects(openai.chat.completions.create(chat()), (err: APIError) => {
      assert.equal(err.status, 429);
      assert.equal((err.error as { type?: string }).type, 'keyrelay_all_keys_cooling');
      assert.equal(err.headers?.get('x-should-retry'), 'true', 'a key is ready within 20 s');
      return true;
    });
    assert.equal(h.pool.health('openai-3')!.state, 'invalid');
  });

  test('repeated 5xx make a key degraded (cooling) while the others serve', async () => {
    h.fake.setKeyBehaviour(OPENAI_KEYS[2], { kind: 'status', status: 503 });
    for (let i = 0; i < 12; i++) await openai.chat.completions.create(chat());
    const health = h.pool.health('openai-3')!;
    assert.equal(health.state, 'cooling');
    assert.match(health.history.at(-1)!.reason, /degraded/);
  });

  test('a model the keys do not serve gets a clear 503; a model listed on one key routes to it', async () => {
    await h.close();
    h = await startHarness({
      keyExtras: {
        'openai-1': { models: ['gpt-4o'] },
        'openai-2': { models: ['gpt-4o-mini'] },
        'openai-3': { models: ['gpt-4o-mini'] },
      },
    });
    openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await openai.chat.completions.create(chat('gpt-4o'));
    assert.equal(h.fake.countsByKey()[OPENAI_KEYS[0]], 3);
    await assert.rejects(openai.chat.completions.create(chat('o3')), (err: APIError) => {
      assert.equal(err.status, 503);
      assert.match(err.message, /o3/);
      return true;
    });
  });
});

suite('least-used across a day boundary', () => {
  test('a new day restarts the counts least-used balances on', async () => {
    let now = new Date(2025, 0, 15, 23, 59).getTime();
    const clock = { now: () => now };
    const { KeyPool } = await import('../../src/core/pool/keyPool');
    const { Stats } = await import('../../src/core/accounting/stats');
    const pool = new KeyPool({
      clock,
      strategy: 'least-used',
      cooldownStepsMs: [1000],
      maxCooldownMs: 10_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    const stats = new Stats(clock, { dailyResetHour: 0 });
    const sub = stats.onDidRollDay(() => pool.resetDaily());
    const key = (id: string) => ({
      id,
      providerId: 'openai',
      label: id,
      masked: '…',
      addedAt: 0,
      secret: `sk-test-${id}-000000000000`,
    });
    pool.setKeys([key('old')]);
    for (let i = 0; i < 5; i++) {
      const p = pool.pick({ providerId: 'openai' });
      assert.equal(p.kind, 'key');
      if (p.kind === 'key') {
        pool.begin(p.key.id);
        pool.end(p.key.id);
      }
    }
    pool.upsert(key('new'));
    now += 2 * 60_000; // past midnight
    stats.record({
      keyId: 'old',
      providerId: 'openai',
      endpoint: '/chat/completions',
      ok: true,
      status: 200,
      latencyMs: 1,
    });
    assert.equal(pool.health('old')!.uses, 0, "yesterday's uses are gone");
    const picks = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const p = pool.pick({ providerId: 'openai' });
      if (p.kind === 'key') {
        picks.add(p.key.id);
        pool.begin(p.key.id);
        pool.end(p.key.id);
      }
    }
    assert.deepEqual([...picks].sort(), ['new', 'old'], 'both keys share the new day');
    sub.dispose();
    pool.dispose();
    stats.dispose();
  });
});
