/**
 * Prices and the cost of one request: the shipped table (priceTable.ts) under the user's `prices`
 * setting, looked up by provider and model, and the USD a request's token usage came to. A model
 * without a price has an unknown cost (`undefined`), never 0 or a guess.
 */
import { PRICE_TABLE, PRICES_AS_OF } from './priceTable';
import type { ApiShape, ModelPrice } from '../types';

/** Token counts one response reported (absent: not reported). */
export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  /** Input tokens read from the prompt cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cachedTokens?: number;
  /** Input tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`). */
  cacheWriteTokens?: number;
}

/** A dated snapshot or alias of a model: `gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`, `…-latest`. */
const SNAPSHOT = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/** The names a model may be priced under, most specific first. */
function names(providerId: string, model: string): string[] {
  const bare = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
  const out = [`${providerId}/${model}`, model, bare];
  for (const n of [model, bare]) if (SNAPSHOT.test(n)) out.push(n.replace(SNAPSHOT, ''));
  return out;
}

/** The shipped price table under the user's overrides; one per settings change. */
export class PriceBook {
  private readonly table: Map<string, ModelPrice>;
  /** Lookups done: provider → model → price (null: none). Two levels, so a lookup builds no string. */
  private readonly found = new Map<string, Map<string, ModelPrice | null>>();
  private foundCount = 0;

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    this.table = new Map(Object.entries({ ...PRICE_TABLE, ...overrides }));
  }

  /** The day of the shipped prices (overrides are the user's own). */
  get asOf(): string {
    return PRICES_AS_OF;
  }

  /**
   * The price of `model` at `providerId`: `provider/model`, then the model id, then without a
   * vendor prefix (`openai/gpt-4o` on OpenRouter), then without a date suffix. Cached per name.
   */
  priceOf(providerId: string, model: string | undefined): ModelPrice | undefined {
    if (!model) return undefined;
    let byModel = this.found.get(providerId);
    let p = byModel?.get(model);
    if (p === undefined) {
      p = names(providerId, model).reduce<ModelPrice | null>((hit, n) => hit ?? this.table.get(n) ?? null, null);
      // Model names come from clients: a bounded cache, cleared rather than grown without end.
      if (++this.foundCount > 1000) {
        this.found.clear();
        this.foundCount = 1;
        byModel = undefined;
      }
      if (!byModel) this.found.set(providerId, (byModel = new Map()));
      byModel.set(model, p);
    }
    return p ?? undefined;
  }

  /** What a response cost in USD, or undefined when the model has no price or no usage was reported. */
  cost(providerId: string, shape: ApiShape, model: string | undefined, usage: TokenUsage): number | undefined {
    if (usage.inputTokens === undefined && usage.outputTokens === undefined) return undefined;
    const price = this.priceOf(providerId, model);
    return price && costOf(price, shape, usage);
  }
}

/**
 * USD for `usage` at `price`. OpenAI-shaped counts include cached tokens in the input; Anthropic's
 * input excludes cache reads and writes, which come on top.
 */
export function costOf(price: ModelPrice, shape: ApiShape, usage: TokenUsage): number {
  const input = usage.inputTokens ?? 0;
  const cached = usage.cachedTokens ?? 0;
  const written = usage.cacheWriteTokens ?? 0;
  const fresh = shape === 'openai' ? Math.max(0, input - cached) : input;
  const micro =
    fresh * price.input +
    cached * (price.cachedInput ?? price.input) +
    written * (price.cacheWrite ?? price.input) +
    (usage.outputTokens ?? 0) * price.output;
  return micro / 1e6;
}

/** A USD amount for people: cents for sums of a dollar or more, more digits for small ones. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0.00';
  if (Math.abs(usd) >= 1) return `$${usd.toFixed(2)}`;
  if (Math.abs(usd) >= 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toPrecision(2)}`;
}
