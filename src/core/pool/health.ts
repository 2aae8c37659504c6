/**
 * Per-key health (DESIGN §3): the state machine that turns upstream outcomes into cooling,
 * invalid and discarded states, lazy cooldown expiry, and the public/persisted copies of health.
 */
import { HISTORY_LIMIT, NO_BACKOFF, NO_COOLDOWNS, NO_HISTORY } from './entry';
import { restoreHealth } from './persistedHealth';
import type { PersistedKeyHealth } from './persistedHealth';
import type { Entry, HealthState, OverBudget } from './entry';
import { TimeHeap } from './timeHeap';
import type { Clock, KeyRecord, KeyState, Outcome, PoolKey, Transition } from '../types';

/** A key's health as views and status JSON see it (`modelCooldowns`: model → until, future ones only). */
export interface KeyHealth {
  state: KeyState;
  coolingUntil?: number;
  modelCooldowns: Record<string, number>;
  consecutiveFailures: number;
  backoffLevel: number;
  lastError?: string;
  history: Transition[] /* newest last, max 20 */;
  inFlight: number;
  /** Requests since the last daily reset. */ uses: number;
  ewmaTtfbMs?: number;
  /** Recent, 0..1. */ successRate: number;
  /** Skipped for its budget until `until` (not a state of its own: the key is active underneath). */
  overBudget?: OverBudget;
}
/**
 * A key's live health, read-only (KeyPool.forEachKey): the pool's own object, not a copy, so the
 * views and `/keyrelay/status` at 10,000+ keys allocate nothing for keys that have nothing to show.
 * Read it during the call only. `coolingUntil` means something only while `state` is cooling.
 */
export interface HealthView {
  readonly state: KeyState;
  readonly coolingUntil?: number;
  readonly modelCooldowns: ReadonlyMap<string, number>;
  readonly lastError?: string;
  readonly overBudget?: Readonly<OverBudget>;
  readonly history: readonly Transition[];
  readonly inFlight: number;
}

const NO_COOLDOWN_RECORD: Record<string, number> = Object.freeze({}) as Record<string, number>;

/** `model → until` as a record (shared and frozen when empty: most keys never cool for a model). */
export function cooldownRecord(h: HealthView): Record<string, number> {
  return h.modelCooldowns.size === 0 ? NO_COOLDOWN_RECORD : Object.fromEntries(h.modelCooldowns);
}

/** How a transition the provider caused by "out of credit" begins (DESIGN §3). */
const QUOTA_REASON = 'quota exhausted';

/** Discarded for credit by the provider, not by a person: the background re-test may try it again. */
export function discardedByProvider(h: Pick<HealthView, 'state' | 'history'>): boolean {
  const last = h.history.at(-1);
  return (
    h.state === 'discarded' && last !== undefined && last.to === 'discarded' && last.reason.startsWith(QUOTA_REASON)
  );
}

/** The record fields only, copied field by field so a secret can never ride along. */
export function toRecord(k: KeyRecord): KeyRecord {
  const r: KeyRecord = { id: k.id, providerId: k.providerId, label: k.label, masked: k.masked, addedAt: k.addedAt };
  if (k.weight !== undefined) r.weight = k.weight;
  if (k.models) r.models = [...k.models];
  if (k.baseUrl !== undefined) r.baseUrl = k.baseUrl;
  if (k.account !== undefined) r.account = k.account;
  return r;
}

/** Appends a transition, dropping the oldest beyond HISTORY_LIMIT. */
export function pushHistory(h: HealthState, t: Transition): void {
  if (h.history === NO_HISTORY) h.history = [];
  h.history.push(t);
  if (h.history.length > HISTORY_LIMIT) h.history.splice(0, h.history.length - HISTORY_LIMIT);
}

/** Removes the key's own text from a reason, in case a caller forgot to redact it. */
export function scrubReason(reason: string, key: PoolKey): string {
  return key.secret.length >= 4 && reason.includes(key.secret) ? reason.split(key.secret).join(key.masked) : reason;
}

