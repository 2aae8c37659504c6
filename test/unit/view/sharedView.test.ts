import * as assert from 'node:assert/strict';
import { buildDashboard, DEFAULT_QUERY } from '../../../src/core/accounting/dashboard';
import { Stats } from '../../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { parseStoreUrl } from '../../../src/core/config/storeUrl';
import { Emitter } from '../../../src/core/events';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { SharedState } from '../../../src/core/shared/sharedState';
import { systemClock } from '../../../src/core/types';
import type { Logger, PoolKey, SharedStoreSummary } from '../../../src/core/types';
import { renderShared } from '../../../src/core/view/keyTree';
import { renderStatus } from '../../../src/core/view/statusText';
import { buildViewModel, ViewModelHub } from '../../../src/core/view/viewModel';
import type { ControllerState } from '../../../src/core/windows/proxyController';
import { RedisServer } from '../../fakes/redisServer';
import { until } from '../../fakes/waits';

const PASSWORD = 'hunter2-store-password';
const KEY: PoolKey = {
  id: 'k1',
  providerId: 'openai',
  label: 'openai-1',
  masked: 'sk-…1111',
  addedAt: 0,
  secret: 'sk-test-shared-view-0000000000001111',
};
const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function parts() {
  const pool = new KeyPool({
    clock: systemClock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  pool.setKeys([KEY]);
  return { pool, stats: new Stats(systemClock) };
}

/** A real SharedState (ioredis on a real or an unreachable store), with `password` in its URL. */
function sharedState(url: string, p: ReturnType<typeof parts>, password?: string): SharedState {
  const u = new URL(url);
  if (password) u.password = password;
  return new SharedState({
    address: parseStoreUrl(`${u.toString()}?pool=team-a`),
    teamSecret: 'view-team-secret-0123456789',
    ...p,
    logger: quiet,
    clock: systemClock,
    instanceId: 'view',
    flushMs: 20,
  });
}

const summary = (over: Partial<SharedStoreSummary> = {}): SharedStoreSummary => ({
  store: 'redis://cache:6379/0',
  pool: 'team-a',
  state: 'connected',
  since: 1,
  pending: 0,
  ...over,
});

suite('shared state in the views (issue 18)', function () {
  this.timeout(15_000);
  const disposables: Array<{ dispose(): void }> = [];
  teardown(() => {
    for (const d of disposables.splice(0).reverse()) d.dispose();
  });

  test('the hub shows the store and its pool, then "down" when the real redis-server stops', async () => {
    const redis = await RedisServer.start();
    const p = parts();
    const shared = sharedState(redis.url, p);
    const ctl = new Emitter<ControllerState>();
    const hub = new ViewModelHub(p.pool, p.stats, { state: { role: 'leader', port: 1 }, onDidChange: ctl.event });
    disposables.push(p.pool, p.stats, ctl, hub);
    try {
      hub.showShared({ summary: () => shared.summary(), onDidChange: shared.onDidChange });
      assert.equal(hub.refresh().shared?.state, 'connecting');
      assert.equal(hub.current.shared?.store, redis.url);
      shared.start();
      await until(hub.onDidChange, () => hub.current.shared?.state === 'connected', 'connected on screen');
      assert.equal(renderStatus(hub.current).text, '$(key) KeyRelay 1/1 · 0 $(database)');
      assert.match(
        renderShared(hub.current.shared!).description,
        /^connected · redis:\/\/127\.0\.0\.1:\d+\/0 · pool team-a$/,
      );
      await redis.stop();
      await until(hub.onDidChange, () => hub.current.shared?.state === 'down', 'down on screen');
      const status = renderStatus(hub.current);
      assert.equal(status.text, '$(key) KeyRelay 1/1 · 0 · $(warning) shared down');
      assert.equal(status.level, 'warning');
      assert.match(status.summary, /shared state down, serving on local state/);
      const row = renderShared(hub.current.shared!);
      assert.equal(row.icon, 'warning');
      assert.match(row.description, /^down: serving on local state · redis:/);
      assert.match(row.tooltip, /Shared state: redis:.* · pool team-a · down, serving on local state/);
    } finally {
      await shared.close();
      await redis.close();
    }
  });

  test('a password in the store URL never reaches the summary, the tree row or the dashboard', () => {
    const p = parts();
    disposables.push(p.pool, p.stats);
    const shared = sharedState('redis://user@127.0.0.1:1/0', p, PASSWORD);
    disposables.push(shared);
    const s = shared.summary();
    assert.deepEqual([s.store, s.pool, s.state, s.pending], ['redis://127.0.0.1:1/0', 'team-a', 'connecting', 0]);
    const doc = buildDashboard(
      { ...p, catalogue: new ProviderCatalogue([]), shared: () => shared.status() },
      DEFAULT_QUERY,
    );
    assert.deepEqual(Object.keys(doc.shared ?? {}).sort(), ['pending', 'pool', 'since', 'state', 'store']);
    assert.equal(doc.shared?.store, 'redis://127.0.0.1:1/0');
    assert.ok(!JSON.stringify([s, doc, renderShared(s)]).includes(PASSWORD));
    assert.equal(buildDashboard({ ...p, catalogue: new ProviderCatalogue([]) }, DEFAULT_QUERY).shared, undefined);
  });

  test("a following window shows the leader's store from its status, read tolerantly", () => {
    const p = parts();
    disposables.push(p.pool, p.stats);
    const remote = (shared: unknown) => ({ keys: [], shared });
    const vm = (shared: unknown) =>
      buildViewModel(p.pool, p.stats, { role: 'follower', port: 1, remote: remote(shared) }, 5);
    const leader = { ...summary({ state: 'down', lastError: 'ECONNREFUSED' }), usage: { k1: { requests: 3 } } };
    assert.deepEqual(vm(leader).shared, summary({ state: 'down', lastError: 'ECONNREFUSED' }));
    assert.equal(vm(undefined).shared, undefined);
    assert.equal(vm({ ...leader, state: 'sideways' }).shared, undefined);
    assert.equal(vm({ pool: 'x', state: 'connected' }).shared, undefined);
  });

  test('the status item and the tree row for each state; nothing added when the pool is not shared', () => {
    const base = {
      at: 1,
      role: 'leader' as const,
      keys: [],
      requestsToday: 0,
      cost: { costUsd: null, unpricedAttempts: 0 },
    };
    assert.deepEqual(renderStatus(base), renderStatus({ ...base, shared: undefined }));
    assert.equal(renderStatus(base).text, '$(key) KeyRelay 0/0');
    const connecting = renderStatus({ ...base, shared: summary({ state: 'connecting' }) });
    assert.deepEqual([connecting.text, connecting.level], ['$(key) KeyRelay 0/0 · $(warning) shared connecting', 'ok']);
    const noSecret = renderStatus({ ...base, shared: summary({ state: 'no-secret' }) });
    assert.deepEqual(
      [noSecret.text, noSecret.level],
      ['$(key) KeyRelay 0/0 · $(warning) shared no team secret', 'warning'],
    );
    assert.match(renderShared(summary({ state: 'no-secret' })).tooltip, /Set Team Secret/);
    assert.deepEqual(
      [renderShared(summary()).icon, renderShared(summary()).color, renderShared(summary()).description],
      ['database', 'charts.green', 'connected · redis://cache:6379/0 · pool team-a'],
    );
    assert.match(renderStatus({ ...base, shared: summary() }).summary, /state shared \(pool team-a\)/);
  });
});
