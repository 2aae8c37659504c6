/**
 * The table `keyrelay status` prints: one line per key under its provider. Built on the server
 * from the live records (`GET /keyrelay/status?format=text`: no 20 MB of JSON to build, send and
 * parse for 100,000 keys), or by the CLI from the JSON document of a KeyRelay that predates it.
 */
import { formatRemaining } from './status';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { Stats } from './stats';
import type { KeyRecord, SharedStoreStatus, SharedStoreSummary } from '../types';
import { cooldownRecord } from '../pool/health';
import type { HealthView } from '../pool/health';
import type { KeyCounters } from './counters';
import type { Budgets } from './budgets';
import { costSummary, costText } from './costReport';
import type { CostSummary } from './costReport';
import { formatUsd } from '../config/prices';
import { ByteParts, PART_BYTES } from './byteParts';

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

/** What `writeStatusTable` is read from. */
export interface TableSource {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  version: string;
  endpoint?: string;
  shared?: SharedStoreStatus;
  budgets?: Budgets;
}

/** One provider's keys, in pool order, with their live health (read during the call only). */
interface KeyGroup {
  keys: Array<Readonly<KeyRecord>>;
  health: HealthView[];
  counters: Array<Readonly<KeyCounters> | undefined>;
  usable: number;
}

/**
 * The table of a running pool, from its live records, handed to `write` in parts of about
 * `PART_BYTES` (each ends after a line, so no key text is split), each run through `redact` first.
 * No key's columns are kept: they are made once to measure the widths and again to be written
 * (at 100,000 keys, keeping them and one 4 MB string of the whole table, then redacting and
 * encoding it, cost more than making them twice).
 */
export function writeStatusTable(
  opts: TableSource,
  redact: (text: string) => string,
  write: (part: string) => void,
): void {
  const live = opts.stats.liveKeys();
  const groups = new Map<string, KeyGroup>();
  const at = opts.pool.forEachKey((k, h) => {
    let g = groups.get(k.providerId);
    if (!g) groups.set(k.providerId, (g = { keys: [], health: [], counters: [], usable: 0 }));
    g.keys.push(k);
    g.health.push(h);
    g.counters.push(live.get(k.id));
    if (h.state === 'active' && h.modelCooldowns.size === 0 && !h.overBudget) g.usable++;
  });
  const keyOf = (g: KeyGroup, i: number): StatusKey => liveKey(g.keys[i], g.health[i], g.counters[i]);
  let usable = 0;
  let total = 0;
  const widths = new Map<KeyGroup, number[]>();
  for (const g of groups.values()) {
    const width = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < g.keys.length; i++) {
      const k = keyOf(g, i);
      if (isUsable(k, at)) usable++;
      measure(columns(k, at), width);
    }
    widths.set(g, width);
    total += g.keys.length;
  }
  const out = new ByteParts();
  const flush = (): void => write(redact(out.takeText('utf8')));
  const line = (text: string): void => {
    out.utf8(text);
    out.utf8('\n');
    if (out.length >= PART_BYTES) flush();
  };
  const head = { ...opts, strategy: opts.pool.strategy, cost: costSummary(opts.stats) };
  for (const l of headLines(head, usable, total, opts.stats.requestsToday())) line(l);
  for (const p of opts.catalogue.list()) {
    const g = groups.get(p.id);
    if (!g) continue;
    line('');
    line(`${p.name} · ${g.usable}/${g.keys.length} usable`);
    const width = widths.get(g)!;
    for (let i = 0; i < g.keys.length; i++) {
      writeRow(out, columns(keyOf(g, i), at), width);
      if (out.length >= PART_BYTES) flush();
    }
  }
  flush();
}

/** A live key as the table reads it. */
function liveKey(k: Readonly<KeyRecord>, h: HealthView, c: Readonly<KeyCounters> | undefined): StatusKey {
  return {
    providerId: k.providerId,
    label: k.label,
    masked: k.masked,
    account: k.account,
    state: h.state,
    coolingUntil: h.state === 'cooling' ? h.coolingUntil : undefined,
    modelCooldowns: cooldownRecord(h),
    overBudget: h.overBudget,
    lastError: h.lastError,
    requestsToday: c?.today ?? 0,
    stats: c && c.all.requests > 0 ? c.all : undefined,
  };
}

/** Usable = serves every model now: a key cooling for one model, or over its budget, is not (DESIGN §3). */
function isUsable(k: StatusKey, at: number): boolean {
  if (k.state !== 'active' || (k.overBudget?.until ?? 0) > at) return false;
  for (const model in k.modelCooldowns) if (k.modelCooldowns[model] > at) return false;
  return true;
}

/** The widths of the padded columns (all but the last) grown to fit `cols`. */
function measure(cols: string[], width: number[]): void {
  for (let i = 0; i < width.length; i++) if (cols[i].length > width[i]) width[i] = cols[i].length;
}

/** A key's line: every column padded but the last, the line's end trimmed (as `rowText` makes it). */
function writeRow(out: ByteParts, cols: string[], width: number[]): void {
  let last = cols.length - 1; // the line ends after the last column with text
  while (last >= 0 && cols[last].trimEnd() === '') last--;
  for (let i = 0; i <= last; i++) {
    out.spaces(2);
    if (i === last) {
      out.utf8(cols[i].trimEnd());
    } else {
      out.utf8(cols[i]);
      out.spaces(width[i] - cols[i].length);
    }
  }
  out.utf8('\n');
}

/** A key's line as text (see writeRow). */
function rowText(cols: string[], width: number[]): string {
  let line = '';
  for (let i = 0; i < width.length; i++) line += `  ${cols[i].padEnd(width[i])}`;
  return `${line}  ${cols[width.length]}`.trimEnd();
}

/**
 * One line per key under its provider, columns aligned; states say how long a cooldown has left.
 * Linear in the keys: one pass groups them and measures the columns, one writes the lines. The
 * CLI's table for a KeyRelay that sends only the JSON document.
 */
export function renderStatus(doc: StatusDoc): string[] {
  let usable = 0;
  let today = 0;
  const byProvider = new Map<string, { rows: string[][]; width: number[] }>();
  for (const k of doc.keys) {
    if (isUsable(k, doc.at)) usable++;
    today += k.requestsToday ?? 0;
    let g = byProvider.get(k.providerId);
    if (!g) byProvider.set(k.providerId, (g = { rows: [], width: [0, 0, 0, 0, 0, 0] }));
    const cols = columns(k, doc.at);
    measure(cols, g.width);
    g.rows.push(cols);
  }
  const lines = headLines(doc, usable, doc.keys.length, doc.requestsToday ?? today);
  for (const p of doc.providers) {
    const g = byProvider.get(p.id);
    lines.push('', `${p.name} · ${p.usable}/${p.keys} usable`);
    for (const r of g?.rows ?? []) lines.push(rowText(r, g!.width));
  }
  return lines;
}

/** The lines above the keys: endpoint, strategy, usable keys and requests today; shared state; cost. */
function headLines(
  doc: Pick<StatusDoc, 'version' | 'endpoint' | 'strategy' | 'shared' | 'cost'>,
  usable: number,
  total: number,
  today: number,
): string[] {
  const lines = [
    `KeyRelay ${doc.version} at ${doc.endpoint ?? '?'} · ${doc.strategy} · ${usable}/${total} keys usable · ${today} requests today`,
  ];
  if (doc.shared) lines.push(sharedLine(doc.shared));
  if (doc.cost) lines.push(...costLines(doc.cost));
  if (total === 0)
    lines.push(
      'No keys: requests are answered in fallback mode. Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.',
    );
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
