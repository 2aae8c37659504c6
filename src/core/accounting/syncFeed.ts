/**
 * What a following window asks the leading one every second (DESIGN §7): only the keys whose
 * health or counts changed since its last question, so the poll stays cheap at 10,000 keys (the
 * full status document was 5.3 MB and ~450 ms of the leader's thread).
 */
import { toRecord } from '../pool/health';
import type { KeyPool, KeyView } from '../pool/keyPool';
import type { Transition } from '../types';
import type { Stats } from './stats';
import { costFigure } from './costReport';
import type { CostFigure } from './costReport';

/** Where a follower is: the leader's pool and stats revisions it has seen (0, 0 at first). */
export interface SyncCursor {
  pool: number;
  stats: number;
}

/** One key as a follower shows it: masked, with its health and today's counts. */
export interface SyncKey {
  id: string;
  providerId: string;
  label: string;
  masked: string;
  account?: string;
  state: KeyView['health']['state'];
  coolingUntil?: number;
  modelCooldowns: Record<string, number>;
  lastError?: string;
  /** The newest transitions, enough for a tooltip. */
  history: Transition[];
  today: number;
  attempts: number;
  successes: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  priced: number;
  unpriced: number;
  overBudget?: { until: number; reason: string };
}

/** The answer: the new cursor, whether it replaces everything, the changed keys, today's total. */
export interface SyncDoc {
  cursor: SyncCursor;
  whole: boolean;
  at: number;
  requestsToday: number;
  /** Cost since the leader's counters started (null: nothing priced yet). */
  cost: CostFigure;
  keys: SyncKey[];
}

const HISTORY_SHOWN = 5;

/** Keys that changed after `since`, built from the pool's and the counters' change marks. */
export function buildSync(pool: KeyPool, stats: Stats, since: SyncCursor, now: number): SyncDoc {
  let health = pool.changesSince(since.pool);
  const counts = stats.changedSince(since.stats);
  const whole = health.whole || counts.whole;
  // New counters for everything (a new day, a reset): every key goes, not only the changed ones.
  if (whole && !health.whole) health = pool.changesSince(-1);
  const views = new Map<string, KeyView>(health.keys.map((k) => [k.id, k]));
  if (!whole) {
    for (const id of counts.ids) {
      if (views.has(id)) continue;
      const key = pool.get(id);
      const h = key && pool.health(id);
      if (key && h) views.set(id, { ...toRecord(key), health: h });
    }
  }
  const keys: SyncKey[] = [];
  for (const v of views.values()) {
    const c = stats.keySummary(v.id);
    const h = v.health;
    keys.push({
      id: v.id,
      providerId: v.providerId,
      label: v.label,
      masked: v.masked,
      ...(v.account ? { account: v.account } : {}),
      state: h.state,
      ...(h.coolingUntil !== undefined ? { coolingUntil: h.coolingUntil } : {}),
      modelCooldowns: h.modelCooldowns,
      ...(h.lastError !== undefined ? { lastError: h.lastError } : {}),
      ...(h.overBudget ? { overBudget: h.overBudget } : {}),
      history: h.history.slice(-HISTORY_SHOWN),
      ...c,
    });
  }
  return {
    cursor: { pool: health.revision, stats: counts.revision },
    whole,
    at: now,
    requestsToday: stats.requestsToday(),
    cost: costFigure(stats.totals().total),
    keys,
  };
}
