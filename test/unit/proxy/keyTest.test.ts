// Test Key / Test All Keys (DESIGN §2, §3): the provider's cheap test request, sent with one key to a
// real fake upstream; what it finds is fed to a real pool the way the commands do (keyKit.runTest).
import * as assert from 'node:assert/strict';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { testAndRecord } from '../../../src/core/proxy/keyTest';
import type { KeyTestResult } from '../../../src/core/proxy/keyTest';
import { maskKey } from '../../../src/core/redact';
import { systemClock } from '../../../src/core/types';
import type { PoolKey, ProviderSpec } from '../../../src/core/types';
import { findFreePort } from '../../../src/core/windows/localHttp';
import { FakeUpstream } from '../../fakes/upstreamServer';

const GOOD = 'sk-test-keytest-good-0000000000001111';
const BAD = 'sk-test-keytest-bad-00000000000002222';
const BUSY = 'sk-test-keytest-busy-0000000000003333';
const ANT = 'sk-ant-test-keytest-0000000000004444';

suite('keyTest: Test Key against a real upstream', () => {
  let fake: FakeUpstream;
  let pool: KeyPool;
  let openai: ProviderSpec;
  let anthropic: ProviderSpec;

  const key = (secret: string, providerId = 'openai'): PoolKey => ({
    id: secret.slice(-4),
    providerId,
    label: `key-${secret.slice(-4)}`,
    masked: maskKey(secret, providerId === 'anthropic' ? 'sk-ant-' : 'sk-'),
    addedAt: 0,
    secret,
  });

  /** Tests the key and feeds the result to the pool as the Test Key command does. */
  async function runTest(k: PoolKey, provider = openai, timeoutMs?: number): Promise<KeyTestResult> {
    const r = await testAndRecord(pool, k, provider, { timeoutMs });
    assert.ok(!r.message.includes(k.secret), `the key is never in the message: ${r.message}`);
    return r;
  }

  setup(async () => {
    fake = await FakeUpstream.start({ keys: [GOOD, ANT] });
    const common = { testRequest: { method: 'GET' as const, path: '/models' }, envNames: [] };
    openai = { id: 'openai', name: 'OpenAI', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer', ...common };
    anthropic = {
      id: 'anthropic',
      name: 'Anthropic',
      shape: 'anthropic',
      baseUrl: fake.anthropicBase,
      auth: 'x-api-key',
      ...common,
    };
    pool = new KeyPool({
      clock: systemClock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    pool.setKeys([key(GOOD), key(BAD), key(BUSY), key(ANT, 'anthropic')]);
  });
  teardown(async () => {
    pool.dispose();
    await fake.close();
  });

  test('a working key passes: one test request, with the key in the provider’s auth header', async () => {
    pool.report(key(GOOD).id, undefined, { kind: 'invalid', status: 401, reason: 'HTTP 401' });
    const r = await runTest(key(GOOD));
    assert.equal(r.ok, true);
    assert.equal(r.status, 200);
    assert.match(r.message, /^key-1111: works \(HTTP 200, \d+ ms\)\.$/);
    assert.equal(r.outcome.kind, 'success');
    assert.equal(pool.health(key(GOOD).id)?.state, 'active', 'a passing test makes an invalid key active again');
    assert.equal(fake.requests.length, 1);
    const [seen] = fake.requests;
    assert.deepEqual([seen.method, seen.path, seen.headers.authorization], ['GET', '/v1/models', `Bearer ${GOOD}`]);
  });

  test('an Anthropic key is tested with x-api-key and anthropic-version', async () => {
    const r = await runTest(key(ANT, 'anthropic'), anthropic);
    assert.equal(r.ok, true, r.message);
    const [seen] = fake.requests;
    assert.deepEqual(
      [seen.headers['x-api-key'], seen.headers['anthropic-version'], seen.headers.authorization],
      [ANT, '2023-06-01', undefined],
    );
  });

  test('a 401 makes the key invalid, and a key the provider echoes back is masked', async () => {
    fake.setKeyBehaviour(BAD, {
      kind: 'status',
      status: 401,
      body: JSON.stringify({ error: { message: `Incorrect API key provided: ${BAD}`, type: 'invalid_request_error' } }),
    });
    const r = await runTest(key(BAD));
    assert.deepEqual([r.ok, r.status, r.outcome.kind], [false, 401, 'invalid']);
    assert.equal(r.message, `key-2222: HTTP 401 invalid_request_error: Incorrect API key provided: ${key(BAD).masked}`);
    assert.equal(pool.health(key(BAD).id)?.state, 'invalid');
    assert.ok(!JSON.stringify(pool.health(key(BAD).id)).includes(BAD), 'nor in the state the tree shows');
  });

  test('a 429 cools the key for as long as the provider asks', async () => {
    fake.setKeyBehaviour(BUSY, { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    const r = await runTest(key(BUSY));
    assert.equal(r.ok, false);
    assert.equal(r.status, 429);
    assert.ok(r.outcome.kind === 'rate-limited' && r.outcome.retryAfterMs === 30_000, JSON.stringify(r.outcome));
    const h = pool.health(key(BUSY).id);
    assert.equal(h?.state, 'cooling');
    const left = (h?.coolingUntil ?? 0) - Date.now();
    assert.ok(left > 25_000 && left <= 30_000, `cooling for ${left} ms`);
  });

  test('an unreachable provider: a message that names it and why, and no penalty beyond a server error', async () => {
    const closed = await findFreePort();
    const r = await runTest(key(GOOD), { ...openai, name: 'Nowhere AI', baseUrl: `http://127.0.0.1:${closed}/v1` });
    assert.equal(r.ok, false);
    assert.equal(r.status, undefined);
    assert.equal(r.message, 'key-1111: could not reach Nowhere AI (ECONNREFUSED)');
    assert.equal(r.outcome.kind, 'server-error');
    assert.equal(pool.health(key(GOOD).id)?.state, 'active', 'one network error does not cool a key');
  });

  test('a provider that never answers: the test gives up after its timeout and says so', async () => {
    fake.setKeyBehaviour(GOOD, { kind: 'stall-headers' });
    const r = await runTest(key(GOOD), openai, 300);
    assert.equal(r.ok, false);
    assert.equal(r.message, 'key-1111: no answer from OpenAI within 0.3 s');
    assert.equal(r.outcome.kind, 'server-error');
    await fake.waitForAbort(); // the request was given up, not left open
  });

  test('a test request the provider does not know (404) fails the test without blaming the key', async () => {
    const r = await runTest(key(GOOD), { ...openai, testRequest: { method: 'GET', path: '/no-such-thing' } });
    assert.deepEqual([r.ok, r.status, r.outcome.kind], [false, 404, 'server-error']);
    assert.equal(r.message, 'key-1111: HTTP 404 to the test request');
    assert.equal(pool.health(key(GOOD).id)?.state, 'active');
  });

  test('a per-key base URL is where the key is tested', async () => {
    const r = await runTest(
      { ...key(GOOD), baseUrl: `${fake.url}/v1/` },
      { ...openai, baseUrl: 'http://127.0.0.1:1/v1' },
    );
    assert.equal(r.ok, true, r.message);
    assert.equal(fake.requests[0].path, '/v1/models');
  });
});
