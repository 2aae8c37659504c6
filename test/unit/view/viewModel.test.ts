import * as assert from 'node:assert/strict';
import { Stats } from '../../../src/core/accounting/stats';
import { Emitter } from '../../../src/core/events';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { systemClock } from '../../../src/core/types';
import type { PoolKey } from '../../../src/core/types';
import { buildViewModel, usableCount, ViewModelHub } from '../../../src/core/view/viewModel';
import type { ControllerState } from '../../../src/core/windows/proxyController';
import { until } from '../../fakes/waits';

const KEYS: PoolKey[] = ['1111', '2222'].map((tail, i) => ({
  id: `k${i + 1}`,
  providerId: 'openai',
  label: `openai-${i + 1}`,
  masked: `sk-…${tail}`,
  addedAt: 0,
  secret: `sk-test-view-000000000000000000${tail}`,
}));

function pool(): KeyPool {
  const p = new KeyPool({
    clock: systemClock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  p.setKeys(KEYS);
  return p;
}

suite('view model', () => {
  const disposables: Array<{ dispose(): void }> = [];
  teardown(() => {
    for (const d of disposables.splice(0).reverse()) d.dispose();
  });

  test('from the local pool and counters: masked keys, model cooldowns, today, never a secret', () => {
    const p = pool();
    const stats = new Stats(systemClock);
    disposables.push(p, stats);
    p.report('k2', 'gpt-4o', { kind: 'rate-limited', status: 429, retryAfterMs: 30_000, reason: 'HTTP 429' });
    stats.record({
      keyId: 'k1',
      providerId: 'openai',
      endpoint: '/chat/completions',
      ok: true,
      status: 200,
      latencyMs: 5,
    });
    const vm = buildViewModel(p, stats, { role: 'leader', port: 1, endpoint: 'http://127.0.0.1:1' }, Date.now());
    assert.deepEqual(
      vm.keys.map((k) => [k.label, k.masked, k.state, k.today]),
      [
        ['openai-1', 'sk-…1111', 'active', 1],
        ['openai-2', 'sk-…2222', 'active', 0],
      ],
    );
    assert.ok(vm.keys[1].modelCooldowns['gpt-4o'] > Date.now());
    assert.equal(usableCount(vm), 1, 'a key cooling for a model is not fully usable');
    assert.ok(!JSON.stringify(vm).includes('sk-test-view'));
  });

  test("while following: the leader's status, read tolerantly", () => {
    const remote = {
      keys: [
        {
          id: 'r1',
          providerId: 'anthropic',
          label: 'lead',
          masked: 'sk-ant-…9999',
          state: 'cooling',
          coolingUntil: 5,
          requestsToday: 4,
          stats: { requests: 9, successes: 8 },
          modelCooldowns: { m: 7, bad: 'x' },
        },
        { id: 'r2', state: 42 },
      ],
    };
    const p = pool();
    const stats = new Stats(systemClock);
    disposables.push(p, stats);
    const vm = buildViewModel(p, stats, { role: 'follower', port: 1, remote }, 10);
    assert.equal(vm.keys.length, 2, "the leader's keys, not this window's");
    assert.deepEqual(
      [vm.keys[0].state, vm.keys[0].today, vm.keys[0].requests, vm.keys[0].modelCooldowns],
      ['cooling', 4, 9, { m: 7 }],
    );
    assert.deepEqual([vm.keys[1].providerId, vm.keys[1].masked, vm.keys[1].requests], ['unknown', '…', 0]);
    assert.equal(vm.requestsToday, 4);
  });

  test('a rebuild keeps the rows of keys that did not change and rebuilds the others', () => {
    const p = pool();
    const stats = new Stats(systemClock);
    disposables.push(p, stats);
    const ctl: ControllerState = { role: 'leader', port: 1 };
    const first = buildViewModel(p, stats, ctl, Date.now());
    const same = buildViewModel(p, stats, ctl, Date.now(), first.keys);
    assert.ok(
      same.keys.every((k, i) => k === first.keys[i]),
      'nothing changed: the same row objects',
    );

    stats.record({ keyId: 'k1', providerId: 'openai', endpoint: '/v1/chat', ok: true, status: 200, latencyMs: 5 });
    const counted = buildViewModel(p, stats, ctl, Date.now(), same.keys);
    assert.notEqual(counted.keys[0], same.keys[0]);
    assert.deepEqual([counted.keys[0].today, counted.keys[0].requests], [1, 1]);
    assert.equal(counted.keys[1], same.keys[1], 'the other key is kept');

    p.report('k2', undefined, { kind: 'invalid', status: 401, reason: 'HTTP 401' });
    const failed = buildViewModel(p, stats, ctl, Date.now(), counted.keys);
    assert.equal(failed.keys[0], counted.keys[0]);
    assert.deepEqual([failed.keys[1].state, failed.keys[1].history.length], ['invalid', 1]);
    p.restore('k2');
    const restored = buildViewModel(p, stats, ctl, Date.now(), failed.keys);
    assert.deepEqual([restored.keys[1].state, restored.keys[1].history.length], ['active', 2]);
    assert.equal(failed.keys[1].history.length, 1, 'a row keeps the history it was built with');

    p.remove('k1');
    const shifted = buildViewModel(p, stats, ctl, Date.now(), restored.keys);
    assert.deepEqual(
      shifted.keys.map((k) => k.id),
      ['k2'],
    );
  });

  test('the hub follows a per-model cooldown within a second and counts it down', async () => {
    const p = pool();
    const stats = new Stats(systemClock);
    const changes = new Emitter<ControllerState>();
    const hub = new ViewModelHub(p, stats, { state: { role: 'leader', port: 1 }, onDidChange: changes.event });
    disposables.push(p, stats, changes, hub);
    const t0 = Date.now();
    p.report('k1', 'gpt-4o', { kind: 'rate-limited', status: 429, retryAfterMs: 3_000, reason: 'HTTP 429' });
    await until(hub.onDidChange, () => usableCount(hub.current) === 1, 'the hub to show the cooldown', 1_000);
    assert.ok(Date.now() - t0 < 1_000);
    const first = hub.current.at;
    await until(hub.onDidChange, () => hub.current.at >= first + 900, 'the next countdown frame', 1_500);
    await until(hub.onDidChange, () => usableCount(hub.current) === 2, 'the cooldown to end on screen', 4_000);
  });
});
