import * as assert from 'node:assert/strict';
import { Budgets } from '../../../src/core/accounting/budgets';
import type { SharedCounter } from '../../../src/core/accounting/budgets';
import { Stats } from '../../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { CredentialBroker } from '../../../src/core/credentials/credentialBroker';
import type { ProxyError } from '../../../src/core/errors';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { ConcurrencyGate } from '../../../src/core/proxy/concurrency';
import { KeyLeases, LEASE_MS } from '../../../src/core/proxy/keyLease';
import type { ForwardDeps } from '../../../src/core/proxy/requestContext';
import { maskKey, SecretRedactor } from '../../../src/core/redact';
import { DEFAULT_CONFIG } from '../../../src/core/types';
import type { BudgetSettings, PoolKey, ProxyConfig } from '../../../src/core/types';
import { CapturingLogger } from '../../proxy/harness';
import { FakeClock } from '../fakes/fakeClock';

const SECRET = 'sk-lease-aaaaaaaaaaaaaaaa1111';
const TOKEN_OUT = 'tok-from-command-0123456789';

/** A client that never leaves (the gate watches it while a lease waits for a slot). */
const client = { destroyed: false, once: () => client, off: () => client };

suite('KeyLeases', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let gate: ConcurrencyGate;
  let broker: CredentialBroker;
  let leases: KeyLeases;
  let config: ProxyConfig;
  let budgetSettings: BudgetSettings;
  /** The shared store's counters as other KeyRelays of the pool left them. */
  let sharedTotals: Map<string, number>;
  const log = new CapturingLogger();

  setup(() => {
    clock = new FakeClock();
    config = { ...DEFAULT_CONFIG, allowKeyLease: true };
    pool = new KeyPool({ ...config, clock });
    const key: PoolKey = {
      id: 'k1',
      providerId: 'openai',
      label: 'one',
      masked: maskKey(SECRET),
      addedAt: 0,
      secret: SECRET,
    };
    pool.setKeys([key]);
    gate = new ConcurrencyGate(pool, clock);
    const redactor = new SecretRedactor();
    redactor.add(SECRET);
    broker = new CredentialBroker({ clock, logger: log, redactor, timeoutMs: () => 10_000 });
    budgetSettings = { keys: {}, accounts: {} };
    sharedTotals = new Map();
    const shared: SharedCounter = {
      count: () => undefined,
      total: (id, field) => sharedTotals.get(`${id} ${field}`) ?? 0,
    };
    const budgets = new Budgets({
      clock,
      pool,
      stats: new Stats(clock),
      settings: () => budgetSettings,
      shared: () => shared,
    });
    const deps = {
      pool,
      budgets,
      gate,
      clock,
      redactor,
      logger: log,
      catalogue: new ProviderCatalogue([]),
      credentials: broker,
      config: () => config,
    } as unknown as ForwardDeps;
    leases = new KeyLeases(() => deps);
    log.lines.length = 0;
  });
  teardown(() => {
    leases.dispose();
    broker.dispose();
    gate.dispose();
    pool.dispose();
  });

  test('a lease past its time is 404 naming the fix, and gives its key back', async () => {
    const a = (await leases.take('openai', null, client))!;
    assert.equal(a.key, SECRET);
    assert.equal(a.expiresAt, new Date(clock.now() + LEASE_MS).toISOString());
    assert.equal(pool.health('k1')!.inFlight, 1, 'held like a request in flight');
    clock.advance(LEASE_MS);
    assert.throws(
      () => leases.report(a.lease, { outcome: 'ok' }),
      (e: ProxyError) => e.status === 404 && /lasts 10 minutes.*GET \/keyrelay\/lease\?provider=/.test(e.message),
    );
    assert.equal(pool.health('k1')!.inFlight, 0);
    assert.ok(log.lines.some((l) => l.includes(`Key lease ${a.lease}`) && l.includes('expired')));
    assert.ok(!log.lines.join('\n').includes(SECRET), 'the log has the masked key only');
  });

  test('a report maps onto the pool as a proxied attempt would: failed counts towards degraded', async () => {
    for (let i = 0; i < config.degradedAfter; i++) {
      const a = (await leases.take('openai', null, client))!;
      assert.equal(leases.report(a.lease, { outcome: 'failed' }).outcome, 'failed');
    }
    assert.equal(pool.health('k1')!.state, 'cooling', `degraded after ${config.degradedAfter} failures`);
  });

  test('with a per-key limit a lease takes the slot; a second lease waits, then fails as the proxy would', async () => {
    config = { ...config, maxConcurrentPerKey: 1, maxWaitMs: 1 };
    const a = (await leases.take('openai', null, client))!;
    assert.equal(gate.inFlight('k1'), 1);
    await assert.rejects(leases.take('openai', null, client), (e: ProxyError) => e.code === 'all_keys_busy');
    leases.report(a.lease, { outcome: 'ok' });
    assert.equal(gate.inFlight('k1'), 0);
    leases.dispose();
    assert.equal(pool.health('k1')!.inFlight, 0);
  });

  test('a command key is leased with its token; a failing command is 502 and frees the slot', async () => {
    config = { ...config, maxConcurrentPerKey: 1 };
    const cmd = (script: string): PoolKey => ({
      id: 'c1',
      providerId: 'anthropic',
      label: 'cmd',
      masked: 'cmd:node',
      addedAt: 0,
      secret: '',
      credentialCommand: { argv: [process.execPath, '-e', script] },
    });
    pool.setKeys([cmd(`console.log(${JSON.stringify(TOKEN_OUT)})`)]);
    const a = (await leases.take('anthropic', 'claude-x', client))!;
    assert.equal(a.key, TOKEN_OUT);
    assert.equal(a.header, 'x-api-key');
    leases.report(a.lease, { outcome: 'ok' });
    pool.setKeys([cmd('process.exit(3)')]);
    await assert.rejects(leases.take('anthropic', null, client), (e: ProxyError) => e.code === 'credential_failed');
    assert.equal(gate.inFlight('c1'), 0, 'the slot is given back');
  });

  test('unknown provider and leases off', async () => {
    await assert.rejects(
      leases.take('nope', null, client),
      (e: ProxyError) => e.status === 400 && /openai/.test(e.message),
    );
    config = { ...config, allowKeyLease: false };
    await assert.rejects(leases.take('openai', null, client), (e: ProxyError) => e.status === 403);
    assert.throws(
      () => leases.report('x', {}),
      (e: ProxyError) => e.code === 'key_lease_off',
    );
  });

  test('a key another KeyRelay pushed over its budget is not leased: the answer is over budget, as the proxy gives', async () => {
    budgetSettings = { keys: { one: { dailyUsd: 0.01 } }, accounts: {} };
    const day = new Date(clock.now()).toISOString().slice(0, 10);
    sharedTotals.set(`k1 usd:${day}`, 0.02);
    await assert.rejects(
      leases.take('openai', null, client),
      (e: ProxyError) => e.status === 429 && e.code === 'budget_exceeded',
    );
    assert.ok(pool.health('k1')!.overBudget, 'the key is marked over budget');
    assert.ok(!log.lines.some((l) => l.includes(SECRET)), 'no key in the log');
  });
});
