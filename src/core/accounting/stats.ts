import {
  add,
  assignCounters,
  bucket,
  classOf,
  cloneCounters,
  countFailure,
  emptyCounters,
  entries,
  MAX_NAME_LEN,
  modelCountersFor,
  modelEntries,
  newKeyCounters,
  toCounters,
  toSec,
} from './counters';
import { KeyRows } from './keyRows';
import { LazyRecord } from '../config/lazyRecord';
import type { Counters, CountersHolder, KeyCounters, KeySummary, LiveCounters, RequestRecord } from './counters';
import { Emitter } from '../events';
import { localBoundaryAfter, localDayOf, normHour } from './localDay';
import { SpendLedger } from './spend';
import { seriesFromJSON, seriesToJSON } from './seriesJson';
import { TimeSeries } from './timeSeries';
import type { Disposable, Event } from '../events';
import type { Clock } from '../types';

export type { Counters, CountersHolder, KeyCounters, KeySummary, RequestRecord } from './counters';

/** A copy of all counters, safe to hand to views and status JSON. */
export interface StatsSnapshot {
  since: number;
  total: Counters;
  byKey: Record<string, Counters>;
  byKeyModel: Record<string, Record<string, Counters>>;
  byEndpoint: Record<string, Counters>;
  today: { day: string; byKey: Record<string, number> };
}

const VERSION = 1;
const THROTTLE_MS = 250;
/** Endpoints come from clients: cap how many distinct ones we keep. */
const MAX_ENDPOINTS = 100;

/** A null-prototype record, so ids like `__proto__` from clients stay plain keys. */
function record<V>(entries: Iterable<[string, V]>): Record<string, V> {
  const o = Object.create(null) as Record<string, V>;
  for (const [k, v] of entries) o[k] = v;
  return o;
}

/**
 * Request counters per key, key × model and endpoint, plus today's per-key request counts.
 * `record` is O(1): one Map lookup for the endpoint and one for the key. "Today" is the local
 * calendar day shifted by `dailyResetHour`: with H the day rolls at H:00 local time; -1 never
 * rolls (the first day's label stays).
 * Only key ids are stored, never key text.
 */
export class Stats implements Disposable {
  private readonly _onDidChange = new Emitter<void>();
  /** Fires at most every 250 ms after changes (for views and persistence). */
  readonly onDidChange: Event<void> = this._onDidChange.event;
  private readonly _onDidRollDay = new Emitter<string>();
  /** A new day began (at dailyResetHour): "today" counts restart, so do least-used's. */
  readonly onDidRollDay: Event<string> = this._onDidRollDay.event;

  private since: number;
  private total = emptyCounters();
  private byKey = new Map<string, KeyCounters>();
  private byEndpoint = new Map<string, LiveCounters>();
  private day = '';
  private todayTotal = 0;
  /** When the current day ends; checked on every access instead of running a timer. */
  private nextRollAt = Infinity;
  private resetHour: number;
  private timer: NodeJS.Timeout | undefined;
  private rev = 0;
  private wholeRev = 0;
  /** The key counted last: a request's attempt and then the request are counted back to back. */
  private lastId: string | undefined;
  private lastCounters: KeyCounters | undefined;
  /** Every key's `all`, a row each (keyRows.ts). A new table on reset and load: records held from before are stale. */
  private rows = new KeyRows();
  /** Counts over time per provider and key (the dashboard, `/keyrelay/metrics`); fed by the two record calls. */
  readonly series: TimeSeries;
  /** Money spent per key this UTC day and month (budgets); fed by `recordAttempt`, saved with the counters. */
  readonly spend = new SpendLedger();

  constructor(
    /** Read once per count unless the caller hands over the time it read from this same clock. */
    readonly clock: Clock,
    opts: { dailyResetHour?: number } = {},
  ) {
    this.since = clock.now();
    this.series = new TimeSeries(clock);
    this.resetHour = normHour(opts.dailyResetHour);
    this.startDay(this.since);
  }

  /**
   * Counts one upstream attempt with a key: the key's and key × model's counters, over which its
   * success rate, tokens and latency are reckoned. O(1). `now`: this Stats' clock, read by a caller
   * that read `this.clock` just before (the proxy, when its clock is this one): one read fewer.
   * `holder`: where this key's record is kept between requests (CountersHolder).
   */
  recordAttempt(r: RequestRecord, now = this.clock.now(), holder?: CountersHolder): void {
    if (r.keyId === undefined) return;
    const failure = classOf(r);
    const k = this.keyCounters(r.keyId, holder);
    const m = modelCountersFor(k, r.model);
    this.rows.count(k.row, r, toSec(now));
    if (!r.ok && failure) countFailure(k.all, failure);
    if (m !== undefined && m !== k.all) add(m, r, failure, now);
    this.series.attempt(r, failure, k, now);
    if (r.costUsd) k.spend = this.spend.add(r.keyId, r.costUsd, now, k.spend);
    k.rev = ++this.rev;
    this.changed();
  }

