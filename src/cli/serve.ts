import { existsSync } from 'node:fs';
import { Stats } from '../core/accounting/stats';
import { ProviderCatalogue } from '../core/config/providers';
import { KeyPool } from '../core/pool/keyPool';
import type { PoolOptions } from '../core/pool/keyPool';
import { ProxyServer } from '../core/proxy/proxyServer';
import { systemClock } from '../core/types';
import type { Clock, Logger, PoolKey, ProviderSpec, ProxyConfig } from '../core/types';
import { bannerLines, isEveryInterface } from './banner';
import { CliError } from './cliError';
import { loadConfigFile } from './configFile';
import { watchFiles } from './fileWatch';
import { keysFromEnv, keysFromFile, toPoolKeys } from './keySources';
import { KeysFileManager } from './keysFile';
import type { KeyInput } from './keySources';
import { startSharedState, teamSecretFor } from './sharedStore';
import { StateStore } from './stateStore';
import { cliWording } from './wording';
import type { SavedState } from './stateStore';
import { prepareDataDir } from './dataDir';
import { dataDirOf, resolveToken } from './token';

/** Options of `keyrelay serve`, already parsed. */
export interface ServeOptions {
  config?: string;
  keysFile?: string;
  /** The provider of keys in --keys-file that neither name one nor have a telling prefix. */
  provider?: string;
  dataDir?: string;
  token?: string;
  port?: number;
  host?: string;
  strategy?: ProxyConfig['strategy'];
  /** How long SIGTERM/SIGINT lets in-flight requests finish (--shutdown-grace, in ms). */
  shutdownGraceMs?: number;
  version: string;
  /** How the user runs this CLI (`keyrelay`, or `node /path/dist/cli.js` from a clone), for commands it prints. */
  command?: string;
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
    ...(opts.shutdownGraceMs !== undefined ? { shutdownGraceMs: opts.shutdownGraceMs } : {}),
  };
  const catalogue = new ProviderCatalogue(loaded.providers);
  if (opts.provider !== undefined && !catalogue.get(opts.provider)) {
    throw new CliError(
      `--provider "${opts.provider}" is not a provider: use one of ${catalogue
        .list()
        .map((p) => p.id)
        .join(', ')} (or add it to "providers" in --config).`,
      2,
    );
  }
  const keys = loadKeys(loaded.keys, { file: opts.keysFile, provider: opts.provider }, catalogue, clock, log);
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
  prepareDataDir(dataDir);
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
    wording: cliWording,
    keyManager: new KeysFileManager(opts.keysFile, pool, catalogue, clock, log),
    shared: () => shared?.status(),
    sharedCounter: () => shared,
  });
  await server.start();
  const endpoint = server.endpoint ?? '';
  store.watch(pool, stats, clock);
  announce({ opts, setup, endpoint, tokenWhere: token.where }, log, print);

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

/** The start banner on stdout, in one write (a reader that sees its first line has all of it). */
function announce(
  a: { opts: ServeOptions; setup: Setup; endpoint: string; tokenWhere: string },
  log: Logger,
  print: (line: string) => void,
): void {
  const { config, keys } = a.setup;
  if (isEveryInterface(config.host))
    log.warn(
      `Listening on ${config.host}: every network interface, not only this machine. Use --host 127.0.0.1 unless you mean it.`,
    );
  const banner = bannerLines({
    endpoint: a.endpoint,
    boundHost: config.host,
    tokenWhere: a.tokenWhere,
    tokenCommand: tokenCommand(a.opts, a.tokenWhere),
    keyCount: keys.length,
    providers: [...new Set(keys.map((k) => k.providerId))],
    passthrough: config.passthrough,
  });
  print(banner.join('\n'));
}

/** The shell command that prints this proxy's token: `keyrelay token` with the flags that find it. */
function tokenCommand(opts: ServeOptions, where: string): string | undefined {
  if (where === 'KEYRELAY_TOKEN') return 'printenv KEYRELAY_TOKEN';
  if (where === '--token') return undefined;
  const self = `${opts.command ?? 'keyrelay'} token`;
  return opts.dataDir ? `${self} --data-dir ${shellQuote(opts.dataDir)}` : self;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./~-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
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
  keysFile: { file?: string; provider?: string },
  catalogue: ProviderCatalogue,
  clock: Clock,
  log: Logger,
): PoolKey[] {
  const inputs: KeyInput[] = [...fromConfig];
  const duplicates: string[] = [];
  // Every source is read before anything is logged: a source that stops the start is the one line said.
  // A keys file that does not exist yet is where keys added over HTTP will go.
  const file = keysFile.file;
  if (file && !existsSync(file))
    log.info(`Keys file ${file} does not exist yet: keys added over HTTP are saved there.`);
  const fromFile = file && existsSync(file) ? keysFromFile(file, catalogue, keysFile.provider) : undefined;
  const fromEnv = keysFromEnv(process.env, catalogue);
  if (fromFile) {
    inputs.push(...fromFile.keys);
    duplicates.push(...fromFile.duplicates);
    for (const s of fromFile.skipped) log.warn(`skipped ${s}`);
  }
  inputs.push(...fromEnv);
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
