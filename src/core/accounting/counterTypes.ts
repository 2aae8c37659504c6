/**
 * The shapes of request counters (DESIGN §3) and of a key's spend record: shared by the counting
 * code (counters.ts), the counters' table (keyRows.ts) and the spend ledger (spend.ts).
 */
import type { FailureClass } from '../types';

/** Request counters for one key, key × model, endpoint, or everything (DESIGN §3). */
export interface Counters {
  requests: number;
  successes: number;
  failures: Partial<Record<FailureClass, number>>;
  inputTokens: number;
  outputTokens: number;
  latencyMsTotal: number;
  ttfbMsTotal: number;
  ttfbCount: number;
  /** USD of the attempts whose model had a price (`priced` of them). */
  costUsd: number;
  priced: number;
  /** Attempts that reported tokens for a model without a price: their cost is unknown. */
  unpriced: number;
  /** Milliseconds since the epoch, to the second (snapshots only; live counters keep seconds). */
  lastUsed?: number;
}

/**
 * Live counters keep "last used" as whole seconds since 2025 so the field stays a small integer.
 * A millisecond timestamp does not fit one: every store put a fresh heap number into a long-lived
 * object, which at 10,000 keys promoted garbage on every request (bench: 0.85× of 3 keys).
 * `failures` stays undefined until the first failure: an empty object per counter was 56 bytes
 * for each key and model that never failed.
 */
export interface LiveCounters extends Omit<Counters, 'failures' | 'lastUsed'> {
  failures: Partial<Record<FailureClass, number>> | undefined;
  lastUsedSec: number;
}

/** One finished request (or attempt) as the forwarder reports it. Holds key ids, never key text. */
export interface RequestRecord {
  keyId?: string;
  providerId: string;
  model?: string;
  endpoint: string;
  ok: boolean;
  failure?: FailureClass;
  status: number;
  latencyMs: number;
  ttfbMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  /**
   * What the attempt cost in USD, when its model has a price (config/prices.ts); undefined keeps
   * the cost "unknown" rather than 0 in the status, dashboard and metrics.
   */
  costUsd?: number;
}

/** One key's spend in its current UTC day and month. */
export interface KeySpend {
  day: string;
  dayUsd: number;
  month: string;
  monthUsd: number;
}
