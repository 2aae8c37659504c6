/**
 * The key pool: which key serves the next request (DESIGN §4) and each key's health state machine
 * (DESIGN §3). Cooldowns end by time, checked lazily against the injected clock; one unref'd timer
 * only exists to tell views when the soonest cooldown is over.
 */
import { DisposableBase, Emitter } from '../events';
import type { Event } from '../events';
import { NONE_EXCLUDED, ProviderIndex, remember, reordersOnUse, selectorFor } from './candidates';
import { newEntry } from './entry';
import type { Entry } from './entry';
import { HealthMachine, publicHealth, scrubReason, toRecord } from './health';
import type { HealthView, KeyHealth } from './health';
import { isPristine, persistHealth } from './persistedHealth';
import type { PersistedKeyHealth } from './persistedHealth';
import type { KeyView, PersistedHealth, PickRequest, PickResult, PoolOptions, PoolSnapshot } from './poolTypes';
import type { KeyHandle } from './poolTypes';
import type { RoundTurn } from './strategies';
import type { KeyRecord, Outcome, PoolKey, StrategyName, Transition } from '../types';

export type { KeyView, PersistedHealth, PickRequest, PickResult, PoolOptions, PoolSnapshot } from './poolTypes';

/** Rotating key pool with per-key (and per key × model) health. See DESIGN §3–4. */
export class KeyPool extends DisposableBase {
  private readonly changed = this._register(new Emitter<void>());
  private readonly transitioned = this._register(new Emitter<{ key: KeyRecord; transition: Transition }>());
  /** Key set changed or any state transition happened (not fired per request). */
  readonly onDidChange: Event<void> = this.changed.event;
  readonly onDidTransition: Event<{ key: KeyRecord; transition: Transition }> = this.transitioned.event;

  private opts: PoolOptions;
  private readonly entries = new Map<string, Entry>();
  private readonly providers = new Map<string, ProviderIndex>();
  private readonly machine: HealthMachine;
  /** Conversation → its key (`home`) and, while home cannot serve, the key it moved to (`away`). */
  private readonly affinity = new Map<string, { home: string; away?: string }>();
  private readonly pending = new Map<string, PersistedKeyHealth>();
  private listCache: PoolKey[] | undefined;
  private pickSeq = 0;
  /** Change counters: `rev` for any change, `wholeRev` for the last change of the key set. */
  private rev = 0;
  private wholeRev = 0;
  /** `reordersOnUse(strategy)`, kept in step with setOptions. */
  private ordered: boolean;

  constructor(opts: PoolOptions) {
    super();
    this.opts = { ...opts, cooldownStepsMs: [...opts.cooldownStepsMs] };
    this.ordered = reordersOnUse(opts.strategy);
    this.machine = new HealthMachine({
      options: () => this.opts,
      isLive: (e) => this.entries.get(e.key.id) === e,
      refresh: (e) => this.refreshGroups(e),
      reorder: (e) => this.reorder(e),
      accountMates: (e) => this.providers.get(e.key.providerId)?.accountMates(e) ?? [],
      emit: (e, t) => {
        if (t) this.transitioned.fire({ key: toRecord(e.key), transition: t });
        this.markChanged(e);
      },
    });
  }

  /** Replaces the whole key set; health is kept for ids that remain. */
  setKeys(keys: PoolKey[]): void {
    const old = new Map(this.entries);
    for (const p of this.providers.values()) p.clear();
    this.providers.clear();
    this.entries.clear();
    for (const k of keys) this.insert(k, old.get(k.id));
    for (const [id, e] of old) if (this.entries.get(id) !== e) e.gone = true;
    this.listCache = undefined;
    this.markChanged();
  }

