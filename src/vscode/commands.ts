import * as vscode from 'vscode';
import type { Logger } from '../core/types';
import type { ClientWiring } from './clientWiring';
import { Command } from './ids';
import { keyCommands } from './keyCommands';
import type { KeyCommandDeps } from './keyKit';
import { askLeader } from '../core/windows/localHttp';
import type { ProxyController } from '../core/windows/proxyController';
import type { KeyVault } from '../core/keys/keyVault';
import type { DashboardPanel } from './dashboardPanel';
import type { ComparePanel } from './comparePanel';
import { currentLevel, setReasoningLevel } from './reasoningCommand';
import { openRequestLog } from './requestLogCommand';
import type { ForwardKit } from '../core/proxy/forwardKit';

export interface CommandDeps extends KeyCommandDeps {
  vault: KeyVault;
  controller: ProxyController;
  wiring: ClientWiring;
  dashboard: DashboardPanel;
  compare: ComparePanel;
  kit: ForwardKit;
  log: Logger & { show(preserveFocus?: boolean): void };
}

/** The one error path of every command: log it, tell the user briefly, offer the log. */
export function runCommand(log: CommandDeps['log'], fn: (...args: unknown[]) => Promise<unknown>) {
  return async (...args: unknown[]): Promise<unknown> => {
    try {
      return await fn(...args);
    } catch (err) {
      log.error(err instanceof Error ? err : String(err));
      const msg = err instanceof Error ? err.message : String(err);
      void vscode.window.showErrorMessage(`KeyRelay: ${msg}`, 'Show Log').then((a) => {
        if (a) log.show();
      });
      return undefined;
    }
  };
}

const STATUS_SCHEME = 'keyrelay-status';

/** Registers every contributed command; returns the registrations to dispose. */
export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const statusDocs = new Map<string, string>();
  const endpoint = () => d.controller.state.endpoint;
  const requireEndpoint = () => {
    const e = endpoint();
    if (!e) throw new Error('The proxy is not running: run "KeyRelay: Start Proxy".');
    return e;
  };

  const handlers: Record<string, (arg?: unknown) => Promise<unknown>> = {
    ...keyCommands(d),
    [Command.startProxy]: () => d.controller.start(),
    [Command.stopProxy]: () => d.controller.stop(),
    [Command.restartProxy]: () => d.controller.restart(),
    [Command.copyEndpoint]: async () => {
      const e = requireEndpoint();
      await vscode.env.clipboard.writeText(e);
      void d.prompts.info(`Copied ${e} (OpenAI clients may need ${e}/v1; Anthropic clients use it as is).`);
      return e;
    },
    [Command.copyAccessToken]: async () => {
      await vscode.env.clipboard.writeText(d.vault.accessToken);
      void d.prompts.info('Copied the KeyRelay access token: use it as the API key in your assistant.');
    },
    [Command.showLog]: async () => d.log.show(),
    [Command.showStatus]: () => showStatus(d, statusDocs),
    [Command.openDashboard]: async () => d.dashboard.open(),
    [Command.compareModels]: async () => d.compare.open(),
    [Command.showActions]: () => showActions(d),
    [Command.configureContinue]: () => d.wiring.configure('continue'),
    [Command.configureClaudeCode]: () => d.wiring.configure('claude'),
    [Command.configureCodex]: () => d.wiring.configure('codex'),
    [Command.configureAider]: () => d.wiring.configure('aider'),
    [Command.showClineSetup]: () => d.wiring.showCline(),
    [Command.setReasoningLevel]: () => setReasoningLevel(d.prompts),
    [Command.openRequestLog]: () => openRequestLog(d, (name, body) => showJson(statusDocs, name, body)),
  };

  return [
    vscode.workspace.registerTextDocumentContentProvider(STATUS_SCHEME, {
      provideTextDocumentContent: (uri) => statusDocs.get(uri.path) ?? '',
    }),
    ...Object.entries(handlers).map(([id, fn]) => vscode.commands.registerCommand(id, runCommand(d.log, fn))),
  ];
}

/** The running proxy's /keyrelay/status (or the local keys while it is off) as a JSON document. */
async function showStatus(d: CommandDeps, statusDocs: Map<string, string>): Promise<void> {
  const endpoint = () => d.controller.state.endpoint;
  const e = endpoint();
  const port = d.controller.state.port;
  let body: unknown = {
    running: false,
    note: 'The proxy is not running.',
    keys: d.hub.refresh().keys.map(({ history: _h, ...k }) => k),
  };
  if (e && port) body = (await askLeader(port, d.vault.accessToken, '/keyrelay/status', { timeoutMs: 5_000 })).body;
  await showJson(statusDocs, `/KeyRelay status ${new Date().toLocaleTimeString()}.json`, body);
}

/** Opens `body` as a read-only JSON document named `name`. */
async function showJson(docs: Map<string, string>, name: string, body: unknown): Promise<void> {
  docs.set(name, JSON.stringify(body, null, 2));
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: STATUS_SCHEME, path: name }));
  await vscode.languages.setTextDocumentLanguage(doc, 'json');
  await vscode.window.showTextDocument(doc, { preview: true });
}

/** The status bar's menu: the common actions in one quick pick. */
async function showActions(d: CommandDeps): Promise<void> {
  const endpoint = () => d.controller.state.endpoint;
  const serving = d.controller.isServing;
  const actions = [
    { label: '$(add) Add Key', command: Command.addKey },
    { label: '$(cloud-download) Import Keys', command: Command.importKeys },
    { label: '$(beaker) Test All Keys', command: Command.testAllKeys },
    { label: '$(copy) Copy Endpoint', command: Command.copyEndpoint, description: endpoint() },
    { label: '$(key) Copy Access Token', command: Command.copyAccessToken },
    { label: '$(graph) Open Dashboard', command: Command.openDashboard },
    { label: '$(split-horizontal) Compare Models', command: Command.compareModels },
    { label: '$(info) Show Status', command: Command.showStatus },
    { label: '$(output) Show Log', command: Command.showLog },
    { label: '$(list-flat) Open Request Log', command: Command.openRequestLog },
    serving
      ? { label: '$(debug-stop) Stop Proxy', command: Command.stopProxy }
      : { label: '$(play) Start Proxy', command: Command.startProxy },
    { label: '$(debug-restart) Restart Proxy', command: Command.restartProxy },
    { label: '$(plug) Configure Continue', command: Command.configureContinue },
    { label: '$(plug) Configure Claude Code', command: Command.configureClaudeCode },
    { label: '$(plug) Configure Codex', command: Command.configureCodex },
    { label: '$(plug) Configure Aider', command: Command.configureAider },
    { label: '$(plug) Show Cline / Roo Setup', command: Command.showClineSetup },
    { label: '$(lightbulb) Set Reasoning Level', command: Command.setReasoningLevel, description: currentLevel() },
  ];
  const pick = await d.prompts.quickPick(actions, { title: 'KeyRelay', placeHolder: 'What do you want to do?' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}
