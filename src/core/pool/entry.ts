/**
 * What the pool keeps per key: its record, its mutable health, and the candidate groups it is in.
 * Plain data shared by the health state machine and the candidate groups.
 */
import type { KeyState, PoolKey, Transition } from '../types';

/** A candidate group as a key sees it: told when the key's health changed, or that it leaves. */
export interface EntryGroup {
  refresh(e: Entry): void;
  removeMember(e: Entry): void;
}

/** Why and until when a key is skipped for its budget (accounting/budgets.ts decides). */
export interface OverBudget {
  until: number;
  reason: string;
}

/** Mutable health of one key; KeyPool turns it into the public KeyHealth. */
export interface HealthState {
  state: KeyState;
  coolingUntil?: number;
  modelCooldowns: Map<string, number>;
  consecutiveFailures: number;
  /** Escalation of key-wide cooldowns (degraded after repeated server errors). */
  backoffLevel: number;
  /** Escalation of rate limits per model: a 429 for one model says nothing about another. */
  modelBackoff: Map<string, number>;
  lastError?: string;
  /** Skipped for spending its budget until `until` (the next UTC day or month); not a KeyState. */
  overBudget?: OverBudget;
  history: Transition[];
  inFlight: number;
  uses: number;
  /**
   * Recent time to first byte in 1/16 ms and recent success rate in 1/1000, -1 = not measured.
   * Kept as small integers on purpose: a fractional number stored on every request into a
   * long-lived object is a new heap number each time, garbage that 10,000 keys turn into GC load.
   */
  ttfbEwma16: number;
  successPermille: number;
}

/** Transition history kept per key (newest last). */
export const HISTORY_LIMIT = 20;

/** One key as the pool holds it. */
export interface Entry {
  key: PoolKey;
  h: HealthState;
  /** The candidate groups this key is in: usually one, so an array beats a Set's hash table. */
  groups: EntryGroup[];
  /** Pick sequence number of the last time this key was chosen (tie-breaker for fairness). */
  lastPick: number;
  /** The pool's revision when this key's health or record last changed (see changesSince). */
  rev: number;
  /** Order of the key in its provider: round-robin goes round in this order, across models. */
  slot: number;
  /** Removed from the pool: a handle to it (poolTypes.ts KeyHandle) falls back to a lookup by id. */
  gone: boolean;
  /** Kept for the key's counters (KeyHandle.counters). */
  counters: unknown;
}

/**
 * The empty cooldown map every healthy key shares until its first model-scoped 429: a Map per key
 * cost ~150 bytes each. Never mutated: `cool()` swaps in a key's own Map before its first `set`.
 */
export const NO_COOLDOWNS: Map<string, number> = new Map();

/** The empty per-model escalation every key shares until its first rate limit (never mutated). */
export const NO_BACKOFF: Map<string, number> = new Map();

/** The history every key shares until its first transition (frozen: `pushHistory` swaps it out). */
export const NO_HISTORY = Object.freeze([]) as unknown as Transition[];

/** A newly added key's entry. */
export function newEntry(key: PoolKey): Entry {
  return { key, h: newHealth(), groups: [], lastPick: 0, rev: 0, slot: 0, gone: false, counters: undefined };
}

/** Fresh health for a newly added key. */
export function newHealth(): HealthState {
  return {
    state: 'active',
    modelCooldowns: NO_COOLDOWNS,
    consecutiveFailures: 0,
    backoffLevel: 0,
    modelBackoff: NO_BACKOFF,
    history: NO_HISTORY,
    inFlight: 0,
    uses: 0,
    ttfbEwma16: -1,
    successPermille: 1000,
  };
}
