import * as vscode from 'vscode';
import { DisposableBase } from '../core/events';
import { Command, STATUS_ITEM_ID } from './ids';
import type { CommandId } from './ids';
import { costWords, notUsableLines, renderStatus } from '../core/view/statusText';
import { escapeMarkdown } from './markdown';
import { sharedLine } from '../core/accounting/statusTable';
import type { ViewModel, ViewModelHub } from '../core/view/viewModel';

/** The status-bar item; click opens the common actions. */
export class StatusBarController extends DisposableBase {
  private readonly item: vscode.StatusBarItem;

  constructor(hub: ViewModelHub) {
    super();
    this.item = this._register(vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Right, 100));
    this.item.name = 'KeyRelay';
    this.item.command = Command.showActions;
    this.render(hub.current);
    this._register(hub.onDidChange((vm) => this.render(vm)));
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  /** The tooltip's Markdown source (host tests read it). */
  get tooltipMarkdown(): string {
    const t = this.item.tooltip;
    return typeof t === 'string' ? t : (t?.value ?? '');
  }

  private render(vm: ViewModel): void {
    const r = renderStatus(vm);
    this.item.text = r.text;
    this.item.accessibilityInformation = { label: r.summary, role: 'button' };
    this.item.backgroundColor =
      r.level === 'ok'
        ? undefined
        : new vscode.ThemeColor(
            r.level === 'warning' ? 'statusBarItem.warningBackground' : 'statusBarItem.errorBackground',
          );
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: Object.values(Command) };
    md.appendMarkdown(`**${r.summary}**\n\n`);
    if (vm.endpoint) md.appendMarkdown(`Endpoint: \`${vm.endpoint}\` (OpenAI clients: \`${vm.endpoint}/v1\`)\n\n`);
    if (vm.error && vm.role !== 'follower') md.appendMarkdown(`${vm.error}\n\n`);
    const cost = costWords(vm.cost);
    if (cost) md.appendMarkdown(`Cost since start: ${escapeMarkdown(cost)}\n\n`);
    if (vm.shared) md.appendMarkdown(`${escapeMarkdown(sharedLine(vm.shared))}\n\n`);
    const blocked = notUsableLines(vm);
    if (blocked.length)
      md.appendMarkdown(`Not fully usable:\n${blocked.map((l) => `- ${escapeMarkdown(l)}`).join('\n')}\n\n`);
    const link = (label: string, cmd: CommandId) => `[${label}](command:${cmd})`;
    const toggle =
      vm.role === 'leader' || vm.role === 'follower'
        ? link('$(debug-stop) Stop', Command.stopProxy)
        : link('$(play) Start', Command.startProxy);
    md.appendMarkdown(
      [
        link('$(add) Add Key', Command.addKey),
        link('$(copy) Copy Endpoint', Command.copyEndpoint),
        link('$(info) Status', Command.showStatus),
        link('$(output) Log', Command.showLog),
        ...(vm.shared?.state === 'no-secret' ? [link('$(lock) Set Team Secret', Command.setTeamSecret)] : []),
        toggle,
      ].join(' · '),
    );
    this.item.tooltip = md;
  }
}
