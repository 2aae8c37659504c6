/**
 * The "KeyRelay: Open Dashboard" webview (issue 17). It only renders: documents come from the
 * extension (at most one a second, none while the panel is hidden), and every change it wants —
 * a range, a sort, a page, a key action — goes back as a message.
 */
import 'uplot/dist/uPlot.min.css';
import './base.css';
import './dashboard.css';
import type { DashboardDoc, DashboardQuery } from '../core/accounting/dashboard';
import type { ToExtension, ToWebview } from '../core/view/dashboardProtocol';
import { Chart, daysPlan, latencyPlan, outcomesPlan, ratePlan } from './charts';
import { count, el } from './format';
import { KeyTable } from './keyTable';
import { onThemeChange, palette } from './theme';

interface VsCodeApi {
  postMessage(m: ToExtension): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const RANGES = ['1h', '6h', '24h'] as const;

const app = document.getElementById('app') ?? document.body;
const header = el('header');
const title = el('h1', undefined, 'KeyRelay');
const summary = el('span', 'summary');
const source = el('span', 'source');
const shared = el('span', 'shared');
const ranges = el('span', 'ranges');
header.append(title, summary, shared, source, ranges);
const error = el('div', 'error-banner');
error.hidden = true;
const grid = el('section', 'charts');
const keys = el('section', 'keys-section');
keys.append(el('h2', undefined, 'Keys'));
app.append(header, error, grid, keys);

const charts = {
  rate: new Chart(grid, 'chart-rate', 'Requests and errors per minute'),
  outcomes: new Chart(grid, 'chart-outcomes', 'Attempts by outcome'),
  latency: new Chart(grid, 'chart-latency', 'Latency p50 / p95'),
  days: new Chart(grid, 'chart-days', 'Tokens and cost per day'),
};
const outcomesProvider = providerSelect(charts.outcomes, true);
const latencyProvider = providerSelect(charts.latency, false);

let doc: DashboardDoc | undefined;
let query: DashboardQuery | undefined;

const table = new KeyTable(keys, {
  query: (q) => ask({ ...(query ?? (doc?.table.query as DashboardQuery)), ...q }),
  action: (action, id) => vscode.postMessage({ type: 'action', action, id }),
});

for (const r of RANGES) {
  const b = el('button', 'range', r);
  b.dataset.range = r;
  b.addEventListener('click', () => query && ask({ ...query, range: r }));
  ranges.append(b);
}

function ask(q: DashboardQuery): void {
  query = q;
  vscode.setState({ query: q });
  vscode.postMessage({ type: 'query', query: q });
}

/** A provider chooser in a chart's caption (`all`: an "All providers" entry first). */
function providerSelect(chart: Chart, all: boolean): HTMLSelectElement {
  const s = el('select', 'provider-select');
  s.setAttribute('aria-label', 'Provider');
  s.dataset.all = all ? '1' : '';
  s.addEventListener('change', () => render());
  chart.controls.append(s);
  return s;
}

function fillSelect(s: HTMLSelectElement, d: DashboardDoc): void {
  const ids = d.charts.providers.map((c) => c.id);
  const want = [...(s.dataset.all ? [''] : []), ...ids];
  const have = [...s.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const keep = s.value;
  s.replaceChildren(
    ...want.map((id) => {
      const o = el('option', undefined, id ? (d.providerNames[id] ?? id) : 'All providers');
      o.value = id;
      return o;
    }),
  );
  // The busiest provider first when nothing was chosen yet.
  const busiest = [...d.charts.providers].sort(
    (a, b) => b.requests.reduce((x, y) => x + y, 0) - a.requests.reduce((x, y) => x + y, 0),
  )[0];
  s.value = want.includes(keep) ? keep : s.dataset.all ? '' : (busiest?.id ?? '');
}

function render(): void {
  if (!doc) return;
  const p = palette();
  const s = doc.summary;
  summary.textContent = `${s.usable}/${s.keys} keys usable · ${s.cooling} cooling · ${s.invalid} invalid · ${s.discarded} discarded · ${count(s.requestsToday)} requests today`;
  renderShared(doc.shared);
  for (const b of ranges.children as HTMLCollectionOf<HTMLElement>)
    b.classList.toggle('selected', b.dataset.range === doc.charts.range);
  fillSelect(outcomesProvider, doc);
  fillSelect(latencyProvider, doc);
  charts.rate.draw(ratePlan(doc, p), p);
  charts.outcomes.draw(outcomesPlan(doc, p, outcomesProvider.value), p);
  charts.latency.draw(latencyPlan(doc, p, latencyProvider.value), p);
  charts.days.draw(daysPlan(doc, p), p);
  table.render(doc, p);
}

/** The shared store (issue 18): which, which pool, reachable or not; hidden when the pool is not shared. */
function renderShared(s: DashboardDoc['shared']): void {
  shared.hidden = !s;
  if (!s) return;
  const state =
    s.state === 'down'
      ? `down, serving on local state${s.lastError ? ` (${s.lastError})` : ''}`
      : s.state === 'no-secret'
        ? 'no team secret'
        : s.state;
  shared.textContent = `Shared state: ${state} · ${s.store} · pool ${s.pool}`;
  shared.classList.toggle('warn', s.state === 'down' || s.state === 'no-secret');
}

window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
  const m = e.data;
  if (m.type === 'doc') {
    doc = m.doc;
    query = m.doc.table.query;
    error.hidden = true;
    source.textContent = m.source === 'leader' ? 'showing the proxy of the window that serves it' : '';
    render();
  } else if (m.type === 'error') {
    error.textContent = m.message;
    error.hidden = false;
  }
});

// A theme change redraws with its colours (the charts are made again: their colours are baked in).
onThemeChange(() => {
  for (const c of Object.values(charts)) c.reset();
  render();
});
new ResizeObserver(() => Object.values(charts).forEach((c) => c.resize())).observe(grid);
setInterval(() => table.tick(), 1000);

const saved = (vscode.getState() as { query?: DashboardQuery } | undefined)?.query;
vscode.postMessage({ type: 'ready' });
if (saved) ask(saved);
