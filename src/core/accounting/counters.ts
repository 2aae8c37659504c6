/**
 * Request counter records (DESIGN §3): the live form kept per key, model, endpoint and in total,
 * how one request is added, the copies handed to views, and reading them back from disk.
 */
import type { FailureClass } from '../types';
import type { Counters, LiveCounters, RequestRecord } from './counterTypes';
import { ROW_FIELDS } from './keyRows';
import type { RowCounters } from './keyRows';

export type { Counters, LiveCounters, RequestRecord } from './counterTypes';

/**
 * Everything counted for one key, held on the pool's handle (CountersHolder) or found with one Map
 * lookup per request. Most keys serve one model, so the first model's counters sit here and a Map
 * exists only from a key's second model: separate per-key Maps (today, per-model) cost ~400 bytes
 * and three lookups per key.
 */
export interface KeyCounters {
  /** The key's attempt counters: a row of Stats' KeyRows (accounting/keyRows.ts). */
  all: RowCounters;
  /** `all`'s row, read here so the request path reaches it without touching `all`. */
  row: number;
  /** Requests since the day began (dailyResetHour). */
  today: number;
  model: string | undefined;
  /**
   * The first model's counters: `all` itself while every attempt of the key was for that model
   * (most keys), a copy of it from the first attempt for another model or for none. At 10,000
   * keys a second record per key was a cache miss per request (bench: 10,000 vs 3 keys).
   */
  modelCounters: LiveCounters | undefined;
  moreModels: Map<string, LiveCounters> | undefined;
  /** Stats' revision at this key's last count (a following window asks what changed). */
  rev: number;
  /** The key's place in the time series (accounting/timeSeries.ts), -1 until its first attempt. */
  slot: number;
  /** The key's row in Stats' SpendLedger (-1 before its first spend), kept so a priced attempt costs no lookup. */
  spend: number;
  /** The table of `all` (Stats starts a new one on reset and load): a held record of another is stale. */
  owner: object;
}

/** Model ids and endpoints come from clients: cap their length, and how many models a key keeps. */
export const MAX_NAME_LEN = 200;
const MAX_MODELS_PER_KEY = 200;
const OVERFLOW = '(other)';

/**
 * Something per key that outlives a request (the pool's KeyHandle): Stats keeps the key's record
 * on it, so an attempt is counted without a lookup by id (at 10,000 keys a cache miss or two).
 */
export interface CountersHolder {
  counters: unknown;
}

const LAST_USED_BASE = Date.UTC(2025, 0, 1);
export const toSec = (ms: number): number => Math.max(0, Math.floor((ms - LAST_USED_BASE) / 1000));
/** `toSec`'s seconds as milliseconds since the epoch again. */
export const fromSec = (sec: number): number => LAST_USED_BASE + sec * 1000;

/** One key's numbers as the views show them (`priced` / `unpriced`: attempts with a known / unknown cost). */
export interface KeySummary {
  today: number;
  attempts: number;
  successes: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  priced: number;
  unpriced: number;
}

export function emptyCounters(): LiveCounters {
  return {
    requests: 0,
    successes: 0,
    failures: undefined,
    inputTokens: 0,
    outputTokens: 0,
    latencyMsTotal: 0,
    ttfbMsTotal: 0,
    ttfbCount: 0,
    costUsd: 0,
    priced: 0,
    unpriced: 0,
    lastUsedSec: 0,
  };
}

export function newKeyCounters(all: RowCounters): KeyCounters {
  return {
    all,
    row: all.row,
    today: 0,
    model: undefined,
    modelCounters: undefined,
    moreModels: undefined,
    rev: 0,
    slot: -1,
    spend: -1,
    owner: all.table,
  };
}

/** A live copy of live counters (same shape as `emptyCounters`'). */
export function copyCounters(c: LiveCounters): LiveCounters {
  const n = emptyCounters();
  assignCounters(n, c);
  return n;
}

/** Sets `to`'s counts to `from`'s (copied: they share nothing after). */
export function assignCounters(to: LiveCounters, from: LiveCounters): void {
  for (const f of ROW_FIELDS) to[f] = from[f];
  to.failures = from.failures && { ...from.failures };
}

