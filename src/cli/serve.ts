import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KeyPool } from '../core/pool/keyPool';
import { ProviderCatalogue } from '../core/config/providers';
import { ProxyServer } from '../core/proxy/proxyServer';
import { readJsonFile, writeJsonFileAtomic, writeJsonFileAtomicAsync } from '../core/config/stateFile';
import { Stats } from '../core/accounting/stats';
import { systemClock } from '../core/types';
import type { Logger, ProxyConfig } from '../core/types';
import { loadConfigFile } from './configFile';
import { keysFromEnv, keysFromFile, toPoolKeys } from './keySources';
import type { KeyInput } from './keySources';
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

  const inputs: KeyInput[] = [...loaded.keys];
  const duplicates: string[] = [];
  if (opts.keysFile) {
    const fromFile = keysFromFile(opts.keysFile, catalogue);
    inputs.push(...fromFile.keys);
    duplicates.push(...fromFile.duplicates);
    for (const s of fromFile.skipped) log.warn(`skipped ${s}`);
  }
  inputs.push(...keysFromEnv(process.env, catalogue));
  const clock = systemClock;
  const pooled = toPoolKeys(inputs, catalogue, clock.now());
  const keys = pooled.keys;
  duplicates.push(...pooled.duplicates);
  if (duplicates.length > 0) log.info(`Dropped ${duplicates.length} duplicate key(s): ${duplicates.join(', ')}`);

  const statePath = join(dataDir, 'state.json');
  const state = readJsonFile(statePath, (m) => log.warn(m)) as { health?: unknown; stats?: unknown } | undefined;
  const pool = new KeyPool({
    clock, strategy: config.strategy, cooldownStepsMs: config.cooldownStepsMs, maxCooldownMs: config.maxCooldownMs,
    degradedAfter: config.degradedAfter, discardOnQuota: config.discardOnQuota,
  });
  pool.setKeys(keys);
  if (state?.health) pool.importHealth(state.health as Parameters<KeyPool['importHealth']>[0]);
  const stats = state?.stats ? Stats.fromJSON(clock, state.stats, { dailyResetHour: config.dailyResetHour }) : new Stats(clock, { dailyResetHour: config.dailyResetHour });
  pool.onDidTransition(({ key, transition: t }) => log.warn(`key ${key.label} (${key.masked}) ${t.from} → ${t.to}: ${t.reason}`));

  const token = resolveToken(opts.token, dataDir);
  const server = new ProxyServer({ config, pool, stats, catalogue, logger: log, clock, accessToken: token.value, version: opts.version });
  await server.start();
  const endpoint = server.endpoint ?? '';

  const snapshot = (): unknown => ({ version: 1, health: pool.exportHealth(), stats: stats.toJSON() });
  const persist = (): void => {
    try {
      writeJsonFileAtomic(statePath, snapshot());
    } catch (err) {
      log.error(`Could not save state to ${statePath}: ${(err as Error).message}`);
    }
  };
  // Key state changes are rare and worth saving within a second; counters change on every
  // request and are saved once a minute (and at shutdown), off the request path's disk waits.
  let healthDirty = false;
  let statsDirty = false;
  let saving = false;
  let lastSave = clock.now();
  pool.onDidChange(() => { healthDirty = true; });
  stats.onDidChange(() => { statsDirty = true; });
  const saver = setInterval(() => {
    if (saving || !(healthDirty || (statsDirty && clock.now() - lastSave >= 60_000))) return;
    healthDirty = statsDirty = false;
    saving = true;
    lastSave = clock.now();
    writeJsonFileAtomicAsync(statePath, snapshot())
      .catch((err: Error) => log.error(`Could not save state to ${statePath}: ${err.message}`))
      .finally(() => { saving = false; });
  }, 1000);
  saver.unref();

  printBanner(print, endpoint, token.where, keys.length, [...new Set(keys.map((k) => k.providerId))], config.passthrough);
  return {
    server,
    endpoint,
    async shutdown() {
      clearInterval(saver);
      await server.stop(config.shutdownGraceMs);
      persist();
      server.dispose();
      pool.dispose();
      stats.dispose();
    },
  };
}

function printBanner(print: (l: string) => void, endpoint: string, tokenWhere: string, keyCount: number, providers: string[], passthrough: boolean): void {
  print(`KeyRelay listening on ${endpoint}`);
  print(`Access token: ${tokenWhere === '--token' || tokenWhere === 'KEYRELAY_TOKEN' ? `from ${tokenWhere}` : `in ${tokenWhere}`}`);
  if (keyCount === 0) {
    print(`No keys configured: running in fallback mode (${passthrough ? 'clients\' own keys are forwarded' : 'requests get 503 until keys are added'}). Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.`);
  } else {
    print(`${keyCount} key(s) for ${providers.join(', ')}`);
  }
  print('Point your tools at it (the API key is the access token):');
  print(`  Continue     config.yaml: provider: openai, apiBase: ${endpoint}/v1, apiKey: <token>`);
  print(`  Cline / Roo  "OpenAI Compatible", Base URL ${endpoint}/v1, API key <token>`);
  print(`  Claude Code  ANTHROPIC_BASE_URL=${endpoint} ANTHROPIC_AUTH_TOKEN=<token> claude`);
  print(`  Codex        ~/.codex/config.toml [model_providers.keyrelay] base_url = "${endpoint}/v1", wire_api = "responses"`);
  print(`  SDKs         OPENAI_BASE_URL=${endpoint}/v1  ANTHROPIC_BASE_URL=${endpoint}`);
}
