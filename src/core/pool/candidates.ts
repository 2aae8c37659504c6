/**
 * Candidate groups: the keys of one provider allowed for one model. A group keeps its available
 * members in the current strategy's Selector and counts the rest, so `pick` and its "why not"
 * answers (cooling / unusable) never scan every key. Groups are built lazily per model asked for
 * and kept in sync incrementally as key health changes.
 */
import type { Entry, EntryGroup } from './entry';
import { HeapSelector, RandomSelector, RoundSelector, WeightedSelector } from './strategies';
import type { RoundTurn } from './strategies';
import type { Selector } from './strategies';
import type { KeyRecord, StrategyName } from '../types';
import { TimeHeap } from './timeHeap';

/** Candidate groups cached per provider (one per model asked for); older ones are rebuilt on demand. */
const MAX_GROUPS = 64;
const ANY_MODEL = '\u0000any';

/** How a member stands within one group (model-scoped cooling counts as cooling here; `budget`: over budget). */
export type GroupState = 'avail' | 'cooling' | 'invalid' | 'discarded' | 'budget';

function groupState(e: Entry, model: string | undefined): GroupState {
  const s = e.h.state;
  if (s === 'invalid' || s === 'discarded') return s;
  if (e.h.overBudget) return 'budget';
  if (s !== 'active') return 'cooling';
  return model !== undefined && e.h.modelCooldowns.has(model) ? 'cooling' : 'avail';
}

/** When a member cooling in this group becomes usable again: after both key-wide and model cooldowns. */
function usableAt(e: Entry, model: string | undefined): number {
  const wide = e.h.state === 'cooling' ? (e.h.coolingUntil ?? 0) : 0;
  return Math.max(wide, model !== undefined ? (e.h.modelCooldowns.get(model) ?? 0) : 0);
}

/** Keys of one provider allowed for one model (`model` undefined: requests naming no model). */
export class CandidateGroup implements EntryGroup {
  readonly members = new Map<Entry, GroupState>();
  readonly counts: Record<GroupState, number> = { avail: 0, cooling: 0, invalid: 0, discarded: 0, budget: 0 };
  private readonly cooling = new TimeHeap<{ at: number; e: Entry }>();
  private readonly pushed = new Map<Entry, number>();

  constructor(
    readonly model: string | undefined,
    readonly selector: Selector<Entry>,
  ) {}

  addMember(e: Entry): void {
    if (this.members.has(e)) return;
    const s = groupState(e, this.model);
    this.members.set(e, s);
    // A copy of exactly the right length: `push` (or a spread) on an empty array reserves 17 slots,
    // 152 bytes per key at 10,000 keys. Membership changes are rare next to the reads per request.
    e.groups = e.groups.concat(this);
    this.enter(e, s);
  }

  removeMember(e: Entry): void {
    const s = this.members.get(e);
    if (s === undefined) return;
    this.members.delete(e);
    this.pushed.delete(e);
    e.groups = e.groups.filter((g) => g !== this);
    this.counts[s]--;
    if (s === 'avail') this.selector.remove(e);
  }

  /** Re-evaluates one member after its health changed. */
  refresh(e: Entry): void {
    const old = this.members.get(e);
    if (old === undefined) return;
    const s = groupState(e, this.model);
    if (s === old) {
      if (s === 'avail') this.selector.update(e);
      else if (s === 'cooling') this.noteCooling(e);
      return;
    }
    this.counts[old]--;
    if (old === 'avail') this.selector.remove(e);
    if (old === 'cooling') this.pushed.delete(e);
    this.members.set(e, s);
    this.enter(e, s);
  }

  isAvailable(e: Entry): boolean {
    return this.members.get(e) === 'avail';
  }

  /** The strategy's choice, or with `random` a uniformly random usable member (one pass over the group). */
  choose(isExcluded: (e: Entry) => boolean, excludeSize: number, random?: () => number): Entry | undefined {
    return random ? this.pickRandom(isExcluded, random) : this.selector.pick(isExcluded, excludeSize);
  }

