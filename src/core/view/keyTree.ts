/**
 * The keys tree as plain data: how key rows group under providers and accounts, and what one row
 * shows. The VS Code tree (src/vscode/keysView.ts) only maps these to TreeItems.
 */
import { formatRemaining } from '../accounting/status';
import { sharedLine } from '../accounting/statusTable';
import type { KeyState, SharedStoreSummary } from '../types';
import { coolingModels, isOverBudget } from './keyRow';
import type { KeyRow } from './keyRow';

/** A node of the keys tree: providers, then accounts (when keys share one), then keys. */
export type KeyNode =
  | { kind: 'provider'; providerId: string; name: string; keys: KeyRow[]; children: KeyNode[] }
  | { kind: 'account'; providerId: string; account: string; keys: KeyRow[]; children: KeyNode[] }
  /** `index`: the row's place in the view model's `keys` it was grouped from (the tree's lookups). */
  | { kind: 'key'; row: KeyRow; index: number };

/** What the tree shows: the shared store's row first (when the pool shares its state), then the keys. */
export type TreeNode = KeyNode | { kind: 'shared'; shared: SharedStoreSummary };

const STATE_ICON: Record<KeyState, [string, string]> = {
  active: ['pass', 'charts.green'],
  cooling: ['watch', 'charts.yellow'],
  invalid: ['error', 'charts.red'],
  discarded: ['circle-slash', 'disabledForeground'],
};

/** The plain data a key row renders to; the tree compares these to skip no-op refreshes. */
export function renderKey(
  row: KeyRow,
  now: number,
): { label: string; description: string; icon: string; color: string; contextValue: string } {
  let [icon, color] = STATE_ICON[row.state] ?? STATE_ICON.active;
  let description = `${row.masked} · ${row.today} today`;
  let context: string = row.state;
  if (row.state === 'cooling' && row.coolingUntil) {
    description += ` · cools for ${formatRemaining(row.coolingUntil - now)}`;
  } else if (row.state === 'active') {
    // A 429 is usually for one model: the key still serves others, and the row says which it does not.
    const models = coolingModels(row, now);
    if (models.length > 0) {
      [icon, color] = STATE_ICON.cooling;
      context = 'cooling';
      const more = models.length > 1 ? ` (+${models.length - 1} more)` : '';
      description += ` · ${models[0].model} cools ${formatRemaining(models[0].until - now)}${more}`;
    }
  }
  if (row.overBudget && isOverBudget(row, now) && row.state !== 'invalid' && row.state !== 'discarded') {
    [icon, color] = STATE_ICON.cooling;
    description += ` · over budget, back in ${formatRemaining(row.overBudget.until - now)}`;
  }
  if (row.state === 'invalid') description += ' · invalid';
  if (row.state === 'discarded') description += ' · discarded';
  return { label: row.label, description, icon, color, contextValue: `key:${context}` };
}

/**
 * The tree's first row when the pool shares its state: the store (password masked), the pool's
 * name, and whether it is reachable; a warning while it is not (KeyRelay serves on local state).
 */
export function renderShared(s: SharedStoreSummary): {
  label: string;
  description: string;
  tooltip: string;
  icon: string;
  color: string;
} {
  const ok = s.state === 'connected' || s.state === 'connecting';
  const state =
    s.state === 'no-secret' ? 'no team secret' : s.state === 'down' ? 'down: serving on local state' : s.state;
  return {
    label: 'Shared state',
    description: `${state} · ${s.store} · pool ${s.pool}`,
    tooltip: sharedLine(s),
    icon: ok ? 'database' : 'warning',
    color: s.state === 'connected' ? 'charts.green' : ok ? 'charts.blue' : 'charts.yellow',
  };
}

/**
 * Providers → (accounts →) keys, in first-seen order; one pass over the rows (a spread per row
 * made this quadratic: 235 ms at 10,000 keys).
 */
export function groupKeys(rows: readonly KeyRow[], providerName: (id: string) => string): KeyNode[] {
  type Leaf = Extract<KeyNode, { kind: 'key' }>;
  const providers = new Map<string, { keys: KeyRow[]; accounts: Map<string, Leaf[]>; loose: Leaf[] }>();
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    let p = providers.get(row.providerId);
    if (!p) providers.set(row.providerId, (p = { keys: [], accounts: new Map(), loose: [] }));
    p.keys.push(row);
    const leaf: Leaf = { kind: 'key', row, index };
    if (!row.account) {
      p.loose.push(leaf);
      continue;
    }
    const mates = p.accounts.get(row.account);
    if (mates) mates.push(leaf);
    else p.accounts.set(row.account, [leaf]);
  }
  return [...providers].map(([providerId, p]): KeyNode => ({
    kind: 'provider',
    providerId,
    name: providerName(providerId),
    keys: p.keys,
    children: [
      ...[...p.accounts].map(([account, leaves]): KeyNode => ({
        kind: 'account',
        providerId,
        account,
        keys: leaves.map((l) => l.row),
        children: leaves,
      })),
      ...p.loose,
    ],
  }));
}
