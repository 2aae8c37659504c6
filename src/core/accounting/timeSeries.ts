/**
 * Counts over time per provider and per key (issue 17), fed by Stats on every attempt and client
 * request. Fixed-size rings: per provider one bucket a minute for 24 h and one a day for 35 days;
 * per key one an hour for 24 h, and one a minute for the 16 busiest keys of the last hour. Counting
 * is O(1) and allocates nothing (a new key or provider grows an array, amortised). Memory:
 * 248 KB per provider, 29 KB per busy key, 480 bytes per key plus 24 bytes of totals and ~60
 * bytes of id maps: at 10,000 keys and 12 providers at most 10 MB (test/bench checks it).
 */
import type { Clock, FailureClass } from '../types';
import type { RequestRecord } from './counters';
import {
  BUSY_KEYS,
  D,
  DAYS,
  HOUR_MS,
  HOURS,
  K,
  KT,
  MAX_PROVIDERS,
  MINUTE_MS,
  MINUTES,
  outcomeOf,
  P,
  T,
} from './seriesFields';
import { latencyBucket, Tier } from './seriesTier';

const OVERFLOW_PROVIDER = '(other)';

/** The local day number (days since 1970-01-01 in local time) of `t`, and when it ends. */
export function localDay(t: number): { day: number; endsAt: number } {
  const d = new Date(t);
  return {
    day: Math.round(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) / 86_400_000),
    endsAt: new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime(),
  };
}

/** A key's place in the per-key arrays, cached by the caller (Stats keeps it on the key's record). */
export interface SlotHolder {
  slot: number;
}

export class TimeSeries {
  /** Per provider: minutes (24 h) and local days (35). */
  readonly provMin = new Tier(MINUTES, P.count, 4);
  readonly provDay = new Tier(DAYS, D.count, 4, true);
  /** Per provider since the start: latency histograms, sums and counts for /keyrelay/metrics. */
  provTotals = new Float64Array(0);
  /** Per key: hours (24 h), 256 keys to a chunk; per busy key: minutes (24 h). */
  readonly keyHour = new Tier(HOURS, K.count, 256);
  readonly keyMin = new Tier(MINUTES, K.count, BUSY_KEYS);
  /** Per key since the start: cost and priced attempts. */
  keyTotals = new Float64Array(0);
  /** Key slot → its busy (minute) slot or -1; busy slot → key slot or -1. */
  fineOf = new Int32Array(0);
  readonly busyKey = new Int32Array(BUSY_KEYS).fill(-1);
  /** Client requests per provider and HTTP status, since the start (status 499: the client left). */
  readonly statuses = new Map<number, Map<number, number>>();

  private readonly providerIndex = new Map<string, number>();
  private readonly providerNames: string[] = [];
  private readonly keyIndex = new Map<string, number>();
  private readonly keyIds: string[] = [];
  private nextMinuteAt = -Infinity;
  private nextDayAt = -Infinity;
  /** Bumped on every count: the dashboard and followers skip work while it stands still. */
  revision = 0;

  constructor(private readonly clock: Clock) {
    this.keyMin.ensure(BUSY_KEYS);
  }

  /**
   * One upstream attempt with a key (`r.keyId`): its provider's and its key's counts. O(1), and
   * nothing allocated: `now` comes from the caller, which read the clock already (a fresh time
   * read here was a heap number per call).
   */
  attempt(r: RequestRecord, failure: FailureClass | undefined, holder: SlotHolder, now: number): void {
    if (now >= this.nextMinuteAt) this.roll(now);
    const p = this.provider(r.providerId);
    const kind = outcomeOf(failure);
    const tin = r.inputTokens ?? 0;
    const tout = r.outputTokens ?? 0;
    const priced = r.costUsd !== undefined && r.costUsd >= 0 && Number.isFinite(r.costUsd);
    const micro = priced ? Math.round(r.costUsd! * 1e6) : 0;
    const pm = this.provMin.cells(p);
    const o = this.provMin.at(p, 0);
    pm[o + P.attempts]++;
    pm[o + P.outcome + kind]++;
    pm[o + P.tokensIn] += tin;
    pm[o + P.tokensOut] += tout;
    const pd = this.provDay.cells(p);
    const od = this.provDay.at(p, 0);
    pd[od + D.attempts]++;
    if (kind === 0) pd[od + D.ok]++;
    else if (kind === 1) pd[od + D.rateLimited]++;
    pd[od + D.tokensIn] += tin;
    pd[od + D.tokensOut] += tout;
    if (priced) {
      pm[o + P.cost] += micro;
      pm[o + P.priced]++;
      pd[od + D.cost] += micro;
      pd[od + D.priced]++;
    }
    const keyId = r.keyId ?? '';
    let slot = holder.slot;
    if (slot < 0 || this.keyIds[slot] !== keyId) slot = holder.slot = this.keySlot(keyId);
    this.countKey(this.keyHour, slot, kind, tin + tout, micro);
    let fine = this.fineOf[slot];
    if (fine < 0) fine = this.claimBusy(slot);
    if (fine >= 0) this.countKey(this.keyMin, fine, kind, tin + tout, micro);
    if (priced) {
      this.keyTotals[slot * KT.count + KT.cost] += micro;
      this.keyTotals[slot * KT.count + KT.priced]++;
    }
    this.revision++;
  }