/** Public, JSON-safe copy of a key's health (model cooldowns already drained to future ones). */
export function publicHealth(h: HealthState): KeyHealth {
  const v: KeyHealth = {
    state: h.state,
    modelCooldowns: Object.fromEntries(h.modelCooldowns),
    consecutiveFailures: h.consecutiveFailures,
    backoffLevel: h.backoffLevel,
    history: h.history.map((t) => ({ ...t })),
    inFlight: h.inFlight,
    uses: h.uses,
    successRate: h.successPermille / 1000,
  };
  if (h.state === 'cooling' && h.coolingUntil !== undefined) v.coolingUntil = h.coolingUntil;
  if (h.lastError !== undefined) v.lastError = h.lastError;
  if (h.overBudget) v.overBudget = { ...h.overBudget };
  if (h.ttfbEwma16 >= 0) v.ewmaTtfbMs = h.ttfbEwma16 / 16;
  return v;
}

/** The pool settings the state machine reads (a subset of PoolOptions). */
export interface HealthOptions {
  clock: Clock;
  cooldownStepsMs: number[];
  maxCooldownMs: number;
  degradedAfter: number;
  discardOnQuota: boolean;
}

/** What the state machine needs from the pool around it. */
export interface HealthHost {
  options(): HealthOptions;
  /** Whether `e` is still in the pool (cooldown items of removed keys are skipped). */
  isLive(e: Entry): boolean;
  /** `e`'s health changed: re-evaluate its candidate groups. */
  refresh(e: Entry): void;
  /** Only `e`'s latency or success rate changed, not its state: re-order where a strategy cares. */
  reorder(e: Entry): void;
  /** A transition was recorded (or, without one, something views show changed). */
  emit(e: Entry, t?: Transition): void;
  /** The other keys of `e`'s provider in the same account (they share its rate limits, DESIGN §4). */
  accountMates(e: Entry): readonly Entry[];
}

type TransitionExtra = Pick<Transition, 'status' | 'errorType' | 'model'>;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Health transitions of every key. Cooldowns sit in one min-heap by end time that is drained
 * lazily from `clock.now()`; a single unref'd timer only exists to tell views when one ends.
 */
export class HealthMachine {
  /** Cooldown ends (key-wide, or for `model`) and, with `budget`, the ends of over-budget spells. */
  private readonly cooldowns = new TimeHeap<{ at: number; e: Entry; model?: string; budget?: true }>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private disposed = false;

  constructor(private readonly host: HealthHost) {}

  /** Feeds one attempt's outcome into the key's health (and state, when it changes). */
  report(e: Entry, model: string | undefined, outcome: Outcome): void {
    const h = e.h;
    const o = this.host.options();
    if (outcome.kind === 'success') {
      h.consecutiveFailures = 0;
      h.backoffLevel = 0;
      if (model !== undefined && h.modelBackoff.has(model)) h.modelBackoff.delete(model);
      const sample = Math.round(outcome.ttfbMs * 16);
      h.ttfbEwma16 = h.ttfbEwma16 < 0 ? sample : Math.round(h.ttfbEwma16 * 0.7 + sample * 0.3);
      h.successPermille = Math.round(h.successPermille * 0.9 + 100);
      return this.host.reorder(e);
    }
    h.lastError = scrubReason(outcome.reason, e.key);
    h.successPermille = Math.round(h.successPermille * 0.9);
    const extra: TransitionExtra = { status: outcome.status, errorType: outcome.errorType };
    const code = outcome.status !== undefined ? ` (${outcome.status})` : '';
    switch (outcome.kind) {
      case 'rate-limited':
        this.rateLimited(e, model, outcome.retryAfterMs, `${code}: ${outcome.reason}`, extra);
        break;
      case 'invalid':
        if (h.state !== 'invalid' && h.state !== 'discarded')
          this.setState(e, 'invalid', `rejected${code}: ${outcome.reason}`, extra);
        break;
      case 'exhausted':
        // discardOnQuota=false: a long key-wide cooldown instead, so the key comes back by itself.
        if (!o.discardOnQuota)
          this.cool(e, undefined, this.endAfter(o.maxCooldownMs), `${QUOTA_REASON}${code}: ${outcome.reason}`, extra);
        else if (h.state !== 'discarded')
          this.setState(e, 'discarded', `${QUOTA_REASON}${code}: ${outcome.reason}`, extra);
        break;
      case 'server-error':
        h.consecutiveFailures++;
        if (o.degradedAfter > 0 && h.consecutiveFailures >= o.degradedAfter && h.state === 'active') {
          h.consecutiveFailures = 0;
          this.cool(
            e,
            undefined,
            this.endAfter(this.nextStep(e)),
            `degraded after ${o.degradedAfter} failures: ${outcome.reason}`,
            extra,
          );
        }
        break;
    }
    this.host.refresh(e);
  }

