import * as assert from 'node:assert/strict';
import OpenAI from 'openai';
import { DEFAULT_QUERY } from '../../src/core/accounting/dashboard';
import { Stats } from '../../src/core/accounting/stats';
import { DashboardFeed } from '../../src/core/windows/dashboardFeed';
import type { ControllerState } from '../../src/core/windows/proxyController';
import { KeyPool } from '../../src/core/pool/keyPool';
import { systemClock } from '../../src/core/types';
import { assertNoKeys, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** Issue 17: a following window's dashboard shows the leader's counts, asked with a proof of the token. */
suite('DashboardFeed', () => {
  let h: Harness;
  let pool: KeyPool;
  let stats: Stats;
  setup(async () => {
    h = await startHarness();
    // This window's own pool and counters: empty, as in a window that follows.
    pool = new KeyPool({
      clock: systemClock,
      strategy: 'round-robin',
      cooldownStepsMs: [1000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    stats = new Stats(systemClock);
  });
  teardown(async () => {
    pool.dispose();
    stats.dispose();
    await h.close();
  });

  test("while following it shows the leader's document; while leading, its own", async () => {
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    let state: ControllerState = { role: 'follower', port: Number(new URL(h.endpoint).port) };
    const feed = new DashboardFeed({ pool, stats, catalogue: h.catalogue, state: () => state, token: () => TOKEN });
    const remote = await feed.get({ ...DEFAULT_QUERY });
    assert.equal(remote.source, 'leader');
    assert.equal(remote.doc.summary.keys, 6);
    assert.equal(remote.doc.summary.requestsToday, 3);
    assertNoKeys(JSON.stringify(remote.doc), 'the dashboard document');
    assert.notEqual(feed.mark(DEFAULT_QUERY), '', 'a follower asks on every tick');
    state = { role: 'leader', port: 1 };
    const local = await feed.get({ ...DEFAULT_QUERY });
    assert.equal(local.source, 'local');
    assert.equal(local.doc.summary.keys, 0);
    const m = feed.mark(DEFAULT_QUERY);
    assert.equal(feed.mark(DEFAULT_QUERY), m, 'nothing changed: the same mark');
    stats.record({ keyId: 'x', providerId: 'openai', endpoint: '/chat', ok: true, status: 200, latencyMs: 1 });
    assert.notEqual(feed.mark(DEFAULT_QUERY), m);
  });

  test('a leader that does not know the token is refused, and says so', async () => {
    const feed = new DashboardFeed({
      pool,
      stats,
      catalogue: h.catalogue,
      state: () => ({ role: 'follower', port: Number(new URL(h.endpoint).port) }),
      token: () => 'not-the-token',
    });
    await assert.rejects(feed.get({ ...DEFAULT_QUERY }), /does not know this access token/);
  });
});