  /** Adds a key or replaces its record (health kept). */
  upsert(key: PoolKey): void {
    const e = this.entries.get(key.id);
    if (e) this.unindex(e);
    this.insert(key, e);
    this.listCache = undefined;
    this.markChanged(this.entries.get(key.id));
  }

  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.unindex(e);
    this.entries.delete(id);
    e.gone = true;
    this.listCache = undefined;
    this.markChanged();
    return true;
  }

  get(id: string): PoolKey | undefined {
    return this.entries.get(id)?.key;
  }
  list(): readonly PoolKey[] {
    return (this.listCache ??= [...this.entries.values()].map((e) => e.key));
  }
  hasKeys(providerId: string): boolean {
    return (this.providers.get(providerId)?.entries.size ?? 0) > 0;
  }
  providerIds(): string[] {
    return [...this.providers.keys()];
  }
  /** Union of the provider's explicit model lists (without `others`). */
  modelsFor(providerId: string): string[] {
    return [...(this.providers.get(providerId)?.listed.keys() ?? [])];
  }
  /** Whether some key of the provider lists `model` explicitly: a Map lookup, for the router's hot path. */
  listsModel(providerId: string, model: string): boolean {
    return this.providers.get(providerId)?.listed.has(model) ?? false;
  }

  /** A counter bumped by every change views show: a key's health, or the key set. */
  get revision(): number {
    return this.rev;
  }

  /** Keys changed after revision `since`, or `whole` when the key set changed; one pass, no copies (DESIGN §7). */
  changesSince(since: number): { revision: number; whole: boolean; keys: KeyView[] } {
    this.drain();
    const whole = since < this.wholeRev || since > this.rev;
    const keys: KeyView[] = [];
    for (const e of this.entries.values()) {
      if (whole || e.rev > since) keys.push({ ...toRecord(e.key), health: publicHealth(e.h) });
    }
    return { revision: this.rev, whole, keys };
  }

  /** Chooses a key for one attempt: O(1)/O(log n) amortised at 10,000 keys, no scan of all keys. */
  pick(req: PickRequest): PickResult {
    this.drain();
    const prov = this.providers.get(req.providerId);
    if (!prov) return { kind: 'none' };
    const g = prov.group(req.model);
    if (g.members.size === 0) return { kind: 'none' };
    const ex = req.exclude;
    const exSize = ex?.size ?? 0;
    const isExcluded = exSize > 0 ? (e: Entry) => (ex as ReadonlySet<string>).has(e.key.id) : NONE_EXCLUDED;

    let chosen: Entry | undefined;
    const affinityKey =
      this.opts.strategy === 'cache-affinity' && req.affinity ? `${req.providerId}\u0000${req.affinity}` : undefined;
    if (affinityKey) {
      // Home first, so the conversation goes back to its prompt cache once the key recovers;
      // meanwhile it stays on one stand-in rather than rotating (DESIGN §4).
      const a = this.affinity.get(affinityKey);
      const usable = (id: string | undefined): Entry | undefined => {
        const e = id === undefined ? undefined : this.entries.get(id);
        return e && g.isAvailable(e) && !isExcluded(e) ? e : undefined;
      };
      if (a) chosen = usable(a.home) ?? usable(a.away);
    }
    chosen ??= g.choose(isExcluded, exSize, req.random ? (this.opts.random ?? Math.random) : undefined);
    if (chosen) {
      if (affinityKey) remember(this.affinity, affinityKey, chosen.key.id, (id) => this.entries.has(id));
      chosen.lastPick = ++this.pickSeq;
      this.reorder(chosen); // heap strategies order ties by lastPick
      return { kind: 'key', key: chosen.key, handle: chosen };
    }
    const now = this.opts.clock.now();
    if (g.counts.cooling > 0) {
      const at = g.soonestUsable() ?? now + 1000;
      return { kind: 'cooling', retryAfterMs: Math.max(1, Math.ceil(at - now)), count: g.counts.cooling };
    }
    if (g.counts.budget > 0) {
      const resetsAt = g.soonestBudgetEnd();
      return { kind: 'over-budget', count: g.counts.budget, resetsAt, retryAfterMs: Math.max(1, resetsAt - now) };
    }
    if (g.counts.invalid + g.counts.discarded > 0)
      return { kind: 'unusable', invalid: g.counts.invalid, discarded: g.counts.discarded };
    return { kind: 'none' };
  }

  /** A request started on this key (counts towards least-used): its id, or the handle `pick` gave. */
  begin(key: string | KeyHandle): void {
    const e = this.entryOf(key);
    if (!e) return;
    e.h.inFlight++;
    e.h.uses++;
    this.reorder(e);
  }

  end(key: string | KeyHandle): void {
    const e = this.entryOf(key);
    if (!e || e.h.inFlight === 0) return;
    e.h.inFlight--;
    this.reorder(e);
  }

  /** Feeds one attempt's outcome into the key's health (and state, when it changes). */
  report(key: string | KeyHandle, model: string | undefined, outcome: Outcome): void {
    const e = this.entryOf(key);
    if (!e) return;
    this.drain();
    this.machine.report(e, model, outcome);
  }

  /** Another KeyRelay's cooldown of this key (src/core/shared): its end time and escalation level. */
  adoptCooldown(id: string, model: string | undefined, until: number, level: number, reason: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.drain();
    this.machine.adopt(e, model, until, level, reason);
  }

  /** Requests other KeyRelays sent with this key (src/core/shared): least-used then counts pool-wide use. */
  addUses(id: string, n: number): void {
    const e = this.entries.get(id);
    if (!e || !(n > 0)) return;
    e.h.uses += n;
    this.reorder(e);
  }

  /** A provider's round-robin cursor, and a key's place in that order (src/core/shared moves the cursor). */
  roundTurn(providerId: string): RoundTurn | undefined {
    return this.providers.get(providerId)?.turn;
  }
  slotOf(id: string): number | undefined {
    return this.entries.get(id)?.slot;
  }

  /** The key's escalation level for a model (key-wide without one): what a shared cooldown carries. */
  backoffLevel(id: string, model?: string): number {
    const h = this.entries.get(id)?.h;
    return (model === undefined ? h?.backoffLevel : h?.modelBackoff.get(model)) ?? 0;
  }

  /** Skips the key for its budget until `until` (the period's end), or brings it back (`undefined`). */
  setOverBudget(id: string, until: number | undefined, reason?: string): void {
    const e = this.entries.get(id);
    if (e) this.machine.setOverBudget(e, until, reason);
  }

  /** User action: take the key out of rotation until restored. */
  discard(id: string, reason?: string): void {
    const e = this.entries.get(id);
    if (e && e.h.state !== 'discarded') this.machine.setState(e, 'discarded', reason ?? 'discarded by user');
  }

  /** Back to active, cooldowns and backoff cleared: a person's Restore, or `reason` (a re-test passed). */
  restore(id: string, reason = 'restored by user'): void {
    const e = this.entries.get(id);
    if (e) this.machine.reactivate(e, reason);
  }

  /** Result of a key test: a pass brings invalid/cooling keys back; a failure only notes the detail. */
  markTested(id: string, ok: boolean, detail: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    // A discarded key stays discarded: a cheap test call says nothing about remaining credit.
    if (ok && e.h.state !== 'discarded') return this.machine.reactivate(e, `test passed: ${detail}`);
    if (!ok) e.h.lastError = scrubReason(detail, e.key);
    this.markChanged(e);
  }

  health(id: string): KeyHealth | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.drain();
    return publicHealth(e.h);
  }

  /** The rotation strategy in force. */
  get strategy(): StrategyName {
    return this.opts.strategy;
  }

  setStrategy(s: StrategyName): void {
    this.setOptions({ strategy: s });
  }

  setOptions(p: Partial<PoolOptions>): void {
    const rebuild =
      (p.strategy !== undefined && p.strategy !== this.opts.strategy) ||
      (p.random !== undefined && p.random !== this.opts.random);
    this.opts = { ...this.opts, ...p };
    this.ordered = reordersOnUse(this.opts.strategy);
    if (!rebuild) return;
    this.dropGroups();
    this.changed.fire();
  }

  /** Zeroes every key's `uses` (daily reset). */
  resetDaily(): void {
    for (const e of this.entries.values()) e.h.uses = 0;
    if (this.opts.strategy === 'least-used') this.dropGroups();
    this.markChanged();
  }

  snapshot(): PoolSnapshot {
    this.drain();
    const at = this.opts.clock.now();
    const keys = [...this.entries.values()].map((e): KeyView => ({ ...toRecord(e.key), health: publicHealth(e.h) }));
    return { at, strategy: this.opts.strategy, keys };
  }

  /**
   * Visits every key (pool order) with its live health, without the copies `snapshot()` makes: the
   * views and `/keyrelay/status` read 10,000+ keys this way. Both arguments are the pool's own
   * objects: read them, never change them, keep them no longer than one pass (`/keyrelay/status`
   * waits for its reader between parts: a key removed meanwhile is shown as it was), and copy the
   * key's fields one by one (the object also holds the secret, which a spread would carry).
   * Returns the drain time (model cooldowns in `health` are the ones still running then).
   */
  forEachKey(visit: (key: Readonly<KeyRecord>, health: HealthView) => void): number {
    this.drain();
    const at = this.opts.clock.now();
    for (const e of this.entries.values()) visit(e.key, e.h);
    return at;
  }

  exportHealth(): PersistedHealth {
    this.drain();
    const out: PersistedHealth = {};
    // Healthy keys that were never used are left out: at 10,000 keys that is most of the file.
    for (const [id, e] of this.entries) if (!isPristine(e.h)) out[id] = persistHealth(e.h);
    return out;
  }

  /** Loads persisted health; records for ids not (yet) in the pool wait for their key. */
  importHealth(h: PersistedHealth): void {
    for (const [id, p] of Object.entries(h ?? {})) {
      const e = this.entries.get(id);
      if (e) this.machine.load(e, p);
      else this.pending.set(id, p);
    }
    this.drain();
    this.markChanged();
  }

  override dispose(): void {
    this.machine.dispose();
    super.dispose();
  }

  private insert(key: PoolKey, old: Entry | undefined): void {
    // Per-key objects are kept few and small: at 1,000 keys each byte is a kilobyte of heap.
    const e = old ?? newEntry(key);
    e.key = key;
    e.groups = [];
    this.entries.set(key.id, e);
    let prov = this.providers.get(key.providerId);
    if (!prov)
      this.providers.set(
        key.providerId,
        (prov = new ProviderIndex((turn) => selectorFor(this.opts.strategy, this.opts.random ?? Math.random, turn))),
      );
    prov.add(e);
    const p = this.pending.get(key.id);
    if (p) {
      this.pending.delete(key.id);
      this.machine.load(e, p);
    }
  }

  /** The entry of an id, or of a handle from `pick` (a removed key's handle: by its id, as the id would). */
  private entryOf(key: string | KeyHandle): Entry | undefined {
    if (typeof key === 'string') return this.entries.get(key);
    const e = key as Entry;
    return e.gone ? this.entries.get(e.key.id) : e;
  }

  private unindex(e: Entry): void {
    const prov = this.providers.get(e.key.providerId);
    if (!prov) return;
    prov.remove(e);
    if (prov.entries.size === 0) {
      prov.clear();
      this.providers.delete(e.key.providerId);
    }
  }

  private dropGroups(): void {
    for (const p of this.providers.values()) p.clear();
  }

  private refreshGroups(e: Entry): void {
    for (const g of e.groups) g.refresh(e);
  }

  /** Per-request numbers of `e` changed (uses, in-flight, latency, success rate, pick order). */
  private reorder(e: Entry): void {
    if (this.ordered) this.refreshGroups(e);
  }

  /** Records a change (of one key, or of everything) and tells the listeners. */
  private markChanged(e?: Entry): void {
    this.rev++;
    if (e) e.rev = this.rev;
    else this.wholeRev = this.rev;
    this.changed.fire();
  }

  private drain(): void {
    this.machine.drain();
  }
}
