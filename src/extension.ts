import * as os from 'node:os';
import * as vscode from 'vscode';
import { ViewModelHub } from './core/view/viewModel';
import { ClientWiring } from './vscode/clientWiring';
import { DashboardFeed } from './core/windows/dashboardFeed';
import { registerCommands } from './vscode/commands';
import { DashboardPanel } from './vscode/dashboardPanel';
import { ComparePanel } from './vscode/comparePanel';
import { ConfigWatcher } from './vscode/config';
import { KeysView, syncContextKeys } from './vscode/keysView';
import { registerChatProvider } from './vscode/lmProvider';
import { applyConfig, logTransitions, startUp } from './vscode/lifecycle';
import { Prompts } from './vscode/prompts';
import { publicApi } from './vscode/publicApi';
import type { KeyRelayApi } from './vscode/publicApi';
import { createServices } from './vscode/services';
import { StatusBarController } from './vscode/statusBar';
import { exposeToTests } from './vscode/testHook';

let shutdown: (() => Promise<void>) | undefined;

/** Composition root: builds everything in dependency order and hands every disposable to VS Code. */
export function activate(context: vscode.ExtensionContext): KeyRelayApi {
  const log = vscode.window.createOutputChannel('KeyRelay', { log: true });
  const config = new ConfigWatcher(context.globalStorageUri.fsPath, log);
  const s = createServices(context, config, log);
  const { pool, stats, vault, controller, persistence, catalogue, kit, chatModels } = s;
  const [hub, prompts] = [new ViewModelHub(pool, stats, controller), new Prompts()];
  const target = () =>
    controller.state.endpoint ? { endpoint: controller.state.endpoint, token: vault.accessToken } : undefined;
  const wiring = new ClientWiring({ prompts, memento: s.state, log, homeDir: os.homedir, target });
  const keysView = new KeysView(hub, (id) => catalogue.get(id)?.name ?? id);
  const statusBar = new StatusBarController(hub);
  const feed = new DashboardFeed({ ...s, state: () => controller.state, token: () => vault.accessToken });
  hub.showShared(s.shared);
  const dashboard = new DashboardPanel(context.extensionUri, feed, log);
  const modelIds = async () => (await chatModels.resolve()).map((m) => m.id);
  const compare = new ComparePanel(context.extensionUri, () => kit.deps, modelIds, log);
  context.subscriptions.push(
    ...[log, config, pool, stats, vault, persistence, controller, kit, chatModels, hub, wiring, keysView, statusBar],
    dashboard,
    compare,
    s.shared,
    ...registerChatProvider({ models: chatModels, catalogue, transport: s.chatTransport, log }),
    syncContextKeys(hub),
    logTransitions(pool, log),
    ...registerCommands({
      ...s,
      prompts,
      hub,
      log,
      wiring,
      dashboard,
      compare,
      actOnLeader: (id, a) => controller.actOnLeader(id, a),
      resetStatsOnLeader: () => controller.resetStatsOnLeader(),
    }),
    config.onDidChange(applyConfig({ ...s, wiring, log })),
    vault.onDidChangeToken((t) => {
      controller.setAccessToken(t);
      kit.setAccessToken(t);
    }),
    controller.onDidChange((state) => {
      persistence.enabled = state.role !== 'follower';
    }),
  );
  shutdown = async () => {
    await controller.stop(config.current.proxy.shutdownGraceMs);
    await persistence.flush();
  };
  const autoStart = () => config.current.autoStart;
  const ready = startUp({ ...s, hub, log, autoStart, commandKeys: () => config.current.commandKeys });
  void s.shared.restart();
  const internals = { ...s, hub, prompts, wiring, config, ready, statusBar, keysView, dashboard, compare, feed };
  exposeToTests(context, internals);
  return publicApi(hub);
}

/** Lets in-flight streams end within VS Code's 5-second budget, then saves health and counters. */
export function deactivate(): Promise<void> | undefined {
  return shutdown?.();
}
