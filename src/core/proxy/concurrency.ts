/**
 * Per-key concurrency (settings `maxConcurrentPerKey`, `maxConcurrentPerKeyModel`): a key already
 * carrying that many requests is skipped for a free one, and when every key is busy the request
 * waits in a fair (first come, first served) queue per provider instead of failing. Kept apart
 * from forward.ts so the forwarder only asks "pick, respecting the limits" and "hold this slot".
 * When both limits are 0 (the default) the forwarder never creates a gate: no cost at all.
 */
import { ProxyError } from '../errors';
import { Emitter } from '../events';
import type { Event } from '../events';
import type { KeyPool } from '../pool/keyPool';
import type { PickRequest, PickResult } from '../pool/pick';
import type { Clock, PoolKey, ProxyConfig } from '../types';

/** The two limits (0 = unlimited) and how long a request may wait for a slot. */
export interface ConcurrencyLimits {
  perKey: number;
  perKeyModel: number;
  waitMs: number;
}

/** The limits in force, or undefined when there are none (then the forwarder skips the gate). */
export function concurrencyLimits(cfg: ProxyConfig): ConcurrencyLimits | undefined {
  if (cfg.maxConcurrentPerKey <= 0 && cfg.maxConcurrentPerKeyModel <= 0) return undefined;
  return {
    perKey: cfg.maxConcurrentPerKey,
    perKeyModel: cfg.maxConcurrentPerKeyModel,
    // 0 means "answer at once" for cooling keys; a busy key frees in seconds, so wait as for headers.
    waitMs: cfg.maxWaitMs > 0 ? cfg.maxWaitMs : cfg.headersTimeoutMs,
  };
}

/** What a gated pick came to: the pool's answer, or the client left while it waited. */
export type GatedPick = PickResult | { kind: 'gone' };

/** The part of a client response the queue watches: it stops waiting when the client goes. */
export interface Departure {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** One request waiting for a slot: woken by a release, its deadline, or its client leaving. */
interface Waiter {
  wake(): void;
}

/** A provider's waiters in order; `requeueAt`: where the next woken one that must wait again goes. */
interface Queue {
  list: Waiter[];
  requeueAt: number;
}

/** In-flight counts per key and per key × model, and the wait queues; one per proxy server. */
export class ConcurrencyGate {
  private readonly perKey = new Map<string, number>();
  private readonly perKeyModel = new Map<string, number>();
  /** Keys (or key × model pairs) at their limit right now, per provider: what may free up. */
  private readonly saturated = new Map<string, Set<string>>();
  private readonly queues = new Map<string, Queue>();
  private readonly queueChanged = new Emitter<void>();
  /** A request entered or left a wait queue. */
  readonly onDidChangeQueue: Event<void> = this.queueChanged.event;

  constructor(
    private readonly pool: KeyPool,
    private readonly clock: Clock,
  ) {}

  /** Requests in flight on a key (all models). */
  inFlight(keyId: string): number {
    return this.perKey.get(keyId) ?? 0;
  }

  /** Requests waiting for a slot on a provider's keys (for `model` when only the per-model limit is set). */
  waiting(providerId: string, model?: string): number {
    return this.queues.get(model === undefined ? providerId : pairId(providerId, model))?.list.length ?? 0;
  }

  dispose(): void {
    this.queueChanged.dispose();
  }

  /**
   * Picks a key that has a free slot, waiting in the provider's queue while every candidate is busy,
   * and takes the slot at once (before any other woken request can pick): give it back with
   * `release(key, model)`. Returns the pool's own non-key answer when no busy key could free up for this request (cooling,
   * invalid, none), `gone` when the client left, and throws 429 `all_keys_busy` at `deadline`.
   */
  async pick(req: PickRequest, limits: ConcurrencyLimits, deadline: number, client: Departure): Promise<GatedPick> {
    // With a per-key limit every model competes for the same slots: one queue per provider. With only
    // the per-model limit, models never compete: one queue per provider and model, so none waits for another.
    const queue = this.queueOf(limits.perKey > 0 ? req.providerId : pairId(req.providerId, req.model));
    // Arrivals go behind whoever already waits: nobody overtakes the queue.
    let woken = false;
    if (queue.list.length > 0) {
      const woke = await this.wait(queue, deadline, client, false);
      if (woke !== 'released') return this.giveUp(woke, req, limits);
      woken = true;
    }
    for (;;) {
      const pick = this.pool.pick({ ...req, exclude: this.excluding(req, limits) });
      if (pick.kind === 'key') this.acquire(pick.key, req.model, limits);
      if (pick.kind === 'key' || !this.mayFree(req, limits)) return pick;
      // Every free candidate is taken: wait for a release (a woken request keeps its turn), or for
      // the soonest cooling key when that comes first.
      const cooled = pick.kind === 'cooling' ? this.clock.now() + pick.retryAfterMs : Infinity;
      const woke = await this.wait(queue, Math.min(deadline, cooled), client, woken);
      if (woke === 'gone' || (woke === 'timeout' && cooled >= deadline)) return this.giveUp(woke, req, limits);
      woken = true;
    }
  }

