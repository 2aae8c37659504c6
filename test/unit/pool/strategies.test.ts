import * as assert from 'node:assert/strict';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { PoolOptions } from '../../../src/core/pool/keyPool';
import { HeapSelector, RandomSelector, RoundSelector, WeightedSelector } from '../../../src/core/pool/strategies';
import type { Outcome, PoolKey, StrategyName } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

function fakeKey(id: string, extra: Partial<PoolKey> = {}): PoolKey {
  const secret = `sk-test-${id}-${'Hw4kPq9Xz2Lc'.repeat(3)}`;
  return { id, providerId: 'openai', label: id, masked: `sk-…${secret.slice(-4)}`, addedAt: 1, secret, ...extra };
}

function makePool(clock: FakeClock, o: Partial<PoolOptions>): KeyPool {
  return new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000],
    maxCooldownMs: 600_000,
    degradedAfter: 3,
    discardOnQuota: true,
    ...o,
  });
}

/** Small seeded PRNG (mulberry32) so random/weighted tests are deterministic. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tally(
  pool: KeyPool,
  n: number,
  req: { model?: string; affinity?: string; exclude?: string[] } = {},
): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = pool.pick({
      providerId: 'openai',
      model: req.model,
      affinity: req.affinity,
      exclude: req.exclude && new Set(req.exclude),
    });
    assert.equal(r.kind, 'key');
    if (r.kind === 'key') counts.set(r.key.id, (counts.get(r.key.id) ?? 0) + 1);
  }
  return counts;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);
const none = () => false;

suite('strategies', () => {
  let clock: FakeClock;
  let pools: KeyPool[];
  const pool = (strategy: StrategyName, keys = ids(10).map((id) => fakeKey(id))) => {
    const p = makePool(clock, { strategy, random: seeded(42) });
    p.setKeys(keys);
    pools.push(p);
    return p;
  };
  setup(() => {
    clock = new FakeClock();
    pools = [];
  });
  teardown(() => pools.forEach((p) => p.dispose()));

  test('round-robin: strict rotation and max/min ≤ 1.01 over 100,000 picks on 10 keys', () => {
    const p = pool('round-robin');
    const first = [...tally(p, 10).keys()];
    assert.deepEqual(first, ids(10));
    const counts = [...tally(p, 100_000).values()];
    assert.equal(counts.length, 10);
    assert.ok(Math.max(...counts) / Math.min(...counts) <= 1.01, String(counts));
  });

  test('round-robin: stays fair while keys cool and come back', () => {
    const p = pool('round-robin');
    p.report('k3', undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 1000, reason: 'slow' });
    const cooling = tally(p, 900);
    assert.equal(cooling.get('k3'), undefined);
    assert.ok([...cooling.values()].every((c) => c === 100));
    clock.advance(1000);
    const counts = [...tally(p, 100_000).values()];
    assert.ok(Math.max(...counts) / Math.min(...counts) <= 1.01, String(counts));
  });

  test('round-robin spreads whatever the model: 10,000 picks over six models within 1 %', () => {
    const p = pool(
      'round-robin',
      ids(6).map((id) => fakeKey(id)),
    );
    const models = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
    // Six requests for six models go to six keys.
    const firstSix = models.map((model) => tally(p, 1, { model }).keys().next().value);
    assert.equal(new Set(firstSix).size, 6, String(firstSix));
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++)
      for (const [id, c] of tally(p, 1, { model: models[(i * 7) % 6] })) counts.set(id, (counts.get(id) ?? 0) + c);
    const v = [...counts.values()];
    assert.equal(v.length, 6);
    assert.ok(Math.max(...v) / Math.min(...v) <= 1.01, String(v));
  });

  test('random: every key drawn, roughly uniform, never an excluded key', () => {
    const p = pool('random');
    const counts = tally(p, 20_000);
    assert.equal(counts.size, 10);
    for (const c of counts.values()) assert.ok(c > 1600 && c < 2400, String(c));
    const ex = tally(p, 2000, { exclude: ids(9) });
    assert.deepEqual([...ex.keys()], ['k9']);
  });

  test('weighted: share follows weight × recent success rate', () => {
    const p = pool('weighted', [fakeKey('light', { weight: 1 }), fakeKey('heavy', { weight: 3 })]);
    const c = tally(p, 20_000);
    const ratio = (c.get('heavy') ?? 0) / (c.get('light') ?? 1);
    assert.ok(ratio > 2.7 && ratio < 3.3, String(ratio));
    // Failures on the heavy key lower its recent success rate and so its share.
    for (let i = 0; i < 15; i++) p.report('heavy', undefined, { kind: 'server-error', status: 500, reason: 'x' });
    p.restore('heavy');
    const after = tally(p, 20_000);
    assert.ok((after.get('heavy') ?? 0) < (after.get('light') ?? 0), JSON.stringify([...after]));
    assert.deepEqual([...tally(p, 500, { exclude: ['light'] }).keys()], ['heavy']);
  });

  test('least-used: fewest uses first, then fewest in flight', () => {
    const p = pool(
      'least-used',
      ids(3).map((id) => fakeKey(id)),
    );
    p.begin('k0');
    p.begin('k0');
    p.begin('k1');
    p.end('k1');
    const r = p.pick({ providerId: 'openai' });
    assert.equal(r.kind === 'key' && r.key.id, 'k2');
    p.begin('k2');
    // k1 and k2 both used once; k2 is still in flight.
    const r2 = p.pick({ providerId: 'openai' });
    assert.equal(r2.kind === 'key' && r2.key.id, 'k1');
    // Used the way the proxy does (begin per attempt): uses stay level across keys.
    for (let i = 0; i < 300; i++) {
      const x = p.pick({ providerId: 'openai' });
      if (x.kind === 'key') {
        p.begin(x.key.id);
        p.end(x.key.id);
      }
    }
    const uses = ids(3).map((id) => p.health(id)?.uses ?? 0);
    assert.ok(Math.max(...uses) - Math.min(...uses) <= 1, String(uses));
    assert.deepEqual([...tally(p, 5, { exclude: ['k0', 'k1'] }).keys()], ['k2']);
    p.resetDaily();
    assert.deepEqual(
      ids(3).map((id) => p.health(id)?.uses),
      [0, 0, 0],
    );
  });

  test('latency: untried keys first, then the lowest recent time to first byte', () => {
    const p = pool(
      'latency',
      ids(3).map((id) => fakeKey(id)),
    );
    p.report('k0', undefined, { kind: 'success', ttfbMs: 300 });
    p.report('k1', undefined, { kind: 'success', ttfbMs: 100 });
    assert.deepEqual([...tally(p, 3).keys()], ['k2']);
    p.report('k2', undefined, { kind: 'success', ttfbMs: 200 });
    assert.deepEqual([...tally(p, 5).keys()], ['k1']);
    for (let i = 0; i < 10; i++) p.report('k1', undefined, { kind: 'success', ttfbMs: 900 });
    assert.deepEqual([...tally(p, 5).keys()], ['k2']);
    assert.deepEqual([...tally(p, 5, { exclude: ['k2'] }).keys()], ['k0']);
  });

  test('cache-affinity: one conversation keeps its key while it is a candidate, then fails over', () => {
    const p = pool('cache-affinity');
    const a = tally(p, 50, { affinity: 'conv-a' });
    const b = tally(p, 50, { affinity: 'conv-b' });
    assert.equal(a.size, 1);
    assert.equal(b.size, 1);
    assert.notDeepEqual([...a.keys()], [...b.keys()]);
    const key = [...a.keys()][0];
    p.report(key, 'm', { kind: 'rate-limited', status: 429, retryAfterMs: 5000, reason: 'slow' });
    const moved = tally(p, 20, { model: 'm', affinity: 'conv-a' });
    assert.equal(moved.size, 1);
    assert.notEqual([...moved.keys()][0], key);
    assert.deepEqual([...tally(p, 3, { model: 'other', affinity: 'conv-a' }).keys()].length, 1);
    // Without an affinity string it rotates like round-robin.
    assert.equal(tally(p, 10).size, 10);
    // The map is bounded: far more conversations than the limit still work.
    for (let i = 0; i < 10_050; i++) p.pick({ providerId: 'openai', affinity: `c${i}` });
    assert.ok((p as unknown as { affinity: Map<string, unknown> }).affinity.size <= 10_000);
  });

  test('cache-affinity: a conversation returns to its key when the key recovers', () => {
    const p = pool('cache-affinity');
    const home = [...tally(p, 5, { affinity: 'conv' }).keys()][0];
    p.report(home, undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5000, reason: 'slow' });
    // While home cools: one stand-in, not a rotation that would cold-start a cache per request.
    const away = tally(p, 20, { affinity: 'conv' });
    assert.equal(away.size, 1);
    const standIn = [...away.keys()][0];
    assert.notEqual(standIn, home);
    clock.advance(5001);
    assert.deepEqual([...tally(p, 5, { affinity: 'conv' }).keys()], [home]);
    // Home cools again: the same stand-in (its cache may be warm); one that fails in turn is
    // replaced, and home still wins once usable.
    p.report(home, undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5000, reason: 'slow' });
    assert.deepEqual([...tally(p, 3, { affinity: 'conv' }).keys()], [standIn]);
    p.report(standIn, undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 60_000, reason: 'slow' });
    const second = [...tally(p, 3, { affinity: 'conv' }).keys()];
    assert.equal(second.length, 1);
    assert.ok(second[0] !== home && second[0] !== standIn);
    clock.advance(5001);
    assert.deepEqual([...tally(p, 3, { affinity: 'conv' }).keys()], [home]);
    // Home removed from the pool: the stand-in becomes the conversation's key for good.
    p.report(home, undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5000, reason: 'slow' });
    const last = [...tally(p, 2, { affinity: 'conv' }).keys()][0];
    p.remove(home);
    clock.advance(5001);
    assert.deepEqual([...tally(p, 5, { affinity: 'conv' }).keys()], [last]);
  });

  test('setStrategy switches selection without losing health', () => {
    const p = pool(
      'round-robin',
      ids(3).map((id) => fakeKey(id)),
    );
    p.report('k0', undefined, { kind: 'invalid', status: 401, reason: 'x' });
    for (const s of [
      'random',
      'weighted',
      'least-used',
      'latency',
      'cache-affinity',
      'round-robin',
    ] as StrategyName[]) {
      p.setStrategy(s);
      assert.equal(p.snapshot().strategy, s);
      const seen = tally(p, 30, { affinity: 'z' });
      assert.ok(!seen.has('k0'), s);
    }
  });

  suite('selectors', () => {
    test('RoundSelector: goes round in slot order; a key coming back takes its own place; the turn is shared', () => {
      const k = (slot: number) => ({ slot, name: `k${slot}` });
      const [a, b, c, d] = [k(1), k(2), k(3), k(4)];
      const turn = { next: 0 };
      const r = new RoundSelector<{ slot: number; name: string }>(turn);
      const other = new RoundSelector<{ slot: number; name: string }>(turn);
      [a, b, c].forEach((x) => r.add(x));
      [a, b, c, d].forEach((x) => other.add(x));
      assert.equal(r.pick(none, 0), a);
      // Another model's group of the same provider continues the same round.
      assert.equal(other.pick(none, 0), b);
      r.remove(c);
      assert.equal(r.pick(none, 0), a, 'c is out: the round wraps to a');
      r.add(c);
      assert.equal(r.pick(none, 0), b);
      assert.equal(
        r.pick((x) => x === c, 1),
        a,
        'an excluded key is skipped',
      );
      r.add(a); // adding twice keeps one copy
      [a, b, c].forEach((x) => r.remove(x));
      assert.equal(r.pick(none, 0), undefined);
    });

    test('RandomSelector and HeapSelector respect exclusions and removals', () => {
      const rs = new RandomSelector<number>(seeded(1));
      for (let i = 0; i < 100; i++) rs.add(i);
      for (let i = 0; i < 99; i++) rs.remove(i);
      assert.equal(rs.pick(none, 0), 99);
      assert.equal(
        rs.pick((x) => x === 99, 1),
        undefined,
      );
      const vals = new Map<string, number>([
        ['a', 3],
        ['b', 1],
        ['c', 2],
      ]);
      const hs = new HeapSelector<string>((x, y) => (vals.get(x) as number) < (vals.get(y) as number));
      ['a', 'b', 'c'].forEach((x) => hs.add(x));
      assert.equal(hs.pick(none, 0), 'b');
      assert.equal(
        hs.pick((x) => x === 'b', 1),
        'c',
      );
      vals.set('a', 0);
      hs.update('a');
      assert.equal(hs.pick(none, 0), 'a');
      hs.remove('a');
      assert.equal(
        hs.pick((x) => x !== 'c', 2),
        'c',
      );
    });

    test('HeapSelector: excluding the root of a two-element heap (children past the end)', () => {
      const hs = new HeapSelector<{ v: number }>((x, y) => x.v < y.v);
      const a = { v: 1 };
      const b = { v: 2 };
      hs.add(a);
      hs.add(b);
      assert.equal(
        hs.pick((x) => x === a, 1),
        b,
      );
      assert.equal(
        hs.pick(() => true, 5),
        undefined,
      );
      assert.equal(new HeapSelector<{ v: number }>((x, y) => x.v < y.v).pick(none, 0), undefined);
    });

    test('WeightedSelector: grows past its initial size and keeps exact proportions', () => {
      const w = new Map<number, number>();
      const ws = new WeightedSelector<number>((x) => w.get(x) ?? 0, seeded(7));
      for (let i = 0; i < 40; i++) {
        w.set(i, i < 20 ? 0 : 1);
        ws.add(i);
      }
      w.set(39, 20);
      ws.update(39);
      const counts = new Map<number, number>();
      for (let i = 0; i < 20_000; i++) {
        const x = ws.pick(none, 0) as number;
        counts.set(x, (counts.get(x) ?? 0) + 1);
      }
      assert.ok([...counts.keys()].every((x) => x >= 20));
      const share = (counts.get(39) ?? 0) / 20_000;
      assert.ok(share > 0.48 && share < 0.54, String(share));
      for (let i = 20; i < 39; i++) ws.remove(i);
      assert.equal(
        ws.pick((x) => x === 39, 1),
        undefined,
      );
      assert.equal(ws.pick(none, 0), 39);
    });
  });

  suite('selection through the pool', () => {
    let pool: KeyPool;
    setup(() => {
      pool = makePool(clock, { cooldownStepsMs: [10_000] });
      pools.push(pool);
    });
    const rl = (retryAfterMs?: number): Outcome => ({
      kind: 'rate-limited',
      status: 429,
      retryAfterMs,
      reason: 'Rate limit reached',
    });
    const pickId = (p: KeyPool, model?: string, exclude?: Iterable<string>) => {
      const r = p.pick({ providerId: 'openai', model, exclude: exclude && new Set(exclude) });
      return r.kind === 'key' ? r.key.id : undefined;
    };

    test('exclude skips keys already tried by this request', () => {
      pool.setKeys(['a', 'b', 'c'].map((id) => fakeKey(id)));
      assert.equal(pickId(pool, 'm', ['a', 'b']), 'c');
      assert.equal(pickId(pool, 'm', ['a', 'c']), 'b');
      assert.deepEqual(pool.pick({ providerId: 'openai', exclude: new Set(['a', 'b', 'c']) }), { kind: 'none' });
      pool.report('c', undefined, rl(5000));
      assert.deepEqual(pool.pick({ providerId: 'openai', exclude: new Set(['a', 'b']) }), {
        kind: 'cooling',
        retryAfterMs: 5000,
        count: 1,
      });
    });

    test('groups evicted past the per-provider cache are rebuilt with current health', () => {
      pool.setKeys([fakeKey('a'), fakeKey('b')]);
      pool.report('a', 'm0', rl(60_000));
      for (let i = 0; i < 100; i++) pickId(pool, `m${i}`);
      for (let i = 0; i < 4; i++) assert.equal(pickId(pool, 'm0'), 'b');
      pool.report('b', undefined, { kind: 'invalid', status: 401, reason: 'x' });
      for (let i = 1; i < 100; i++) assert.equal(pickId(pool, `m${i}`), 'a');
      assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm0' }), {
        kind: 'cooling',
        retryAfterMs: 60_000,
        count: 1,
      });
    });

    test('10,000 keys with 9,990 cooling: pick returns only the active ones, evenly', () => {
      const keys = Array.from({ length: 10_000 }, (_, i) => fakeKey(`k${i}`));
      pool.setKeys(keys);
      const active = new Set<string>();
      for (let i = 0; i < 10_000; i++) {
        if (i % 1000 === 7) active.add(`k${i}`);
        // Half cool key-wide, half for the model only: both must be skipped without a scan.
        else pool.report(`k${i}`, i % 2 ? 'gpt-4o' : undefined, rl(60_000 + i));
      }
      assert.equal(active.size, 10);
      const counts = new Map<string, number>();
      for (let i = 0; i < 50_000; i++) {
        const id = pickId(pool, 'gpt-4o') as string;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      assert.deepEqual([...counts.keys()].sort(), [...active].sort());
      assert.ok([...counts.values()].every((c) => c === 5000));
      // Once every active key is excluded, the answer is the soonest cooldown, not a scan.
      assert.deepEqual(pool.pick({ providerId: 'openai', model: 'gpt-4o', exclude: active }), {
        kind: 'cooling',
        retryAfterMs: 60_000,
        count: 9_990,
      });
      clock.advance(60_001);
      assert.equal(pool.health('k1')?.state, 'active');
      assert.deepEqual(pool.health('k1')?.modelCooldowns, {});
      assert.equal(pool.health('k2')?.state, 'cooling');
    });
  });
});
