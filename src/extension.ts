import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { KeyPool } from './core/pool/keyPool';
import { ProviderCatalogue } from './core/config/providers';
import { ProxyServer } from './core/proxy/proxyServer';
import { Stats } from './core/accounting/stats';
import { systemClock } from './core/types';
import { ClientWiring } from './vscode/clientWiring';
import { registerCommands } from './vscode/commands';
import { ConfigWatcher } from './vscode/config';
import { StorageKey } from './vscode/ids';
import { KeysView, syncContextKeys } from './vscode/keysView';
import { ProxyController } from './core/windows/proxyController';
import { applyConfig, customProviders, logTransitions, offerAnotherPort, poolOptions, startUp } from './vscode/lifecycle';
import { HealthPersistence } from './vscode/persistence';
import { Prompts } from './vscode/prompts';
import { KeyVault } from './core/keys/keyVault';
import { StatusBarController } from './vscode/statusBar';
import { ViewModelHub } from './core/view/viewModel';

let shutdown: (() => Promise<void>) | undefined;

export type KeyRelayApi = ReturnType<typeof activate>;

/** Composition root: builds everything in dependency order; the API object serves the host tests. */
export function activate(context: vscode.ExtensionContext) {
  const log = vscode.window.createOutputChannel('KeyRelay', { log: true });
  const config = new ConfigWatcher(context.globalStorageUri.fsPath);
  const { current: cfg } = config, instanceId = randomUUID();
  const catalogue = new ProviderCatalogue(customProviders(cfg.providers, log));
  const pool = new KeyPool({ clock: systemClock, ...poolOptions(cfg.proxy) });
  const stats = Stats.fromJSON(systemClock, context.globalState.get(StorageKey.stats), { dailyResetHour: cfg.proxy.dailyResetHour });
  const vault = new KeyVault(context.secrets, context.globalState, pool, log, (id) => catalogue.get(id)?.keyPrefix);
  const persistence = new HealthPersistence(context.globalState, pool, stats);
  const controller = new ProxyController({
    createServer: (c) => new ProxyServer({ config: c, pool, stats, catalogue, logger: log, clock: systemClock,
      accessToken: vault.accessToken, version: String(context.extension.packageJSON.version), instanceId }),
    config: () => config.current.proxy, token: () => vault.accessToken, log,
    onBecameLeader: () => { pool.importHealth(persistence.loadHealth() ?? {}); stats.load(persistence.loadStats()); },
    onConflict: (port) => void offerAnotherPort(port).catch((err) => log.error(err)),
  });
  const [hub, prompts] = [new ViewModelHub(pool, stats, controller), new Prompts()];
  const wiring = new ClientWiring({ prompts, memento: context.globalState, log, homeDir: os.homedir,
    target: () => (controller.state.endpoint ? { endpoint: controller.state.endpoint, token: vault.accessToken } : undefined) });
  const [keysView, statusBar] = [new KeysView(hub, (id) => catalogue.get(id)?.name ?? id), new StatusBarController(hub)];
  context.subscriptions.push(log, config, pool, stats, vault, persistence, controller, hub, wiring, keysView, statusBar,
    syncContextKeys(hub), logTransitions(pool, log), ...registerCommands({ vault, pool, stats, catalogue, prompts, hub, log, controller, wiring, actOnLeader: (id, a) => controller.actOnLeader(id, a) }),
    config.onDidChange(applyConfig({ pool, stats, catalogue, controller, wiring, log })),
    vault.onDidChangeToken((t) => controller.setAccessToken(t)),
    controller.onDidChange((s) => { persistence.enabled = s.role !== 'follower'; }));
  shutdown = async () => { await controller.stop(cfg.proxy.shutdownGraceMs); await persistence.flush(); };
  const ready = startUp({ vault, pool, persistence, controller, hub, memento: context.globalState, log, autoStart: () => config.current.autoStart });
  return { pool, stats, vault, controller, hub, prompts, wiring, catalogue, config, ready, statusText: () => statusBar.text, treeItems: () => keysView.items(), treeOutline: () => keysView.outline() };
}

/** Lets in-flight streams end within VS Code's 5-second budget, then saves health and counters. */
export function deactivate(): Promise<void> | undefined {
  return shutdown?.();
}
