import { randomUUID } from 'node:crypto';
import type * as vscode from 'vscode';
import { Stats } from '../core/accounting/stats';
import { ProviderCatalogue } from '../core/config/providers';
import { KeyVault } from '../core/keys/keyVault';
import { ChatModelCatalog } from '../core/lm/chatModels';
import { fetchModelIds, inProcessTransport, leaderTransport, withFallback } from '../core/lm/transport';
import type { LmTransport } from '../core/lm/transport';
import type { ValueStore } from '../core/keys/keyVault';
import { SerialValueStore } from '../core/keys/serialValueStore';
import { KeyPool } from '../core/pool/keyPool';
import { ForwardKit } from '../core/proxy/forwardKit';
import { ProxyServer } from '../core/proxy/proxyServer';
import { systemClock } from '../core/types';
import type { Logger } from '../core/types';
import { ProxyController } from '../core/windows/proxyController';
import type { ConfigWatcher } from './config';
import { StorageKey } from './ids';
import { offerAnotherPort, poolOptions } from './lifecycle';
import { HealthPersistence } from './persistence';
import { SharedStoreLink } from './sharedStore';

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
  /** The forwarder's dependencies, shared by the HTTP server and the chat models. */
  kit: ForwardKit;
  /** The models offered in the editor's chat model picker. */
  chatModels: ChatModelCatalog;
  /** Shared state with other KeyRelays through Redis/Valkey (keyRelay.stateStore). */
  shared: SharedStoreLink;
  /** How a chat request reaches a pool now: this window's, or the leader's when following. */
  chatTransport(): LmTransport;
}

/**
 * Builds the core in dependency order: providers, pool and counters (saved ones restored), the key
 * vault over SecretStorage, and the controller that leads or follows the proxy across windows.
 */
export function createServices(context: vscode.ExtensionContext, config: ConfigWatcher, log: Logger): Services {
  const cfg = config.current;
  const state = new SerialValueStore(context.globalState);
  const catalogue = new ProviderCatalogue(cfg.providers);
  const pool = new KeyPool({ clock: systemClock, ...poolOptions(cfg.proxy) });
  const stats = Stats.fromJSON(systemClock, state.get(StorageKey.stats), {
    dailyResetHour: cfg.proxy.dailyResetHour,
  });
  const vault = new KeyVault(context.secrets, state, pool, log, (id) => catalogue.get(id)?.keyPrefix);
  const persistence = new HealthPersistence(state, pool, stats);
  // Built after the kit, which only asks for it once requests flow (budgets across a shared pool).
  let link: SharedStoreLink | undefined;
  const kit = new ForwardKit({
    config: cfg.proxy,
    pool,
    stats,
    catalogue,
    logger: log,
    clock: systemClock,
    accessToken: vault.accessToken,
    sharedCounter: () => link?.counter,
  });
  const shared = (link = new SharedStoreLink({ secrets: context.secrets, config, pool, stats, log }));
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
        kit,
        shared: () => shared.status(),
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
  const { chatModels, chatTransport } = chatServices({ kit, pool, catalogue, controller, vault, config, log });
  return { state, catalogue, pool, stats, vault, persistence, controller, kit, chatModels, chatTransport, shared };
}

/**
 * The chat models: listed from this window's pool (each provider's /models in process), and
 * sent in process, or through the leader when this window follows (its pool is the one every
 * window's views show and count).
 */
function chatServices(d: {
  kit: ForwardKit;
  pool: KeyPool;
  catalogue: ProviderCatalogue;
  controller: ProxyController;
  vault: KeyVault;
  config: ConfigWatcher;
  log: Logger;
}): Pick<Services, 'chatModels' | 'chatTransport'> {
  const { kit, pool, catalogue, controller, vault, config, log } = d;
  const local = inProcessTransport(kit.deps);
  const chatModels = new ChatModelCatalog({
    pool,
    catalogue,
    fetchModels: (p) => fetchModelIds(local, p),
    patterns: () => config.current.chatModels,
    logger: log,
    clock: systemClock,
  });
  const leader = withFallback(
    leaderTransport(
      () => (controller.state.endpoint ? { endpoint: controller.state.endpoint, token: vault.accessToken } : undefined),
      () => kit.upstream.dispatcher,
    ),
    local,
  );
  const chatTransport = () => (controller.state.role === 'follower' ? leader : local);
  return { chatModels, chatTransport };
}
