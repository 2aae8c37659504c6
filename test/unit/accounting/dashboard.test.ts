import * as assert from 'node:assert/strict';
import { buildDashboard, DEFAULT_QUERY, parseQuery } from '../../../src/core/accounting/dashboard';
import type { DashboardQuery } from '../../../src/core/accounting/dashboard';
import { Stats } from '../../../src/core/accounting/stats';
import type { RequestRecord } from '../../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { PoolKey } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

function key(i: number, providerId = 'openai'): PoolKey {
  const secret = `sk-test-${i}-${'Zq8vLm3Np7Rt'.repeat(3)}${String(i).padStart(4, '0')}`;
  return {
    id: `k${i}`,
    providerId,
    label: `key-${String(i).padStart(5, '0')}`,
    masked: `sk-…${secret.slice(-4)}`,
    addedAt: 1,
    secret,
  };
}

const rec = (keyId: string, extra: Partial<RequestRecord> = {}): RequestRecord => ({
  keyId,
  providerId: 'openai',
  model: 'gpt-4o',
  endpoint: '/chat/completions',
  ok: true,
  status: 200,
  latencyMs: 300,
  ttfbMs: 90,
  inputTokens: 12,
  outputTokens: 4,
  ...extra,
});

suite('accounting: dashboard document', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let stats: Stats;
  const catalogue = new ProviderCatalogue([]);
  setup(() => {
    clock = new FakeClock();
    pool = new KeyPool({
      clock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 600_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    stats = new Stats(clock);
  });
  teardown(() => {
    pool.dispose();
    stats.dispose();
  });
  const q = (over: Partial<DashboardQuery> = {}): DashboardQuery => ({ ...DEFAULT_QUERY, ...over });

  test('one sorted page of 10,000 keys, filtered, with totals, and never key text', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => key(i, i % 10 === 0 ? 'anthropic' : 'openai'));
    pool.setKeys(keys);
    for (let i = 0; i < 30; i++) for (let n = 0; n <= i; n++) stats.record(rec(`k${i}`));
    const doc = buildDashboard({ pool, stats, catalogue }, q({ limit: 25 }));
    assert.equal(doc.table.total, 10_000);
    assert.equal(doc.table.rows.length, 25);
    assert.deepEqual(
      doc.table.rows.slice(0, 3).map((r) => [r.id, r.requests]),
      [
        ['k29', 30],
        ['k28', 29],
        ['k27', 28],
      ],
    );
    assert.equal(doc.summary.keys, 10_000);
    assert.equal(doc.summary.usable, 10_000);
    assert.equal(doc.providerNames.anthropic, 'Anthropic');
    const page2 = buildDashboard({ pool, stats, catalogue }, q({ sort: 'label', dir: 'asc', offset: 25, limit: 5 }));
    assert.deepEqual(
      page2.table.rows.map((r) => r.label),
      ['key-00025', 'key-00026', 'key-00027', 'key-00028', 'key-00029'],
    );
    const anthropic = buildDashboard({ pool, stats, catalogue }, q({ filter: 'ANTHROPIC', limit: 500 }));
    assert.equal(anthropic.table.total, 1000);
    const text = JSON.stringify(doc) + JSON.stringify(page2) + JSON.stringify(anthropic);
    for (const k of keys.slice(0, 30)) assert.ok(!text.includes(k.secret), 'a key leaked into the document');
  });

  test('rows carry state, cooldowns per model, success rate, tokens, unknown cost and the 24 h sparkline', () => {
    pool.setKeys([key(1), key(2), key(3)]);
    stats.record(rec('k1'));
    stats.record(rec('k1', { ok: false, failure: 'rate-limit', status: 429, inputTokens: 0, outputTokens: 0 }));
    pool.report('k1', 'gpt-4o', {
      kind: 'rate-limited',
      status: 429,
      retryAfterMs: 30_000,
      reason: 'HTTP 429: slow down',
    });
    pool.report('k2', undefined, { kind: 'invalid', status: 401, reason: 'HTTP 401: bad key' });
    const doc = buildDashboard({ pool, stats, catalogue }, q({ sort: 'cooldown', dir: 'asc', key: 'k1' }));
    const [first] = doc.table.rows;
    assert.equal(first.id, 'k1', 'the key with the soonest cooldown first');
    assert.equal(first.state, 'active');
    assert.deepEqual(first.cooldowns, [{ model: 'gpt-4o', until: clock.t + 30_000 }]);
    assert.equal(first.successRate, 0.5);
    assert.equal(first.tokensIn, 12);
    assert.equal(first.costUsd, null);
    assert.equal(first.spark.length, 24);
    assert.equal(first.spark.at(-1), 2);
    assert.equal(doc.summary.cooling, 1);
    assert.equal(doc.summary.invalid, 1);
    const k2 = doc.table.rows.find((r) => r.id === 'k2')!;
    assert.equal(k2.state, 'invalid');
    assert.match(k2.lastError!, /401/);
    assert.equal(k2.successRate, null);
    assert.equal(doc.keyChart?.id, 'k1');
    assert.equal(doc.keyChart?.attempts.at(-1), 2);
    assert.equal(doc.at, clock.t);
  });

  test('a query read from parameters: bad values fall back, limits are capped', () => {
    const params = new Map(
      Object.entries({ range: '24h', sort: 'tokens', dir: 'asc', offset: '40', limit: '9999', filter: 'x' }),
    );
    assert.deepEqual(
      parseQuery((n) => params.get(n)),
      { range: '24h', sort: 'tokens', dir: 'asc', offset: 40, limit: 500, filter: 'x' },
    );
    const bad = new Map(Object.entries({ range: '7y', sort: 'secret', dir: 'up', offset: '-1', limit: 'NaN' }));
    assert.deepEqual(
      parseQuery((n) => bad.get(n)),
      { ...DEFAULT_QUERY },
    );
  });
});