  /**
   * Counts one client request, however many attempts it took: the totals, its endpoint, "today",
   * and the key that answered it (`keyId`, absent when none did). O(1). `now`: as for `recordAttempt`.
   */
  recordRequest(r: RequestRecord, now = this.clock.now()): void {
    this.roll(now);
    const failure = classOf(r);
    add(this.total, r, failure, now);
    const q = r.endpoint.indexOf('?'); // none in the proxy's path: the slice is the string itself, no copy
    const endpoint = r.endpoint.slice(0, Math.min(q < 0 ? Infinity : q, MAX_NAME_LEN));
    add(bucket(this.byEndpoint, endpoint, MAX_ENDPOINTS), r, failure, now);
    this.series.request(r, failure, now);
    this.todayTotal++;
    if (r.keyId !== undefined) {
      const k = this.keyCounters(r.keyId);
      k.today++;
      k.rev = ++this.rev;
    }
    this.changed();
  }

  /** A request answered by its first attempt: `recordAttempt` and `recordRequest` in one. */
  record(r: RequestRecord): void {
    this.recordAttempt(r);
    this.recordRequest(r);
  }

  /** A counter bumped by every count (see `keysChangedSince`). */
  get revision(): number {
    return this.rev;
  }

  /**
   * Ids of the keys counted after revision `since` (one pass over the keys, no copies), or
   * `whole` when every count changed since then (reset, a new day, counters loaded).
   */
  changedSince(since: number): { revision: number; whole: boolean; ids: string[] } {
    const whole = since < this.wholeRev || since > this.rev;
    const ids: string[] = [];
    for (const [id, k] of this.byKey) if (whole || k.rev > since) ids.push(id);
    return { revision: this.rev, whole, ids };
  }

  /** One key's attempt counters and requests today, read in place (copied fields only). */
  keySummary(id: string): KeySummary {
    const k = this.byKey.get(id);
    if (!k)
      return {
        today: 0,
        attempts: 0,
        successes: 0,
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
        priced: 0,
        unpriced: 0,
      };
    const { requests, successes, inputTokens, outputTokens, costUsd, priced, unpriced } = k.all;
    return { today: k.today, attempts: requests, successes, inputTokens, outputTokens, costUsd, priced, unpriced };
  }

  /** A copy of one key's counters. */
  forKey(id: string): Counters | undefined {
    const k = this.byKey.get(id);
    return k && k.all.requests > 0 ? cloneCounters(k.all) : undefined;
  }

  /** Requests today for one key, or for everything (keyless passthrough included) without an id. */
  requestsToday(id?: string): number {
    this.roll(this.clock.now());
    return id === undefined ? this.todayTotal : (this.byKey.get(id)?.today ?? 0);
  }

  /**
   * Every key's live counters by key id, not copied (the views and `/keyrelay/status` at 10,000+
   * keys look keys up here instead of copying all of them): read at once, never keep or change.
   */
  liveKeys(): ReadonlyMap<string, Readonly<KeyCounters>> {
    this.roll(this.clock.now());
    return this.byKey;
  }

  /** The counters that are not per key (totals, per endpoint, since when), copied. */
  totals(): Pick<StatsSnapshot, 'since' | 'total' | 'byEndpoint'> {
    this.roll(this.clock.now());
    return {
      since: this.since,
      total: cloneCounters(this.total),
      byEndpoint: record([...this.byEndpoint].map(([k, c]) => [k, cloneCounters(c)] as [string, Counters])),
    };
  }

  /** A deep copy of every counter. */
  snapshot(): StatsSnapshot {
    this.roll(this.clock.now());
    const copy = (m: Iterable<[string, LiveCounters]>) =>
      record([...m].map(([k, c]) => [k, cloneCounters(c)] as [string, Counters]));
    const keys = [...this.byKey];
    return {
      since: this.since,
      total: cloneCounters(this.total),
      byKey: copy(this.counted(keys)),
      byKeyModel: record(
        this.withModels(keys).map(([id, k]) => [id, copy(modelEntries(k))] as [string, Record<string, Counters>]),
      ),
      byEndpoint: copy(this.byEndpoint),
      today: { day: this.day, byKey: this.todayRecord(keys) },
    };
  }

  /** Zeroes every counter ("Reset Statistics"). */
  reset(): void {
    this.since = this.clock.now();
    this.total = emptyCounters();
    this.byKey.clear();
    this.rows = new KeyRows();
    this.byEndpoint.clear();
    this.series.reset();
    this.startDay(this.since);
    this.changed();
  }

  /** Changes the hour the day rolls at (0–23, -1 = never); today's counts restart if the day changed. */
  setDailyResetHour(hour: number): void {
    const h = normHour(hour);
    if (h === this.resetHour) return;
    this.resetHour = h;
    const now = this.clock.now();
    if (h < 0) {
      this.nextRollAt = Infinity;
      return;
    }
    const day = this.dayOf(now);
    if (day !== this.day) this.startDay(now);
    else this.nextRollAt = this.boundaryAfter(now);
    this.changed();
  }

