// Table rows for the time series' budgets (series.mjs's BENCH_JSON): issue 17.
import { median, minMax } from './lib.mjs';
import { fmt, valueRow } from './report.mjs';

/** Stated bound: the series at 10,000 keys over 12 providers (see src/core/accounting/timeSeries.ts). */
export const SERIES_MEMORY_MB = 10;
/** Budget: what counting a request in the series may add. */
export const SERIES_NS = 1000;

export function seriesRows(s) {
  if (!s || s.error)
    return [
      valueRow({
        scenario: 'time series (10,000 keys)',
        metric: 'ns/req, MB',
        goal: `< ${SERIES_NS} ns, ≤ ${SERIES_MEMORY_MB} MB`,
        pass: false,
        note: s?.error ?? 'no result',
      }),
    ];
  const [lo, hi] = minMax(s.seriesNs);
  const mb = s.memBytes / 1e6;
  return [
    valueRow({
      scenario: 'time series: CPU added per request, 10,000 keys',
      metric: 'ns/req',
      keyrelay: median(s.seriesNs),
      ratio: `[${fmt(lo)}–${fmt(hi)}], ${s.seriesNs.length} rounds`,
      goal: `< ${fmt(SERIES_NS)} ns (1 µs)`,
      pass: median(s.seriesNs) < SERIES_NS,
      note: `series.attempt + series.request as Stats calls them, ${fmt(s.keys)} keys over ${s.providers} providers, best of 5 batches per round; the whole Stats.record (counters + series) ${fmt(median(s.statsNs))} ns`,
    }),
    valueRow({
      scenario: 'correctness: time series counting allocates nothing',
      metric: 'GCs',
      keyrelay: s.gcs,
      ratio: `${fmt(s.ops)} requests counted`,
      goal: '0 GCs',
      pass: s.gcs === 0,
    }),
    valueRow({
      scenario: 'time series memory, 10,000 keys × 12 providers',
      metric: 'MB after GC',
      keyrelay: mb,
      ratio: `typed arrays ${fmt(s.arrayBytes / 1e6)} MB + id maps`,
      goal: `≤ ${SERIES_MEMORY_MB} MB`,
      pass: mb <= SERIES_MEMORY_MB,
      note: 'every key used once: its hourly ring, 16 busy keys with minute rings, 12 providers with minute and day rings; V8 heap + array buffers after a forced GC, before vs after',
    }),
  ];
}
