/**
 * Cost as `/keyrelay/status`, `keyrelay status` and the views show it: in total, per model and per
 * day. A cost is `null` ("unknown") while no attempt of it had a price, never 0 for an unpriced
 * model; `unpricedAttempts` counts the attempts that reported tokens for a model without a price.
 */
import { PRICES_AS_OF } from '../config/priceTable';
import { formatUsd } from '../config/prices';
import { modelEntries } from './counters';
import type { Counters, LiveCounters } from './counters';
import { D } from './seriesFields';
import { dayLabel } from './seriesQuery';
import type { Stats } from './stats';

/** Known cost and how many attempts had none. */
export interface CostFigure {
  costUsd: number | null;
  unpricedAttempts: number;
}

export interface CostSummary extends CostFigure {
  /** The date of the shipped price table (the `prices` setting overrides it). */
  pricesAsOf: string;
  byModel: Record<string, CostFigure & { inputTokens: number; outputTokens: number }>;
  /** The last days with requests, oldest first (local days, as the dashboard's charts). */
  byDay: Array<{ day: string; costUsd: number | null; requests: number }>;
}

/** A counter's cost as shown: null while nothing was priced. */
export function costFigure(c: Pick<Counters, 'costUsd' | 'priced' | 'unpriced'>): CostFigure {
  return { costUsd: c.priced > 0 ? c.costUsd : null, unpricedAttempts: c.unpriced };
}

/** "$0.0123", "cost unknown", "$0.0123 + 2 unknown"; '' when nothing was spent or counted. */
export function costText(c: Pick<Counters, 'costUsd' | 'priced' | 'unpriced'>): string {
  if (c.priced === 0) return c.unpriced > 0 ? 'cost unknown' : '';
  return c.unpriced > 0 ? `${formatUsd(c.costUsd)} + ${c.unpriced} unknown` : formatUsd(c.costUsd);
}

/** Totals, per model (summed over keys) and per day (summed over providers) for the last `days` days. */
export function costSummary(stats: Stats, days = 7): CostSummary {
  const models = new Map<string, LiveCounters[]>();
  for (const k of stats.liveKeys().values()) {
    for (const [model, c] of modelEntries(k)) {
      const list = models.get(model);
      if (list) list.push(c);
      else models.set(model, [c]);
    }
  }
  const byModel: CostSummary['byModel'] = Object.create(null) as CostSummary['byModel'];
  for (const [model, list] of models) {
    const sum = { costUsd: 0, priced: 0, unpriced: 0, inputTokens: 0, outputTokens: 0 };
    for (const c of list) {
      sum.costUsd += c.costUsd;
      sum.priced += c.priced;
      sum.unpriced += c.unpriced;
      sum.inputTokens += c.inputTokens;
      sum.outputTokens += c.outputTokens;
    }
    byModel[model] = { ...costFigure(sum), inputTokens: sum.inputTokens, outputTokens: sum.outputTokens };
  }
  const { total } = stats.totals();
  return { pricesAsOf: PRICES_AS_OF, ...costFigure(total), byModel, byDay: perDay(stats, days) };
}

function perDay(stats: Stats, days: number): CostSummary['byDay'] {
  const ts = stats.series;
  ts.catchUp();
  const tier = ts.provDay;
  const head = tier.head;
  const out: CostSummary['byDay'] = [];
  if (head < 0) return out;
  for (let age = days - 1; age >= 0; age--) {
    let [cost, priced, requests] = [0, 0, 0];
    ts.providers().forEach((_id, p) => {
      const o = tier.offsetAt(p, age);
      if (o < 0) return;
      const cells = tier.cells(p);
      cost += cells[o + D.cost];
      priced += cells[o + D.priced];
      requests += cells[o + D.requests];
    });
    if (requests > 0 || priced > 0)
      out.push({ day: dayLabel(head - age), costUsd: priced > 0 ? cost / 1e6 : null, requests });
  }
  return out;
}
