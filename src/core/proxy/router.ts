import type { ApiShape, ProviderSpec } from '../types';
import type { ProviderCatalogue } from '../config/providers';
import { ProxyError } from '../errors';

/** What the router needs from the key pool (structural, so it does not depend on keyPool.ts). */
export interface RoutingPool {
  hasKeys(providerId: string): boolean;
  /** Whether some key of the provider lists the model explicitly (without `others`). */
  listsModel(providerId: string, model: string): boolean;
  /** The keys: the same array for as long as the key set stays the same (the router's memo hangs on it). */
  list(): readonly unknown[];
}

/** Where one request goes, and the model id to forward. */
export interface Route {
  provider: ProviderSpec;
  /** The model to send upstream (prefix removed when `stripped`). */
  model?: string;
  /** True when a `providerId/` prefix was removed and the body must be rewritten. */
  stripped: boolean;
}

const SHAPE_NAME: Record<ApiShape, string> = {
  openai: 'the OpenAI API (/v1/chat/completions, /v1/responses …)',
  anthropic: 'the Anthropic Messages API (/v1/messages)',
};

/**
 * A provider id counts as "configured" — and so as a model prefix — when it has keys or the user
 * declared it as a custom provider. Presets without keys do not count: OpenRouter ids such as
 * `openai/gpt-4o` or `deepseek/deepseek-chat` must reach OpenRouter whole when the user has no
 * OpenAI or DeepSeek keys. (With keys for both, `openrouter/openai/gpt-4o` forces OpenRouter.)
 */
export function isConfiguredProvider(id: string, catalogue: ProviderCatalogue, pool: RoutingPool): boolean {
  return catalogue.get(id) !== undefined && (pool.hasKeys(id) || catalogue.isCustom(id));
}

/**
 * Picks the provider for a request (DESIGN §2), in this order:
 * 1. `providerId/model` when the prefix is a configured provider of the request's shape → stripped;
 * 2. a provider of the shape with keys whose keys list the whole model id;
 * 3. the default provider for the shape (first with keys, else the openai/anthropic preset).
 * A request never crosses shapes: an OpenAI-shape request goes to OpenAI-shape providers only, and
 * Anthropic likewise. When the prefix names a configured provider of the other shape, the model is
 * tried whole on this shape's providers with keys (OpenRouter takes `anthropic/claude-…`); if there
 * are none, ProxyError `unknown_provider` says which endpoint to use instead.
 */
export function resolveRoute(
  input: { shape: ApiShape; model?: string },
  catalogue: ProviderCatalogue,
  pool: RoutingPool,
): Route {
  const { shape, model } = input;
  let crossShape: ProviderSpec | undefined;
  if (model) {
    const slash = model.indexOf('/');
    if (slash > 0 && slash < model.length - 1) {
      const id = model.slice(0, slash);
      if (isConfiguredProvider(id, catalogue, pool)) {
        const provider = catalogue.get(id)!;
        if (provider.shape === shape) return { provider, model: model.slice(slash + 1), stripped: true };
        crossShape = provider;
      }
    }
  }
  const keyed = keyedProviders(shape, catalogue, pool);
  if (model) for (const p of keyed) if (pool.listsModel(p.id, model)) return { provider: p, model, stripped: false };
  // The first provider of the shape with keys; without any, the shape's preset (not for a cross-shape prefix).
  const fallback = keyed[0] ?? (crossShape ? undefined : catalogue.defaultFor(shape, NO_KEYS));
  if (fallback) return { provider: fallback, model, stripped: false };
  if (crossShape) {
    throw new ProxyError(
      'unknown_provider',
      400,
      `Model "${model}" names provider "${crossShape.id}", which speaks ${SHAPE_NAME[crossShape.shape]}, but this request came to ${SHAPE_NAME[shape]}. ` +
        `Point the client at the matching endpoint, or add keys for a provider of this API shape (such as OpenRouter) to send it there.`,
    );
  }
  throw new ProxyError(
    'unknown_provider',
    400,
    `No provider speaks ${SHAPE_NAME[shape]}${model ? ` for model "${model}"` : ''}. Add a key for such a provider ("KeyRelay: Add Key") or a custom provider with shape "${shape}".`,
  );
}

const NO_KEYS = (): boolean => false;

/** The catalogue's providers with keys, by shape in catalogue order, for one key set and one catalogue. */
interface Keyed {
  keys: readonly unknown[];
  providers: readonly ProviderSpec[];
  byShape: Record<ApiShape, ProviderSpec[]>;
}
const keyedMemo = new WeakMap<RoutingPool, Keyed>();

/**
 * The providers of `shape` that have keys, in catalogue order: made again only when the key set or
 * the catalogue changes. Asking each of the catalogue's ~20 providers `hasKeys` twice per request
 * (once for a key listing the model, once for the default) was ~30 Map lookups and a copy of the list.
 */
function keyedProviders(shape: ApiShape, catalogue: ProviderCatalogue, pool: RoutingPool): readonly ProviderSpec[] {
  const keys = pool.list();
  const providers = catalogue.providers();
  let m = keyedMemo.get(pool);
  if (m?.keys !== keys || m.providers !== providers) {
    m = { keys, providers, byShape: { openai: [], anthropic: [] } };
    for (const p of providers) if (pool.hasKeys(p.id)) m.byShape[p.shape].push(p);
    keyedMemo.set(pool, m);
  }
  return m.byShape[shape];
}

/** The route of a caller that already chose the provider (in-process requests from the editor). */
export function routeToProvider(providerId: string, model: string | undefined, catalogue: ProviderCatalogue): Route {
  const provider = catalogue.get(providerId);
  if (!provider) {
    throw new ProxyError(
      'unknown_provider',
      400,
      `Provider "${providerId}" is not configured in KeyRelay. Add a key for it ("KeyRelay: Add Key") or declare it in keyRelay.providers.`,
    );
  }
  return { provider, model, stripped: false };
}
