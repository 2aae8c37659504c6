/**
 * The pool's public shapes: its options, what `pick` is asked and answers, and the copies views get.
 */
import type { KeyHealth } from './health';
import type { PersistedKeyHealth } from './persistedHealth';
import type { Clock, KeyRecord, PoolKey, StrategyName } from '../types';

/** Pool settings; the numbers come from ProxyConfig. */
export interface PoolOptions {
  clock: Clock;
  strategy: StrategyName;
  cooldownStepsMs: number[];
  maxCooldownMs: number;
  degradedAfter: number;
  discardOnQuota: boolean;
  random?: () => number;
}
/**
 * A picked key's place in the pool, for `begin`, `report` and `end` on the request path: they reach
 * the key's health through it instead of a lookup by id (at 10,000 keys each lookup is a cache
 * miss or two). Still valid after the key's record is replaced; once the key is removed, they fall
 * back to its id.
 */
export interface KeyHandle {
  readonly key: PoolKey;
  /** Where the key's counters keep their record (accounting/stats.ts): the attempt is counted without a lookup either. */
  counters: unknown;
}
/** What `pick` found: a key (and its handle), or why there is none. */
export type PickResult =
  | { kind: 'key'; key: PoolKey; handle: KeyHandle }
  /** The provider has no keys allowed for this model (or every candidate is in `exclude`). */
  | { kind: 'none' }
  /** Every remaining candidate cools; `retryAfterMs` (≥ 1) until the soonest is usable again. */
  | { kind: 'cooling'; retryAfterMs: number; count: number }
  /** Every candidate is invalid or discarded. */
  | { kind: 'unusable'; invalid: number; discarded: number }
  /** Every usable candidate spent its budget; the first is back at `resetsAt`, in `retryAfterMs`. */
  | { kind: 'over-budget'; count: number; resetsAt: number; retryAfterMs: number };
/** One selection: `exclude` holds the ids already tried by this request. */
export interface PickRequest {
  providerId: string;
  model?: string;
  affinity?: string;
  exclude?: ReadonlySet<string>;
  /** A uniformly random usable key instead of the strategy's choice (the fan-out's `random_key`). */
  random?: boolean;
}
/** A key without its secret, plus its health: what views render. */
export interface KeyView extends KeyRecord {
  health: KeyHealth;
}
/** Plain, JSON-safe picture of the pool (no secrets). */
export interface PoolSnapshot {
  at: number;
  strategy: StrategyName;
  keys: KeyView[];
}
/** Health that survives restarts, by key id. */
export interface PersistedHealth {
  [keyId: string]: PersistedKeyHealth;
}