  /** Moves the key to `to` (leaving key-wide cooling behind) and records why. */
  setState(e: Entry, to: KeyState, reason: string, extra: TransitionExtra = {}): void {
    const from = e.h.state;
    e.h.state = to;
    if (to !== 'cooling') e.h.coolingUntil = undefined;
    this.note(e, from, to, reason, extra);
  }

  /** Back to active with cooldowns and backoff cleared (Restore, a passing Test). */
  reactivate(e: Entry, reason: string): void {
    const h = e.h;
    const wasUsable = h.state === 'active' && h.modelCooldowns.size === 0;
    h.modelCooldowns.clear();
    h.consecutiveFailures = 0;
    h.backoffLevel = 0;
    h.modelBackoff = NO_BACKOFF;
    h.lastError = undefined;
    if (wasUsable) this.host.emit(e);
    else this.setState(e, 'active', reason);
  }

  /** A cooldown another instance saw (KeyPool.adoptCooldown): its end time and escalation level. */
  adopt(e: Entry, model: string | undefined, until: number, level: number, reason: string): void {
    const h = e.h;
    if (model === undefined) h.backoffLevel = Math.max(h.backoffLevel, level);
    else if (level > (h.modelBackoff.get(model) ?? 0)) {
      if (h.modelBackoff === NO_BACKOFF) h.modelBackoff = new Map();
      h.modelBackoff.set(model, level);
    }
    // The other instance's end time as it is (reading the clock twice could move it by a ms).
    const o = this.host.options();
    const now = o.clock.now();
    if (until > now) this.cool(e, model, Math.min(until, now + o.maxCooldownMs), reason, { status: 429, model });
  }

  /**
   * Skips the key for its budget until `until` (`undefined`: back now, e.g. the budget was raised).
   * The key's state stays what it was; the spell ends by itself at `until`.
   */
  setOverBudget(e: Entry, until: number | undefined, reason = ''): void {
    const h = e.h;
    if (until === undefined ? !h.overBudget : h.overBudget?.until === until && h.overBudget.reason === reason) return;
    h.overBudget = until === undefined ? undefined : { until, reason: scrubReason(reason, e.key) };
    if (until !== undefined) {
      this.cooldowns.push({ at: until, e, budget: true });
      this.schedule();
    }
    this.host.refresh(e);
    this.host.emit(e);
  }

  /** Loads persisted health; expired cooldowns end (with a transition) at the next drain. */
  load(e: Entry, p: PersistedKeyHealth): void {
    if (!restoreHealth(e.h, p)) return;
    if (e.h.state === 'cooling') this.cooldowns.push({ at: e.h.coolingUntil as number, e });
    for (const [model, at] of e.h.modelCooldowns) this.cooldowns.push({ at, e, model });
    this.host.refresh(e);
  }

