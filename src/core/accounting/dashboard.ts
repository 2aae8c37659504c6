/**
 * What the dashboard shows (issue 17): the charts of the time series and one page of the key
 * table, sorted and filtered here so the webview never holds 10,000 rows. The same document is
 * built in process for the window that serves the proxy and answered by `GET /keyrelay/series`
 * for the windows that follow it. Keys appear masked; the document never holds key text.
 */
import type { ProviderCatalogue } from '../config/providers';
import type { KeyPool } from '../pool/keyPool';
import type { HealthView } from '../pool/health';
import type { KeyRecord, KeyState, SharedStoreSummary } from '../types';
import type { KeyCounters } from './counters';
import { charts, keyChart, keyDay, RANGES } from './seriesQuery';
import type { Charts, SeriesRange } from './seriesQuery';
import type { Stats } from './stats';

export const SORTS = [
  'label',
  'provider',
  'state',
  'requests',
  'success',
  'tokens',
  'cost',
  'cooldown',
  'error',
] as const;
export type SortKey = (typeof SORTS)[number];

/** Which page of the key table, in which order, and which key's own chart. */
export interface DashboardQuery {
  range: SeriesRange;
  sort: SortKey;
  dir: 'asc' | 'desc';
  offset: number;
  limit: number;
  /** Case-insensitive text matched against label, masked key, provider, account, state and last error. */
  filter: string;
  key?: string;
}

export const DEFAULT_QUERY: Readonly<DashboardQuery> = Object.freeze({
  range: '1h',
  sort: 'requests',
  dir: 'desc',
  offset: 0,
  limit: 50,
  filter: '',
});
const MAX_LIMIT = 500;

/** One key table row: masked key, health, counters (since start), last 24 h sparkline, cost. */
export interface DashboardRow {
  id: string;
  label: string;
  masked: string;
  providerId: string;
  provider: string;
  account?: string;
  state: KeyState;
  /** Cooldowns still running when the document was made: whole key (`model` absent) and per model. */
  cooldowns: Array<{ model?: string; until: number }>;
  requests: number;
  today: number;
  /** Successes per attempt, null before the first attempt. */
  successRate: number | null;
  tokensIn: number;
  tokensOut: number;
  costUsd: number | null;
  lastError?: string;
  /** Attempts per hour over the last 24 h, oldest first. */
  spark: number[];
}

export interface DashboardDoc {
  /** When it was made (the cooldown countdowns count from here). */
  at: number;
  charts: Charts;
  /** Provider id → display name. */
  providerNames: Record<string, string>;
  summary: { keys: number; usable: number; cooling: number; invalid: number; discarded: number; requestsToday: number };
  table: { total: number; query: DashboardQuery; rows: DashboardRow[] };
  /** The chosen key's attempts over time (per minute when it is among the busiest, else per hour). */
  keyChart?: { id: string } & ReturnType<typeof keyChart>;
  /** The shared state store when the pool shares its state (issue 18): which, and whether it is reachable. */
  shared?: SharedStoreSummary;
}

/** Reads a query from URL parameters (or a webview message), each bad value falling back to the default. */
export function parseQuery(get: (name: string) => string | null | undefined): DashboardQuery {
  const int = (name: string, d: number, max: number) => {
    const n = Number(get(name) ?? d);
    return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, max) : d;
  };
  const pick = <T extends string>(v: string | null | undefined, options: readonly T[], d: T): T =>
    options.includes(v as T) ? (v as T) : d;
  const key = get('key');
  return {
    range: pick(get('range'), Object.keys(RANGES) as SeriesRange[], DEFAULT_QUERY.range),
    sort: pick(get('sort'), SORTS, DEFAULT_QUERY.sort),
    dir: pick(get('dir'), ['asc', 'desc'] as const, DEFAULT_QUERY.dir),
    offset: int('offset', 0, 10_000_000),
    limit: Math.max(1, int('limit', DEFAULT_QUERY.limit, MAX_LIMIT)),
    filter: (get('filter') ?? '').slice(0, 200),
    ...(key ? { key: key.slice(0, 200) } : {}),
  };
}

interface Entry {
  key: Readonly<KeyRecord>;
  h: HealthView;
  c: KeyCounters | undefined;
  provider: string;
}

function sortValue(e: Entry, sort: SortKey, stats: Stats): string | number {
  const all = e.c?.all;
  switch (sort) {
    case 'label':
      return e.key.label.toLowerCase();
    case 'provider':
      return e.provider.toLowerCase();
    case 'state':
      return STATE_ORDER[e.h.state] * 2 + (e.h.modelCooldowns.size > 0 ? 1 : 0);
    case 'requests':
      return all?.requests ?? 0;
    case 'success':
      return all && all.requests > 0 ? all.successes / all.requests : -1;
    case 'tokens':
      return all ? all.inputTokens + all.outputTokens : 0;
    case 'cost':
      return keyDay(stats.series, e.key.id).costUsd ?? -1;
    case 'cooldown':
      return soonestCooldown(e.h) ?? Infinity;
    default:
      return (e.h.lastError ?? '').toLowerCase();
  }
}

const STATE_ORDER: Record<KeyState, number> = { cooling: 0, invalid: 1, discarded: 2, active: 3 };

