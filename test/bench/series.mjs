// The time series' budgets (issue 17): what counting adds to a request, that it allocates
// nothing, and its memory at 10,000 keys. The real Stats and TimeSeries, bundled from src/ on the
// fly with esbuild, in a process of their own started with --expose-gc.
//   node --expose-gc test/bench/series.mjs [--ops 1000000] [--rounds 5]   → prints BENCH_JSON {...}
// Per request the forwarder calls Stats.recordAttempt once per attempt and Stats.recordRequest once;
// each calls into the series once (series.attempt, series.request). The row times those two calls
// directly, at 10,000 keys over 12 providers (every key's hourly ring and the providers' minute
// rings warm), best of 5 batches per round; the note gives the whole Stats.record for context.
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { bundleFromSrc } from './lib.mjs';

const KEYS = 10_000;
const PROVIDERS = 12;

/** Records as the forwarder makes them: one per key, spread over the providers, built up front. */
function records() {
  const out = [];
  for (let i = 0; i < KEYS; i++)
    out.push({
      keyId: `k${i}`,
      providerId: `p${i % PROVIDERS}`,
      model: 'gpt-4o-mini',
      endpoint: '/chat/completions',
      ok: i % 17 !== 0,
      failure: i % 17 === 0 ? 'rate-limit' : undefined,
      status: i % 17 === 0 ? 429 : 200,
      latencyMs: 200 + (i % 900),
      ttfbMs: 50 + (i % 300),
      inputTokens: 20,
      outputTokens: 7,
    });
  return out;
}

const heap = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Memory the series holds at 10,000 keys after each was used (heap + array buffers, after GC). */
function memory(TimeSeries, recs) {
  const clock = { now: () => Date.now() };
  // Each key's slot is cached on the key's record in Stats, which exists without the series.
  const holders = recs.map(() => ({ slot: -1 }));
  const before = heap();
  const ts = new TimeSeries(clock);
  const now = Date.now();
  recs.forEach((r, i) => {
    ts.attempt(r, r.failure, holders[i], now);
    ts.request(r, r.failure, now);
  });
  const after = heap();
  return { bytes: after - before, arrays: ts.bytes, series: ts, holders };
}

/** ns per request of the two series calls, and the GCs seen while counting `ops` requests. */
function timeSeriesCalls(ts, recs, holders, ops) {
  const s = process.hrtime.bigint();
  // The time as Stats passes it: read once per request there (a new reading every 1,024 here,
  // so the minute rings roll during the run as they do under load).
  let now = Date.now();
  for (let i = 0; i < ops; i++) {
    const j = i % KEYS;
    const r = recs[j];
    if ((i & 1023) === 0) now = Date.now();
    ts.attempt(r, r.failure, holders[j], now);
    ts.request(r, r.failure, now);
  }
  return Number(process.hrtime.bigint() - s) / ops;
}

function timeStats(stats, recs, ops) {
  const s = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) stats.record(recs[i % KEYS]);
  return Number(process.hrtime.bigint() - s) / ops;
}

/** GCs that started while `fn` ran (entries arrive later, so they are matched by start time). */
async function gcsDuring(fn) {
  const seen = [];
  const obs = new PerformanceObserver((list) => seen.push(...list.getEntries().map((e) => e.startTime)));
  obs.observe({ entryTypes: ['gc'] });
  globalThis.gc();
  const t0 = performance.now();
  fn();
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return seen.filter((t) => t >= t0 && t <= t1).length;
}

export async function seriesBench({ ops = 1_000_000, rounds = 5 } = {}) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const { Stats, TimeSeries } = await bundleFromSrc(
    "export { Stats } from './src/core/accounting/stats';\nexport { TimeSeries } from './src/core/accounting/timeSeries';",
    'series',
  );
  const recs = records();
  const mem = memory(TimeSeries, recs);
  const ts = mem.series;
  const holders = mem.holders;
  const stats = new Stats({ now: () => Date.now() });
  for (let w = 0; w < 3; w++) {
    timeSeriesCalls(ts, recs, holders, ops / 4);
    timeStats(stats, recs, ops / 10);
  }
  const res = { seriesNs: [], statsNs: [], gcs: 0 };
  for (let r = 0; r < rounds; r++) {
    res.seriesNs.push(Math.min(...Array.from({ length: 5 }, () => timeSeriesCalls(ts, recs, holders, ops / 5))));
    res.statsNs.push(Math.min(...Array.from({ length: 5 }, () => timeStats(stats, recs, ops / 50))));
  }
  // Allocation-free: counting `ops` requests starts not a single GC.
  res.gcs = await gcsDuring(() => timeSeriesCalls(ts, recs, holders, ops));
  stats.dispose();
  return { ...res, ops, keys: KEYS, providers: PROVIDERS, memBytes: mem.bytes, arrayBytes: mem.arrays };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = process.argv.slice(2);
  const num = (n, d) => (a.includes(n) ? Number(a[a.indexOf(n) + 1]) : d);
  console.log(
    `BENCH_JSON ${JSON.stringify(await seriesBench({ ops: num('--ops', 1_000_000), rounds: num('--rounds', 5) }))}`,
  );
}
