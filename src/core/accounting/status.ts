import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { Stats } from './stats';
import type { Budgets } from './budgets';
import { costFigure, costSummary } from './costReport';
import { cloneCounters } from './counters';
import type { KeyCounters } from './counters';
import { PART_BYTES } from './byteParts';
import { asciiText, JsonBytes, modelRecord, writeKeyJson } from './statusJson';
import { cooldownRecord } from '../pool/health';
import type { HealthView } from '../pool/health';
import type { ApiShape, KeyRecord, SharedStoreStatus } from '../types';

/** "12s", "4m", "2h": the rest of a cooldown, short enough for a tree row or a terminal column. */
export function formatRemaining(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** What the status document is read from. */
export interface StatusSource {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  version: string;
  instanceId: string;
  endpoint?: string;
  /** The shared state store, when one is configured (issue 18). */
  shared?: SharedStoreStatus;
  /** Spending limits: each key's standing is shown while any budget is set. */
  budgets?: Budgets;
}

/**
 * The readable state behind `/keyrelay/status` and the VS Code views; never holds key text. Built
 * in one pass over the pool's and the counters' live records (at 100,000 keys the copies that
 * `snapshot()` makes cost more than the rest): it shares the keys' history arrays with the pool,
 * so serialize it at once and never keep it.
 */
export function buildStatus(opts: StatusSource): Record<string, unknown> {
  const keys: Array<Record<string, unknown>> = [];
  const tail = statusPass(opts, (k, h, c, budget) => {
    const entry = statusKey(k, h, c);
    if (budget) entry.budget = budget;
    keys.push(entry);
  });
  return { ...statusHead(opts), keys, ...tail };
}

/** The members before `keys`: the first one, `"keyrelay":true`, tells a status apart. */
function statusHead(opts: StatusSource): Record<string, unknown> {
  return {
    keyrelay: true,
    version: opts.version,
    instanceId: opts.instanceId,
    endpoint: opts.endpoint,
    strategy: opts.pool.strategy,
  };
}

/** What one key's entry is made of; `budget`: its standing, while any budget is set. */
type KeyVisit = (k: Readonly<KeyRecord>, h: HealthView, c: Readonly<KeyCounters> | undefined, budget?: unknown) => void;

/** One pass over the keys, each handed to `onKey`; returns the members after `keys`. */
function statusPass(opts: StatusSource, onKey: KeyVisit): Record<string, unknown> {
  const live = opts.stats.liveKeys();
  const budgets = opts.budgets?.active ? opts.budgets : undefined;
  const perProvider = new ProviderCounts();
  const at = opts.pool.forEachKey((k, h) => {
    onKey(k, h, live.get(k.id), budgets?.standing(k));
    perProvider.add(k, h);
  });
  return statusTail(opts, at, perProvider);
}

/** Each provider's keys, and the usable ones, counted as a pass goes. */
class ProviderCounts {
  readonly byId = new Map<string, { keys: number; usable: number }>();

  add(k: Readonly<KeyRecord>, h: HealthView): void {
    let p = this.byId.get(k.providerId);
    if (!p) this.byId.set(k.providerId, (p = { keys: 0, usable: 0 }));
    p.keys++;
    // Usable = serves every model now: a key cooling for one model or over its budget is not (DESIGN §3; drained).
    if (h.state === 'active' && h.modelCooldowns.size === 0 && !h.overBudget) p.usable++;
  }
}

/** The members after `keys`: when the pass read the pool (`at`), providers, totals, cost. */
function statusTail(opts: StatusSource, at: number, counts: ProviderCounts): Record<string, unknown> {
  const providers = opts.catalogue
    .list()
    .filter((p) => counts.byId.has(p.id))
    .map((p) => ({ id: p.id, name: p.name, shape: p.shape, baseUrl: p.baseUrl, ...counts.byId.get(p.id) }));
  const totals = opts.stats.totals();
  return {
    at,
    providers,
    /** Client requests today, however many attempts each took (per key: the ones it answered). */
    requestsToday: opts.stats.requestsToday(),
    totals: totals.total,
    endpoints: totals.byEndpoint,
    since: totals.since,
    cost: costSummary(opts.stats),
    ...(opts.shared ? { shared: opts.shared } : {}),
  };
}

/**
 * Where a part of the status goes: `true` when it was taken at once, a promise while the reader is
 * behind (the pass waits for it), resolving `false` when the reader went away (the pass stops).
 */
export type PartSink = (part: string) => boolean | Promise<boolean>;

/**
 * `/keyrelay/status` as the text to send, handed to `write` in parts of about `PART_BYTES` as
 * the pass over the keys goes (so the reader starts while the rest is built): the document as
 * ASCII JSON (every non-ASCII char a `\u` escape, so V8 keeps each part at one byte a char, and at
 * 100,000 keys the CLI's decoding and parsing with it), `redact` run over every part (a safety
 * net: nothing in it should hold key text; a part ends between two keys' entries, so no string is
 * split). Parsed, it equals `buildStatus`'s document.
 *
 * The pass waits whenever the reader is behind. Built at once, the 20 MB of 100,000 keys sat in
 * the socket's queue until the reader took them: V8 copied them from collection to collection,
 * and that cost more than building them (bench: 190 ms of the server's CPU per call, 70 ms with
 * the parts dropped unsent, 120–140 ms waiting). Waiting, a few parts are alive at a time, and
 * the proxy serves other requests between them. The keys are the pool's at the start (a key
 * removed meanwhile is still listed, as it was then); each key's health and counters are read
 * when its entry is written.
 */
export async function writeStatus(
  opts: StatusSource,
  redact: (text: string) => string,
  write: PartSink,
): Promise<void> {
  const w = new JsonBytes();
  const flush = (): boolean | Promise<boolean> => {
    const text = w.takeText('latin1');
    const safe = redact(text);
    return write(safe === text ? text : asciiText(safe)); // a mask's `…`, escaped
  };
  w.raw(`${JSON.stringify(statusHead(opts)).slice(0, -1)},"keys":[`);
  const keys: Array<Readonly<KeyRecord>> = [];
  const health: HealthView[] = [];
  const at = opts.pool.forEachKey((k, h) => {
    keys.push(k);
    health.push(h);
  });
  const budgets = opts.budgets?.active ? opts.budgets : undefined;
  const counts = new ProviderCounts();
  let live = opts.stats.liveKeys();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (i > 0) w.raw(',');
    writeKeyJson(w, k, health[i], live.get(k.id), budgets?.standing(k));
    counts.add(k, health[i]);
    if (w.length < PART_BYTES) continue;
    const taken = flush();
    if (taken === true) continue;
    if (!(await taken)) return;
    live = opts.stats.liveKeys(); // Stats' records as they are now: a reset meanwhile made new ones
  }
  w.raw(`],${JSON.stringify(statusTail(opts, at, counts)).slice(1)}`);
  await flush();
}

