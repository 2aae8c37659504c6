// The optional background re-test (issue 10.10): invalid keys and keys the provider discarded for
// credit get the provider's cheap test request once per round; a pass brings them back. Keys a
// person discarded and keys in a cooldown are never tested. A real pool, a real fake upstream.
import * as assert from 'node:assert/strict';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { ProxyServer } from '../../../src/core/proxy/proxyServer';
import { BackgroundRetest } from '../../../src/core/proxy/retest';
import type { Recovered } from '../../../src/core/proxy/retest';
import { Stats } from '../../../src/core/accounting/stats';
import { maskKey } from '../../../src/core/redact';
import { DEFAULT_CONFIG, systemClock } from '../../../src/core/types';
import type { PoolKey, ProxyConfig } from '../../../src/core/types';
import { FakeUpstream } from '../../fakes/upstreamServer';
import { CapturingLogger } from '../../proxy/harness';

const SECRETS = {
  invalid: 'sk-test-retest-invalid-000000001111',
  userDiscarded: 'sk-test-retest-userdisc-00000002222',
  quota: 'sk-test-retest-quota-0000000003333',
  coolingInvalid: 'sk-test-retest-cooling-00000004444',
  active: 'sk-test-retest-active-000000005555',
};

suite('background re-test of invalid and out-of-credit keys', () => {
  let fake: FakeUpstream;
  let pool: KeyPool;
  let log: CapturingLogger;
  let config: ProxyConfig;
  let retest: BackgroundRetest;

  const key = (name: keyof typeof SECRETS): PoolKey => ({
    id: name,
    providerId: 'openai',
    label: name,
    masked: maskKey(SECRETS[name], 'sk-'),
    addedAt: 0,
    secret: SECRETS[name],
    baseUrl: fake.openaiBase,
  });

  setup(async () => {
    fake = await FakeUpstream.start();
    pool = new KeyPool({ clock: systemClock, ...DEFAULT_CONFIG });
    pool.setKeys((Object.keys(SECRETS) as Array<keyof typeof SECRETS>).map(key));
    pool.report('invalid', undefined, { kind: 'invalid', status: 401, reason: 'Incorrect API key' });
    pool.discard('userDiscarded');
    pool.report('quota', undefined, { kind: 'exhausted', status: 402, reason: 'insufficient_quota' });
    pool.report('coolingInvalid', 'gpt-4o', {
      kind: 'rate-limited',
      status: 429,
      retryAfterMs: 60_000,
      reason: 'slow down',
    });
    pool.report('coolingInvalid', undefined, { kind: 'invalid', status: 401, reason: 'Incorrect API key' });
    log = new CapturingLogger();
    config = { ...DEFAULT_CONFIG, retestIntervalMs: 60_000 };
    retest = new BackgroundRetest({
      pool,
      catalogue: new ProviderCatalogue(),
      logger: log,
      config: () => config,
    });
  });
  teardown(async () => {
    retest.dispose();
    pool.dispose();
    await fake.close();
  });

  test("a pass brings back invalid and provider-discarded keys; a person's discard and a cooldown are left alone", async () => {
    assert.equal(pool.health('invalid')!.state, 'invalid');
    assert.equal(pool.health('quota')!.state, 'discarded');
    const recovered: Recovered[] = [];
    retest.onDidRecover((r) => recovered.push(r));
    assert.equal(await retest.runOnce(), 2);
    assert.deepEqual(
      fake.requests.map((r) => r.key).sort(),
      [SECRETS.invalid, SECRETS.quota].sort(),
      'one test request per due key, none for the others',
    );
    assert.equal(pool.health('invalid')!.state, 'active');
    assert.equal(pool.health('quota')!.state, 'active');
    assert.match(pool.health('invalid')!.history.at(-1)!.reason, /background re-test passed/);
    assert.equal(pool.health('userDiscarded')!.state, 'discarded', 'a person discarded it: only a person restores it');
    assert.equal(pool.health('coolingInvalid')!.state, 'invalid', 'never tested during a cooldown');
    assert.deepEqual(recovered.map((r) => r.key.id).sort(), ['invalid', 'quota']);
    const text = log.lines.join('\n');
    assert.match(text, /Background re-test: invalid \(sk-…1111\) works again and is back in rotation/);
    for (const s of Object.values(SECRETS)) assert.ok(!text.includes(s), 'no key in the log');
  });

  test("a key that still fails stays invalid (not cooling), with the test's detail; one round at a time", async () => {
    fake.setKeyBehaviour(SECRETS.invalid, { kind: 'status', status: 401 });
    fake.setKeyBehaviour(SECRETS.quota, { kind: 'status', status: 429, headers: { 'retry-after': '5' } });
    const [a, b] = await Promise.all([retest.runOnce(), retest.runOnce()]);
    assert.equal(a, 2);
    assert.equal(b, 2, 'the second call joined the running round');
    assert.equal(fake.requests.length, 2, 'at most one test request per key per round');
    assert.equal(pool.health('invalid')!.state, 'invalid');
    assert.ok(pool.health('invalid')!.lastError, 'the failure is noted for the tooltip');
    assert.equal(pool.health('quota')!.state, 'discarded', 'a 429 to the test does not move the key');
    assert.deepEqual(pool.health('quota')!.modelCooldowns, {});
  });

  test('the server runs it on its interval only while it serves, and the setting turns it on and off', async () => {
    const stats = new Stats(systemClock);
    const server = new ProxyServer({
      config: { ...DEFAULT_CONFIG, port: 0 },
      pool,
      stats,
      catalogue: new ProviderCatalogue(),
      logger: log,
      clock: systemClock,
      accessToken: 'kr-test-retest-token-000000000000',
      version: 'test',
    });
    try {
      await server.start();
      assert.ok(!log.lines.some((l) => /Background re-test of/.test(l)), 'off by default');
      server.updateConfig({ ...DEFAULT_CONFIG, port: 0, retestIntervalMs: 120_000 });
      assert.ok(log.lines.some((l) => /Background re-test of invalid and out-of-credit keys every 2 min/.test(l)));
      await server.stop(0);
      assert.equal(await server.retest.runOnce(), 2, 'a round can still be asked for');
    } finally {
      server.dispose();
      stats.dispose();
    }
  });
});
