/**
 * The dashboard's four charts, drawn with uPlot on canvases: request and error rate per provider,
 * attempts by outcome (stacked), latency p50/p95, and tokens and cost per day. Each figure says
 * how much it drew (`data-total`), which the browser E2E test reads to see the charts grow.
 */
import uPlot from 'uplot';
import type { DashboardDoc } from '../core/accounting/dashboard';
import { count, el, usd } from './format';
import { fade } from './theme';
import type { Palette } from './theme';

type Row = Array<number | null>;

/** What one chart draws: the uPlot series (after x), their data, and a signature of the series set. */
interface Plan {
  sig: string;
  series: uPlot.Series[];
  data: Row[];
  x: number[];
  total: number;
  axes?: uPlot.Axis[];
  scales?: uPlot.Scales;
  /** Shown beside the chart's title (e.g. why a series is missing). */
  note?: string;
}

const OUTCOME_COLORS: Record<string, keyof Palette | number> = {
  ok: 'ok',
  '429': 'warn',
  invalid: 'error',
  discarded: 2,
  '5xx': 1,
  network: 0,
  cancelled: 'muted',
  other: 6,
};

/** `f(v)`, or `missing` where the point has no value. */
const shown = (v: number | null | undefined, f: (n: number) => string, missing = '–'): string =>
  v === null || v === undefined ? missing : f(v);

const sum = (rows: Row[]): number => rows.reduce<number>((a, r) => a + r.reduce<number>((b, v) => b + (v ?? 0), 0), 0);

function colorOf(p: Palette, c: keyof Palette | number): string {
  return typeof c === 'number' ? p.series[c % p.series.length] : (p[c] as string);
}

/** A chart in a figure: made when its series change, fed new data otherwise. */
export class Chart {
  readonly fig: HTMLElement;
  readonly controls: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly note: HTMLElement;
  private plot: uPlot | undefined;
  private sig = '';

  constructor(
    parent: HTMLElement,
    readonly id: string,
    title: string,
  ) {
    this.fig = el('figure', 'chart');
    this.fig.id = id;
    const cap = el('figcaption');
    this.note = el('span', 'note');
    cap.append(el('span', 'title', title), this.note);
    this.controls = el('span', 'controls');
    cap.append(this.controls);
    this.plotBox = el('div', 'plot');
    this.fig.append(cap, this.plotBox);
    parent.append(this.fig);
  }

