/**
 * Reading the time series for charts (the dashboard, `keyrelay status --watch`): per provider over
 * the last hour, 6 hours or day in at most 96 points, per day over 35 days, and per key.
 */
import { D, DAYS, HOUR_MS, K, KT, MINUTE_MS, OUTCOMES, P } from './seriesFields';
import type { OutcomeKind } from './seriesFields';
import { HIST_BUCKETS, quantile } from './seriesTier';
import type { Tier } from './seriesTier';
import type { TimeSeries } from './timeSeries';

/** How far back a chart looks, and the width of its points. */
export const RANGES = {
  '1h': { minutes: 60, step: 1 },
  '6h': { minutes: 360, step: 5 },
  '24h': { minutes: 1_440, step: 15 },
} as const;
export type SeriesRange = keyof typeof RANGES;

/** One provider's points, oldest first; latency in ms, null where nothing was measured. */
export interface ProviderChart {
  id: string;
  requests: number[];
  errors: number[];
  attempts: number[];
  outcomes: Record<OutcomeKind, number[]>;
  ttfbP50: Array<number | null>;
  ttfbP95: Array<number | null>;
  totalP50: Array<number | null>;
  totalP95: Array<number | null>;
  tokensIn: number[];
  tokensOut: number[];
}

/** Per provider and local day: tokens, requests, and cost (null while no attempt had a price). */
export interface DayChart {
  id: string;
  requests: number[];
  rateLimited: number[];
  tokensIn: number[];
  tokensOut: number[];
  costUsd: Array<number | null>;
}

export interface Charts {
  range: SeriesRange;
  stepMs: number;
  /** Start of each point (ms since the epoch). */
  t: number[];
  providers: ProviderChart[];
  /** Local dates (YYYY-MM-DD), oldest first, and each provider's totals on them. */
  days: string[];
  perDay: DayChart[];
}

/** Sum of `field` over `n` buckets of `series` ending `age` steps before the head. */
function sumOver(tier: Tier, series: number, field: number, age: number, n: number): number {
  let sum = 0;
  for (let a = age; a < age + n; a++) {
    const o = tier.offsetAt(series, a);
    if (o >= 0) sum += tier.cells(series)[o + field];
  }
  return sum;
}

/** p50 and p95 of the histogram at `field` summed over a step's minutes, into a reused buffer. */
function percentiles(
  tier: Tier,
  at: { series: number; field: number; age: number; n: number },
  scratch: Float64Array,
): readonly [number | null, number | null] {
  scratch.fill(0);
  for (let a = at.age; a < at.age + at.n; a++) {
    const o = tier.offsetAt(at.series, a);
    const d = tier.cells(at.series);
    if (o >= 0) for (let b = 0; b < HIST_BUCKETS; b++) scratch[b] += d[o + at.field + b];
  }
  const round = (v: number | undefined) => (v === undefined ? null : Math.round(v));
  return [round(quantile(scratch, 0, 0.5)), round(quantile(scratch, 0, 0.95))];
}

function providerChart(ts: TimeSeries, id: string, p: number, range: SeriesRange): ProviderChart {
  const { minutes, step } = RANGES[range];
  const c: ProviderChart = {
    id,
    requests: [],
    errors: [],
    attempts: [],
    outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, [] as number[]])) as Record<OutcomeKind, number[]>,
    ttfbP50: [],
    ttfbP95: [],
    totalP50: [],
    totalP95: [],
    tokensIn: [],
    tokensOut: [],
  };
  const tier = ts.provMin;
  const scratch = new Float64Array(HIST_BUCKETS);
  for (let i = minutes / step - 1; i >= 0; i--) {
    const age = i * step;
    const sum = (f: number) => sumOver(tier, p, f, age, step);
    c.requests.push(sum(P.requests));
    c.errors.push(sum(P.requestErrors));
    c.attempts.push(sum(P.attempts));
    OUTCOMES.forEach((o, k) => c.outcomes[o].push(sum(P.outcome + k)));
    c.tokensIn.push(sum(P.tokensIn));
    c.tokensOut.push(sum(P.tokensOut));
    const [t50, t95] = percentiles(tier, { series: p, field: P.ttfb, age, n: step }, scratch);
    const [l50, l95] = percentiles(tier, { series: p, field: P.total, age, n: step }, scratch);
    c.ttfbP50.push(t50);
    c.ttfbP95.push(t95);
    c.totalP50.push(l50);
    c.totalP95.push(l95);
  }
  return c;
}