  private pickRandom(isExcluded: (e: Entry) => boolean, random: () => number): Entry | undefined {
    let chosen: Entry | undefined;
    let seen = 0;
    for (const [e, s] of this.members) {
      // Reservoir sampling: the n-th usable member replaces the choice with probability 1/n.
      if (s === 'avail' && !isExcluded(e) && random() * ++seen < 1) chosen = e;
    }
    return chosen;
  }

  /** Earliest time a cooling member becomes usable; stale heap tops are dropped lazily. */
  soonestUsable(): number | undefined {
    for (let top = this.cooling.peek(); top; top = this.cooling.peek()) {
      if (this.members.get(top.e) === 'cooling' && usableAt(top.e, this.model) === top.at) return top.at;
      this.cooling.pop();
    }
    return undefined;
  }

  /** When the first member over its budget comes back (a scan: only asked when nothing else can serve). */
  soonestBudgetEnd(): number {
    let at = Infinity;
    for (const [e, s] of this.members) if (s === 'budget' && e.h.overBudget) at = Math.min(at, e.h.overBudget.until);
    return at;
  }

  /** Group teardown: members forget it so later refreshes skip it. */
  detach(): void {
    for (const e of this.members.keys()) e.groups = e.groups.filter((g) => g !== this);
  }

  private enter(e: Entry, s: GroupState): void {
    this.counts[s]++;
    if (s === 'avail') this.selector.add(e);
    else if (s === 'cooling') this.noteCooling(e);
  }

  private noteCooling(e: Entry): void {
    const at = usableAt(e, this.model);
    if (this.pushed.get(e) === at) return;
    this.pushed.set(e, at);
    // Stale items pile up when cooldowns move; shed them once they outnumber live members.
    if (this.cooling.size > 2 * this.counts.cooling + 64) {
      this.cooling.reset([...this.pushed].map(([x, t]) => ({ at: t, e: x })));
    } else {
      this.cooling.push({ at, e });
    }
  }
}

/** The keys of one provider, which models they list, and the groups built from them. */
export class ProviderIndex {
  readonly entries = new Set<Entry>();
  /** Explicitly listed model → how many keys list it (`others` excluded). */
  readonly listed = new Map<string, number>();
  private readonly groups = new Map<string, CandidateGroup>();
  /** The most recently used group id: re-ordering the LRU is skipped while it does not change. */
  private mru: string | undefined;
  /** Where round-robin continues, shared by every model's group of this provider. */
  readonly turn: RoundTurn = { next: 0, picks: 0 };
  private slots = 0;
  /** Account name → its keys (DESIGN §4: they share its rate limits). */
  private readonly accounts = new Map<string, Entry[]>();

  constructor(private readonly makeSelector: (turn: RoundTurn) => Selector<Entry>) {}

  add(e: Entry): void {
    this.entries.add(e);
    e.slot = ++this.slots;
    const account = e.key.account;
    if (account) this.accounts.set(account, [...(this.accounts.get(account) ?? []), e]);
    for (const m of explicitModels(e.key)) {
      const c = this.listed.get(m) ?? 0;
      // A model listed for the first time no longer falls to `others` keys: rebuild its group.
      if (c === 0) this.dropGroup(m);
      this.listed.set(m, c + 1);
    }
    for (const g of this.groups.values()) if (this.allows(e, g.model)) g.addMember(e);
  }

  remove(e: Entry): void {
    for (const g of e.groups) g.removeMember(e); // removeMember replaces e.groups: this loop reads the old array
    this.entries.delete(e);
    const account = e.key.account;
    if (account) {
      const rest = (this.accounts.get(account) ?? []).filter((x) => x !== e);
      if (rest.length) this.accounts.set(account, rest);
      else this.accounts.delete(account);
    }
    for (const m of explicitModels(e.key)) {
      const c = (this.listed.get(m) ?? 1) - 1;
      if (c > 0) this.listed.set(m, c);
      else {
        this.listed.delete(m);
        this.dropGroup(m);
      }
    }
  }

  /** The other keys of `e`'s account (none when it has no account). */
  accountMates(e: Entry): Entry[] {
    const account = e.key.account;
    return account ? (this.accounts.get(account) ?? []).filter((x) => x !== e) : [];
  }