/**
 * One key's entry: its record's shown fields, health and counters (copied only where it has some).
 * `writeKeyJson` (statusJson.ts) writes the same members as bytes; the tests compare the two.
 */
function statusKey(
  k: Readonly<KeyRecord>,
  h: HealthView,
  c: Readonly<KeyCounters> | undefined,
): Record<string, unknown> {
  return {
    id: k.id,
    providerId: k.providerId,
    label: k.label,
    masked: k.masked,
    account: k.account,
    models: k.models,
    weight: k.weight,
    state: h.state,
    coolingUntil: h.state === 'cooling' ? h.coolingUntil : undefined,
    modelCooldowns: cooldownRecord(h),
    overBudget: h.overBudget,
    lastError: h.lastError,
    history: h.history,
    inFlight: h.inFlight,
    requestsToday: c?.today ?? 0,
    stats: c && c.all.requests > 0 ? cloneCounters(c.all) : undefined,
    cost: c && c.all.requests > 0 ? costFigure(c.all) : undefined,
    byModel: c && c.model !== undefined ? modelRecord(c) : undefined,
  };
}

/**
 * `GET /v1/models`: the union over providers that have keys (DESIGN §1), each id as the client
 * must send it: bare for the default provider of the shape, `providerId/model` otherwise.
 * `undefined` when no key or preset lists a model: the caller then forwards to the provider.
 */
export function buildModels(shape: ApiShape, pool: KeyPool, catalogue: ProviderCatalogue): string | undefined {
  const ids: Array<{ id: string; owner: string }> = [];
  const def = catalogue.defaultFor(shape, (id) => pool.hasKeys(id));
  for (const providerId of pool.providerIds()) {
    const provider = catalogue.get(providerId);
    // The router never crosses API shapes, so neither does the list a client picks from.
    if (!provider || provider.shape !== shape) continue;
    const models = new Set([...pool.modelsFor(providerId), ...(provider.models ?? [])]);
    for (const m of models) {
      ids.push({ id: provider.id === def?.id ? m : `${provider.id}/${m}`, owner: provider.id });
    }
  }
  if (ids.length === 0) return undefined;
  if (shape === 'anthropic') {
    const data = ids.map(({ id, owner }) => ({
      type: 'model',
      id,
      display_name: id,
      created_at: '1970-01-01T00:00:00Z',
      provider: owner,
    }));
    return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  }
  return JSON.stringify({
    object: 'list',
    data: ids.map(({ id, owner }) => ({ id, object: 'model', created: 0, owned_by: owner, provider: owner })),
  });
}

/** A provider's keys by state; `usable` = active and cooling for no model. */
type KeyCounts = Record<'total' | 'usable' | HealthView['state'], number>;
const noKeys = (): KeyCounts => ({ total: 0, usable: 0, active: 0, cooling: 0, invalid: 0, discarded: 0 });

/**
 * `GET /v1/providers`: every provider that has keys or was configured by the user, with its API
 * shape, base URL, the prefix its models take in `/v1/models`, the models known without asking it,
 * and its keys counted by state. Never a key, masked or not: the counts are all a client needs.
 */
export function buildProviders(pool: KeyPool, catalogue: ProviderCatalogue): string {
  const counts = new Map<string, KeyCounts>();
  pool.forEachKey((k, h) => {
    let c = counts.get(k.providerId);
    if (!c) counts.set(k.providerId, (c = noKeys()));
    c.total++;
    c[h.state]++;
    if (h.state === 'active' && h.modelCooldowns.size === 0 && !h.overBudget) c.usable++;
  });
  const withKeys = (id: string): boolean => pool.hasKeys(id);
  const shapes: ApiShape[] = ['openai', 'anthropic'];
  const defaultIds = new Set(shapes.map((shape) => catalogue.defaultFor(shape, withKeys)?.id));
  const data = catalogue
    .list()
    .filter((p) => counts.has(p.id) || catalogue.isCustom(p.id))
    .map((p) => ({
      id: p.id,
      object: 'provider',
      name: p.name,
      shape: p.shape,
      base_url: p.baseUrl,
      custom: catalogue.isCustom(p.id),
      default_for_shape: defaultIds.has(p.id),
      model_prefix: defaultIds.has(p.id) ? '' : `${p.id}/`,
      models: [...new Set([...pool.modelsFor(p.id), ...(p.models ?? [])])],
      keys: counts.get(p.id) ?? noKeys(),
    }));
  return JSON.stringify({ object: 'list', data });
}
