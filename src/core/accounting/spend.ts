/**
 * Money spent per key in the current UTC day and month: what budgets are checked against. Kept by
 * Stats (fed by `recordAttempt`, saved and loaded with the counters) so a restart keeps today's
 * spend; a period that has ended counts as 0 without any timer. "Reset Statistics" leaves it be:
 * money spent stays spent.
 */
import { entries } from './counters';

/** The UTC day (`2026-12-06`) and month (`2026-12`) that contain `t`. */
export function utcPeriods(t: number): { day: string; month: string } {
  const iso = new Date(t).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}

/** When the UTC day and month that contain `t` end (the next period's first millisecond). */
export function periodEnds(t: number): { day: number; month: number } {
  const d = new Date(t);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  return { day: Date.UTC(y, m, day + 1), month: Date.UTC(y, m + 1, 1) };
}

interface KeySpend {
  day: string;
  dayUsd: number;
  month: string;
  monthUsd: number;
}

export class SpendLedger {
  private readonly byKey = new Map<string, KeySpend>();
  /** The UTC day `add` last saw, reused until it ends: no Date or string per request. */
  private today = { from: 0, until: 0, day: '', month: '' };

  /** Adds `usd` to the key's day and month that contain `now`. */
  add(keyId: string, usd: number, now: number): void {
    if (!(usd > 0) || !Number.isFinite(usd)) return;
    let t = this.today;
    if (now < t.from || now >= t.until) {
      const d = new Date(now);
      const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      this.today = t = { from, until: from + 86_400_000, ...utcPeriods(now) };
    }
    const { day, month } = t;
    let s = this.byKey.get(keyId);
    if (!s) this.byKey.set(keyId, (s = { day, dayUsd: 0, month, monthUsd: 0 }));
    if (s.day !== day) [s.day, s.dayUsd] = [day, 0];
    if (s.month !== month) [s.month, s.monthUsd] = [month, 0];
    s.dayUsd += usd;
    s.monthUsd += usd;
  }

  /** The key's spend in the day and month that contain `now` (0 for a period with none). */
  spent(keyId: string, now: number): { dayUsd: number; monthUsd: number } {
    const s = this.byKey.get(keyId);
    if (!s) return { dayUsd: 0, monthUsd: 0 };
    const { day, month } = utcPeriods(now);
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
