import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { Stats } from './stats';
import type { ApiShape } from '../types';

/** "12s", "4m", "2h": the rest of a cooldown, short enough for a tree row or a terminal column. */
export function formatRemaining(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** The readable state behind `/keyrelay/status` and the VS Code views; never holds key text. */
export function buildStatus(opts: {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  version: string;
  instanceId: string;
  endpoint?: string;
}): Record<string, unknown> {
  const snap = opts.pool.snapshot();
  const stats = opts.stats.snapshot();
  const keys = snap.keys.map((k) => ({
    id: k.id,
    providerId: k.providerId,
    label: k.label,
    masked: k.masked,
    account: k.account,
    models: k.models,
    weight: k.weight,
    state: k.health.state,
    coolingUntil: k.health.coolingUntil,
    modelCooldowns: k.health.modelCooldowns,
    lastError: k.health.lastError,
    history: k.health.history,
    inFlight: k.health.inFlight,
    requestsToday: stats.today.byKey[k.id] ?? 0,
    stats: stats.byKey[k.id],
    byModel: stats.byKeyModel[k.id],
  }));
  const providerIds = new Set(snap.keys.map((k) => k.providerId));
  const providers = opts.catalogue
    .list()
    .filter((p) => providerIds.has(p.id))
    .map((p) => {
      const mine = keys.filter((k) => k.providerId === p.id);
      return {
        id: p.id,
        name: p.name,
        shape: p.shape,
        baseUrl: p.baseUrl,
        keys: mine.length,
        // Usable = serves every model now: a key cooling for one model is not (DESIGN §3).
        usable: mine.filter((k) => k.state === 'active' && Object.keys(k.modelCooldowns).length === 0).length,
      };
    });
  return {
    keyrelay: true,
    version: opts.version,
    instanceId: opts.instanceId,
    endpoint: opts.endpoint,
    strategy: snap.strategy,
    at: snap.at,
    providers,
    keys,
    /** Client requests today, however many attempts each took (per key: the ones it answered). */
    requestsToday: opts.stats.requestsToday(),
    totals: stats.total,
    endpoints: stats.byEndpoint,
    since: stats.since,
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
    const data = ids.map(({ id }) => ({ type: 'model', id, display_name: id, created_at: '1970-01-01T00:00:00Z' }));
    return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
  }
  return JSON.stringify({
    object: 'list',
    data: ids.map(({ id, owner }) => ({ id, object: 'model', created: 0, owned_by: owner })),
  });
}
