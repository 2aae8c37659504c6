import * as assert from 'node:assert/strict';
import { Stats } from '../../../src/core/accounting/stats';
import { isStoreUrl, parseStoreUrl } from '../../../src/core/config/storeUrl';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { parseRecord, sharedKeyId } from '../../../src/core/shared/sharedRecords';
import { SharedState } from '../../../src/core/shared/sharedState';
import { systemClock } from '../../../src/core/types';
import type { Clock, Logger, PoolKey } from '../../../src/core/types';
import { RedisServer } from '../../fakes/redisServer';
import { until } from '../../fakes/waits';

const SECRET = 'unit-team-secret-0123456789';
const KEYS: PoolKey[] = ['a', 'b'].map((n) => {
  const secret = `sk-test-${n}-${'Zq8vLm3Np7Rt'.repeat(3)}`;
  return { id: `id-${n}`, providerId: 'openai', label: n, masked: `sk-…${secret.slice(-4)}`, addedAt: 1, secret };
});

/** A logger that keeps its lines (to check what is said, and that it is said once). */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string | Error) => void lines.push(String(m));
  return { lines, trace: keep, debug: keep, info: keep, warn: keep, error: keep };
}

/** One KeyRelay's core: a pool, its counters, and its SharedState on the real redis-server. */
function instance(redis: RedisServer, name: string, clock: Clock = systemClock) {
  const pool = new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000, 30_000],
    maxCooldownMs: 600_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  pool.setKeys(KEYS);
  const stats = new Stats(clock);
  const logger = recordingLogger();
  const shared = new SharedState({
    address: parseStoreUrl(`${redis.url}?pool=unit`),
    teamSecret: SECRET,
    pool,
    stats,
    logger,
    clock,
    instanceId: name,
    flushMs: 20,
  });
  return { pool, stats, shared, logger };
}
type Instance = ReturnType<typeof instance>;

const rateLimited = { kind: 'rate-limited', status: 429, reason: 'Rate limit reached' } as const;

suite('SharedState on a real redis-server', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let a: Instance;
  let b: Instance;

  setup(async () => {
    redis = await RedisServer.start({ persist: true });
    a = instance(redis, 'A');
    b = instance(redis, 'B');
    a.shared.start();
    b.shared.start();
    for (const x of [a, b])
      await until(x.shared.onDidChange, () => x.shared.status().state === 'connected', 'connected');
  });
  teardown(async () => {
    for (const x of [a, b]) {
      await x.shared.close();
      x.pool.dispose();
      x.stats.dispose();
    }
    await redis.close();
  });

  test('a 429 on A cools that key for that model on B, with its escalation level; other models untouched', async () => {
    a.pool.report('id-a', 'gpt-4o', rateLimited);
    await until(b.pool.onDidChange, () => (b.pool.health('id-a')?.modelCooldowns['gpt-4o'] ?? 0) > 0, 'B cools');
    assert.equal(b.pool.health('id-a')!.modelCooldowns['gpt-4o'], a.pool.health('id-a')!.modelCooldowns['gpt-4o']);
    assert.equal(b.pool.backoffLevel('id-a', 'gpt-4o'), 1);
    assert.equal(b.pool.health('id-a')!.modelCooldowns['o3'], undefined);
    const r = b.pool.pick({ providerId: 'openai', model: 'gpt-4o' });
    assert.equal(r.kind === 'key' && r.key.id, 'id-b');
    assert.match(b.pool.health('id-a')!.history.at(-1)!.reason, /another KeyRelay/);
  });

  test('invalid, discarded and restored travel; a late joiner reads them from the store', async () => {
    a.pool.report('id-b', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    await until(b.pool.onDidChange, () => b.pool.health('id-b')?.state === 'invalid', 'B invalid');
    b.pool.discard('id-a', 'spent');
    await until(a.pool.onDidChange, () => a.pool.health('id-a')?.state === 'discarded', 'A discarded');
    const c = instance(redis, 'C');
    try {
      c.shared.start();
      await until(c.pool.onDidChange, () => c.pool.health('id-a')?.state === 'discarded', 'C reconciled');
      assert.equal(c.pool.health('id-b')?.state, 'invalid');
      a.pool.restore('id-a');
      await until(c.pool.onDidChange, () => c.pool.health('id-a')?.state === 'active', 'C restored');
      await until(b.pool.onDidChange, () => b.pool.health('id-a')?.state === 'active', 'B restored');
    } finally {
      await c.shared.close();
      c.pool.dispose();
      c.stats.dispose();
    }
  });

  test('a budget counter this instance never counted is read from the store; one idle for 10 minutes no longer is', async () => {
    const clock = { t: Date.now(), now: (): number => clock.t };
    const c = instance(redis, 'C', clock);
    try {
      c.shared.start();
      await until(c.shared.onDidChange, () => c.shared.status().state === 'connected', 'C connected');
      a.shared.count('id-a', 'usd:2026-12-06', 0.5);
      assert.equal(c.shared.total('id-a', 'usd:2026-12-06'), 0, 'not read yet');
      await waitFor(() => c.shared.total('id-a', 'usd:2026-12-06') === 0.5, 'C reads what A counted');
      clock.t += 11 * 60_000;
      c.shared.total('id-a', 'usd:2026-12-07'); // the next day's field; yesterday's has been idle
      await waitFor(() => c.shared.status().usage['id-a']?.['usd:2026-12-06'] === undefined, 'the idle field dropped');
    } finally {
      await c.shared.close();
      c.pool.dispose();
      c.stats.dispose();
    }
  });

  test('usage and budget counters add up across instances; a Redis outage is said once and reconciled', async () => {
    const rec = { keyId: 'id-a', providerId: 'openai', model: 'gpt-4o', endpoint: '/v1/chat', ok: true, status: 200 };
    a.stats.record({ ...rec, latencyMs: 5, inputTokens: 3, outputTokens: 4 });
    b.stats.record({ ...rec, latencyMs: 5, inputTokens: 1, outputTokens: 1 });
    a.shared.count('id-a', 'costUsd', 0.25);
    b.shared.count('id-a', 'costUsd', 0.5);
    const settled = (x: Instance, requests: number) => () =>
      x.shared.total('id-a', 'requests') === requests && x.shared.total('id-a', 'costUsd') >= 0.75;
    await waitFor(settled(a, 2), 'A sees 2 requests, $0.75');
    assert.equal(a.shared.status().usage['id-a'].inputTokens, 4);
    await redis.stop();
    await until(a.shared.onDidChange, () => a.shared.status().state === 'down', 'A down');
    a.stats.record({ ...rec, latencyMs: 5 });
    a.pool.report('id-b', 'gpt-4o', rateLimited);
    await waitFor(() => a.shared.status().pending > 0, 'pending while down');
    assert.ok(a.shared.status().lastError);
    await redis.start();
    await waitFor(settled(b, 3), 'B sees 3 requests after the restart');
    await waitFor(() => (b.pool.health('id-b')?.modelCooldowns['gpt-4o'] ?? 0) > 0, 'B got the cooldown sent late');
    assert.equal(a.logger.lines.filter((l) => /unreachable/.test(l)).length, 1, 'said once');
    assert.ok(a.logger.lines.some((l) => /is back/.test(l)));
    for (const l of a.logger.lines) assert.ok(!l.includes(KEYS[0].secret) && !l.includes(KEYS[1].secret));
  });
});

