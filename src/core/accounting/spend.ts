/**
 * Money spent per key in the current UTC day and month: what budgets are checked against. Kept by
 * Stats (fed by `recordAttempt`, saved and loaded with the counters) so a restart keeps today's
 * spend; a period that has ended counts as 0 without any timer. "Reset Statistics" leaves it be:
 * money spent stays spent.
 */
import type { KeySpend } from './counterTypes';
import { entries } from './counters';

/** The UTC day and month that contain a time, and when each ends (the next period's first millisecond). */
export interface UtcPeriod {
  /** `2026-12-06` */
  readonly day: string;
  /** `2026-12` */
  readonly month: string;
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

export class SpendLedger {
  private readonly byKey = new Map<string, KeySpend>();
  private readonly periods = new PeriodClock();

  /**
   * Adds `usd` to the key's day and month that contain `now`, and returns the key's record: handed
   * back as `s` next time, it spares the lookup (Stats keeps it with the key's counters). Records
   * live until `load` replaces them all.
   */
  add(keyId: string, usd: number, now: number, s = this.byKey.get(keyId)): KeySpend | undefined {
    if (!(usd > 0) || !Number.isFinite(usd)) return s;
    const { day, month } = this.periods.at(now);
    if (!s) this.byKey.set(keyId, (s = { day, dayUsd: 0, month, monthUsd: 0 }));
    if (s.day !== day) [s.day, s.dayUsd] = [day, 0];
    if (s.month !== month) [s.month, s.monthUsd] = [month, 0];
    s.dayUsd += usd;
    s.monthUsd += usd;
    return s;
  }

  /** The key's spend in the day and month that contain `now` (0 for a period with none). */
  spent(keyId: string, now: number): { dayUsd: number; monthUsd: number } {
    const s = this.byKey.get(keyId);
    if (!s) return { dayUsd: 0, monthUsd: 0 };
    const { day, month } = this.periods.at(now);
    return { dayUsd: s.day === day ? s.dayUsd : 0, monthUsd: s.month === month ? s.monthUsd : 0 };
  }

  toJSON(): Record<string, KeySpend> {
    return Object.fromEntries(this.byKey);
  }

  /** Restores what `toJSON` wrote; unreadable entries are skipped. */
  load(json: unknown): void {
    this.byKey.clear();
    for (const [id, v] of entries(json)) {
      const o = v as Partial<KeySpend> | null;
      const usd = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0);
      if (typeof o?.day !== 'string' || typeof o.month !== 'string') continue;
      this.byKey.set(id, { day: o.day, dayUsd: usd(o.dayUsd), month: o.month, monthUsd: usd(o.monthUsd) });
    }
  }
}