/** A snapshot copy, with "last used" back in milliseconds (field by field: `all` is a row's accessors). */
export function cloneCounters(c: LiveCounters): Counters {
  const out: Counters = {
    requests: c.requests,
    successes: c.successes,
    failures: { ...c.failures },
    inputTokens: c.inputTokens,
    outputTokens: c.outputTokens,
    latencyMsTotal: c.latencyMsTotal,
    ttfbMsTotal: c.ttfbMsTotal,
    ttfbCount: c.ttfbCount,
    costUsd: c.costUsd,
    priced: c.priced,
    unpriced: c.unpriced,
  };
  if (c.lastUsedSec > 0) out.lastUsed = fromSec(c.lastUsedSec);
  return out;
}

/** One key's per-model counters, name → counters (the inline first model, then the Map). */
export function modelEntries(k: KeyCounters): Array<[string, LiveCounters]> {
  const out: Array<[string, LiveCounters]> =
    k.model !== undefined && k.modelCounters ? [[k.model, k.modelCounters]] : [];
  if (k.moreModels) out.push(...k.moreModels);
  return out;
}

export function add(c: LiveCounters, r: RequestRecord, failure: FailureClass | undefined, now: number): void {
  c.requests++;
  if (r.ok) c.successes++;
  else if (failure) countFailure(c, failure);
  if (r.inputTokens) c.inputTokens += r.inputTokens;
  if (r.outputTokens) c.outputTokens += r.outputTokens;
  if (r.costUsd !== undefined) {
    c.costUsd += r.costUsd;
    c.priced++;
  } else if (r.inputTokens || r.outputTokens) c.unpriced++;
  c.latencyMsTotal += r.latencyMs;
  if (r.ttfbMs !== undefined) {
    c.ttfbMsTotal += r.ttfbMs;
    c.ttfbCount++;
  }
  c.lastUsedSec = toSec(now);
}

/** One more failure of class `failure`. */
export function countFailure(c: LiveCounters, failure: FailureClass): void {
  const f = (c.failures ??= {});
  f[failure] = (f[failure] ?? 0) + 1;
}

/** A failure without a class is classified from its status, so every failure is counted somewhere. */
export function classOf(r: RequestRecord): FailureClass | undefined {
  if (r.ok) return undefined;
  if (r.failure) return r.failure;
  const s = r.status;
  return s === 429
    ? 'rate-limit'
    : s === 401 || s === 403
      ? 'auth'
      : s === 402
        ? 'quota'
        : s >= 500
          ? 'server'
          : s >= 400
            ? 'client'
            : 'network';
}

/** The own entries of a parsed JSON object; nothing for anything else. */
export function entries(x: unknown): Array<[string, unknown]> {
  return typeof x === 'object' && x !== null ? Object.entries(x) : [];
}

export function toCounters(x: unknown): LiveCounters | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  const c = emptyCounters();
  for (const f of ROW_FIELDS) if (f !== 'lastUsedSec') c[f] = num(o[f]); // validated on its own below
  for (const [k, v] of entries(o.failures)) if (num(v)) (c.failures ??= {})[k as FailureClass] = num(v);
  if (typeof o.lastUsedSec === 'number' && Number.isInteger(o.lastUsedSec) && o.lastUsedSec > 0)
    c.lastUsedSec = o.lastUsedSec;
  else if (typeof o.lastUsed === 'number') c.lastUsedSec = toSec(o.lastUsed);
  return c;
}

/**
 * The key's counters for `model` (none for an attempt without one), capped at MAX_MODELS_PER_KEY
 * names (the rest share one). Asked before `all` counts the attempt: a first model that shares
 * `all` (KeyCounters.modelCounters) is split off as it stands when another model, or none, comes.
 */
export function modelCountersFor(k: KeyCounters, model: string | undefined): LiveCounters | undefined {
  const shared = k.modelCounters === k.all;
  if (!model) {
    if (shared) k.modelCounters = copyCounters(k.all);
    return undefined;
  }
  if (k.model === model && k.modelCounters) return k.modelCounters;
  const name = model.slice(0, MAX_NAME_LEN);
  if (k.model === undefined) {
    k.model = name;
    return (k.modelCounters = k.all.requests === 0 ? k.all : emptyCounters());
  }
  if (k.model === name && k.modelCounters) return k.modelCounters;
  if (shared) k.modelCounters = copyCounters(k.all);
  return bucket((k.moreModels ??= new Map()), name, MAX_MODELS_PER_KEY - 1);
}

/** The counters named `name` in `m`, made on first sight; past `cap` names, the overflow's. */
export function bucket(m: Map<string, LiveCounters>, name: string, cap: number): LiveCounters {
  let c = m.get(name);
  if (c) return c;
  if (m.size >= cap) name = OVERFLOW;
  c = m.get(name);
  if (!c) m.set(name, (c = emptyCounters()));
  return c;
}
