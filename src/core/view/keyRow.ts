/**
 * One key as the views show it (tree, status bar, dashboard, exports): never its secret. Built
 * from the local pool or from the leading window's status (src/core/view/viewModel.ts).
 */
import type { KeyState, Transition } from '../types';

/** One key as the tree and status bar show it: never the secret. */
export interface KeyRow {
  id: string;
  providerId: string;
  label: string;
  masked: string;
  account?: string;
  state: KeyState;
  coolingUntil?: number;
  /** Models this key is rate-limited for while the key itself is active: model → usable again at. */
  modelCooldowns: Record<string, number>;
  lastError?: string;
  history: Transition[];
  today: number;
  requests: number;
  successes: number;
  inputTokens: number;
  outputTokens: number;
  /** USD of the attempts whose model had a price (`priced`), and attempts of unknown cost (`unpriced`). */
  costUsd: number;
  priced: number;
  unpriced: number;
  /** Skipped for its budget until `until` (accounting/budgets.ts). */
  overBudget?: { until: number; reason: string };
}

/** One model a key is rate-limited for, while the key serves others. */
export interface ModelCooldown {
  model: string;
  /** Epoch ms when the key serves this model again. */
  until: number;
  /** Why, from the key's history (the provider's message, key text already masked). */
  reason?: string;
}

const NONE: readonly ModelCooldown[] = Object.freeze([]);

/** The models `row` is cooling for at `now`, soonest first, each with the reason it was recorded with. */
export function coolingModels(row: KeyRow, now: number): readonly ModelCooldown[] {
  // Most rows cool for no model: no array, no entries copied (10,000 rows per refresh).
  if (isFullyUsableFor(row.modelCooldowns, now)) return NONE;
  const out: ModelCooldown[] = [];
  for (const [model, until] of Object.entries(row.modelCooldowns)) {
    if (until <= now) continue;
    const t = row.history.findLast((h) => h.model === model && h.to === 'cooling');
    out.push({ model, until, ...(t ? { reason: t.reason } : {}) });
  }
  return out.sort((a, b) => a.until - b.until);
}

/** Whether the key serves every model now: active, within its budget and rate-limited for none. */
export function isFullyUsable(row: KeyRow, now: number): boolean {
  return row.state === 'active' && !isOverBudget(row, now) && isFullyUsableFor(row.modelCooldowns, now);
}

/** Whether the key is skipped for its budget at `now`. */
export function isOverBudget(row: KeyRow, now: number): boolean {
  return row.overBudget !== undefined && row.overBudget.until > now;
}

/** No model cooldown runs past `now` (a for-in: nothing allocated for the usual empty record). */
function isFullyUsableFor(cooldowns: Record<string, number>, now: number): boolean {
  for (const model in cooldowns) if (cooldowns[model] > now) return false;
  return true;
}
