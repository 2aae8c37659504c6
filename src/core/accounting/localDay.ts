/**
 * Stats' "today": a local calendar day that starts at `dailyResetHour`:00 local time. Date does the
 * DST and month-end arithmetic.
 */

/** 0–23, anything else (NaN, 24, -5) means "never reset" (-1). */
export function normHour(h: number | undefined): number {
  return h !== undefined && Number.isInteger(h) && h >= 0 && h <= 23 ? h : -1;
}

/** The local date (YYYY-MM-DD) whose "day" contains `t`, days starting at `hour`:00 (-1: midnight). */
export function localDayOf(t: number, hour: number): string {
  const d = new Date(t);
  const h = Math.max(0, hour);
  const shifted = d.getHours() < h ? new Date(d.getFullYear(), d.getMonth(), d.getDate() - 1) : d;
  return `${shifted.getFullYear()}-${String(shifted.getMonth() + 1).padStart(2, '0')}-${String(shifted.getDate()).padStart(2, '0')}`;
}

/** The first `hour`:00 local time strictly after `t`. */
export function localBoundaryAfter(t: number, hour: number): number {
  const d = new Date(t);
  const b = new Date(d.getFullYear(), d.getMonth(), d.getDate(), hour, 0, 0, 0).getTime();
  return b > t ? b : new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1, hour, 0, 0, 0).getTime();
}
