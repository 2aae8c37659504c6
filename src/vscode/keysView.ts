import * as vscode from 'vscode';
import { DisposableBase } from '../core/events';
import { groupKeys, renderKey } from '../core/view/keyTree';
import type { KeyNode } from '../core/view/keyTree';
import { coolingModels } from '../core/view/keyRow';
import type { KeyRow } from '../core/view/keyRow';
import type { ViewModel, ViewModelHub } from '../core/view/viewModel';
import { formatRemaining } from '../core/accounting/status';
import { ContextKey, View } from './ids';
import { codeSpan, escapeMarkdown } from './markdown';

function tooltip(row: KeyRow, now: number): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  const rate = row.requests
    ? `${Math.round((row.successes / row.requests) * 100)}% of ${row.requests}`
    : 'no requests yet';
  md.appendMarkdown(`**${escapeMarkdown(row.label)}** ${codeSpan(row.masked)} — ${row.state}\n\n`);
  md.appendMarkdown(
    `Success rate: ${rate}  \nTokens: ${row.inputTokens} in / ${row.outputTokens} out  \nToday: ${row.today} requests\n\n`,
  );
  if (row.account) md.appendMarkdown(`Account ${codeSpan(row.account)} (its keys share one limit)\n\n`);
  const models = coolingModels(row, now);
  if (models.length) {
    md.appendMarkdown('Rate-limited for:\n');
    for (const m of models) {
      md.appendMarkdown(
        `- ${codeSpan(m.model)}: ${formatRemaining(m.until - now)} left${m.reason ? ` (${escapeMarkdown(m.reason)})` : ''}\n`,
      );
    }
    md.appendMarkdown('\nRestore Key ends these cooldowns now.\n\n');
  }
  if (row.lastError) md.appendMarkdown(`Last error: ${escapeMarkdown(row.lastError)}\n\n`);
  const history = row.history.slice(-5).reverse();
  if (history.length) {
    md.appendMarkdown('Recent changes:\n');
    for (const t of history) {
      const status = t.status ? ` (${t.status})` : '';
      md.appendMarkdown(
        `- ${new Date(t.at).toLocaleTimeString()} ${t.from} → ${t.to}: ${escapeMarkdown(t.reason)}${status}\n`,
      );
    }
  }
  return md;
}

/**
 * Providers → (accounts →) keys, rendered from the view model only. `onDidChangeTreeData` fires
 * only when what the rows show changed, so live counters do not make the tree flicker.
 */
export class KeysView extends DisposableBase implements vscode.TreeDataProvider<KeyNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<KeyNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private vm: ViewModel;
  private signature = '';

  constructor(
    hub: ViewModelHub,
    private readonly providerName: (id: string) => string,
  ) {
    super();
    this.vm = hub.current;
    this.signature = this.sign(this.vm);
    this._register(hub.onDidChange((vm) => this.update(vm)));
    this._register(vscode.window.createTreeView(View.keys, { treeDataProvider: this, showCollapseAll: true }));
  }

  private update(vm: ViewModel): void {
    this.vm = vm;
    const sig = this.sign(vm);
    if (sig === this.signature) return;
    this.signature = sig;
    this._onDidChangeTreeData.fire(undefined);
  }

  private sign(vm: ViewModel): string {
    return JSON.stringify(
      vm.keys.map((k) => [
        k.providerId,
        k.account,
        renderKey(k, vm.at),
        k.requests,
        k.successes,
        k.inputTokens,
        k.outputTokens,
        k.lastError,
        k.history.length,
      ]),
    );
  }

  /** The rendered rows, flat (tests assert on these). */
  items(): Array<{ id: string; providerId: string } & ReturnType<typeof renderKey>> {
    return this.vm.keys.map((k) => ({ id: k.id, providerId: k.providerId, ...renderKey(k, this.vm.at) }));
  }

  /** The tree as indented lines of label and description, as a user sees it (tests assert on it). */
  outline(node?: KeyNode, depth = 0): string[] {
    return this.getChildren(node).flatMap((child) => {
      const item = this.getTreeItem(child);
      return [
        `${'  '.repeat(depth)}${String(item.label)} · ${String(item.description ?? '')}`,
        ...this.outline(child, depth + 1),
      ];
    });
  }

  getChildren(node?: KeyNode): KeyNode[] {
    if (!node) return groupKeys(this.vm.keys, this.providerName);
    return node.kind === 'key' ? [] : node.children;
  }

  getTreeItem(node: KeyNode): vscode.TreeItem {
    if (node.kind === 'provider') {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
      const usable = node.keys.filter((k) => k.state === 'active').length;
      item.id = `provider:${node.providerId}`;
      item.description = `${usable}/${node.keys.length} usable`;
      item.contextValue = 'provider';
      item.iconPath = new vscode.ThemeIcon('server');
      return item;
    }
    if (node.kind === 'account') {
      const item = new vscode.TreeItem(node.account, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `account:${node.providerId}:${node.account}`;
      item.description =
        node.keys.length === 1 ? '1 key in this account' : `${node.keys.length} keys share this account's limits`;
      item.tooltip = 'Keys of one account share its rate limits: rotating between them gains no capacity.';
      item.iconPath = new vscode.ThemeIcon('organization');
      return item;
    }
    const r = renderKey(node.row, this.vm.at);
    const item = new vscode.TreeItem(r.label, vscode.TreeItemCollapsibleState.None);
    item.id = `key:${node.row.id}`;
    item.description = r.description;
    item.iconPath = new vscode.ThemeIcon(r.icon, new vscode.ThemeColor(r.color));
    item.contextValue = r.contextValue;
    item.tooltip = tooltip(node.row, this.vm.at);
    item.accessibilityInformation = { label: `${r.label}, ${node.row.state}, ${r.description}` };
    return item;
  }
}

/** Keeps the `when`-clause context keys (title actions, welcome view) in step with the model. */
export function syncContextKeys(hub: ViewModelHub): vscode.Disposable {
  let last = '';
  const apply = (vm: ViewModel) => {
    const running = vm.role === 'leader' || vm.role === 'follower';
    const sig = `${running}/${vm.keys.length > 0}`;
    if (sig === last) return;
    last = sig;
    void vscode.commands.executeCommand('setContext', ContextKey.proxyRunning, running);
    void vscode.commands.executeCommand('setContext', ContextKey.hasKeys, vm.keys.length > 0);
  };
  apply(hub.current);
  return hub.onDidChange(apply);
}
