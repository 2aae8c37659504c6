import * as assert from 'node:assert/strict';
import { Budgets } from '../../../src/core/accounting/budgets';
import type { SharedCounter } from '../../../src/core/accounting/budgets';
import { PeriodClock } from '../../../src/core/accounting/spend';
import { Stats } from '../../../src/core/accounting/stats';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { BudgetSettings, PoolKey } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

const DAY = 86_400_000;
/** 2026-12-06 18:00 UTC. */
const T0 = Date.UTC(2026, 11, 6, 18);

function key(id: string, extra: Partial<PoolKey> = {}): PoolKey {
  const secret = `sk-test-${id}-${'Zq8vLm3Np7Rt'.repeat(3)}`;
  return { id, providerId: 'openai', label: id, masked: `sk-…${secret.slice(-4)}`, addedAt: 1, secret, ...extra };
}

function setup(settings: BudgetSettings, keys = [key('a'), key('b')], shared?: SharedCounter) {
  const clock = new FakeClock(T0);
  const pool = new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [1000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  pool.setKeys(keys);
  const stats = new Stats(clock);
  let current = settings;
  const budgets = new Budgets({ clock, pool, stats, settings: () => current, shared: () => shared });
  /** One attempt on `id` that cost `usd`, counted the way tryKey counts it. */
  const spend = (id: string, usd: number): void => {
    stats.recordAttempt({
      keyId: id,
      providerId: 'openai',
      endpoint: '/chat/completions',
      ok: true,
      status: 200,
      latencyMs: 1,
      costUsd: usd,
    });
    budgets.charge(pool.get(id)!, usd);
  };
  const picks = (n: number): string[] =>
    Array.from({ length: n }, () => {
      const p = pool.pick({ providerId: 'openai', model: 'gpt-4o' });
      return p.kind === 'key' ? p.key.id : p.kind;
    });
  const set = (s: BudgetSettings): void => {
    current = s;
    budgets.recheck();
  };
  return { clock, pool, stats, budgets, spend, picks, set, dispose: () => (pool.dispose(), stats.dispose()) };
}

suite('budgets', () => {
  test('a budget of $0.01 on one key makes it skip after the request that crossed it and return at the next period', () => {
    const t = setup({ keys: { a: { dailyUsd: 0.01 } }, accounts: {} });
    t.spend('a', 0.006);
    assert.deepEqual(t.picks(2).sort(), ['a', 'b'], 'under its budget: still in rotation');
    t.spend('a', 0.006); // this request crossed $0.01
    assert.deepEqual(t.picks(4), ['b', 'b', 'b', 'b']);
    const h = t.pool.health('a')!;
    assert.equal(h.state, 'active', 'over budget is not a health state: the key itself is fine');
    assert.equal(h.overBudget?.until, Date.UTC(2026, 11, 7), 'back at the next UTC midnight');
    assert.match(
      h.overBudget!.reason,
      /over budget: the key spent \$0\.0120 of \$0\.0100 today \(UTC\); back at 2026-12-07 00:00 UTC/,
    );
    t.clock.set(Date.UTC(2026, 11, 7) - 1);
    assert.deepEqual(t.picks(2), ['b', 'b'], 'a millisecond before the day ends');
    t.clock.set(Date.UTC(2026, 11, 7));
    assert.deepEqual(t.picks(2).sort(), ['a', 'b'], 'the new day: back in rotation');
    assert.equal(t.pool.health('a')!.overBudget, undefined);
    assert.equal(t.budgets.standing(t.pool.get('a')!).spent.dayUsd, 0, "the new day's spend starts at 0");
    t.dispose();
  });

  test('a monthly limit holds until the first of the next UTC month; every key over → over-budget with the first reset', () => {
    const t = setup({ keys: { '*': { monthlyUsd: 1 } }, accounts: {} });
    t.clock.set(Date.UTC(2026, 11, 20));
    t.spend('a', 1);
    t.clock.advance(DAY);
    t.spend('b', 2);
    const p = t.pool.pick({ providerId: 'openai', model: 'gpt-4o' });
    const resetsAt = Date.UTC(2027, 0, 1);
    assert.deepEqual(p, { kind: 'over-budget', count: 2, resetsAt, retryAfterMs: resetsAt - t.clock.now() });
    t.clock.set(Date.UTC(2026, 11, 31, 23, 59));
    assert.equal(t.pool.pick({ providerId: 'openai' }).kind, 'over-budget');
    t.clock.set(Date.UTC(2027, 0, 1));
    assert.deepEqual(t.picks(2).sort(), ['a', 'b']);
    t.dispose();
  });

  test("an account's budget counts all its keys and skips all of them; a raised limit brings them back at once", () => {
    const t = setup({ keys: {}, accounts: { team: { dailyUsd: 0.5 } } }, [
      key('a', { account: 'team' }),
      key('b', { account: 'team' }),
      key('c'),
    ]);
    t.spend('a', 0.3);
    t.spend('b', 0.3);
    assert.deepEqual(t.picks(3), ['c', 'c', 'c']);
    assert.match(t.pool.health('a')!.overBudget!.reason, /account "team" spent \$0\.6000 of \$0\.5000 today/);
    const standing = t.budgets.standing(t.pool.get('b')!);
    assert.equal(standing.account?.spent.dayUsd, 0.6);
    t.set({ keys: {}, accounts: { team: { dailyUsd: 5 } } });
    assert.deepEqual(t.picks(3).sort(), ['a', 'b', 'c']);
    t.dispose();
  });

  test('a key named by label or id; keys without budgets are never checked', () => {
    const t = setup({ keys: { 'work key': { dailyUsd: 0 } }, accounts: {} }, [
      key('a', { label: 'work key' }),
      key('b'),
    ]);
    assert.equal(t.budgets.admit(t.pool.get('a')!), false, 'a limit of 0 freezes the key');
    assert.equal(t.budgets.admit(t.pool.get('b')!), true);
    assert.deepEqual(t.picks(2), ['b', 'b']);
    t.set({ keys: {}, accounts: {} });
    assert.equal(t.budgets.active, false);
    assert.deepEqual(t.picks(2).sort(), ['a', 'b'], 'budgets removed: the key is back');
    t.dispose();
  });

  test('with a shared store, spend on other KeyRelays counts: admit() skips a key this one never used', () => {
    const totals = new Map<string, number>();
    const shared: SharedCounter = {
      count: (id, field, n) => totals.set(`${id} ${field}`, (totals.get(`${id} ${field}`) ?? 0) + n),
      total: (id, field) => totals.get(`${id} ${field}`) ?? 0,
    };
    const t = setup({ keys: { a: { dailyUsd: 0.01 } }, accounts: {} }, undefined, shared);
    t.spend('a', 0.004);
    assert.equal(totals.get('a usd:2026-12-06'), 0.004, 'this instance adds its spend to the day');
    assert.equal(totals.get('a usd:2026-12'), 0.004, 'and to the month');
    // Another instance's spend arrives in the shared totals.
    totals.set('a usd:2026-12-06', 0.011);
    assert.equal(t.budgets.admit(t.pool.get('a')!), false);
    assert.deepEqual(t.picks(2), ['b', 'b']);
    t.dispose();
  });

  test('spend survives a restart with the counters; "Reset Statistics" leaves it', () => {
    const t = setup({ keys: { a: { dailyUsd: 0.01 } }, accounts: {} });
    t.spend('a', 0.02);
    const saved = JSON.parse(JSON.stringify(t.stats.toJSON()));
    const restored = Stats.fromJSON(t.clock, saved);
    assert.equal(restored.spend.spent('a', t.clock.now()).dayUsd, 0.02);
    t.stats.reset();
    assert.equal(t.stats.spend.spent('a', t.clock.now()).dayUsd, 0.02);
    restored.dispose();
    t.dispose();
  });

  test('keys that arrive after the counters (the editor loads them late) are marked as soon as the key set changes', () => {
    const t = setup({ keys: { a: { dailyUsd: 0.01 } }, accounts: {} }, []);
    t.stats.spend.add('a', 0.02, t.clock.now());
    t.budgets.keysChanged();
    t.pool.setKeys([key('a'), key('b')]);
    t.budgets.keysChanged();
    assert.equal(t.pool.health('a')!.overBudget?.until, Date.UTC(2026, 11, 7));
    t.budgets.keysChanged(); // the same key set: nothing to do
    assert.deepEqual(t.picks(2), ['b', 'b']);
    t.dispose();
  });

  test('the period clock: the UTC day and month of any time, across day, month and year ends, forwards and back', () => {
    const periods = new PeriodClock();
    const at = (iso: string) => {
      const p = periods.at(Date.parse(iso));
      return [p.day, p.month, new Date(p.dayEnds).toISOString(), new Date(p.monthEnds).toISOString(), p.dayField];
    };
    assert.deepEqual(at('2026-12-31T23:59:59.999Z'), [
      '2026-12-31',
      '2026-12',
      '2027-01-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
      'usd:2026-12-31',
    ]);
    assert.deepEqual(at('2027-01-01T00:00:00.000Z').slice(0, 2), ['2027-01-01', '2027-01']);
    assert.deepEqual(at('2026-02-28T12:00:00.000Z').slice(0, 4), [
      '2026-02-28',
      '2026-02',
      '2026-03-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
    const a = periods.at(Date.parse('2026-12-06T01:00:00Z'));
    assert.equal(periods.at(Date.parse('2026-12-06T23:00:00Z')), a, 'one object for the whole day');
    assert.equal(periods.at(Date.parse('2026-12-05T23:59:59Z')).day, '2026-12-05', 'a clock set back');
  });
});
