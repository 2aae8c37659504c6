/**
 * A key's health as the state file keeps it (DESIGN §3): what survives a restart, written and
 * read back with every field checked.
 */
import { HISTORY_LIMIT, NO_BACKOFF } from './entry';
import type { HealthState } from './entry';
import type { KeyState, Transition } from '../types';

/** Health that survives restarts, by key id. */
export interface PersistedHealth {
  [keyId: string]: PersistedKeyHealth;
}

/** Persisted form of one key's health (PersistedHealth's values). */
export interface PersistedKeyHealth {
  state: KeyState;
  coolingUntil?: number;
  modelCooldowns?: Record<string, number>;
  backoffLevel?: number;
  modelBackoff?: Record<string, number>;
  history?: Transition[];
  lastError?: string;
  uses?: number;
}

const STATES: ReadonlySet<string> = new Set(['active', 'cooling', 'invalid', 'discarded']);
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Whether the key's health is what a new key has, so persisting it would add nothing. */
export function isPristine(h: HealthState): boolean {
  return (
    h.state === 'active' &&
    h.backoffLevel === 0 &&
    h.modelBackoff.size === 0 &&
    h.history.length === 0 &&
    h.modelCooldowns.size === 0 &&
    h.lastError === undefined &&
    h.uses === 0
  );
}

/** Persisted copy of a key's health: only what should survive a restart. */
export function persistHealth(h: HealthState): PersistedKeyHealth {
  const p: PersistedKeyHealth = {
    state: h.state,
    backoffLevel: h.backoffLevel,
    history: h.history.map((t) => ({ ...t })),
    uses: h.uses,
  };
  if (h.state === 'cooling' && h.coolingUntil !== undefined) p.coolingUntil = h.coolingUntil;
  if (h.modelCooldowns.size > 0) p.modelCooldowns = Object.fromEntries(h.modelCooldowns);
  if (h.modelBackoff.size > 0) p.modelBackoff = Object.fromEntries(h.modelBackoff);
  if (h.lastError !== undefined) p.lastError = h.lastError;
  return p;
}

/**
 * Loads persisted health into `h` (data from disk: every field checked). Returns false when the
 * record is unusable. Expired cooldowns stay in place so the pool's drain records their end.
 */
export function restoreHealth(h: HealthState, p: PersistedKeyHealth | undefined): boolean {
  if (!p || typeof p !== 'object' || !STATES.has(p.state)) return false;
  h.state = p.state;
  h.coolingUntil = p.state === 'cooling' && isTime(p.coolingUntil) ? p.coolingUntil : undefined;
  // A cooling record without an end time cannot end by time: treat it as active.
  if (h.state === 'cooling' && h.coolingUntil === undefined) h.state = 'active';
  h.modelCooldowns = new Map(Object.entries(p.modelCooldowns ?? {}).filter(([, t]) => isTime(t)));
  h.backoffLevel = isTime(p.backoffLevel) && p.backoffLevel >= 0 ? Math.floor(p.backoffLevel) : 0;
  const levels = Object.entries(p.modelBackoff ?? {}).filter(([, n]) => isTime(n) && n > 0);
  h.modelBackoff = levels.length > 0 ? new Map(levels.map(([m, n]) => [m, Math.floor(n)])) : NO_BACKOFF;
  h.history = Array.isArray(p.history) ? p.history.slice(-HISTORY_LIMIT).map((t) => ({ ...t })) : [];
  h.lastError = typeof p.lastError === 'string' ? p.lastError : undefined;
  h.uses = isTime(p.uses) && p.uses >= 0 ? p.uses : 0;
  h.consecutiveFailures = 0;
  return true;
}
