/**
 * The table `keyrelay status` prints: one line per key under its provider. Built on the server
 * from the live records (`GET /keyrelay/status?format=text`: no 20 MB of JSON to build, send and
 * parse for 100,000 keys), or by the CLI from the JSON document of a KeyRelay that predates it.
 */
import { formatRemaining } from './status';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { Stats } from './stats';
import type { SharedStoreStatus, SharedStoreSummary } from '../types';
import type { Budgets } from './budgets';
import { costSummary, costText } from './costReport';
import type { CostSummary } from './costReport';
import { formatUsd } from '../config/prices';

/** The parts of a `/keyrelay/status` key the table shows. */
export interface StatusKey {
  providerId: string;
  label: string;
  masked: string;
  account?: string;
  state: string;
  coolingUntil?: number;
  modelCooldowns?: Record<string, number>;
  /** Skipped for its budget until `until`. */
  overBudget?: { until: number; reason: string };
  lastError?: string;
  requestsToday: number;
  stats?: { requests: number; successes: number; costUsd?: number; priced?: number; unpriced?: number };
}
/** The parts of the `/keyrelay/status` document the table shows. */
export interface StatusDoc {
  version: string;
  endpoint?: string;
  /** Client requests today (older proxies: absent, the keys' counts are summed). */
  requestsToday?: number;
  strategy: string;
  at: number;
  providers: Array<{ id: string; name: string; keys: number; usable: number }>;
  keys: StatusKey[];
  /** The shared state store, when the pool shares its state (issue 18). */
  shared?: SharedStoreStatus;
  /** Cost in total, per model and per day (older proxies: absent). */
  cost?: CostSummary;
}

/** "Shared state: redis://host:6379/0 · pool team-a · connected" (or why not). */
export function sharedLine(s: SharedStoreSummary): string {
  const how =
    s.state === 'down'
      ? `down, serving on local state${s.lastError ? ` (${s.lastError})` : ''}`
      : s.state === 'no-secret'
        ? 'not started: no team secret (KeyRelay: Set Team Secret)'
        : s.state;
  const pending = s.pending > 0 ? ` · ${s.pending} changes to send` : '';
  return `Shared state: ${s.store} · pool ${s.pool} · ${how}${pending}`;
}

/** The table of a running pool, from its live records (redact the result before it leaves). */
export function statusTable(opts: {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  version: string;
  endpoint?: string;
  shared?: SharedStoreStatus;
  budgets?: Budgets;
}): string {
  const live = opts.stats.liveKeys();
  const keys: StatusKey[] = [];
  const perProvider = new Map<string, { keys: number; usable: number }>();
  const at = opts.pool.forEachKey((k, h) => {
    const c = live.get(k.id);
    keys.push({
      providerId: k.providerId,
      label: k.label,
      masked: k.masked,
      account: k.account,
      state: h.state,
      coolingUntil: h.state === 'cooling' ? h.coolingUntil : undefined,
      modelCooldowns: h.modelCooldowns.size === 0 ? undefined : Object.fromEntries(h.modelCooldowns),
      overBudget: h.overBudget,
      lastError: h.lastError,
      requestsToday: c?.today ?? 0,
      stats: c && c.all.requests > 0 ? c.all : undefined,
    });
    let p = perProvider.get(k.providerId);
    if (!p) perProvider.set(k.providerId, (p = { keys: 0, usable: 0 }));
    p.keys++;
    if (h.state === 'active' && h.modelCooldowns.size === 0 && !h.overBudget) p.usable++;
  });
  const providers = opts.catalogue
    .list()
    .filter((p) => perProvider.has(p.id))
    .map((p) => ({ id: p.id, name: p.name, ...perProvider.get(p.id)! }));
  const doc = {
    version: opts.version,
    endpoint: opts.endpoint,
    strategy: opts.pool.strategy,
    at,
    providers,
    keys,
    requestsToday: opts.stats.requestsToday(),
    shared: opts.shared,
    cost: costSummary(opts.stats),
  };
  return renderStatus(doc).join('\n');
}

/**
 * One line per key under its provider, columns aligned; states say how long a cooldown has left.
 * Linear in the keys: one pass groups them, one measures the columns, one writes the lines.
 */
