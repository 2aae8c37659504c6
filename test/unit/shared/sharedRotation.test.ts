import * as assert from 'node:assert/strict';
import { Stats } from '../../../src/core/accounting/stats';
import { parseStoreUrl } from '../../../src/core/config/storeUrl';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { SharedState } from '../../../src/core/shared/sharedState';
import { systemClock } from '../../../src/core/types';
import type { Logger, PoolKey, StrategyName } from '../../../src/core/types';
import { RedisServer } from '../../fakes/redisServer';
import { until } from '../../fakes/waits';

const KEYS: PoolKey[] = ['a', 'b', 'c'].map((n) => {
  const secret = `sk-test-${n}-${'Rt7vLm3Np8Zq'.repeat(3)}`;
  return { id: `id-${n}`, providerId: 'openai', label: n, masked: `sk-…${secret.slice(-4)}`, addedAt: 1, secret };
});
const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** One KeyRelay's core on the real redis-server, with a given strategy (sharing on or off). */
function instance(redis: RedisServer, name: string, strategy: StrategyName) {
  const pool = new KeyPool({
    clock: systemClock,
    strategy,
    cooldownStepsMs: [10_000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  pool.setKeys(KEYS);
  const stats = new Stats(systemClock);
  const shared = new SharedState({
    address: parseStoreUrl(`${redis.url}?pool=rotation-${strategy}`),
    teamSecret: 'rotation-team-secret-0123456789',
    pool,
    stats,
    logger: quiet,
    clock: systemClock,
    instanceId: name,
    flushMs: 20,
  });
  /** One request as the proxy makes it: pick, begin, count, end. Returns the key's label. */
  const serve = (): string => {
    const r = pool.pick({ providerId: 'openai', model: 'gpt-4o' });
    assert.equal(r.kind, 'key');
    const key = (r as { key: PoolKey }).key;
    pool.begin(key.id);
    stats.record({ keyId: key.id, providerId: 'openai', endpoint: '/v1/chat', ok: true, status: 200, latencyMs: 1 });
    pool.end(key.id);
    return key.label;
  };
  let flushes = 0;
  shared.onDidFlush(() => flushes++);
  /** Two whole flushes from now: whatever was counted before has been sent, read back and reserved. */
  const settle = () => {
    const target = flushes + 2;
    return until(shared.onDidFlush, () => flushes >= target, 'two flushes');
  };
  return { pool, stats, shared, serve, settle };
}
type Instance = ReturnType<typeof instance>;

/** Per label, how many requests went through both instances. */
function counts(...xs: Instance[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of KEYS) out[k.label] = xs.reduce((n, x) => n + (x.stats.liveKeys().get(k.id)?.all.requests ?? 0), 0);
  return out;
}

suite('shared rotation on a real redis-server: two KeyRelays spread load as one pool', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let all: Instance[] = [];

  setup(async () => {
    redis = await RedisServer.start();
  });
  teardown(async () => {
    for (const x of all) {
      await x.shared.close();
      x.pool.dispose();
      x.stats.dispose();
    }
    all = [];
    await redis.close();
  });

  async function pair(strategy: StrategyName, share = true): Promise<[Instance, Instance]> {
    const a = instance(redis, 'A', strategy);
    const b = instance(redis, 'B', strategy);
    all.push(a, b);
    if (share) {
      for (const x of [a, b]) x.shared.start();
      for (const x of [a, b])
        await until(x.shared.onDidChange, () => x.shared.status().state === 'connected', 'connected');
      await Promise.all([a.settle(), b.settle()]);
    }
    return [a, b];
  }

  /** A 4 requests, B 2, twice, each side seeing the other's counts first. */
  async function leastUsedTraffic(a: Instance, b: Instance, share: boolean): Promise<void> {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) a.serve();
      if (share) await waitUses(b, 6 * round + 4);
      for (let i = 0; i < 2; i++) b.serve();
      if (share) await waitUses(a, 6 * round + 6);
    }
  }
  /** Until `x`'s pool counts `n` uses over its keys (its own and the other instance's). */
  async function waitUses(x: Instance, n: number): Promise<void> {
    const sum = () => KEYS.reduce((s, k) => s + (x.pool.health(k.id)?.uses ?? 0), 0);
    await until(x.shared.onDidFlush, () => sum() === n, `${n} uses seen`);
  }

  test('least-used: the keys end evenly used across the pool, not per instance', async () => {
    const [a, b] = await pair('least-used');
    await leastUsedTraffic(a, b, true);
    assert.deepEqual(counts(a, b), { a: 4, b: 4, c: 4 });
    // Each pool orders by the pool-wide uses: 12 on each side.
    for (const x of [a, b])
      assert.deepEqual(
        KEYS.map((k) => x.pool.health(k.id)?.uses),
        [4, 4, 4],
      );
  });

  test('least-used without a store: each instance spreads only its own load (the difference sharing makes)', async () => {
    const [a, b] = await pair('least-used', false);
    await leastUsedTraffic(a, b, false);
    assert.deepEqual(counts(a, b), { a: 5, b: 4, c: 3 });
  });

  test('round-robin: requests alternating between A and B go round the keys as through one pool', async () => {
    const [a, b] = await pair('round-robin');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const x = i % 2 === 0 ? a : b;
      order.push(x.serve());
      await x.settle();
    }
    for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1], `one key twice in a row: ${order}`);
    assert.deepEqual(new Set(order.slice(0, 3)).size, 3, `the first three requests use three keys: ${order}`);
    assert.deepEqual(counts(a, b), { a: 2, b: 2, c: 2 });
  });

  test('round-robin without a store: both instances start at the same key (what the shared cursor prevents)', async () => {
    const [a, b] = await pair('round-robin', false);
    const order = [a.serve(), b.serve(), a.serve(), b.serve()];
    assert.deepEqual(order, ['a', 'a', 'b', 'b']);
  });

  test('the request path never waits: picks go on from the local cursor while the store is down', async () => {
    const [a, b] = await pair('round-robin');
    await redis.stop();
    await until(a.shared.onDidChange, () => a.shared.status().state === 'down', 'A down');
    const order = Array.from({ length: 6 }, () => a.serve());
    assert.deepEqual(new Set(order).size, 3, `local round-robin goes on: ${order}`);
    // Each store connection lives in its own worker thread: B hears of the outage on its own time.
    await until(b.shared.onDidChange, () => b.shared.status().state === 'down', 'B down');
  });
});
