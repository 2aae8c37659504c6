import { formatRemaining } from '../accounting/status';
import { formatUsd } from '../config/prices';
import { coolingModels, isFullyUsable, isOverBudget } from './keyRow';
import type { KeyRow } from './keyRow';
import { usableCount } from './viewModel';
import type { ViewModel } from './viewModel';
import type { SharedStoreSummary } from '../types';

/** What the status item shows for a view model (pure: tests and the e2e match the text). */
export function renderStatus(vm: ViewModel): { text: string; level: 'ok' | 'warning' | 'error'; summary: string } {
  const total = vm.keys.length;
  const usable = usableCount(vm);
  const serving = vm.role === 'leader' || vm.role === 'follower';
  if (!serving) {
    const why =
      vm.role === 'conflict'
        ? `port ${vm.port} is taken`
        : vm.role === 'starting'
          ? 'starting'
          : (vm.error ?? 'stopped');
    return {
      text: '$(key) KeyRelay off',
      level: vm.role === 'starting' ? 'ok' : 'error',
      summary: `KeyRelay proxy is off (${why})`,
    };
  }
  const text =
    total > 0 ? `$(key) KeyRelay ${usable}/${total} · ${vm.requestsToday}` : `$(key) KeyRelay ${usable}/${total}`;
  // No keys at all is the first-run state (requests pass through with the client's own key), not a failure.
  let level: 'ok' | 'warning' | 'error' =
    total === 0 ? 'ok' : usable === 0 ? 'error' : usable < total ? 'warning' : 'ok';
  const role = vm.role === 'follower' ? ' (served by another window)' : '';
  const shared = sharedStatus(vm.shared);
  if (shared.warn && level === 'ok') level = 'warning';
  return {
    text: text + shared.text,
    level,
    summary: `KeyRelay${role}: ${usable} of ${total} keys usable, ${vm.requestsToday} requests today${shared.summary}`,
  };
}

/**
 * The shared store in the status item: a database icon while connected; "shared down" (warning
 * colour) while KeyRelay serves on local state, until the store is back.
 */
function sharedStatus(s: SharedStoreSummary | undefined): { text: string; summary: string; warn: boolean } {
  if (!s) return { text: '', summary: '', warn: false };
  if (s.state === 'connected') return { text: ' $(database)', summary: `; state shared (pool ${s.pool})`, warn: false };
  const word = s.state === 'no-secret' ? 'no team secret' : s.state;
  const why = s.state === 'down' ? ', serving on local state' : '';
  return {
    text: ` · $(warning) shared ${word}`,
    summary: `; shared state ${word}${why}`,
    warn: s.state !== 'connecting',
  };
}

/**
 * What keeps keys from serving, one line per key, for the status item's tooltip:
 * `openai-2 sk-…2222: gpt-4o 12s, gpt-5 1m` for per-model cooldowns, `cooling 30s`, `invalid`.
 * At most `limit` lines, then how many more.
 */
export function notUsableLines(vm: ViewModel, limit = 8): string[] {
  const lines: string[] = [];
  let more = 0;
  for (const k of vm.keys) {
    if (isFullyUsable(k, vm.at)) continue;
    if (lines.length >= limit) {
      more++;
      continue;
    }
    let why: string = k.state;
    if (k.state === 'cooling' && k.coolingUntil) why = `cooling ${formatRemaining(k.coolingUntil - vm.at)}`;
    if (k.state === 'active' && k.overBudget && isOverBudget(k, vm.at)) {
      why = `over budget, back in ${formatRemaining(k.overBudget.until - vm.at)}`;
    } else if (k.state === 'active') {
      why = coolingModels(k, vm.at)
        .map((m) => `${m.model} ${formatRemaining(m.until - vm.at)}`)
        .join(', ');
    }
    lines.push(`${k.label} ${k.masked}: ${why}`);
  }
  if (more > 0) lines.push(`…and ${more} more`);
  return lines;
}

/** "$0.0123", "unknown", "$0.0123 (+2 requests of unknown cost)"; '' while nothing reported tokens. */
export function costWords(c: { costUsd: number | null; unpricedAttempts: number }): string {
  const unknown =
    c.unpricedAttempts > 0 ? `${c.unpricedAttempts} request${c.unpricedAttempts === 1 ? '' : 's'} of unknown cost` : '';
  if (c.costUsd === null) return unknown ? `unknown (${unknown}: no price for the model)` : '';
  return unknown ? `${formatUsd(c.costUsd)} (+${unknown})` : formatUsd(c.costUsd);
}

/** A key's cost line for its tooltip: "Cost: $0.0123" or "Cost: unknown (…)"; '' before any tokens. */
export function keyCostLine(row: KeyRow): string {
  const words = costWords({ costUsd: row.priced > 0 ? row.costUsd : null, unpricedAttempts: row.unpriced });
  return words ? `Cost: ${words}` : '';
}