export function renderStatus(doc: StatusDoc): string[] {
  let usable = 0;
  let today = 0;
  const byProvider = new Map<string, string[][]>();
  for (const k of doc.keys) {
    // Usable = serves every model now: a key cooling for one model is not (DESIGN §3).
    const skipped = (k.overBudget?.until ?? 0) > doc.at;
    if (k.state === 'active' && !skipped && !Object.values(k.modelCooldowns ?? {}).some((until) => until > doc.at))
      usable++;
    today += k.requestsToday ?? 0;
    let rows = byProvider.get(k.providerId);
    if (!rows) byProvider.set(k.providerId, (rows = []));
    rows.push(columns(k, doc.at));
  }
  if (doc.requestsToday !== undefined) today = doc.requestsToday;
  const lines = [
    `KeyRelay ${doc.version} at ${doc.endpoint ?? '?'} · ${doc.strategy} · ${usable}/${doc.keys.length} keys usable · ${today} requests today`,
  ];
  if (doc.shared) lines.push(sharedLine(doc.shared));
  if (doc.cost) lines.push(...costLines(doc.cost));
  if (doc.keys.length === 0)
    lines.push(
      'No keys: requests are answered in fallback mode. Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.',
    );
  for (const p of doc.providers) {
    const rows = byProvider.get(p.id) ?? [];
    const width = [0, 0, 0, 0, 0, 0];
    for (const r of rows) for (let i = 0; i < width.length; i++) if (r[i].length > width[i]) width[i] = r[i].length;
    lines.push('', `${p.name} · ${p.usable}/${p.keys} usable`);
    for (const r of rows) {
      let line = ''; // every column padded but the last (the last error)
      for (let i = 0; i < width.length; i++) line += `  ${r[i].padEnd(width[i])}`;
      lines.push(`${line}  ${r[width.length]}`.trimEnd());
    }
  }
  return lines;
}

/**
 * "Cost: $0.0123 since start (prices as of 2025-11-01) · gpt-4o $0.0100 · claude-x unknown" and the
 * last days' cost; nothing while no request reported tokens.
 */
export function costLines(c: CostSummary): string[] {
  const models = Object.entries(c.byModel);
  if (c.costUsd === null && c.unpricedAttempts === 0 && models.length === 0) return [];
  const shown = (x: { costUsd: number | null; unpricedAttempts: number }): string =>
    x.costUsd === null
      ? x.unpricedAttempts > 0
        ? 'cost unknown'
        : '$0.00'
      : `${formatUsd(x.costUsd)}${x.unpricedAttempts > 0 ? ` + ${x.unpricedAttempts} unknown` : ''}`;
  const byModel = models.slice(0, 8).map(([m, x]) => `${m} ${shown(x)}`);
  const more = models.length > 8 ? ` · +${models.length - 8} models` : '';
  const lines = [
    `Cost: ${shown(c)} since start (prices as of ${c.pricesAsOf})${byModel.length ? ` · ${byModel.join(' · ')}` : ''}${more}`,
  ];
  const days = c.byDay.filter((d) => d.costUsd !== null);
  if (days.length)
    lines.push(`Cost per day: ${days.map((d) => `${d.day} ${formatUsd(d.costUsd as number)}`).join(' · ')}`);
  return lines;
}

/** A key's columns: label, masked key, state, today, success rate, cost, last error. */
function columns(k: StatusKey, now: number): string[] {
  return [
    k.account ? `[${k.account}] ${k.label}` : k.label,
    k.masked,
    stateText(k, now),
    `${k.requestsToday ?? 0} today`,
    k.stats?.requests ? `${Math.round((100 * k.stats.successes) / k.stats.requests)}% ok` : '',
    k.stats
      ? costText({ costUsd: k.stats.costUsd ?? 0, priced: k.stats.priced ?? 0, unpriced: k.stats.unpriced ?? 0 })
      : '',
    k.overBudget ? oneLine(k.overBudget.reason, 120) : k.lastError ? oneLine(k.lastError, 80) : '',
  ];
}

/** `cooling 37s`; an active key with per-model cooldowns says which: `active, gpt-4o cooling 30s`. */
function stateText(k: StatusKey, now: number): string {
  const left = (until: number): string => formatRemaining(until - now);
  if (k.overBudget && k.overBudget.until > now) return `over budget, back in ${left(k.overBudget.until)}`;
  if (k.state === 'cooling' && k.coolingUntil) return `cooling ${left(k.coolingUntil)}`;
  const models = Object.entries(k.modelCooldowns ?? {}).filter(([, until]) => until > now);
  if (k.state !== 'active' || models.length === 0) return k.state;
  const shown = models.slice(0, 2).map(([m, until]) => `${m} cooling ${left(until)}`);
  return `active, ${shown.join(', ')}${models.length > 2 ? ` (+${models.length - 2} models)` : ''}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
