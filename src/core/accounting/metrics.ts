/**
 * `GET /keyrelay/metrics` in the Prometheus text format 0.0.4 (issue 17), for people who run
 * KeyRelay headless and scrape it. Keys appear by their masked form only (`sk-…abcd`); counters
 * run since the start or the last Reset Statistics and are kept across restarts with the state.
 */
import type { KeyPool } from '../pool/keyPool';
import type { FailureClass, KeyState } from '../types';
import type { Counters, LiveCounters } from './counters';
import { KT, OUTCOME_LABELS, OUTCOMES, outcomeOf, T } from './seriesFields';
import { LATENCY_BOUNDS_MS } from './seriesTier';
import type { Stats } from './stats';

/** The content type Prometheus expects for this format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const STATES: readonly KeyState[] = ['active', 'cooling', 'invalid', 'discarded'];

/** A label value escaped as the format asks: backslash, double quote and line feed. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const labels = (l: Record<string, string>): string =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;

/** A sample value: integers as such, other numbers in JavaScript's shortest round-trip form. */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

class Family {
  readonly lines: string[] = [];
  constructor(name: string, type: 'counter' | 'gauge' | 'histogram', help: string) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  add(name: string, l: Record<string, string>, v: number): void {
    this.lines.push(`${name}${labels(l)} ${num(v)}`);
  }
}

/**
 * A masked label per key, unique within its provider: two keys ending in the same four
 * characters would otherwise be one series (a duplicate the format forbids), so later ones get
 * ` #2`, ` #3`.
 */
function keyLabels(pool: KeyPool): Map<string, { provider: string; key: string; state: KeyState }> {
  const out = new Map<string, { provider: string; key: string; state: KeyState }>();
  const seen = new Map<string, number>();
  pool.forEachKey((k, h) => {
    const id = `${k.providerId}\0${k.masked}`;
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    out.set(k.id, { provider: k.providerId, key: n === 1 ? k.masked : `${k.masked} #${n}`, state: h.state });
  });
  return out;
}

/** Attempts of one key by outcome, from its counters (successes, failures by class). */
function attemptsByOutcome(c: LiveCounters | Counters): number[] {
  const out = new Array<number>(OUTCOMES.length).fill(0);
  out[0] = c.successes;
  for (const [cls, n] of Object.entries(c.failures ?? {})) out[outcomeOf(cls as FailureClass)] += n ?? 0;
  return out;
}

function keyFamilies(pool: KeyPool, stats: Stats): Family[] {
  const attempts = new Family(
    'keyrelay_attempts_total',
    'counter',
    'Upstream attempts by provider, key (masked) and outcome.',
  );
  const state = new Family(
    'keyrelay_key_state',
    'gauge',
    'Key state: 1 for the state the key is in, 0 for the others.',
  );
  const tokens = new Family(
    'keyrelay_tokens_total',
    'counter',
    'Tokens reported by the provider, by key (masked) and direction.',
  );
  const cost = new Family(
    'keyrelay_cost_usd_total',
    'counter',
    'Cost in USD of attempts whose price was known (absent while unknown).',
  );
  const live = stats.liveKeys();
  const series = stats.series;
  for (const [id, k] of keyLabels(pool)) {
    const base = { provider: k.provider, key: k.key };
    for (const s of STATES) state.add('keyrelay_key_state', { ...base, state: s }, s === k.state ? 1 : 0);
    const c = live.get(id)?.all;
    if (c && c.requests > 0) {
      attemptsByOutcome(c).forEach((n, i) => {
        if (n > 0) attempts.add('keyrelay_attempts_total', { ...base, outcome: OUTCOME_LABELS[OUTCOMES[i]] }, n);
      });
      tokens.add('keyrelay_tokens_total', { ...base, direction: 'input' }, c.inputTokens);
      tokens.add('keyrelay_tokens_total', { ...base, direction: 'output' }, c.outputTokens);
    }
    const slot = series.slotOf(id);
    if (slot !== undefined && series.keyTotals[slot * KT.count + KT.priced] > 0)
      cost.add('keyrelay_cost_usd_total', base, series.keyTotals[slot * KT.count + KT.cost] / 1e6);
  }
  return [attempts, state, tokens, cost];
}

function providerFamilies(stats: Stats): Family[] {
  const requests = new Family(
    'keyrelay_requests_total',
    'counter',
    'Client requests by provider and HTTP status answered (499: the client went away).',
  );
  const latency = new Family(
    'keyrelay_upstream_latency_seconds',
    'histogram',
    'Upstream latency of client requests: time to first byte (phase="ttfb") and to the end (phase="total").',
  );
  const ts = stats.series;
  ts.providers().forEach((id, p) => {
    const provider = id || 'none';
    for (const [status, n] of [...(ts.statuses.get(p) ?? [])].sort((a, b) => a[0] - b[0]))
      requests.add('keyrelay_requests_total', { provider, status: String(status) }, n);
    const t = ts.provTotals;
    const o = p * T.count;
    for (const [phase, at, sum, count] of [
      ['ttfb', T.ttfb, T.ttfbSumMs, T.ttfbCount],
      ['total', T.total, T.totalSumMs, T.totalCount],
    ] as const) {
      if (t[o + count] === 0) continue;
      let cumulative = 0;
      LATENCY_BOUNDS_MS.forEach((ms, b) => {
        cumulative += t[o + at + b];
        latency.add('keyrelay_upstream_latency_seconds_bucket', { provider, phase, le: num(ms / 1000) }, cumulative);
      });
      latency.add('keyrelay_upstream_latency_seconds_bucket', { provider, phase, le: '+Inf' }, t[o + count]);
      latency.add('keyrelay_upstream_latency_seconds_sum', { provider, phase }, t[o + sum] / 1000);
      latency.add('keyrelay_upstream_latency_seconds_count', { provider, phase }, t[o + count]);
    }
  });
  return [requests, latency];
}

/** The whole exposition, one family after another, ending in a line feed. */
export function metricsText(pool: KeyPool, stats: Stats): string {
  const families = [...providerFamilies(stats), ...keyFamilies(pool, stats)];
  return `${families.flatMap((f) => f.lines).join('\n')}\n`;
}
