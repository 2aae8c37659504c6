import * as vscode from 'vscode';
import type { ViewModelHub } from '../core/view/viewModel';
import type { ClientWiring } from './clientWiring';
import type { ConfigWatcher } from './config';
import type { DashboardFeed } from '../core/windows/dashboardFeed';
import type { DashboardPanel } from './dashboardPanel';
import type { ComparePanel } from './comparePanel';
import type { KeysView } from './keysView';
import type { Prompts } from './prompts';
import type { Services } from './services';
import type { StatusBarController } from './statusBar';

/** The command the host tests call for the extension's internals; it exists only in test runs. */
export const TEST_INTERNALS_COMMAND = 'keyRelay.test.internals';

/** What activate() built, for the host tests. */
export interface Built extends Services {
  hub: ViewModelHub;
  prompts: Prompts;
  wiring: ClientWiring;
  config: ConfigWatcher;
  statusBar: StatusBarController;
  keysView: KeysView;
  dashboard: DashboardPanel;
  /** Where the dashboard's document comes from (this window's pool, or the leader's). */
  feed: DashboardFeed;
  compare: ComparePanel;
  /** Keys loaded and the proxy started (or failed to). */
  ready: Promise<void>;
}

/** Internals as the host tests use them: everything built, plus what the views show. */
export interface TestInternals extends Built {
  /** The extension's SecretStorage (the team secret for shared state is stored through it). */
  secrets: vscode.SecretStorage;
  /** The extension's global storage dir (its code cache is kept in code-cache/ there: src/boot.ts). */
  globalStorage: string;
  statusText(): string;
  statusTooltip(): string;
  treeItems(): ReturnType<KeysView['items']>;
  treeOutline(): string[];
}

/**
 * Hands the internals (the pool with its secrets among them) to the extension's own host tests,
 * and only to them: the command is registered when VS Code runs the extension in Test mode
 * (`extensionTestsPath`). In a normal install it does not exist, and the extension's exports are
 * the small masked API of publicApi.ts.
 */
export function exposeToTests(context: vscode.ExtensionContext, built: Built): void {
  if (context.extensionMode !== vscode.ExtensionMode.Test) return;
  const internals: TestInternals = {
    ...built,
    secrets: context.secrets,
    globalStorage: context.globalStorageUri.fsPath,
    statusText: () => built.statusBar.text,
    statusTooltip: () => built.statusBar.tooltipMarkdown,
    treeItems: () => built.keysView.items(),
    treeOutline: () => built.keysView.outline(),
  };
  context.subscriptions.push(vscode.commands.registerCommand(TEST_INTERNALS_COMMAND, () => internals));
}
