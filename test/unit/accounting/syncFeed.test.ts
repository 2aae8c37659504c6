import * as assert from 'node:assert/strict';
import { buildSync } from '../../../src/core/accounting/syncFeed';
import type { SyncCursor } from '../../../src/core/accounting/syncFeed';
import { Stats } from '../../../src/core/accounting/stats';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { PoolKey } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

const N = 10_000;

function key(i: number): PoolKey {
  const secret = `sk-test-${i}-${'Hw4pQx9Kd2Vb'.repeat(3)}${String(i).padStart(5, '0')}`;
  return {
    id: `k${i}`,
    providerId: 'openai',
    label: `key-${i}`,
    masked: `sk-…${secret.slice(-4)}`,
    addedAt: 1,
    secret,
  };
}

/**
 * Issue 9 point 7: a following window polls the leader every second. At 10,000 keys the poll
 * must be a delta (the keys that changed), not the 5.3 MB status document. Its cost is measured
 * by the bench (test/bench/syncPoll.mjs); here the payload is what is asserted, not the time.
 */
suite('accounting: the follower poll (sync) at 10,000 keys', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let stats: Stats;
  let keys: PoolKey[];
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
    keys = Array.from({ length: N }, (_, i) => key(i));
    pool.setKeys(keys);
  });
  teardown(() => {
    pool.dispose();
    stats.dispose();
  });

  const poll = (since: SyncCursor) => {
    const doc = buildSync(pool, stats, since, clock.now());
    return { doc, bytes: Buffer.byteLength(JSON.stringify(doc)) };
  };

  test('the first poll is whole; then only what changed, and nothing when nothing did', () => {
    const first = poll({ pool: 0, stats: 0 });
    assert.equal(first.doc.whole, true);
    assert.equal(first.doc.keys.length, N);
    for (const k of keys.slice(0, 50)) assert.ok(!JSON.stringify(first.doc).includes(k.secret), 'no key text');

    const idle = poll(first.doc.cursor);
    assert.equal(idle.doc.whole, false);
    assert.equal(idle.doc.keys.length, 0);
    assert.ok(idle.bytes < 200, `an idle poll is ${idle.bytes} bytes`);

    pool.discard('k42', 'by the user');
    stats.record({
      keyId: 'k7',
      providerId: 'openai',
      model: 'gpt-4o',
      endpoint: '/chat/completions',
      ok: true,
      status: 200,
      latencyMs: 300,
      ttfbMs: 90,
      inputTokens: 12,
      outputTokens: 4,
    });
    const delta = poll(idle.doc.cursor);
    assert.equal(delta.doc.whole, false);
    assert.deepEqual(delta.doc.keys.map((k) => k.id).sort(), ['k42', 'k7']);
    assert.equal(delta.doc.keys.find((k) => k.id === 'k42')!.state, 'discarded');
    assert.equal(delta.doc.keys.find((k) => k.id === 'k7')!.successes, 1);
    // Two keys' rows, against about 2 MB for all 10,000: the payload grows with the change, not the pool.
    assert.ok(delta.bytes * 1000 < first.bytes, `delta ${delta.bytes} B vs whole ${first.bytes} B`);
    assert.equal(poll(delta.doc.cursor).doc.keys.length, 0);
  });
});
