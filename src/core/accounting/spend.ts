/**
 * Money spent per key in the current UTC day and month: what budgets are checked against. Kept by
 * Stats (fed by `recordAttempt`, saved and loaded with the counters) so a restart keeps today's
 * spend; a period that has ended counts as 0 without any timer. "Reset Statistics" leaves it be:
 * money spent stays spent.
 */
import type { KeySpend } from './counterTypes';
import { entries } from './counters';
import { LazyRecord } from '../config/lazyRecord';

/** The UTC day and month that contain a time, and when each ends (the next period's first millisecond). */
export interface UtcPeriod {
  /** `2026-12-06` */
  readonly day: string;
  /** `2026-12` */
  readonly month: string;
  /** The same two as numbers, 20261206 and 202612 (SpendLedger's rows). */
  readonly dayNo: number;
  readonly monthNo: number;
  readonly dayEnds: number;
  readonly monthEnds: number;
  /** Budgets' shared counter names for the two periods (`usd:2026-12-06`, `usd:2026-12`). */
  readonly dayField: string;
  readonly monthField: string;
  /** The day's first millisecond. */
  readonly from: number;
}

/** The period that contains `t`. */
export function utcPeriod(t: number): UtcPeriod {
  const d = new Date(t);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  const iso = d.toISOString();
  const p = { day: iso.slice(0, 10), month: iso.slice(0, 7) };
  return {
    ...p,
    dayNo: y * 10_000 + (m + 1) * 100 + day,
    monthNo: y * 100 + m + 1,
    from: Date.UTC(y, m, day),
    dayEnds: Date.UTC(y, m, day + 1),
    monthEnds: Date.UTC(y, m + 1, 1),
    dayField: `usd:${p.day}`,
    monthField: `usd:${p.month}`,
  };
}

/**
 * The period that contains `now`, worked out once per UTC day: the request path (spend, budgets,
 * shared counters) reads it with two comparisons instead of a Date and four strings per request.
 */
export class PeriodClock {
  private current = utcPeriod(0);

  at(now: number): UtcPeriod {
    const c = this.current;
    if (now >= c.from && now < c.dayEnds) return c;
    return (this.current = utcPeriod(now));
  }
}

/** Per key: the day it counts (`yyyymmdd`), the day's dollars, the month (`yyyymm`), the month's. */
const DAY = 0;
const DAY_USD = 1;
const MONTH = 2;
const MONTH_USD = 3;
const CELLS = 4;

/**
 * Each key's spend as four numbers of one Float64Array, in the order keys first spent. At 10,000
 * keys a record object per key, with its two dollar amounts in heap numbers of their own, was up
 * to three cache misses per priced request; a row of 32 bytes is one, and round-robin reads the
 * rows in order.
 */
export class SpendLedger {
  private cells = new Float64Array(0);
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly periods = new PeriodClock();

  /**
   * Adds `usd` to the key's day and month that contain `now`, and returns the key's row: handed
   * back as `row` next time, it spares the lookup (Stats keeps it with the key's counters). A row
   * that is not the key's (-1, or from before a `load`) is looked up again.
   */
  add(keyId: string, usd: number, now: number, row = -1): number {
    if (!(usd > 0) || !Number.isFinite(usd)) return row;
    if (row < 0 || this.ids[row] !== keyId) row = this.rowOf(keyId);
    const { dayNo, monthNo } = this.periods.at(now);
    const c = this.cells;
    const o = row * CELLS;
    if (c[o + DAY] !== dayNo) [c[o + DAY], c[o + DAY_USD]] = [dayNo, 0];
    if (c[o + MONTH] !== monthNo) [c[o + MONTH], c[o + MONTH_USD]] = [monthNo, 0];
    c[o + DAY_USD] += usd;
    c[o + MONTH_USD] += usd;
    return row;
  }

  /** The key's spend in the day and month that contain `now` (0 for a period with none). */
  spent(keyId: string, now: number): { dayUsd: number; monthUsd: number } {
    const row = this.index.get(keyId);
    if (row === undefined) return { dayUsd: 0, monthUsd: 0 };
    const { dayNo, monthNo } = this.periods.at(now);
    const c = this.cells;
    const o = row * CELLS;
    return {
      dayUsd: c[o + DAY] === dayNo ? c[o + DAY_USD] : 0,
      monthUsd: c[o + MONTH] === monthNo ? c[o + MONTH_USD] : 0,
    };
  }

  toJSON(): LazyRecord<string, KeySpend> {
    // Each row read when the writer reaches it (the cells may have grown by then).
    return new LazyRecord(this.ids, (id, row) => {
      const c = this.cells;
      const o = row * CELLS;
      return [
        id,
        {
          day: dayText(c[o + DAY]),
          dayUsd: c[o + DAY_USD],
          month: monthText(c[o + MONTH]),
          monthUsd: c[o + MONTH_USD],
        },
      ];
    });
  }

  /** Restores what `toJSON` wrote; unreadable entries are skipped. Rows handed out before are stale. */
  load(json: unknown): void {
    this.index.clear();
    this.ids.length = 0;
    this.cells = new Float64Array(0);
    for (const [id, v] of entries(json)) {
      const o = v as Partial<KeySpend> | null;
      const usd = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0);
      if (typeof o?.day !== 'string' || typeof o.month !== 'string') continue;
      const at = this.rowOf(id) * CELLS;
      this.cells.set([dayNumber(o.day), usd(o.dayUsd), monthNumber(o.month), usd(o.monthUsd)], at);
    }
  }

  /** The key's row, made on its first spend. */
  private rowOf(keyId: string): number {
    let row = this.index.get(keyId);
    if (row !== undefined) return row;
    row = this.ids.length;
    if ((row + 1) * CELLS > this.cells.length) {
      const next = new Float64Array(Math.max(64, 2 * (row + 1)) * CELLS);
      next.set(this.cells);
      this.cells = next;
    }
    this.index.set(keyId, row);
    this.ids.push(keyId);
    return row;
  }
}

/** `2026-12-06` → 20261206; anything else → 0, a day that never comes (its spend counts as 0). */
function dayNumber(day: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  return m ? Number(m[1]) * 10_000 + Number(m[2]) * 100 + Number(m[3]) : 0;
}

/** `2026-12` → 202612; anything else → 0. */
function monthNumber(month: string): number {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  return m ? Number(m[1]) * 100 + Number(m[2]) : 0;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const dayText = (n: number): string =>
  `${pad(Math.floor(n / 10_000), 4)}-${pad(Math.floor(n / 100) % 100, 2)}-${pad(n % 100, 2)}`;
const monthText = (n: number): string => `${pad(Math.floor(n / 100), 4)}-${pad(n % 100, 2)}`;