  /** Persistable form, sharing the live counters; per-key records made as they are written: serialize at once. */
  toJSON(): unknown {
    this.roll(this.clock.now());
    const keys = this.byKey;
    return {
      version: VERSION,
      since: this.since,
      total: this.total,
      byKey: new LazyRecord(keys, ([id, k]) => (k.all.requests > 0 ? [id, k.all] : undefined)),
      byKeyModel: new LazyRecord(keys, ([id, k]) =>
        k.model !== undefined ? [id, record(modelEntries(k))] : undefined,
      ),
      byEndpoint: record(this.byEndpoint),
      today: { day: this.day, byKey: this.todayRecord([...keys]) },
      series: seriesToJSON(this.series),
      spend: this.spend.toJSON(),
    };
  }

  /**
   * Restores counters saved by `toJSON`. Anything unreadable (corrupt file, unknown version) gives
   * fresh stats rather than an error: losing counters must never stop the proxy from starting.
   */
  static fromJSON(clock: Clock, json: unknown, opts?: { dailyResetHour?: number }): Stats {
    const s = new Stats(clock, opts);
    s.load(json);
    return s;
  }

  /**
   * Replaces every counter with ones saved by `toJSON` (a window taking over the proxy adopts
   * the leader's saved counters). Returns false, changing nothing, when `json` is unreadable.
   */
  load(json: unknown): boolean {
    if (typeof json !== 'object' || json === null || (json as { version?: unknown }).version !== VERSION) return false;
    this.startDay(this.clock.now());
    const j = json as Record<string, unknown>;
    const map = (x: unknown) =>
      new Map(
        entries(x).flatMap(([k, v]) => {
          const c = toCounters(v);
          return c ? [[k, c] as [string, LiveCounters]] : [];
        }),
      );
    if (typeof j.since === 'number') this.since = j.since;
    this.total = toCounters(j.total) ?? emptyCounters();
    this.byEndpoint = map(j.byEndpoint);
    if (!seriesFromJSON(this.series, j.series)) this.series.reset();
    this.spend.load(j.spend);
    this.byKey = new Map();
    this.rows = new KeyRows();
    for (const [id, c] of map(j.byKey)) assignCounters(this.keyCounters(id).all, c);
    for (const [id, v] of entries(j.byKeyModel)) {
      const k = this.keyCounters(id);
      for (const [model, c] of map(v)) {
        if (k.model === undefined) [k.model, k.modelCounters] = [model, c];
        else (k.moreModels ??= new Map()).set(model, c);
      }
    }
    const today = j.today as { day?: unknown; byKey?: unknown } | undefined;
    // Today's counts carry over only while it is still the same day (or the day never rolls).
    if (today && typeof today.day === 'string' && (this.resetHour < 0 || today.day === this.day)) {
      this.day = today.day;
      for (const [id, v] of entries(today.byKey)) {
        if (typeof v === 'number' && v > 0) {
          this.keyCounters(id).today = v;
          this.todayTotal += v;
        }
      }
    }
    this.changed();
    return true;
  }

  /** Stops the throttle timer and drops listeners. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this._onDidChange.dispose();
    this._onDidRollDay.dispose();
  }

  /** The key's record, made on its first request (or first loaded count). */
  private keyCounters(id: string, holder?: CountersHolder): KeyCounters {
    // No lookup for a held record, one per request otherwise: at 10,000 keys each is a cache miss or two.
    let k = holder?.counters as KeyCounters | undefined;
    if (k?.owner !== this.rows) {
      k = id === this.lastId && this.lastCounters?.owner === this.rows ? this.lastCounters : this.byKey.get(id);
      if (!k) this.byKey.set(id, (k = newKeyCounters(this.rows.add())));
      if (holder) holder.counters = k;
    }
    this.lastId = id;
    this.lastCounters = k;
    return k;
  }

  /** Keys that served a request (a key known only from a loaded "today" count has none). */
  private counted(keys: Array<[string, KeyCounters]>): Array<[string, LiveCounters]> {
    return keys.flatMap(([id, k]) => (k.all.requests > 0 ? [[id, k.all] as [string, LiveCounters]] : []));
  }

  private withModels(keys: Array<[string, KeyCounters]>): Array<[string, KeyCounters]> {
    return keys.filter(([, k]) => k.model !== undefined);
  }

  private todayRecord(keys: Array<[string, KeyCounters]>): Record<string, number> {
    return record(keys.flatMap(([id, k]) => (k.today > 0 ? [[id, k.today] as [string, number]] : [])));
  }

  private changed(): void {
    // Trailing throttle: one fire per 250 ms window however many requests land in it.
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this._onDidChange.fire();
    }, THROTTLE_MS);
    this.timer.unref();
  }

  private startDay(now: number): void {
    this.wholeRev = ++this.rev;
    this.day = this.dayOf(now);
    for (const k of this.byKey.values()) k.today = 0;
    this.todayTotal = 0;
    this.nextRollAt = this.resetHour < 0 ? Infinity : this.boundaryAfter(now);
  }

  private roll(now: number): void {
    if (now < this.nextRollAt) return;
    this.startDay(now);
    this.changed();
    this._onDidRollDay.fire(this.day);
  }

  private dayOf(t: number): string {
    return localDayOf(t, this.resetHour);
  }

  private boundaryAfter(t: number): number {
    return localBoundaryAfter(t, this.resetHour);
  }
}