/** Bounded poll (the store's replies arrive on their own schedule; nothing to await from here). */
async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

suite('shared state: store URL and records', () => {
  test('the store URL: pool name, password kept for the client and hidden from status, clear errors', () => {
    const s = parseStoreUrl('rediss://:pw-secret@cache.example:6380/2?pool=team-a');
    assert.equal(s.pool, 'team-a');
    assert.equal(s.tls, true);
    assert.ok(s.url.includes('pw-secret') && !s.url.includes('pool='));
    assert.equal(s.shown, 'rediss://cache.example:6380/2');
    assert.equal(parseStoreUrl('redis://127.0.0.1:6379').pool, 'default');
    for (const bad of ['http://x', 'nonsense', 'redis://h/zero', 'redis://h/0?pool=a b', 'redis://:pw@/0'])
      assert.equal(isStoreUrl(bad), false, bad);
    assert.throws(
      () => parseStoreUrl('redis//:hunter2@x'),
      (e: Error) => !e.message.includes('hunter2'),
    );
  });

  test('key ids are an HMAC under the team secret: the same everywhere, different per team, never the key', () => {
    const id = sharedKeyId(SECRET, 'openai', KEYS[0].secret);
    assert.equal(id, sharedKeyId(SECRET, 'openai', KEYS[0].secret));
    assert.notEqual(id, sharedKeyId('another-team-secret-000', 'openai', KEYS[0].secret));
    assert.ok(!id.includes(KEYS[0].secret.slice(-8)));
  });

  test('records from the store are checked field by field', () => {
    assert.equal(parseRecord(undefined), undefined);
    assert.equal(parseRecord('{'), undefined);
    assert.equal(parseRecord('{"k":"cool","sid":"x","at":1,"from":"A"}'), undefined);
    assert.equal(parseRecord('{"k":"state","sid":"x","at":1,"from":"A","state":"gone"}'), undefined);
    assert.deepEqual(parseRecord('{"k":"state","sid":"x","at":1,"from":"A","state":"discarded"}'), {
      k: 'state',
      sid: 'x',
      state: 'discarded',
      at: 1,
      reason: '',
      from: 'A',
    });
  });
});
