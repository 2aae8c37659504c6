/** What `KeyPool.pick` is asked, and what it answers. */
import type { PoolKey } from '../types';

/** What `pick` found: a key, or why there is none. */
export type PickResult =
  | { kind: 'key'; key: PoolKey }
  /** The provider has no keys allowed for this model (or every candidate is in `exclude`). */
  | { kind: 'none' }
  /** Every remaining candidate cools; `retryAfterMs` (≥ 1) until the soonest is usable again. */
  | { kind: 'cooling'; retryAfterMs: number; count: number }
  /** Every candidate is invalid or discarded. */
  | { kind: 'unusable'; invalid: number; discarded: number };
/** One selection: `exclude` holds the ids already tried by this request. */
export interface PickRequest {
  providerId: string;
  model?: string;
  affinity?: string;
  exclude?: ReadonlySet<string>;
  /** A uniformly random usable key instead of the strategy's choice (the fan-out's `random_key`). */
  random?: boolean;
}