function soonestCooldown(h: HealthView): number | undefined {
  let t = h.state === 'cooling' ? h.coolingUntil : undefined;
  for (const until of h.modelCooldowns.values()) t = t === undefined ? until : Math.min(t, until);
  return t;
}

function matches(e: Entry, needle: string): boolean {
  if (!needle) return true;
  const k = e.key;
  return [k.label, k.masked, e.provider, k.providerId, k.account ?? '', e.h.state, e.h.lastError ?? ''].some((s) =>
    s.toLowerCase().includes(needle),
  );
}

function toRow(e: Entry, stats: Stats): DashboardRow {
  const { key: k, h, c } = e;
  const day = keyDay(stats.series, k.id);
  const cooldowns: DashboardRow['cooldowns'] = [];
  if (h.state === 'cooling' && h.coolingUntil !== undefined) cooldowns.push({ until: h.coolingUntil });
  for (const [model, until] of h.modelCooldowns) cooldowns.push({ model, until });
  const all = c?.all;
  return {
    id: k.id,
    label: k.label,
    masked: k.masked,
    providerId: k.providerId,
    provider: e.provider,
    ...(k.account ? { account: k.account } : {}),
    state: h.state,
    cooldowns,
    requests: all?.requests ?? 0,
    today: c?.today ?? 0,
    successRate: all && all.requests > 0 ? all.successes / all.requests : null,
    tokensIn: all?.inputTokens ?? 0,
    tokensOut: all?.outputTokens ?? 0,
    costUsd: day.costUsd,
    ...(h.lastError ? { lastError: h.lastError } : {}),
    spark: day.spark,
  };
}

/** Builds the dashboard document: charts for the range, one sorted and filtered page of keys. */
export function buildDashboard(
  d: { pool: KeyPool; stats: Stats; catalogue: ProviderCatalogue; shared?: () => SharedStoreSummary | undefined },
  q: DashboardQuery,
): DashboardDoc {
  const live = d.stats.liveKeys();
  const names = new Map<string, string>();
  const nameOf = (id: string): string => {
    let n = names.get(id);
    if (n === undefined) names.set(id, (n = d.catalogue.get(id)?.name ?? id));
    return n;
  };
  const summary = { keys: 0, usable: 0, cooling: 0, invalid: 0, discarded: 0, requestsToday: d.stats.requestsToday() };
  const needle = q.filter.trim().toLowerCase();
  const sorted: Array<{ e: Entry; v: string | number }> = [];
  const at = d.pool.forEachKey((key, h) => {
    summary.keys++;
    if (h.state === 'active' && h.modelCooldowns.size === 0) summary.usable++;
    if (h.state === 'cooling' || (h.state === 'active' && h.modelCooldowns.size > 0)) summary.cooling++;
    if (h.state === 'invalid') summary.invalid++;
    if (h.state === 'discarded') summary.discarded++;
    const e: Entry = { key, h, c: live.get(key.id), provider: nameOf(key.providerId) };
    // The pool's objects are read only during this visit: rows are built here, for the page only.
    if (matches(e, needle)) sorted.push({ e: { ...e, key: snapshotKey(key), h: snapshotHealth(h) }, v: 0 });
  });
  for (const s of sorted) s.v = sortValue(s.e, q.sort, d.stats);
  const sign = q.dir === 'asc' ? 1 : -1;
  sorted.sort((a, b) => sign * (a.v < b.v ? -1 : a.v > b.v ? 1 : a.e.key.label.localeCompare(b.e.key.label)));
  const rows = sorted.slice(q.offset, q.offset + q.limit).map((s) => toRow(s.e, d.stats));
  const c = charts(d.stats.series, q.range);
  for (const p of c.providers) nameOf(p.id);
  const key = q.key && d.pool.get(q.key) ? { id: q.key, ...keyChart(d.stats.series, q.key) } : undefined;
  const shared = d.shared?.();
  return {
    at,
    charts: c,
    providerNames: Object.fromEntries(names),
    summary,
    table: { total: sorted.length, query: q, rows },
    ...(key ? { keyChart: key } : {}),
    ...(shared ? { shared: sharedSummary(shared) } : {}),
  };
}

/** The store's summary without anything else a status holds (its counters stay out of the document). */
export function sharedSummary(s: SharedStoreSummary): SharedStoreSummary {
  const { store, pool, state, since, pending, lastError } = s;
  return { store, pool, state, since, pending, ...(lastError ? { lastError } : {}) };
}

/** The record fields a row needs, copied (the pool's object also holds the secret). */
function snapshotKey(k: Readonly<KeyRecord>): KeyRecord {
  return {
    id: k.id,
    providerId: k.providerId,
    label: k.label,
    masked: k.masked,
    addedAt: k.addedAt,
    account: k.account,
  };
}

function snapshotHealth(h: HealthView): HealthView {
  return {
    state: h.state,
    coolingUntil: h.coolingUntil,
    modelCooldowns: h.modelCooldowns.size ? new Map(h.modelCooldowns) : h.modelCooldowns,
    lastError: h.lastError,
    history: [],
    inFlight: h.inFlight,
  };
}
