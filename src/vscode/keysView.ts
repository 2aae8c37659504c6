import * as vscode from 'vscode';
import { DisposableBase } from '../core/events';
import { groupKeys, renderKey, renderShared } from '../core/view/keyTree';
import type { TreeNode } from '../core/view/keyTree';
import { coolingModels, isOverBudget } from '../core/view/keyRow';
import { keyCostLine } from '../core/view/statusText';
import type { KeyRow } from '../core/view/keyRow';
import type { ViewModel, ViewModelHub } from '../core/view/viewModel';
import { formatRemaining } from '../core/accounting/status';
import { Command, ContextKey, View } from './ids';
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
  const cost = keyCostLine(row);
  if (cost) md.appendMarkdown(`${escapeMarkdown(cost)}\n\n`);
  if (row.overBudget && isOverBudget(row, now))
    md.appendMarkdown(`**Over budget**: ${escapeMarkdown(row.overBudget.reason)}\n\n`);
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

type Rendered = ReturnType<typeof renderKey>;

/** One ThemeIcon per icon and colour (a handful), shared by every row that shows it. */
const icons = new Map<string, Map<string, vscode.ThemeIcon>>();
function themeIcon(icon: string, color: string): vscode.ThemeIcon {
  let byColor = icons.get(icon);
  if (!byColor) icons.set(icon, (byColor = new Map()));
  let t = byColor.get(color);
  if (!t) byColor.set(color, (t = new vscode.ThemeIcon(icon, new vscode.ThemeColor(color))));
  return t;
}

/** Whether a row's rendering depends on the time (a cooldown's time left). */
function countsDown(k: KeyRow): boolean {
  if (k.state === 'cooling') return true;
  for (const _ in k.modelCooldowns) return true;
  return false;
}

/** Whether two rows show the same thing in the tree and in their tooltip (counters included). */
function sameRow(a: KeyRow, ra: Rendered, b: KeyRow, rb: Rendered): boolean {
  if (a === b && ra === rb) return true;
  return (
    a.id === b.id &&
    a.providerId === b.providerId &&
    a.account === b.account &&
    ra.label === rb.label &&
    ra.description === rb.description &&
    ra.icon === rb.icon &&
    ra.contextValue === rb.contextValue &&
    a.requests === b.requests &&
    a.successes === b.successes &&
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.priced === b.priced &&
    a.unpriced === b.unpriced &&
    a.overBudget?.until === b.overBudget?.until &&
    a.lastError === b.lastError &&
    a.history.length === b.history.length
  );
}

/**
 * Providers → (accounts →) keys, rendered from the view model only. `onDidChangeTreeData` fires
 * only when what the rows show changed, so live counters do not make the tree flicker. Each row is
 * rendered once per view model (the change check and the TreeItem share it), and a row's tooltip
 * is built when VS Code asks for it (hover), not for every row of a 10,000-key tree.
 */
export class KeysView extends DisposableBase implements vscode.TreeDataProvider<TreeNode> {
  private readonly _onDidChangeTreeData = this._register(new vscode.EventEmitter<TreeNode | undefined>());
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private vm: ViewModel;
  /** The current rows' renderings, by the row's index in `vm.keys` (a key node carries it). */
  private rendered: Rendered[];

  constructor(
    hub: ViewModelHub,
    private readonly providerName: (id: string) => string,
  ) {
    super();
    this.vm = hub.current;
    this.rendered = this.render(this.vm);
    this._register(hub.onDidChange((vm) => this.update(vm)));
    this._register(vscode.window.createTreeView(View.keys, { treeDataProvider: this, showCollapseAll: true }));
  }

  private update(vm: ViewModel): void {
    const before = this.vm.keys;
    const shown = this.rendered;
    const sharedBefore = this.vm.shared && renderShared(this.vm.shared).description;
    this.vm = vm;
    this.rendered = this.render(vm, before, shown);
    const sameShared = sharedBefore === (vm.shared && renderShared(vm.shared).description);
    if (
      sameShared &&
      before.length === vm.keys.length &&
      vm.keys.every((k, i) => sameRow(before[i], shown[i], k, this.rendered[i]))
    )
      return;
    this._onDidChangeTreeData.fire(undefined);
  }

  /**
   * Each row's rendering; a row the view model kept (same object) keeps its rendering too unless
   * it counts down (a cooldown shows the time left).
   */
  private render(vm: ViewModel, before: readonly KeyRow[] = [], shown: readonly Rendered[] = []): Rendered[] {
    return vm.keys.map((k, i) => (before[i] === k && !countsDown(k) ? shown[i] : renderKey(k, vm.at)));
  }

  /** The rendered rows, flat (tests assert on these). */
  items(): Array<{ id: string; providerId: string } & Rendered> {
    return this.vm.keys.map((k, i) => ({ id: k.id, providerId: k.providerId, ...this.rendered[i] }));
  }

  /** The tree as indented lines of label and description, as a user sees it (tests assert on it). */
  outline(node?: TreeNode, depth = 0): string[] {
    return this.getChildren(node).flatMap((child) => {
      const item = this.getTreeItem(child);
      return [
        `${'  '.repeat(depth)}${String(item.label)} · ${String(item.description ?? '')}`,
        ...this.outline(child, depth + 1),
      ];
    });
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      const groups = groupKeys(this.vm.keys, this.providerName);
      return this.vm.shared ? [{ kind: 'shared', shared: this.vm.shared }, ...groups] : groups;
    }
    if (node.kind === 'shared') return [];
    return node.kind === 'key' ? [] : node.children;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.kind === 'shared') return sharedItem(node.shared);
    if (node.kind === 'provider') {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
      let usable = 0;
      for (const k of node.keys) if (k.state === 'active') usable++;
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
    // A node from an earlier view model (VS Code may still hold one) renders its own row.
    const r = this.vm.keys[node.index] === node.row ? this.rendered[node.index] : renderKey(node.row, this.vm.at);
    const item = new vscode.TreeItem(r.label, vscode.TreeItemCollapsibleState.None);
    item.id = `key:${node.row.id}`;
    item.description = r.description;
    item.iconPath = themeIcon(r.icon, r.color);
    item.contextValue = r.contextValue;
    item.accessibilityInformation = { label: `${r.label}, ${node.row.state}, ${r.description}` };
    return item;
  }

  /** A key row's tooltip, built on hover (VS Code calls this for items whose tooltip is unset). */
  resolveTreeItem(item: vscode.TreeItem, node: TreeNode): vscode.TreeItem {
    if (node.kind === 'key') item.tooltip = tooltip(node.row, this.vm.at);
    return item;
  }
}

/** The shared store's row: which store, which pool, connected or not (a click sets the team secret when missing). */
function sharedItem(s: NonNullable<ViewModel['shared']>): vscode.TreeItem {
  const r = renderShared(s);
  const item = new vscode.TreeItem(r.label, vscode.TreeItemCollapsibleState.None);
  item.id = 'shared';
  item.description = r.description;
  item.tooltip = r.tooltip;
  item.iconPath = themeIcon(r.icon, r.color);
  item.contextValue = `shared:${s.state}`;
  item.accessibilityInformation = { label: `${r.label}: ${r.description}` };
  if (s.state === 'no-secret') item.command = { title: 'Set Team Secret', command: Command.setTeamSecret };
  return item;
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
