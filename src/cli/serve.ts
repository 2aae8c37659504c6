import { mkdirSync } from 'node:fs';
import { Stats } from '../core/accounting/stats';
import { ProviderCatalogue } from '../core/config/providers';
import { KeyPool } from '../core/pool/keyPool';
import type { PoolOptions } from '../core/pool/keyPool';
import { ProxyServer } from '../core/proxy/proxyServer';
import { systemClock } from '../core/types';
import type { Clock, Logger, PoolKey, ProviderSpec, ProxyConfig } from '../core/types';
import { bannerLines } from './banner';
import { loadConfigFile } from './configFile';
import { watchFiles } from './fileWatch';
import { keysFromEnv, keysFromFile, toPoolKeys } from './keySources';
import type { KeyInput } from './keySources';
import { startSharedState, teamSecretFor } from './sharedStore';
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

/** A running headless proxy: stop it, reload its files, save its state. */
export interface Served {
  server: ProxyServer;
  endpoint: string;
  /** Stops taking requests, lets in-flight ones finish (shutdownGraceMs), saves state. */
  shutdown(): Promise<void>;
  /** Reads the config file, the keys file and the environment again and applies them live. */
  reload(why: string): void;
  /** Saves health and counters now (every exit path calls it). */
  saveNow(): void;
}

/** What the files and the command line say, checked: settings, providers and keys. */
interface Setup {
  config: ProxyConfig;
  providers: ProviderSpec[];
  keys: PoolKey[];
  teamSecret?: string;
}

/** Reads the config file, the keys file and the environment; throws a ProxyError naming the problem. */
function readSetup(opts: ServeOptions, clock: Clock, log: Logger): Setup {
  const loaded = loadConfigFile(opts.config);
  const config: ProxyConfig = {
    ...loaded.proxy,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.strategy !== undefined ? { strategy: opts.strategy } : {}),
  };
  const catalogue = new ProviderCatalogue(loaded.providers);
  const keys = loadKeys(loaded.keys, opts.keysFile, catalogue, clock, log);
  return { config, providers: loaded.providers, keys, teamSecret: teamSecretFor(config, loaded.teamSecret) };
}

/**
 * Runs the core outside VS Code (DESIGN §9): keys from the config file, a keys file and the
 * environment; state in `<data-dir>/state.json` (0600, atomic); the token from --token,
 * KEYRELAY_TOKEN or `<data-dir>/token`. A changed config or keys file (or SIGHUP) reloads them.
 */
export async function serve(opts: ServeOptions, log: Logger, print: (line: string) => void): Promise<Served> {
  const clock = systemClock;
  const setup = readSetup(opts, clock, log);
  const dataDir = dataDirOf(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const catalogue = new ProviderCatalogue(setup.providers);
  const store = new StateStore(dataDir, log);
  const { pool, stats } = restore(setup, store.load(), clock);
  pool.onDidTransition(({ key, transition: t }) =>
    log.warn(`key ${key.label} (${key.masked}) ${t.from} → ${t.to}: ${t.reason}`),
  );
  const token = resolveToken(opts.token, dataDir);
  let config = setup.config;
  const shared = startSharedState(config, setup.teamSecret, { pool, stats, clock, log });
  const server = new ProxyServer({
    config,
    pool,
    stats,
    catalogue,
    logger: log,
    clock,
    accessToken: token.value,
    version: opts.version,
    shared: () => shared?.status(),
  });
  await server.start();
  const endpoint = server.endpoint ?? '';
  store.watch(pool, stats, clock);
  const banner = { endpoint, tokenWhere: token.where, keyCount: setup.keys.length, passthrough: config.passthrough };
  // One write: a reader that sees the first line has the whole banner.
  print(bannerLines({ ...banner, providers: [...new Set(setup.keys.map((k) => k.providerId))] }).join('\n'));

  const reload = (why: string): void => {
    let next: Setup;
    try {
      next = readSetup(opts, clock, log);
    } catch (err) {
      log.error(`Reload (${why}) failed, the running settings and keys stay: ${(err as Error).message}`);
      return;
    }
    config = applySetup({ server, pool, stats, catalogue, log }, config, next, why);
  };
  const watcher = watchFiles([opts.config, opts.keysFile], (file) => reload(`${file} changed`), log);
  return {
    server,
    endpoint,
    reload,
    saveNow: () => store.saveNow(pool, stats),
    async shutdown() {
      watcher.dispose();
      store.dispose();
      await server.stop(config.shutdownGraceMs);
      store.saveNow(pool, stats);
      await shared?.close();
      server.dispose();
      pool.dispose();
      stats.dispose();
    },
  };
}

/**
 * Applies a reloaded setup to the running proxy: providers, settings and keys change at once
 * (a removed key's in-flight requests finish: they hold the key, the pool only stops picking it).
 * Where to listen cannot change without a restart; the proxy keeps its address and says so.
 */
function applySetup(
  d: { server: ProxyServer; pool: KeyPool; stats: Stats; catalogue: ProviderCatalogue; log: Logger },
  running: ProxyConfig,
  next: Setup,
  why: string,
): ProxyConfig {
  const config = {
    ...next.config,
    port: running.port,
    host: running.host,
    ipv4Only: running.ipv4Only,
    stateStore: running.stateStore,
  };
  if (next.config.stateStore !== running.stateStore)
    d.log.warn('Reload: stateStore changed; restart KeyRelay to connect to the new store.');
  if (
    next.config.port !== running.port ||
    next.config.host !== running.host ||
    next.config.ipv4Only !== running.ipv4Only
  ) {
    d.log.warn('Reload: the address to listen on changed; restart KeyRelay to move it.');
  }
  const before = new Set(d.pool.list().map((k) => k.id));
  d.catalogue.set(next.providers);
  d.pool.setOptions(poolOptions(config));
  d.stats.setDailyResetHour(config.dailyResetHour);
  d.server.updateConfig(config);
  d.pool.setKeys(next.keys);
  const added = next.keys.filter((k) => !before.has(k.id)).length;
  const removed = before.size - (next.keys.length - added);
  d.log.info(`Reloaded (${why}): ${next.keys.length} key(s), ${added} added, ${removed} removed.`);
  return config;
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

/** The pool's share of the settings. */
function poolOptions(c: ProxyConfig): Omit<PoolOptions, 'clock'> {
  const { strategy, cooldownStepsMs, maxCooldownMs, degradedAfter, discardOnQuota } = c;
  return { strategy, cooldownStepsMs, maxCooldownMs, degradedAfter, discardOnQuota };
}

/** The pool and the counters, with the health and counts a previous run saved. */
function restore(setup: Setup, state: SavedState | undefined, clock: Clock): { pool: KeyPool; stats: Stats } {
  const pool = new KeyPool({ clock, ...poolOptions(setup.config) });
  pool.setKeys(setup.keys);
  if (state?.health) pool.importHealth(state.health);
  const dailyResetHour = setup.config.dailyResetHour;
  const stats = state?.stats
    ? Stats.fromJSON(clock, state.stats, { dailyResetHour })
    : new Stats(clock, { dailyResetHour });
  return { pool, stats };
}
