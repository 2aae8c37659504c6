/**
 * The time series saved with the state (CLI state.json, the editor's globalState), so a restart
 * keeps the day. Only buckets with a count are written, as short strings: `age:v,v,,v;age:…`
 * (age in steps before the saved head, zeros left empty, trailing zeros dropped).
 */
import { entries } from './counters';
import { BUSY_KEYS, KT, T } from './seriesFields';
import type { Tier } from './seriesTier';
import type { TimeSeries } from './timeSeries';

const VERSION = 1;

/** One series of a tier as a string of its non-empty buckets. */
function encode(tier: Tier, series: number): string {
  const parts: string[] = [];
  const d = tier.cells(series);
  for (let age = 0; age < tier.slots; age++) {
    const o = tier.offsetAt(series, age);
    if (o < 0) break;
    let last = -1;
    for (let f = 0; f < tier.fields; f++) if (d[o + f] !== 0) last = f;
    if (last < 0) continue;
    let s = `${age}:`;
    for (let f = 0; f <= last; f++) s += `${f ? ',' : ''}${d[o + f] || ''}`;
    parts.push(s);
  }
  return parts.join(';');
}

/** Writes a string from `encode` back into `series` (the tier's head already set); bad parts are skipped. */
function decode(tier: Tier, series: number, text: unknown): void {
  if (typeof text !== 'string' || text === '') return;
  for (const part of text.split(';')) {
    const [ageText, values] = part.split(':', 2);
    const o = tier.offsetAt(series, Number(ageText));
    if (o < 0 || values === undefined || !/^\d+$/.test(ageText)) continue;
    const v = values.split(',');
    for (let f = 0; f < v.length && f < tier.fields; f++) {
      const n = v[f] === '' ? 0 : Number(v[f]);
      if (Number.isFinite(n) && n >= 0) tier.cells(series)[o + f] = n;
    }
  }
}

const numbers = (x: unknown, n: number): number[] | undefined =>
  Array.isArray(x) && x.length === n && x.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)
    ? (x as number[])
    : undefined;

/** The persistable form of `ts` (a fresh object; safe to keep). */
export function seriesToJSON(ts: TimeSeries): unknown {
  ts.catchUp();
  const providers: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  ts.providers().forEach((id, p) => {
    const statuses = Object.fromEntries(ts.statuses.get(p) ?? []);
    providers[id] = {
      min: encode(ts.provMin, p),
      day: encode(ts.provDay, p),
      totals: Array.from(ts.provTotals.subarray(p * T.count, (p + 1) * T.count)),
      statuses,
    };
  });
  const keys: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  ts.keys().forEach((id, s) => {
    const h = encode(ts.keyHour, s);
    const fine = ts.fineOf[s];
    const m = fine >= 0 ? encode(ts.keyMin, fine) : '';
    const t = Array.from(ts.keyTotals.subarray(s * KT.count, (s + 1) * KT.count));
    if (!h && !m && !t.some(Boolean)) return;
    keys[id] = { h, ...(m ? { m } : {}), ...(t.some(Boolean) ? { t } : {}) };
  });
  const heads = { min: ts.provMin.head, hour: ts.keyHour.head, day: ts.provDay.head };
  return { version: VERSION, heads, providers, keys };
}

/**
 * Replaces `ts`'s counts with saved ones. Anything unreadable is dropped, never thrown: losing the
 * charts must not stop the proxy from starting. Returns false when nothing could be read.
 */
export function seriesFromJSON(ts: TimeSeries, json: unknown): boolean {
  const j = json as { version?: unknown; heads?: Record<string, unknown>; providers?: unknown; keys?: unknown };
  if (typeof j !== 'object' || j === null || j.version !== VERSION || typeof j.heads !== 'object' || !j.heads)
    return false;
  const head = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : -1);
  ts.reset();
  for (const [id, v] of entries(j.providers)) {
    const p = ts.provider(id);
    const o = v as Record<string, unknown>;
    ts.provMin.head = head(j.heads.min);
    ts.provDay.head = head(j.heads.day);
    decode(ts.provMin, p, o.min);
    decode(ts.provDay, p, o.day);
    const totals = numbers(o.totals, T.count);
    if (totals) ts.provTotals.set(totals, p * T.count);
    const statuses = new Map<number, number>();
    for (const [code, n] of entries(o.statuses))
      if (/^\d{1,3}$/.test(code) && typeof n === 'number' && n > 0) statuses.set(Number(code), n);
    if (statuses.size) ts.statuses.set(p, statuses);
  }
  let busy = 0;
  for (const [id, v] of entries(j.keys)) {
    const s = ts.keySlot(id);
    const o = v as Record<string, unknown>;
    ts.keyHour.head = head(j.heads.hour);
    ts.keyMin.head = head(j.heads.min);
    decode(ts.keyHour, s, o.h);
    if (typeof o.m === 'string' && busy < BUSY_KEYS) {
      ts.fineOf[s] = busy;
      ts.busyKey[busy] = s;
      decode(ts.keyMin, busy++, o.m);
    }
    const t = numbers(o.t, KT.count);
    if (t) ts.keyTotals.set(t, s * KT.count);
  }
  return true;
}
