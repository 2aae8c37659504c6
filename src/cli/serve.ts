import { mkdirSync } from 'node:fs';
import { KeyPool } from '../core/pool/keyPool';
import { ProviderCatalogue } from '../core/config/providers';
import { ProxyServer } from '../core/proxy/proxyServer';
import { Stats } from '../core/accounting/stats';
import { systemClock } from '../core/types';
import type { Clock, Logger, PoolKey, ProxyConfig } from '../core/types';
import { bannerLines } from './banner';
import { loadConfigFile } from './configFile';
import { keysFromEnv, keysFromFile, toPoolKeys } from './keySources';
import type { KeyInput } from './keySources';
import { StateStore } from './stateStore';
import type { SavedState } from './stateStore';
import { dataDirOf, resolveToken } from './token';

/** Options of `keyrelay serve`, already parsed. */
export interface ServeOptions {
  config?: string;
  keysFile?: string;
  dataDir?: string;
  token?: string;
  port?: number;
  host?: string;
  strategy?: ProxyConfig['strategy'];
  version: string;
}

/** A running headless proxy and how to stop it. */
export interface Served {
  server: ProxyServer;
  endpoint: string;
  shutdown(): Promise<void>;
}

/**
 * Runs the core outside VS Code (DESIGN §9): keys from the config file, a keys file and the
 * environment; state in `<data-dir>/state.json` (0600, atomic); the token from --token,
 * KEYRELAY_TOKEN or `<data-dir>/token`.
 */
export async function serve(opts: ServeOptions, log: Logger, print: (line: string) => void): Promise<Served> {
  const loaded = loadConfigFile(opts.config);
  const config: ProxyConfig = {
    ...loaded.proxy,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.strategy !== undefined ? { strategy: opts.strategy } : {}),
  };
  const dataDir = dataDirOf(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const catalogue = new ProviderCatalogue(loaded.providers);
  const clock = systemClock;
  const keys = loadKeys(loaded.keys, opts.keysFile, catalogue, clock, log);

  const store = new StateStore(dataDir, log);
  const { pool, stats } = restore(config, keys, store.load(), clock);
  pool.onDidTransition(({ key, transition: t }) =>
    log.warn(`key ${key.label} (${key.masked}) ${t.from} → ${t.to}: ${t.reason}`),
  );

  const token = resolveToken(opts.token, dataDir);
  const server = new ProxyServer({
    config,
    pool,
    stats,
    catalogue,
    logger: log,
    clock,
    accessToken: token.value,
    version: opts.version,
  });
  await server.start();
  const endpoint = server.endpoint ?? '';
  store.watch(pool, stats, clock);

  const providers = [...new Set(keys.map((k) => k.providerId))];
  // One write: a reader that sees the first line has the whole banner.
  print(
    bannerLines({
      endpoint,
      tokenWhere: token.where,
      keyCount: keys.length,
      providers,
      passthrough: config.passthrough,
    }).join('\n'),
  );
  return {
    server,
    endpoint,
    async shutdown() {
      store.dispose();
      await server.stop(config.shutdownGraceMs);
      store.saveNow(pool, stats);
      server.dispose();
      pool.dispose();
      stats.dispose();
    },
  };
}

/** Keys from the config file, the keys file and the environment, repeats dropped (and said so). */
function loadKeys(
  fromConfig: KeyInput[],
  keysFile: string | undefined,
  catalogue: ProviderCatalogue,
  clock: Clock,
  log: Logger,
): PoolKey[] {
  const inputs: KeyInput[] = [...fromConfig];
  const duplicates: string[] = [];
  if (keysFile) {
    const fromFile = keysFromFile(keysFile, catalogue);
    inputs.push(...fromFile.keys);
    duplicates.push(...fromFile.duplicates);
    for (const s of fromFile.skipped) log.warn(`skipped ${s}`);
  }
  inputs.push(...keysFromEnv(process.env, catalogue));
  const pooled = toPoolKeys(inputs, catalogue, clock.now());
  duplicates.push(...pooled.duplicates);
  if (duplicates.length > 0) log.info(`Dropped ${duplicates.length} duplicate key(s): ${duplicates.join(', ')}`);
  return pooled.keys;
}

/** The pool and the counters, with the health and counts a previous run saved. */
function restore(
  config: ProxyConfig,
  keys: PoolKey[],
  state: SavedState | undefined,
  clock: Clock,
): { pool: KeyPool; stats: Stats } {
  const pool = new KeyPool({
    clock,
    strategy: config.strategy,
    cooldownStepsMs: config.cooldownStepsMs,
    maxCooldownMs: config.maxCooldownMs,
    degradedAfter: config.degradedAfter,
    discardOnQuota: config.discardOnQuota,
  });
  pool.setKeys(keys);
  if (state?.health) pool.importHealth(state.health);
  const dailyResetHour = config.dailyResetHour;
  const stats = state?.stats
    ? Stats.fromJSON(clock, state.stats, { dailyResetHour })
    : new Stats(clock, { dailyResetHour });
  return { pool, stats };
}
