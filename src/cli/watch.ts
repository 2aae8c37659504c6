/**
 * `keyrelay status --watch` (issue 17): the dashboard for a terminal. Every second it asks the
 * proxy for the dashboard's document (`GET /keyrelay/series`, with a fresh proof of the token:
 * the token itself is never sent) and redraws a table with sparklines until Ctrl+C.
 */
import type { DashboardDoc, DashboardRow } from '../core/accounting/dashboard';
import { DEFAULT_QUERY } from '../core/accounting/dashboard';
import { queryString } from '../core/windows/dashboardFeed';
import { askLeader } from '../core/windows/localHttp';

const BARS = '▁▂▃▄▅▆▇█';

/** Values as a sparkline of `width` characters (later values win when squeezed; 0 is a space). */
export function sparkline(values: number[], width = values.length): string {
  const per = Math.max(1, Math.ceil(values.length / width));
  const cells: number[] = [];
  for (let i = values.length; i > 0 && cells.length < width; i -= per)
    cells.unshift(values.slice(Math.max(0, i - per), i).reduce((a, b) => a + b, 0));
  const max = Math.max(...cells, 0);
  return cells.map((v) => (v <= 0 ? ' ' : BARS[Math.min(7, Math.floor((v / max) * 7.999))])).join('');
}

const pad = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
const num = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(Math.round(n));
const secs = (ms: number): string => {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s < 90 ? `${s}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};
const ms = (v: number | null | undefined): string =>
  v === null || v === undefined ? '–' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`;

function keyState(r: DashboardRow, at: number): string {
  const cools = r.cooldowns.map((c) => `${c.model ? `${c.model} ` : ''}${secs(c.until - at)}`).join(', ');
  if (r.state === 'active') return cools ? `active, ${cools}` : 'active';
  return r.state === 'cooling' && cools ? `cooling ${cools}` : r.state;
}

/** One frame: the summary, each provider's last hour, then the busiest keys that fit in `rows`. */
export function renderWatch(doc: DashboardDoc, endpoint: string, rows: number, cols = 120): string[] {
  const s = doc.summary;
  const time = new Date(doc.at).toLocaleTimeString();
  const out = [
    `KeyRelay at ${endpoint} · ${s.usable}/${s.keys} keys usable · ${s.cooling} cooling · ${s.invalid} invalid · ${s.discarded} discarded · ${s.requestsToday} requests today · ${time}`,
    '',
    `${pad('Provider', 14)} ${pad('requests per minute, last hour', 32)} ${pad('now', 6)} ${pad('errors', 7)} ${pad('ttfb p50', 9)} total p95`,
  ];
  for (const c of doc.charts.providers) {
    const last = c.requests.length - 1;
    const p50 = [...c.ttfbP50].reverse().find((v) => v !== null);
    const p95 = [...c.totalP95].reverse().find((v) => v !== null);
    const errors = c.errors.reduce((a, b) => a + b, 0);
    out.push(
      `${pad(doc.providerNames[c.id] ?? (c.id || '(none)'), 14)} ${pad(sparkline(c.requests, 30), 32)} ${pad(num(c.requests[last] ?? 0), 6)} ${pad(num(errors), 7)} ${pad(ms(p50), 9)} ${ms(p95)}`,
    );
  }
  out.push(
    '',
    `${pad('Key', 24)} ${pad('State', 28)} ${pad('Requests', 9)} ${pad('OK', 7)} ${pad('Tokens', 7)} ${pad('last 24 h', 26)} Last error`,
  );
  const room = Math.max(1, rows - out.length - 1);
  for (const r of doc.table.rows.slice(0, room)) {
    const ok = r.successRate === null ? '–' : `${Math.round(r.successRate * 100)}%`;
    out.push(
      `${pad(`${r.label} ${r.masked}`, 24)} ${pad(keyState(r, doc.at), 28)} ${pad(num(r.requests), 9)} ${pad(ok, 7)} ${pad(num(r.tokensIn + r.tokensOut), 7)} ${pad(sparkline(r.spark, 24), 26)} ${r.lastError ?? ''}`,
    );
  }
  if (doc.table.total > room) out.push(`… ${doc.table.total - room} more keys (busiest first)`);
  return out.map((l) => (l.length > cols ? l.slice(0, cols) : l));
}

export interface WatchOptions {
  host: string;
  port: number;
  token: string;
  /** Terminal size, read again every frame (a resized terminal redraws to fit). */
  size(): { rows: number; cols: number };
  write(text: string): void;
  /** Resolves when the watch should stop (Ctrl+C). */
  stopped: Promise<void>;
  /** Whether to clear the screen between frames (a terminal), or print frames one after another. */
  tty: boolean;
  intervalMs?: number;
}

/** Redraws every second until stopped; the first failure to ask ends the watch with that error. */
export async function watch(o: WatchOptions): Promise<void> {
  let stop = false;
  void o.stopped.then(() => {
    stop = true;
  });
  const endpoint = `http://${o.host}:${o.port}`;
  while (!stop) {
    const { rows, cols } = o.size();
    const q = { ...DEFAULT_QUERY, limit: Math.max(1, rows) };
    const r = await askLeader(o.port, o.token, `/keyrelay/series?${queryString(q)}`, { host: o.host, timeoutMs: 5000 });
    if (r.status !== 200 || typeof r.body !== 'object' || r.body === null)
      throw new Error(`${endpoint} answered HTTP ${r.status} for /keyrelay/series`);
    const lines = renderWatch(r.body as DashboardDoc, endpoint, rows, cols);
    // Home, each line cleared to its end, then the rest of the screen: no flicker from a full clear.
    o.write(o.tty ? `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J` : `${lines.join('\n')}\n\n`);
    await Promise.race([o.stopped, new Promise((r) => setTimeout(r, o.intervalMs ?? 1000))]);
  }
}