  /** One client request: its provider's request and error counts, latency, and its status. O(1). */
  request(r: RequestRecord, failure: FailureClass | undefined, now: number): void {
    if (now >= this.nextMinuteAt) this.roll(now);
    const p = this.provider(r.providerId);
    const failed = failure !== undefined || !r.ok;
    const pm = this.provMin.cells(p);
    const o = this.provMin.at(p, 0);
    pm[o + P.requests]++;
    const pd = this.provDay.cells(p);
    const od = this.provDay.at(p, 0);
    pd[od + D.requests]++;
    if (failed) {
      pm[o + P.requestErrors]++;
      pd[od + D.requestErrors]++;
    }
    // Upstream latency: requests a key (or the client's own key) answered, not KeyRelay's own refusals.
    if (failure !== 'local' && r.status > 0) {
      const t = this.provTotals;
      const ot = p * T.count;
      const total = latencyBucket(r.latencyMs);
      pm[o + P.total + total]++;
      t[ot + T.total + total]++;
      t[ot + T.totalSumMs] += r.latencyMs;
      t[ot + T.totalCount]++;
      if (r.ttfbMs !== undefined) {
        const ttfb = latencyBucket(r.ttfbMs);
        pm[o + P.ttfb + ttfb]++;
        t[ot + T.ttfb + ttfb]++;
        t[ot + T.ttfbSumMs] += r.ttfbMs;
        t[ot + T.ttfbCount]++;
      }
    }
    const status = failure === 'aborted' ? 499 : r.status;
    let byStatus = this.statuses.get(p);
    if (!byStatus) this.statuses.set(p, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.revision++;
  }

  /** Provider ids in index order (the index is a series number in provMin/provDay/provTotals). */
  providers(): readonly string[] {
    return this.providerNames;
  }

  /** Key ids in slot order. */
  keys(): readonly string[] {
    return this.keyIds;
  }

  /** The slot of a key already counted, or undefined. */
  slotOf(keyId: string): number | undefined {
    return this.keyIndex.get(keyId);
  }

  /** Moves every ring to now (readers call it so an idle proxy's charts still move on). */
  catchUp(): void {
    const now = this.clock.now();
    if (now >= this.nextMinuteAt) this.roll(now);
  }

  /** Bytes held by the arrays (the stated memory bound; the Maps of ids come on top). */
  get bytes(): number {
    return (
      this.provMin.bytes +
      this.provDay.bytes +
      this.provTotals.byteLength +
      this.keyHour.bytes +
      this.keyMin.bytes +
      this.keyTotals.byteLength +
      this.fineOf.byteLength +
      this.busyKey.byteLength
    );
  }

  /** Forgets everything ("Reset Statistics"). */
  reset(): void {
    for (const t of [this.provMin, this.provDay, this.keyHour, this.keyMin]) t.reset();
    this.provTotals.fill(0);
    this.keyTotals.fill(0);
    this.fineOf.fill(-1);
    this.busyKey.fill(-1);
    this.statuses.clear();
    this.providerIndex.clear();
    this.providerNames.length = 0;
    this.keyIndex.clear();
    this.keyIds.length = 0;
    this.nextMinuteAt = this.nextDayAt = -Infinity;
    this.revision++;
  }

  /** The series number of a provider, made on first sight. */
  provider(id: string): number {
    const p = this.providerIndex.get(id);
    if (p !== undefined) return p;
    if (this.providerNames.length >= MAX_PROVIDERS - 1 && id !== OVERFLOW_PROVIDER)
      return this.provider(OVERFLOW_PROVIDER);
    const n = this.providerNames.length;
    this.providerIndex.set(id, n);
    this.providerNames.push(id);
    this.provMin.ensure(n + 1);
    this.provDay.ensure(n + 1);
    if (this.provTotals.length < this.provMin.size * T.count) {
      const next = new Float64Array(this.provMin.size * T.count);
      next.set(this.provTotals);
      this.provTotals = next;
    }
    return n;
  }

  /** The slot of a key, made on first sight. */
  keySlot(id: string): number {
    const s = this.keyIndex.get(id);
    if (s !== undefined) return s;
    const n = this.keyIds.length;
    this.keyIndex.set(id, n);
    this.keyIds.push(id);
    this.keyHour.ensure(n + 1);
    if (this.fineOf.length <= n) {
      const fine = new Int32Array(Math.max(64, 2 * n)).fill(-1);
      fine.set(this.fineOf);
      this.fineOf = fine;
      const totals = new Float64Array(fine.length * KT.count);
      totals.set(this.keyTotals);
      this.keyTotals = totals;
    }
    return n;
  }

  /** Moves the rings to `now`: a new minute, hour or day zeroes the bucket it enters. */
  private roll(now: number): void {
    const minute = Math.floor(now / MINUTE_MS);
    this.provMin.advance(minute);
    this.keyMin.advance(minute);
    const hour = Math.floor(now / HOUR_MS);
    if (hour > this.keyHour.head) {
      const first = this.keyHour.head < 0;
      this.keyHour.advance(hour);
      if (!first) this.rebalanceBusy();
    }
    if (now >= this.nextDayAt) {
      const d = localDay(now);
      this.provDay.advance(d.day);
      this.nextDayAt = d.endsAt;
    }
    this.nextMinuteAt = (minute + 1) * MINUTE_MS;
  }

  private countKey(tier: Tier, series: number, kind: number, tokens: number, micro: number): void {
    const d = tier.cells(series);
    const o = tier.at(series, 0);
    d[o + K.attempts]++;
    if (kind === 0) d[o + K.ok]++;
    else if (kind === 1) d[o + K.rateLimited]++;
    d[o + K.tokens] += tokens;
    d[o + K.cost] += micro;
  }

  /** A free minute slot for a key that has none, while any is free (the first keys to be used). */
  private claimBusy(slot: number): number {
    const busy = this.busyKey;
    for (let i = 0; i < busy.length; i++) {
      if (busy[i] < 0) {
        busy[i] = slot;
        this.fineOf[slot] = i;
        this.keyMin.clearSeries(i);
        return i;
      }
    }
    return -1;
  }

  /**
   * Once an hour: the minute slots go to the keys with the most attempts in the hour that just
   * ended. A key keeps its minutes until a busier one needs its slot (then its hours remain).
   */
  private rebalanceBusy(): void {
    const hour = this.keyHour;
    const lastHour = (s: number): number => {
      const o = hour.offsetAt(s, 1);
      return o < 0 ? 0 : hour.cells(s)[o + K.attempts];
    };
    const ranked: Array<[number, number]> = [];
    for (let s = 0; s < this.keyIds.length; s++) {
      const n = lastHour(s);
      if (n > 0) ranked.push([s, n]);
    }
    ranked.sort((a, b) => b[1] - a[1]);
    const top = ranked.slice(0, BUSY_KEYS).map(([s]) => s);
    const wanted = new Set(top);
    const newcomers = top.filter((s) => this.fineOf[s] < 0);
    const victims = [...this.busyKey.keys()]
      .filter((i) => this.busyKey[i] >= 0 && !wanted.has(this.busyKey[i]))
      .sort((a, b) => lastHour(this.busyKey[a]) - lastHour(this.busyKey[b]));
    for (const s of newcomers) {
      if (this.claimBusy(s) >= 0) continue;
      const i = victims.shift();
      if (i === undefined) break;
      this.fineOf[this.busyKey[i]] = -1;
      this.busyKey[i] = -1;
      this.claimBusy(s);
    }
  }
}