function dayChart(ts: TimeSeries, id: string, p: number): DayChart {
  const tier = ts.provDay;
  const c: DayChart = { id, requests: [], rateLimited: [], tokensIn: [], tokensOut: [], costUsd: [] };
  for (let age = DAYS - 1; age >= 0; age--) {
    const o = tier.offsetAt(p, age);
    const v = (f: number) => (o < 0 ? 0 : tier.cells(p)[o + f]);
    c.requests.push(v(D.requests));
    c.rateLimited.push(v(D.rateLimited));
    c.tokensIn.push(v(D.tokensIn));
    c.tokensOut.push(v(D.tokensOut));
    c.costUsd.push(v(D.priced) > 0 ? v(D.cost) / 1e6 : null);
  }
  return c;
}

/** The local date (YYYY-MM-DD) of a day number from `localDay`. */
export function dayLabel(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** Every provider's charts over `range` (providers in first-seen order; `only`: just these ids). */
export function charts(ts: TimeSeries, range: SeriesRange, only?: ReadonlySet<string>): Charts {
  ts.catchUp();
  const { minutes, step } = RANGES[range];
  const head = Math.max(0, ts.provMin.head) * MINUTE_MS;
  const t: number[] = [];
  for (let i = minutes / step - 1; i >= 0; i--) t.push(head - (i * step + step - 1) * MINUTE_MS);
  const ids = ts
    .providers()
    .map((id, p) => [id, p] as const)
    .filter(([id]) => !only || only.has(id));
  const dayHead = ts.provDay.head;
  const days: string[] = [];
  for (let age = DAYS - 1; age >= 0; age--) days.push(dayHead < 0 ? '' : dayLabel(dayHead - age));
  return {
    range,
    stepMs: step * MINUTE_MS,
    t,
    providers: ids.map(([id, p]) => providerChart(ts, id, p, range)),
    days,
    perDay: ids.map(([id, p]) => dayChart(ts, id, p)),
  };
}

/** One key's last 24 hours: attempts, successes, 429s, tokens and cost, with an hourly sparkline. */
export interface KeyDay {
  attempts: number;
  ok: number;
  rateLimited: number;
  /** Input and output tokens together. */
  tokens: number;
  /** USD since the start (or reset); null while no attempt of the key had a price. */
  costUsd: number | null;
  /** Attempts per hour, oldest first (24 points). */
  spark: number[];
}

const EMPTY_DAY: KeyDay = Object.freeze({
  attempts: 0,
  ok: 0,
  rateLimited: 0,
  tokens: 0,
  costUsd: null,
  spark: Object.freeze(new Array<number>(24).fill(0)) as number[],
}) as KeyDay;

/** A key's last 24 hours from its hourly buckets (a shared empty record for a key never used). */
export function keyDay(ts: TimeSeries, id: string): KeyDay {
  const s = ts.slotOf(id);
  if (s === undefined) return EMPTY_DAY;
  const tier = ts.keyHour;
  const spark: number[] = [];
  for (let age = tier.slots - 1; age >= 0; age--) {
    const o = tier.offsetAt(s, age);
    spark.push(o < 0 ? 0 : tier.cells(s)[o + K.attempts]);
  }
  const sum = (f: number) => sumOver(tier, s, f, 0, tier.slots);
  const priced = ts.keyTotals[s * KT.count + KT.priced];
  return {
    attempts: sum(K.attempts),
    ok: sum(K.ok),
    rateLimited: sum(K.rateLimited),
    tokens: sum(K.tokens),
    costUsd: priced > 0 ? ts.keyTotals[s * KT.count + KT.cost] / 1e6 : null,
    spark,
  };
}

/** One key's attempts over time: per minute for the last hour when it is among the busiest, else per hour. */
export function keyChart(
  ts: TimeSeries,
  id: string,
): { stepMs: number; t: number[]; attempts: number[]; ok: number[] } {
  ts.catchUp();
  const s = ts.slotOf(id);
  const fine = s === undefined ? -1 : ts.fineOf[s];
  const [tier, series, n, stepMs] = fine >= 0 ? [ts.keyMin, fine, 60, MINUTE_MS] : [ts.keyHour, s ?? -1, 24, HOUR_MS];
  const out = { stepMs, t: [] as number[], attempts: [] as number[], ok: [] as number[] };
  for (let age = n - 1; age >= 0; age--) {
    const o = series < 0 ? -1 : tier.offsetAt(series, age);
    out.t.push((Math.max(0, tier.head) - age) * stepMs);
    out.attempts.push(o < 0 ? 0 : tier.cells(series)[o + K.attempts]);
    out.ok.push(o < 0 ? 0 : tier.cells(series)[o + K.ok]);
  }
  return out;
}
