import { randomUUID } from 'node:crypto';
import type * as vscode from 'vscode';
import { Stats } from '../core/accounting/stats';
import { ProviderCatalogue } from '../core/config/providers';
import { KeyVault } from '../core/keys/keyVault';
import type { ValueStore } from '../core/keys/keyVault';
import { SerialValueStore } from '../core/keys/serialValueStore';
import { KeyPool } from '../core/pool/keyPool';
import { ProxyServer } from '../core/proxy/proxyServer';
import { systemClock } from '../core/types';
import type { Logger } from '../core/types';
import { ProxyController } from '../core/windows/proxyController';
import type { ConfigWatcher } from './config';
import { StorageKey } from './ids';
import { customProviders, offerAnotherPort, poolOptions } from './lifecycle';
import { HealthPersistence } from './persistence';

/** The core objects one window runs, built over VS Code's storage. */
export interface Services {
  /** globalState, written one write at a time: every writer must use this one (serialValueStore.ts says why). */
  state: ValueStore;
  catalogue: ProviderCatalogue;
  pool: KeyPool;
  stats: Stats;
  vault: KeyVault;
  persistence: HealthPersistence;
  controller: ProxyController;
}

/**
 * Builds the core in dependency order: providers, pool and counters (saved ones restored), the key
 * vault over SecretStorage, and the controller that leads or follows the proxy across windows.
 */
export function createServices(context: vscode.ExtensionContext, config: ConfigWatcher, log: Logger): Services {
  const cfg = config.current;
  const state = new SerialValueStore(context.globalState);
  const catalogue = new ProviderCatalogue(customProviders(cfg.providers, log));
  const pool = new KeyPool({ clock: systemClock, ...poolOptions(cfg.proxy) });
  const stats = Stats.fromJSON(systemClock, state.get(StorageKey.stats), {
    dailyResetHour: cfg.proxy.dailyResetHour,
  });
  const vault = new KeyVault(context.secrets, state, pool, log, (id) => catalogue.get(id)?.keyPrefix);
  const persistence = new HealthPersistence(state, pool, stats);
  const instanceId = randomUUID();
  const version = String(context.extension.packageJSON.version);
  const controller = new ProxyController({
    createServer: (c) =>
      new ProxyServer({
        config: c,
        pool,
        stats,
        catalogue,
        logger: log,
        clock: systemClock,
        accessToken: vault.accessToken,
        version,
        instanceId,
      }),
    config: () => config.current.proxy,
    token: () => vault.accessToken,
    log,
    onBecameLeader: () => {
      pool.importHealth(persistence.loadHealth() ?? {});
      stats.load(persistence.loadStats());
    },
    onConflict: (port) => void offerAnotherPort(port).catch((err: Error) => log.error(err)),
  });
  return { state, catalogue, pool, stats, vault, persistence, controller };
}