  /** Takes a slot on `key` for `model`. */
  private acquire(key: PoolKey, model: string | undefined, limits: ConcurrencyLimits): void {
    const km = pairId(key.id, model);
    const n = (this.perKey.get(key.id) ?? 0) + 1;
    const m = (this.perKeyModel.get(km) ?? 0) + 1;
    this.perKey.set(key.id, n);
    this.perKeyModel.set(km, m);
    const full = this.saturatedOf(key.providerId);
    if (limits.perKey > 0 && n >= limits.perKey) full.add(key.id);
    if (limits.perKeyModel > 0 && m >= limits.perKeyModel) full.add(km);
  }

  /** Gives back the slot `pick` took on `key` for `model`, and lets the waiting requests pick again. */
  release(key: PoolKey, model: string | undefined): void {
    const km = pairId(key.id, model);
    const n = (this.perKey.get(key.id) ?? 1) - 1;
    const m = (this.perKeyModel.get(km) ?? 1) - 1;
    if (n > 0) this.perKey.set(key.id, n);
    else this.perKey.delete(key.id);
    if (m > 0) this.perKeyModel.set(km, m);
    else this.perKeyModel.delete(km);
    // Limits may have changed meanwhile: whatever is below its count now is simply no longer full.
    const full = this.saturated.get(key.providerId);
    full?.delete(key.id);
    full?.delete(km);
    if (full?.size === 0) this.saturated.delete(key.providerId);
    for (const id of [key.providerId, pairId(key.providerId, model)]) {
      const queue = this.queues.get(id);
      if (queue && queue.list.length > 0) this.wakeAll(queue);
    }
  }

  /**
   * The `exclude` set the pool sees: the keys this request tried plus the busy ones. Its `size`
   * is an upper bound on how many it excludes, which is all the strategies need.
   */
  private excluding(req: PickRequest, limits: ConcurrencyLimits): ReadonlySet<string> {
    const tried = req.exclude;
    const full = this.saturated.get(req.providerId);
    if (!full || full.size === 0) return tried ?? new Set<string>();
    const isBusy = (id: string): boolean => this.isBusy(id, req.model, limits);
    return {
      size: (tried?.size ?? 0) + full.size,
      has: (id: string) => tried?.has(id) === true || isBusy(id),
    } as ReadonlySet<string>;
  }

  private isBusy(id: string, model: string | undefined, limits: ConcurrencyLimits): boolean {
    if (limits.perKey > 0 && (this.perKey.get(id) ?? 0) >= limits.perKey) return true;
    return limits.perKeyModel > 0 && (this.perKeyModel.get(pairId(id, model)) ?? 0) >= limits.perKeyModel;
  }

  /** Whether some key this request has not tried yet is busy: then waiting can help. */
  private mayFree(req: PickRequest, limits: ConcurrencyLimits): boolean {
    const full = this.saturated.get(req.providerId);
    if (!full) return false;
    for (const id of full) {
      const keyId = id.split('\u0000', 1)[0];
      if (req.exclude?.has(keyId) !== true && this.isBusy(keyId, req.model, limits)) return true;
    }
    return false;
  }

  /** Waits for a release; `again`: a woken request queues again in its old order, ahead of later arrivals. */
  private wait(
    queue: Queue,
    deadline: number,
    client: Departure,
    again: boolean,
  ): Promise<'released' | 'timeout' | 'gone'> {
    if (client.destroyed) return Promise.resolve('gone');
    const ms = deadline - this.clock.now();
    if (ms <= 0) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      const finish = (why: 'released' | 'timeout' | 'gone'): void => {
        clearTimeout(timer);
        client.off('close', onClose);
        const i = queue.list.indexOf(waiter);
        if (i >= 0) queue.list.splice(i, 1);
        this.queueChanged.fire();
        resolve(why);
      };
      const onClose = (): void => finish('gone');
      const waiter: Waiter = { wake: () => finish('released') };
      const timer = setTimeout(() => finish('timeout'), ms);
      client.once('close', onClose);
      if (again) queue.list.splice(Math.min(queue.requeueAt++, queue.list.length), 0, waiter);
      else queue.list.push(waiter);
      this.queueChanged.fire();
    });
  }

  /**
   * Wakes every waiter in order: each picks again in queue order (promise continuations run first
   * in, first out, before any new arrival), and those that still find no slot queue again in the
   * same order. Waking all, not one, lets a request for another model use a slot the head cannot.
   */
  private wakeAll(queue: Queue): void {
    queue.requeueAt = 0;
    for (const w of queue.list.splice(0, queue.list.length)) w.wake();
  }

  private giveUp(why: 'timeout' | 'gone', req: PickRequest, limits: ConcurrencyLimits): GatedPick {
    if (why === 'gone') return { kind: 'gone' };
    const what = limits.perKey > 0 ? `${limits.perKey} per key` : `${limits.perKeyModel} per key and model`;
    throw new ProxyError(
      'all_keys_busy',
      429,
      `Every ${req.providerId} key in KeyRelay is busy (maxConcurrentPerKey: ${what}) and none freed up in time. Raise the limit, add keys with "KeyRelay: Add Key", or wait longer (maxWaitMs).`,
      { retryAfterSec: 1 },
    );
  }

  private queueOf(id: string): Queue {
    let q = this.queues.get(id);
    if (!q) this.queues.set(id, (q = { list: [], requeueAt: 0 }));
    return q;
  }

  private saturatedOf(providerId: string): Set<string> {
    let s = this.saturated.get(providerId);
    if (!s) this.saturated.set(providerId, (s = new Set()));
    return s;
  }
}

function pairId(keyId: string, model: string | undefined): string {
  return `${keyId}\u0000${model ?? ''}`;
}