  /** The group for `model`, built on first use (O(keys of this provider), once). */
  group(model: string | undefined): CandidateGroup {
    const id = model ?? ANY_MODEL;
    let g = this.groups.get(id);
    if (g) {
      // Map order doubles as LRU order. Re-insert only when the order changes: a delete+set on
      // every pick churned the Map's table into old-space garbage (bench: 10,000 keys ran 0.8×).
      if (this.mru !== id) {
        this.groups.delete(id);
        this.groups.set(id, g);
        this.mru = id;
      }
      return g;
    }
    g = new CandidateGroup(model, this.makeSelector(this.turn));
    for (const e of this.entries) if (this.allows(e, model)) g.addMember(e);
    if (this.groups.size >= MAX_GROUPS) this.dropGroup(this.groups.keys().next().value as string);
    this.groups.set(id, g);
    this.mru = id;
    return g;
  }

  /** Forgets every group (strategy change, teardown); they are rebuilt lazily. */
  clear(): void {
    for (const g of this.groups.values()) g.detach();
    this.groups.clear();
    this.mru = undefined;
  }

  /** DESIGN §2: no list = every model; listed = that model; `others` = models no key here lists. */
  allows(e: Entry, model: string | undefined): boolean {
    const models = e.key.models;
    if (model === undefined || !models || models.length === 0 || models.includes(model)) return true;
    return models.includes('others') && !this.listed.has(model);
  }

  private dropGroup(id: string): void {
    this.groups.get(id)?.detach();
    this.groups.delete(id);
    if (this.mru === id) this.mru = undefined;
  }
}

function explicitModels(k: KeyRecord): string[] {
  return (k.models ?? []).filter((m) => m !== 'others');
}

/**
 * Whether a strategy orders keys by numbers that change on every request (uses, in-flight,
 * latency, success rate, pick order). The others (round-robin, random, cache-affinity) only care
 * about a key's state, so the pool skips re-evaluating groups on the happy path: four Map lookups
 * per request on records that are out of cache at 10,000 keys.
 */
export function reordersOnUse(strategy: StrategyName): boolean {
  return strategy === 'weighted' || strategy === 'least-used' || strategy === 'latency';
}

/** The selector a strategy needs; cache-affinity rotates like round-robin for new conversations. */
export function selectorFor(strategy: StrategyName, random: () => number, turn: RoundTurn): Selector<Entry> {
  switch (strategy) {
    case 'random':
      return new RandomSelector(random);
    case 'weighted':
      return new WeightedSelector((e) => (e.key.weight ?? 1) * Math.max(0.05, e.h.successPermille / 1000), random);
    case 'least-used':
      return new HeapSelector((a, b) =>
        a.h.uses !== b.h.uses
          ? a.h.uses < b.h.uses
          : a.h.inFlight !== b.h.inFlight
            ? a.h.inFlight < b.h.inFlight
            : a.lastPick < b.lastPick,
      );
    // Untried keys (no ewma yet) sort first so every key gets measured.
    case 'latency':
      return new HeapSelector((a, b) => {
        const x = a.h.ttfbEwma16;
        const y = b.h.ttfbEwma16;
        return x !== y ? x < y : a.lastPick < b.lastPick;
      });
    default:
      return new RoundSelector(turn);
  }
}

/** Conversations remembered by cache-affinity (least recently used dropped first). */
const AFFINITY_LIMIT = 10_000;

/** `choose`'s `isExcluded` when the request excludes nothing: one function, not a closure per pick. */
export const NONE_EXCLUDED = (): boolean => false;

/** Cache-affinity: the conversation `key` was served by key `id` (`has`: whether a key is still pooled). */
export function remember(
  affinity: Map<string, { home: string; away?: string }>,
  key: string,
  id: string,
  has: (id: string) => boolean,
): void {
  const a = affinity.get(key) ?? { home: id };
  // A home key that left the pool is not coming back: the stand-in becomes home.
  if (a.home !== id && !has(a.home)) a.home = id;
  // The stand-in is kept after the return: its cache may still be warm the next time home cools.
  if (a.home !== id) a.away = id;
  affinity.delete(key);
  affinity.set(key, a);
  if (affinity.size > AFFINITY_LIMIT) affinity.delete(affinity.keys().next().value as string);
}
