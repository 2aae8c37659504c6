/**
 * What goes to the shared store and how it is named. Key text never does: a key is known there by
 * an HMAC of its text under the team secret (so the store cannot confirm a guessed key), and every
 * name sits under the pool's prefix (one store, several teams).
 */
import { createHmac } from 'node:crypto';

/** A cooldown of one key × model (`model` "" = key-wide), ending at wall-clock `until`. */
export interface CoolRecord {
  k: 'cool';
  sid: string;
  model: string;
  until: number;
  level: number;
  at: number;
  reason: string;
  from: string;
}
/** A key's user-visible state: invalid, discarded, or active again (restored). */
export interface StateRecord {
  k: 'state';
  sid: string;
  state: 'invalid' | 'discarded' | 'active';
  at: number;
  reason: string;
  from: string;
}
export type SharedRecord = CoolRecord | StateRecord;

/** The usage counters mirrored from Stats (attempts per key); budgets add their own fields. */
export const USAGE_FIELDS = ['requests', 'successes', 'inputTokens', 'outputTokens'] as const;

/** The id every instance derives for one key: HMAC-SHA256(team secret, provider + key text), 128 bits. */
export function sharedKeyId(teamSecret: string, providerId: string, secret: string): string {
  return createHmac('sha256', teamSecret).update(`${providerId}\u0000${secret}`).digest('base64url').slice(0, 22);
}

/** The store's names for one pool. */
export class StoreNames {
  readonly prefix: string;
  constructor(pool: string) {
    this.prefix = `keyrelay:${pool}:`;
  }
  get channel(): string {
    return `${this.prefix}events`;
  }
  cool(sid: string, model: string): string {
    return `${this.prefix}cd:${sid}:${model}`;
  }
  state(sid: string): string {
    return `${this.prefix}st:${sid}`;
  }
  usage(field: string): string {
    return `${this.prefix}u:${field}`;
  }
  /** A provider's pool-wide round-robin cursor (a counter every instance reserves places of). */
  cursor(providerId: string): string {
    return `${this.prefix}rr:${providerId}`;
  }
}

const STATES = new Set(['invalid', 'discarded', 'active']);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === 'string';

/** A record read from the store or a channel, checked field by field; undefined when malformed. */
export function parseRecord(text: string | null | undefined): SharedRecord | undefined {
  if (!text) return undefined;
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null || !isStr(r.sid) || !isNum(r.at) || !isStr(r.from)) return undefined;
  const reason = isStr(r.reason) ? r.reason.slice(0, 300) : '';
  if (r.k === 'cool' && isStr(r.model) && isNum(r.until) && isNum(r.level))
    return { k: 'cool', sid: r.sid, model: r.model, until: r.until, level: r.level, at: r.at, reason, from: r.from };
  if (r.k === 'state' && isStr(r.state) && STATES.has(r.state))
    return { k: 'state', sid: r.sid, state: r.state as StateRecord['state'], at: r.at, reason, from: r.from };
  return undefined;
}
