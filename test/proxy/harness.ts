import { KeyPool } from '../../src/core/pool/keyPool';
import { ProviderCatalogue } from '../../src/core/config/providers';
import { ProxyServer } from '../../src/core/proxy/proxyServer';
import { ForwardKit } from '../../src/core/proxy/forwardKit';
import { maskKey } from '../../src/core/redact';
import { Stats } from '../../src/core/accounting/stats';
import { DEFAULT_CONFIG, systemClock } from '../../src/core/types';
import type { Clock, Logger, PoolKey, ProviderSpec, ProxyConfig } from '../../src/core/types';
import { FakeUpstream } from '../fakes/upstreamServer';
import type { FakeUpstreamOptions } from '../fakes/upstreamServer';

/** A logger that keeps every line, so tests can assert on it and grep it for key text. */
export class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  readonly logLevel = 1;
  trace(m: string): void {
    this.lines.push(`trace ${m}`);
  }
  debug(m: string): void {
    this.lines.push(`debug ${m}`);
  }
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
  error(e: string | Error): void {
    this.lines.push(`error ${typeof e === 'string' ? e : `${e.message}\n${e.stack}`}`);
  }
}

/** Three realistic-looking fake keys per shape; tests grep every output for them. */
export const OPENAI_KEYS = [
  'sk-test-aaaaaaaaaaaaaaaaaaaa1111',
  'sk-test-bbbbbbbbbbbbbbbbbbbb2222',
  'sk-test-cccccccccccccccccccc3333',
];
export const ANTHROPIC_KEYS = [
  'sk-ant-test-dddddddddddddddd4444',
  'sk-ant-test-eeeeeeeeeeeeeeee5555',
  'sk-ant-test-ffffffffffffffff6666',
];
export const TOKEN = 'kr-test-token-0123456789abcdef';

export interface Harness {
  fake: FakeUpstream;
  proxy: ProxyServer;
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  config: ProxyConfig;
  log: CapturingLogger;
  /** The forwarding kit the proxy runs on (its deps: the pool, the concurrency gate, …). */
  kit: ForwardKit;
  /** http://127.0.0.1:PORT */
  endpoint: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  config?: Partial<ProxyConfig>;
  /** Keys per provider id (`openai`, `anthropic` point at the fake); default three each. */
  keys?: Record<string, string[]>;
  /** Extra fields per key index, e.g. models. */
  keyExtras?: Record<string, Partial<PoolKey>>;
  fake?: FakeUpstreamOptions;
  extraProviders?: ProviderSpec[];
  /** The pool's, counters' and budgets' clock (a test's fake clock); timeouts stay on real time. */
  clock?: Clock;
}

/**
 * A real proxy on 127.0.0.1 in front of a real fake upstream: the providers `openai` and
 * `anthropic` are overridden to point at the fake, so routing runs exactly as in production.
 */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await FakeUpstream.start(opts.fake);
  const providers: ProviderSpec[] = [
    {
      id: 'openai',
      name: 'OpenAI',
      shape: 'openai',
      baseUrl: fake.openaiBase,
      auth: 'bearer',
      testRequest: { method: 'GET', path: '/models' },
      envNames: ['OPENAI'],
      keyPrefix: 'sk-',
    },
    {
      id: 'anthropic',
      name: 'Anthropic',
      shape: 'anthropic',
      baseUrl: fake.anthropicBase,
      auth: 'x-api-key',
      testRequest: { method: 'GET', path: '/models' },
      envNames: ['ANTHROPIC'],
      keyPrefix: 'sk-ant-',
    },
    ...(opts.extraProviders ?? []),
  ];
  const catalogue = new ProviderCatalogue(providers);
  const config: ProxyConfig = {
    ...DEFAULT_CONFIG,
    cooldownStepsMs: [...DEFAULT_CONFIG.cooldownStepsMs],
    port: 0,
    ...opts.config,
  };
  const clock = opts.clock ?? systemClock;
  const pool = new KeyPool({
    clock,
    strategy: config.strategy,
    cooldownStepsMs: config.cooldownStepsMs,
    maxCooldownMs: config.maxCooldownMs,
    degradedAfter: config.degradedAfter,
    discardOnQuota: config.discardOnQuota,
  });
  const keys: PoolKey[] = [];
  const byProvider = opts.keys ?? { openai: OPENAI_KEYS, anthropic: ANTHROPIC_KEYS };
  for (const [providerId, secrets] of Object.entries(byProvider)) {
    secrets.forEach((secret, i) => {
      const id = `${providerId}-${i + 1}`;
      keys.push({
        id,
        providerId,
        label: id,
        masked: maskKey(secret, providerId === 'anthropic' ? 'sk-ant-' : 'sk-'),
        addedAt: 0,
        secret,
        ...opts.keyExtras?.[id],
      });
    });
  }
  pool.setKeys(keys);
  const stats = new Stats(clock);
  const log = new CapturingLogger();
  const kit = new ForwardKit({ config, pool, stats, catalogue, logger: log, clock, accessToken: TOKEN });
  const proxy = new ProxyServer({
    config,
    pool,
    stats,
    catalogue,
    logger: log,
    clock,
    accessToken: TOKEN,
    version: 'test',
    kit,
  });
  const port = await proxy.start();
  return {
    fake,
    proxy,
    pool,
    stats,
    catalogue,
    config,
    log,
    kit,
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await proxy.stop(0);
      proxy.dispose();
      kit.dispose();
      pool.dispose();
      stats.dispose();
      await fake.close();
    },
  };
}

/** Every fake key, for leak checks. */
export const ALL_KEYS = [...OPENAI_KEYS, ...ANTHROPIC_KEYS];

/** Fails when any whole key (or the token) appears in `text`. */
export function assertNoKeys(text: string, where: string): void {
  for (const k of [...ALL_KEYS, TOKEN]) {
    if (text.includes(k)) throw new Error(`${where} contains a whole key (${k.slice(0, 7)}…)`);
  }
}
