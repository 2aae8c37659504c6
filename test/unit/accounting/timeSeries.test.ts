import * as assert from 'node:assert/strict';
import { Stats } from '../../../src/core/accounting/stats';
import type { RequestRecord } from '../../../src/core/accounting/stats';
import { charts, keyChart, keyDay } from '../../../src/core/accounting/seriesQuery';
import { BUSY_KEYS } from '../../../src/core/accounting/seriesFields';
import { latencyBucket, quantile, HIST_BUCKETS } from '../../../src/core/accounting/seriesTier';

const MIN = 60_000;
const HOUR = 3_600_000;
/** Local noon, so day boundaries do not fall inside a test in any time zone. */
const NOON = new Date(2025, 5, 10, 12, 0, 30).getTime();

const rec = (keyId: string | undefined, extra: Partial<RequestRecord> = {}): RequestRecord => ({
  keyId,
  providerId: 'openai',
  model: 'gpt-4o',
  endpoint: '/chat/completions',
  ok: true,
  status: 200,
  latencyMs: 800,
  ttfbMs: 120,
  inputTokens: 10,
  outputTokens: 5,
  ...extra,
});

suite('accounting: time series', () => {
  const all: Stats[] = [];
  const make = (t0 = NOON) => {
    const clock = { t: t0, now: () => clock.t };
    const stats = new Stats(clock);
    all.push(stats);
    return { clock, stats };
  };
  teardown(() => {
    for (const s of all.splice(0)) s.dispose();
  });

  test('counts attempts by outcome, requests, errors and tokens per provider and minute', () => {
    const { clock, stats } = make();
    stats.recordAttempt(rec('k1', { ok: false, failure: 'rate-limit', status: 429, inputTokens: 0, outputTokens: 0 }));
    stats.record(rec('k2'));
    stats.recordAttempt(rec('k2', { ok: false, failure: 'aborted', status: 200, inputTokens: 0, outputTokens: 0 }));
    stats.recordRequest(rec('k2', { ok: false, failure: 'aborted', status: 200 }));
    clock.t += MIN;
    stats.record(rec('k3', { ok: false, failure: 'server', status: 503, inputTokens: 0, outputTokens: 0 }));
    stats.record(rec('k3', { providerId: 'groq', ok: false, failure: 'auth', status: 401 }));
    const c = charts(stats.series, '1h');
    assert.equal(c.t.length, 60);
    assert.equal(c.t[59], Math.floor(clock.t / MIN) * MIN);
    const openai = c.providers.find((p) => p.id === 'openai')!;
    assert.deepEqual(openai.attempts.slice(-2), [3, 1]);
    assert.deepEqual(openai.requests.slice(-2), [2, 1]);
    assert.deepEqual(openai.errors.slice(-2), [1, 1]);
    assert.deepEqual(openai.outcomes['429'].slice(-2), [1, 0]);
    assert.deepEqual(openai.outcomes.ok.slice(-2), [1, 0]);
    assert.deepEqual(openai.outcomes.cancelled.slice(-2), [1, 0]);
    assert.deepEqual(openai.outcomes['5xx'].slice(-2), [0, 1]);
    assert.deepEqual(openai.tokensIn.slice(-2), [10, 0]);
    assert.equal(
      openai.attempts.slice(0, 58).reduce((a, b) => a + b, 0),
      0,
    );
    const groq = c.providers.find((p) => p.id === 'groq')!;
    assert.deepEqual(groq.outcomes.invalid.slice(-1), [1]);
    // The client that left is counted as 499 in the statuses /keyrelay/metrics reports.
    const p = stats.series.providers().indexOf('openai');
    assert.deepEqual([...stats.series.statuses.get(p)!].sort(), [
      [200, 1],
      [499, 1],
      [503, 1],
    ]);
  });

  test('latency p50/p95 come from the fixed-bucket histogram', () => {
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(25), 0);
    assert.equal(latencyBucket(26), 1);
    assert.equal(latencyBucket(10 ** 9), HIST_BUCKETS - 1);
    assert.equal(quantile(new Float64Array(HIST_BUCKETS), 0, 0.5), undefined);
    const { stats } = make();
    // 90 requests at ~300 ms total / 100 ms ttfb, 10 at ~4 s total / 2 s ttfb.
    for (let i = 0; i < 90; i++) stats.recordRequest(rec('k', { latencyMs: 300, ttfbMs: 100 }));
    for (let i = 0; i < 10; i++) stats.recordRequest(rec('k', { latencyMs: 4000, ttfbMs: 2000 }));
    // KeyRelay's own refusals say nothing about the upstream's latency.
    for (let i = 0; i < 50; i++)
      stats.recordRequest(rec(undefined, { ok: false, failure: 'local', status: 429, latencyMs: 1 }));
    const c = charts(stats.series, '1h').providers[0];
    const p50 = c.totalP50.at(-1)!;
    const p95 = c.totalP95.at(-1)!;
    assert.ok(p50 > 250 && p50 <= 500, `p50 ${p50}`);
    assert.ok(p95 > 2500 && p95 <= 5000, `p95 ${p95}`);
    assert.ok(c.ttfbP50.at(-1)! > 50 && c.ttfbP50.at(-1)! <= 100);
    assert.ok(c.ttfbP95.at(-1)! > 1000 && c.ttfbP95.at(-1)! <= 2500);
    assert.equal(c.totalP50[0], null, 'a minute without requests has no percentile');
  });

  test('cost stays unknown until an attempt carries a price, then sums per provider, day and key', () => {
    const { stats } = make();
    stats.record(rec('k1'));
    assert.equal(keyDay(stats.series, 'k1').costUsd, null);
    assert.equal(charts(stats.series, '1h').perDay[0].costUsd.at(-1), null);
    stats.record(rec('k1', { costUsd: 0.0125 }));
    stats.record(rec('k1', { costUsd: 0.0005 }));
    assert.equal(keyDay(stats.series, 'k1').costUsd, 0.013);
    const day = charts(stats.series, '24h').perDay[0];
    assert.equal(day.costUsd.at(-1), 0.013);
    assert.equal(day.tokensIn.at(-1), 30);
    assert.equal(day.requests.at(-1), 3);
    assert.equal(keyDay(stats.series, 'never-used').costUsd, null);
  });

  test('rings roll: old minutes and hours drop out, days stay for 35 days', () => {
    const { clock, stats } = make();
    stats.record(rec('k1'));
    clock.t += 2 * HOUR;
    stats.record(rec('k1'));
    let c = charts(stats.series, '24h');
    assert.equal(
      c.providers[0].attempts.reduce((a, b) => a + b, 0),
      2,
    );
    assert.equal(keyDay(stats.series, 'k1').attempts, 2);
    assert.deepEqual(keyDay(stats.series, 'k1').spark.slice(-3), [1, 0, 1]);
    clock.t += 23 * HOUR; // the first attempt is now 25 h old
    c = charts(stats.series, '24h');
    assert.equal(
      c.providers[0].attempts.reduce((a, b) => a + b, 0),
      1,
    );
    assert.equal(keyDay(stats.series, 'k1').attempts, 1);
    assert.equal(
      c.perDay[0].requests.reduce((a, b) => a + b, 0),
      2,
      'the days keep both',
    );
    clock.t += 40 * 24 * HOUR;
    c = charts(stats.series, '24h');
    assert.equal(
      c.perDay[0].requests.reduce((a, b) => a + b, 0),
      0,
    );
    assert.equal(
      c.providers[0].attempts.reduce((a, b) => a + b, 0),
      0,
    );
  });

  test('the first 16 keys get minute buckets; each hour they go to the busiest keys', () => {
    const { clock, stats } = make(Math.floor(NOON / HOUR) * HOUR + 10 * MIN);
    for (let i = 0; i < BUSY_KEYS + 4; i++) stats.recordAttempt(rec(`k${i}`));
    assert.equal(keyChart(stats.series, 'k0').stepMs, MIN);
    assert.equal(keyChart(stats.series, `k${BUSY_KEYS}`).stepMs, HOUR);
    // In this hour the last four keys are the busiest.
    for (let i = BUSY_KEYS; i < BUSY_KEYS + 4; i++) for (let n = 0; n < 5; n++) stats.recordAttempt(rec(`k${i}`));
    clock.t += HOUR;
    stats.recordAttempt(rec('k0'));
    const hot = keyChart(stats.series, `k${BUSY_KEYS + 3}`);
    assert.equal(hot.stepMs, MIN);
    assert.equal(hot.attempts.length, 60);
    // Four quiet keys gave their minutes to the four busy ones (ties: the first counted stay).
    const quiet = Array.from({ length: BUSY_KEYS }, (_, i) => keyChart(stats.series, `k${i}`).stepMs);
    assert.deepEqual(quiet.filter((s) => s === HOUR).length, 4);
    assert.equal(keyChart(stats.series, `k${BUSY_KEYS - 1}`).stepMs, HOUR);
    const k0 = keyChart(stats.series, 'k0');
    assert.equal(k0.stepMs, MIN);
    assert.equal(k0.attempts.at(-1), 1);
  });

  test('saved with the stats: a restart keeps the day', () => {
    const { clock, stats } = make();
    stats.record(rec('k1', { costUsd: 0.5 }));
    stats.record(rec('k2', { ok: false, failure: 'rate-limit', status: 429 }));
    const saved = JSON.parse(JSON.stringify(stats.toJSON()));
    clock.t += 10 * MIN;
    const restored = Stats.fromJSON(clock, saved);
    all.push(restored);
    const before = charts(stats.series, '1h');
    const after = charts(restored.series, '1h');
    assert.deepEqual(after.providers, before.providers);
    assert.deepEqual(after.perDay, before.perDay);
    assert.deepEqual(keyDay(restored.series, 'k1'), keyDay(stats.series, 'k1'));
    assert.equal(keyDay(restored.series, 'k1').costUsd, 0.5);
    assert.equal(keyChart(restored.series, 'k2').stepMs, MIN);
    assert.deepEqual(restored.series.statuses, stats.series.statuses);
    assert.equal(after.providers[0].attempts.at(-11), 2);
  });

  test('unreadable saved series start empty; Reset Statistics empties them', () => {
    const { clock, stats } = make();
    stats.record(rec('k1'));
    const saved = JSON.parse(JSON.stringify(stats.toJSON()));
    for (const bad of [
      { ...saved, series: { version: 9 } },
      {
        ...saved,
        series: {
          version: 1,
          heads: { min: 'x', hour: -4, day: null },
          providers: { openai: { min: '0:x,,-1;zz' } },
          keys: { k: { h: 7 } },
        },
      },
    ]) {
      const s = Stats.fromJSON(clock, bad);
      all.push(s);
      const c = charts(s.series, '1h');
      assert.equal(
        c.providers.flatMap((p) => p.attempts).reduce((a, b) => a + b, 0),
        0,
      );
    }
    stats.reset();
    assert.equal(charts(stats.series, '1h').providers.length, 0);
    assert.equal(keyDay(stats.series, 'k1').attempts, 0);
  });
});