  /**
   * Ends every cooldown whose time has come; called on each read. With nothing cooling (the usual
   * case) it reads no clock: two of a request's seven clock reads were this.
   */
  drain(): void {
    if (this.cooldowns.peek() === undefined) return;
    const now = this.host.options().clock.now();
    for (let top = this.cooldowns.peek(); top && top.at <= now; top = this.cooldowns.peek()) {
      this.cooldowns.pop();
      const { e, model, at } = top;
      if (!this.host.isLive(e)) continue;
      if (top.budget) {
        if (e.h.overBudget?.until === at) this.setOverBudget(e, undefined);
      } else if (model === undefined) {
        if (e.h.state === 'cooling' && e.h.coolingUntil === at) this.setState(e, 'active', 'cooldown ended');
      } else if (e.h.modelCooldowns.get(model) === at) {
        e.h.modelCooldowns.delete(model);
        if (e.h.state === 'active') this.note(e, 'cooling', 'active', 'cooldown ended', { model });
        else this.host.refresh(e);
      }
    }
    this.schedule();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The escalating backoff step for this key, then one level up (a success resets it). */
  private nextStep(e: Entry): number {
    const ms = this.step(e.h.backoffLevel);
    e.h.backoffLevel++;
    return ms;
  }

  private step(level: number): number {
    const steps = this.host.options().cooldownStepsMs;
    return steps.length > 0 ? steps[Math.min(level, steps.length - 1)] : 60_000;
  }

  /**
   * A 429: the key cools for that model (key-wide when the request named none), with its own
   * escalation per model. Keys of one account share its limits: they all cool for the model, on
   * one shared escalation (DESIGN §4).
   */
  private rateLimited(
    e: Entry,
    model: string | undefined,
    retryAfterMs: number | undefined,
    said: string,
    extra: TransitionExtra,
  ): void {
    const group = e.key.account ? [e, ...this.host.accountMates(e)] : [e];
    let level = 0;
    for (const x of group)
      level = Math.max(level, model === undefined ? x.h.backoffLevel : (x.h.modelBackoff.get(model) ?? 0));
    const until = this.endAfter(retryAfterMs ?? this.step(level));
    const scope = model !== undefined ? ` for ${model}` : '';
    for (const x of group) {
      if (retryAfterMs === undefined) {
        if (model === undefined) x.h.backoffLevel = level + 1;
        else {
          if (x.h.modelBackoff === NO_BACKOFF) x.h.modelBackoff = new Map();
          x.h.modelBackoff.set(model, level + 1);
        }
      }
      const reason =
        x === e
          ? `rate limited${scope}${said}`
          : `rate limited${scope}: account "${e.key.account}" hit its limit on ${e.key.label}${said}`;
      this.cool(x, model, until, reason, { ...extra, model });
    }
  }

  /** The end of a cooldown of `ms` from now: whole ms, at least 1, at most maxCooldownMs. */
  private endAfter(ms: number): number {
    const o = this.host.options();
    return o.clock.now() + Math.min(Math.max(1, Math.ceil(ms)), o.maxCooldownMs);
  }

  /** Cooling until `at` for key × model when `model` is given, else key-wide; invalid/discarded keys stay so. */
  private cool(e: Entry, model: string | undefined, at: number, reason: string, extra: TransitionExtra): void {
    const h = e.h;
    if (h.state === 'invalid' || h.state === 'discarded') return;
    if (model !== undefined) {
      const prev = h.modelCooldowns.get(model);
      const until = Math.max(prev ?? 0, at);
      if (h.modelCooldowns === NO_COOLDOWNS) h.modelCooldowns = new Map();
      h.modelCooldowns.set(model, until);
      this.cooldowns.push({ at: until, e, model });
      this.note(e, prev !== undefined ? 'cooling' : 'active', 'cooling', reason, { ...extra, model });
    } else {
      const from = h.state;
      h.coolingUntil = Math.max(from === 'cooling' ? (h.coolingUntil ?? 0) : 0, at);
      h.state = 'cooling';
      this.cooldowns.push({ at: h.coolingUntil, e });
      this.note(e, from, 'cooling', reason, { ...extra, model: undefined });
    }
    this.schedule();
  }

  /** Records a transition, re-evaluates the key's groups, then tells the pool's listeners. */
  private note(e: Entry, from: KeyState, to: KeyState, reason: string, extra: TransitionExtra): void {
    const t: Transition = { at: this.host.options().clock.now(), from, to, reason: scrubReason(reason, e.key) };
    if (extra.status !== undefined) t.status = extra.status;
    if (extra.errorType !== undefined) t.errorType = extra.errorType;
    if (extra.model !== undefined) t.model = extra.model;
    pushHistory(e.h, t);
    this.host.refresh(e);
    this.host.emit(e, t);
  }

  private schedule(): void {
    const top = this.cooldowns.peek();
    if (this.disposed || !top || top.at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = top.at;
    const delay = Math.min(MAX_TIMER_MS, Math.max(10, top.at - this.host.options().clock.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.drain();
    }, delay);
    this.timer.unref?.();
  }
}
