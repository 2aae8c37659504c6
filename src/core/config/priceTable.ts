/**
 * The shipped price table: published list prices in USD per million tokens, per model id, as of
 * PRICES_AS_OF. Data only; lookups and the cost maths are in prices.ts. Prices change: a user
 * overrides or extends this with the `prices` setting (the CLI config's `proxy.prices`,
 * `keyRelay.prices` in the editor). A model missing here has an unknown cost, never a guess, so
 * only prices that are flat (no tiers by prompt length) and well known are listed.
 *
 * `cachedInput`: prompt-cache reads; `cacheWrite`: Anthropic's 5-minute cache writes (1.25 × input).
 */
import type { ModelPrice } from '../types';

/** The day these list prices were taken from the providers' pricing pages. */
export const PRICES_AS_OF = '2025-11-01';

export const PRICE_TABLE: Readonly<Record<string, Readonly<ModelPrice>>> = Object.freeze({
  // OpenAI
  'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
  'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
  'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  'gpt-4o-2024-05-13': { input: 5, output: 15 },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
  'o3-mini': { input: 1.1, cachedInput: 0.55, output: 4.4 },
  // Anthropic
  'claude-opus-4-1': { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 },
  'claude-opus-4': { input: 15, cachedInput: 1.5, cacheWrite: 18.75, output: 75 },
  'claude-sonnet-4-5': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  'claude-sonnet-4': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  'claude-3-7-sonnet': { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
  'claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
  'claude-3-5-haiku': { input: 0.8, cachedInput: 0.08, cacheWrite: 1, output: 4 },
  // Google (OpenAI-compatible endpoint)
  'gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'gemini-2.0-flash': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  // Mistral
  'mistral-large-latest': { input: 2, output: 6 },
  'mistral-small-latest': { input: 0.1, output: 0.3 },
  'codestral-latest': { input: 0.3, output: 0.9 },
  // DeepSeek (cache hit = cachedInput)
  'deepseek-chat': { input: 0.28, cachedInput: 0.028, output: 0.42 },
  'deepseek-reasoner': { input: 0.28, cachedInput: 0.028, output: 0.42 },
  // xAI
  'grok-4': { input: 3, cachedInput: 0.75, output: 15 },
  'grok-3': { input: 3, cachedInput: 0.75, output: 15 },
  'grok-3-mini': { input: 0.3, cachedInput: 0.075, output: 0.5 },
  // Groq
  'llama-3.3-70b-versatile': { input: 0.59, output: 0.79 },
  'llama-3.1-8b-instant': { input: 0.05, output: 0.08 },
});