  draw(plan: Plan, p: Palette): void {
    const width = Math.max(240, this.plotBox.clientWidth);
    const data = [plan.x, ...plan.data] as uPlot.AlignedData;
    this.fig.dataset.total = String(plan.total);
    this.note.textContent = plan.note ?? '';
    this.fig.dataset.points = String(plan.x.length);
    if (this.plot && this.sig === plan.sig) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.sig = plan.sig;
    const axis = (a: uPlot.Axis = {}): uPlot.Axis => ({
      stroke: p.muted,
      grid: { stroke: p.grid, width: 1 },
      ticks: { stroke: p.grid, width: 1 },
      ...a,
    });
    this.plot = new uPlot(
      {
        width,
        height: 190,
        series: [{}, ...plan.series],
        axes: plan.axes?.map(axis) ?? [axis(), axis({ values: (_u, v) => v.map((n) => count(n)) })],
        scales: plan.scales ?? { x: { time: true } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.plotBox,
    );
  }

  /** Forgets the plot so the next draw makes it again (new theme colours). */
  reset(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.sig = '';
  }

  resize(): void {
    if (this.plot) this.plot.setSize({ width: Math.max(240, this.plotBox.clientWidth), height: 190 });
  }
}

const secs = (doc: DashboardDoc): number[] => doc.charts.t.map((t) => t / 1000);

/** Requests and errors per minute, one pair of lines per provider. */
export function ratePlan(doc: DashboardDoc, p: Palette): Plan {
  const perMin = doc.charts.stepMs / 60_000;
  const series: uPlot.Series[] = [];
  const data: Row[] = [];
  doc.charts.providers.forEach((c, i) => {
    const name = doc.providerNames[c.id] ?? c.id;
    const color = p.series[i % p.series.length];
    const w = p.contrast ? 2.5 : 1.5;
    series.push({ label: `${name} req/min`, stroke: color, width: w, value: (_u, v) => shown(v, count) });
    series.push({
      label: `${name} errors/min`,
      stroke: color,
      width: w,
      dash: [5, 4],
      value: (_u, v) => shown(v, count),
    });
    data.push(
      c.requests.map((v) => v / perMin),
      c.errors.map((v) => v / perMin),
    );
  });
  return {
    sig: `rate:${doc.charts.providers.map((c) => c.id).join(',')}`,
    series,
    data,
    x: secs(doc),
    total: sum(data),
  };
}

/** Attempts by outcome, stacked (drawn top-down, each area filled to zero, so the smaller ones lie on top). */
export function outcomesPlan(doc: DashboardDoc, p: Palette, provider: string): Plan {
  const chosen = doc.charts.providers.filter((c) => !provider || c.id === provider);
  const kinds = Object.keys(OUTCOME_COLORS);
  const raw = kinds.map((k) =>
    doc.charts.t.map((_t, i) => chosen.reduce((a, c) => a + (c.outcomes[k as keyof typeof c.outcomes]?.[i] ?? 0), 0)),
  );
  const stacked: Row[] = [];
  raw.forEach((r, k) => stacked.push(r.map((v, i) => v + (k > 0 ? (stacked[k - 1][i] ?? 0) : 0))));
  const order = kinds.map((_k, i) => kinds.length - 1 - i);
  const series = order.map((k) => {
    const color = colorOf(p, OUTCOME_COLORS[kinds[k]]);
    return {
      label: kinds[k],
      stroke: color,
      width: p.contrast ? 2 : 1,
      fill: color,
      value: (_u: uPlot, _v: number | null, _s: number, i: number | null) => shown(i, (n) => count(raw[k][n])),
    } satisfies uPlot.Series;
  });
  return { sig: `outcomes:${kinds.length}`, series, data: order.map((k) => stacked[k]), x: secs(doc), total: sum(raw) };
}

/** Time to first byte and total time, p50 and p95, of one provider's requests (ms). */
export function latencyPlan(doc: DashboardDoc, p: Palette, provider: string): Plan {
  const c = doc.charts.providers.find((x) => x.id === provider) ?? doc.charts.providers[0];
  const lines: Array<[string, Row, string, number[] | undefined]> = c
    ? [
        ['ttfb p50', c.ttfbP50, p.series[0], undefined],
        ['ttfb p95', c.ttfbP95, p.series[0], [5, 4]],
        ['total p50', c.totalP50, p.series[1], undefined],
        ['total p95', c.totalP95, p.series[1], [5, 4]],
      ]
    : [];
  const series = lines.map(([label, , stroke, dash]) => ({
    label,
    stroke,
    dash,
    width: p.contrast ? 2.5 : 1.5,
    spanGaps: true,
    // Points too: a minute with requests between quiet ones is a single value, which a line cannot show.
    points: { show: true, size: 4, fill: stroke },
    value: (_u: uPlot, v: number | null) => shown(v, (n) => `${count(n)} ms`),
  }));
  const data = lines.map(([, d]) => d);
  return { sig: `latency:${lines.length}`, series, data, x: secs(doc), total: sum(data) };
}

/** Tokens (in and out, stacked bars) and cost per day over the last 14 days, all providers. */
export function daysPlan(doc: DashboardDoc, p: Palette): Plan {
  const days = doc.charts.days.slice(-14);
  const n = days.length;
  const from = doc.charts.days.length - n;
  const add = (f: 'tokensIn' | 'tokensOut') =>
    days.map((_d, i) => doc.charts.perDay.reduce((a, c) => a + c[f][from + i], 0));
  const tin = add('tokensIn');
  const tout = add('tokensOut');
  const cost = days.map((_d, i) => {
    const known = doc.charts.perDay.map((c) => c.costUsd[from + i]).filter((v): v is number => v !== null);
    return known.length ? known.reduce((a, v) => a + v, 0) : null;
  });
  const x = days.map((d) => (d ? Date.parse(`${d}T12:00:00`) / 1000 : 0));
  const bars = uPlot.paths.bars!({ size: [0.6, 40] });
  const noPoints = { show: false };
  const series: uPlot.Series[] = [
    {
      label: 'tokens out',
      stroke: p.series[1],
      fill: fade(p.series[1], 0.8, p),
      paths: bars,
      points: noPoints,
      value: (_u, _v, _s, i) => shown(i, (n) => count(tout[n])),
    },
    {
      label: 'tokens in',
      stroke: p.series[0],
      fill: fade(p.series[0], 0.8, p),
      paths: bars,
      points: noPoints,
      value: (_u, v) => shown(v, count),
    },
  ];
  const stackedOut = tout.map((v, i) => v + tin[i]);
  const tokenAxis: uPlot.Axis = { values: (_u, v) => v.map((t) => count(t)) };
  // Cost is drawn once a price is known (the price table comes later); until then it is not 0, it is unknown.
  const priced = cost.some((v) => v !== null);
  if (priced)
    series.push({ label: 'cost', stroke: p.warn, width: 2, scale: 'usd', value: (_u, v) => shown(v, usd, 'unknown') });
  return {
    sig: `days:${priced}`,
    series,
    data: priced ? [stackedOut, tin, cost] : [stackedOut, tin],
    x,
    total: sum([tin, tout]),
    scales: {
      x: { time: true },
      ...(priced ? { usd: { range: (_u, _lo, hi) => [0, Math.max(0.01, (hi ?? 0) * 1.1)] } } : {}),
    },
    axes: priced
      ? [{}, tokenAxis, { side: 1, scale: 'usd', grid: { show: false }, values: (_u, v) => v.map((t) => usd(t)) }]
      : [{}, tokenAxis],
    note: priced ? '' : 'cost: unknown until prices are known',
  };
}
