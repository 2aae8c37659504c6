/**
 * Every key's attempt counters (its `all`) in one Float64Array, a row of numbers per key. At
 * 10,000 keys the request path reached a key's counters through three objects of its own (the
 * key's record, its counters, the heap number that held its cost), each a cache miss, and more
 * of them than the 3-key process: 0.91× of its throughput (test/bench/README.md, "10,000 keys
 * against 3"). Rows sit in the order keys were first counted, which round-robin repeats, so the
 * next key's row is usually already on its way into the cache. Views, status and the saved file
 * read a row through `RowCounters`, which looks like any other `LiveCounters`.
 */
import type { FailureClass } from '../types';
import type { LiveCounters, RequestRecord } from './counterTypes';

/** The numbers of `LiveCounters`, in the order they are saved and copied. */
export const ROW_FIELDS = [
  'requests',
  'successes',
  'inputTokens',
  'outputTokens',
  'latencyMsTotal',
  'ttfbMsTotal',
  'ttfbCount',
  'costUsd',
  'priced',
  'unpriced',
  'lastUsedSec',
] as const;

/** Numbers per row: the fields, padded to 96 bytes. */
export const ROW = 12;
const [REQUESTS, SUCCESSES, TOKENS_IN, TOKENS_OUT, LATENCY, TTFB, TTFB_COUNT, COST, PRICED, UNPRICED, LAST_USED] =
  ROW_FIELDS.keys();

/** The rows, grown by doubling; a reset or a load starts a new table (rows handed out before keep the old one). */
export class KeyRows {
  data = new Float64Array(0);
  private used = 0;

  /** A new zeroed row, and its counters. */
  add(): RowCounters {
    if ((this.used + 1) * ROW > this.data.length) {
      const next = new Float64Array(Math.max(64, 2 * (this.used + 1)) * ROW);
      next.set(this.data);
      this.data = next;
    }
    return new RowCounters(this, this.used++);
  }

  /** Counts one attempt into row `row`, as `add` (counters.ts) does into an object; failures are the caller's. */
  count(row: number, r: RequestRecord, lastUsedSec: number): void {
    const d = this.data;
    const o = row * ROW;
    d[o + REQUESTS]++;
    if (r.ok) d[o + SUCCESSES]++;
    if (r.inputTokens) d[o + TOKENS_IN] += r.inputTokens;
    if (r.outputTokens) d[o + TOKENS_OUT] += r.outputTokens;
    if (r.costUsd !== undefined) {
      d[o + COST] += r.costUsd;
      d[o + PRICED]++;
    } else if (r.inputTokens || r.outputTokens) d[o + UNPRICED]++;
    d[o + LATENCY] += r.latencyMs;
    if (r.ttfbMs !== undefined) {
      d[o + TTFB] += r.ttfbMs;
      d[o + TTFB_COUNT]++;
    }
    d[o + LAST_USED] = lastUsedSec;
  }
}

/** One key's row as `LiveCounters`: its numbers are accessors on the table (defined below, one per field). */
export class RowCounters implements LiveCounters {
  declare requests: number;
  declare successes: number;
  declare inputTokens: number;
  declare outputTokens: number;
  declare latencyMsTotal: number;
  declare ttfbMsTotal: number;
  declare ttfbCount: number;
  declare costUsd: number;
  declare priced: number;
  declare unpriced: number;
  declare lastUsedSec: number;
  failures: Partial<Record<FailureClass, number>> | undefined = undefined;

  constructor(
    readonly table: KeyRows,
    /** The row's index in its table. */
    readonly row: number,
  ) {}

  /** The saved form: a plain `LiveCounters` (accessors on a prototype are not serialized). */
  toJSON(): LiveCounters {
    const o = { failures: this.failures } as LiveCounters;
    for (const f of ROW_FIELDS) o[f] = this[f];
    return o;
  }
}
for (const [i, f] of ROW_FIELDS.entries())
  Object.defineProperty(RowCounters.prototype, f, {
    get(this: RowCounters): number {
      return this.table.data[this.row * ROW + i];
    },
    set(this: RowCounters, v: number): void {
      this.table.data[this.row * ROW + i] = v;
    },
  });
