import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ConcurrencyGate, concurrencyLimits } from '../../../src/core/proxy/concurrency';
import type { ConcurrencyLimits, GatedPick } from '../../../src/core/proxy/concurrency';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { ProxyError } from '../../../src/core/errors';
import { DEFAULT_CONFIG, systemClock } from '../../../src/core/types';
import type { PoolKey } from '../../../src/core/types';
import { until } from '../../fakes/waits';

/** A client connection the queue can watch: `destroyed` and 'close' like a ServerResponse. */
class Client extends EventEmitter {
  destroyed = false;
  leave(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function key(id: string): PoolKey {
  return { id, providerId: 'openai', label: id, masked: `sk-…${id}`, addedAt: 0, secret: `sk-test-${id}-secret-text` };
}

const PER_KEY_1: ConcurrencyLimits = { perKey: 1, perKeyModel: 0, waitMs: 5_000 };

suite('ConcurrencyGate', () => {
  let pool: KeyPool;
  let gate: ConcurrencyGate;

  setup(() => {
    pool = new KeyPool({
      clock: systemClock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    gate = new ConcurrencyGate(pool, systemClock);
  });
  teardown(() => {
    gate.dispose();
    pool.dispose();
  });

  const pick = (limits = PER_KEY_1, client = new Client(), model = 'm', deadline = Date.now() + limits.waitMs) =>
    gate.pick({ providerId: 'openai', model }, limits, deadline, client);
  const keyOf = (p: GatedPick): string => (p.kind === 'key' ? p.key.id : p.kind);

  test('no limit set: no gate (the forwarder takes the pool path)', () => {
    assert.equal(concurrencyLimits({ ...DEFAULT_CONFIG }), undefined);
    assert.deepEqual(concurrencyLimits({ ...DEFAULT_CONFIG, maxConcurrentPerKey: 2 }), {
      perKey: 2,
      perKeyModel: 0,
      waitMs: DEFAULT_CONFIG.maxWaitMs,
    });
    assert.equal(
      concurrencyLimits({ ...DEFAULT_CONFIG, maxConcurrentPerKey: 2, maxWaitMs: 0 })?.waitMs,
      DEFAULT_CONFIG.headersTimeoutMs,
      'no wait for cooling keys: busy keys are still waited for, up to the headers timeout',
    );
    assert.equal(concurrencyLimits({ ...DEFAULT_CONFIG, maxConcurrentPerKeyModel: 1, maxWaitMs: 700 })?.waitMs, 700);
  });

  test('a busy key is skipped for a free one', async () => {
    pool.setKeys([key('a'), key('b')]);
    assert.equal(keyOf(await pick()), 'a');
    assert.equal(keyOf(await pick()), 'b', 'a is busy: b, whatever the rotation says');
    assert.equal(gate.inFlight('a'), 1);
    gate.release(pool.get('a')!, 'm');
    assert.equal(gate.inFlight('a'), 0);
    assert.equal(keyOf(await pick()), 'a');
  });

  test('waiters are served first come, first served, and arrivals queue behind them', async () => {
    pool.setKeys([key('a')]);
    await pick();
    const order: string[] = [];
    const waits = ['first', 'second', 'third'].map((name) => pick().then((p) => (order.push(name), p)));
    await until(gate.onDidChangeQueue, () => gate.waiting('openai') === 3, 'three waiters');
    const late = pick().then((p) => (order.push('late'), p));
    for (let i = 0; i < 3; i++) {
      gate.release(pool.get('a')!, 'm');
      assert.equal(keyOf(await waits[i]), 'a');
      assert.equal(gate.waiting('openai'), 3 - i, 'the others still wait, in their places');
    }
    gate.release(pool.get('a')!, 'm');
    assert.equal(keyOf(await late), 'a');
    assert.deepEqual(order, ['first', 'second', 'third', 'late']);
  });

  test('per key and model: another model is not held up by a busy one', async () => {
    pool.setKeys([key('a')]);
    const limits: ConcurrencyLimits = { perKey: 0, perKeyModel: 1, waitMs: 5_000 };
    await pick(limits, new Client(), 'x');
    const waitingX = pick(limits, new Client(), 'x');
    await until(gate.onDidChangeQueue, () => gate.waiting('openai', 'x') === 1, 'x waits');
    assert.equal(keyOf(await pick(limits, new Client(), 'y')), 'a', 'model y takes the same key at once');
    gate.release(pool.get('a')!, 'x');
    assert.equal(keyOf(await waitingX), 'a');
  });

  test('a client that leaves the queue gets "gone"; the deadline gives a 429 that names the fix', async () => {
    pool.setKeys([key('a')]);
    await pick();
    const client = new Client();
    const leaving = pick(PER_KEY_1, client);
    await until(gate.onDidChangeQueue, () => gate.waiting('openai') === 1, 'a waiter');
    client.leave();
    assert.equal(keyOf(await leaving), 'gone');
    assert.equal(gate.waiting('openai'), 0);
    const gone = new Client();
    gone.destroyed = true;
    assert.equal(keyOf(await pick(PER_KEY_1, gone)), 'gone', 'a client already gone never queues');
    await assert.rejects(pick(PER_KEY_1, new Client(), 'm', Date.now() + 20), (e: ProxyError) => {
      assert.equal(e.code, 'all_keys_busy');
      assert.equal(e.status, 429);
      assert.match(e.message, /Raise the limit, add keys/);
      return true;
    });
  });

  test('nothing busy to wait for: the pool answer comes back at once (none, unusable)', async () => {
    pool.setKeys([key('a')]);
    assert.equal(keyOf(await gate.pick({ providerId: 'other' }, PER_KEY_1, Date.now() + 5_000, new Client())), 'none');
    await pick();
    // The busy key was already tried by this request: waiting for it cannot help.
    const p = await gate.pick(
      { providerId: 'openai', model: 'm', exclude: new Set(['a']) },
      PER_KEY_1,
      Date.now() + 5_000,
      new Client(),
    );
    assert.equal(keyOf(p), 'none');
  });
});
