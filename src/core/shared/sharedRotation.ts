/**
 * Rotation shared by every KeyRelay of one pool (issue 18), so that together they spread load as
 * one pool would. Least-used counts the requests the other instances sent with a key (from the
 * shared usage totals); round-robin continues from a pool-wide cursor, a counter in the store of
 * which each instance reserves as many places as it gave out keys since the last reservation
 * (one INCRBY per provider per flush). A place maps to a key in the provider's round-robin order
 * (the order its keys were added: a config's order, the same on every CLI that shares it), so the
 * local cursor walks on from a reserved place exactly as the places go. Both run on SharedState's
 * timer, never on the request path: a pick uses the local pool, which this only updates.
 */
import type { RedisLink } from './redisLink';
import type { KeyPool } from '../pool/keyPool';
import type { StoreNames } from './sharedRecords';

export class SharedRotation {
  /** Requests this instance added to the store's totals, by sid. */
  private readonly sent = new Map<string, number>();
  /** The other instances' requests per key as last read (shared total − ours), by sid. */
  private readonly others = new Map<string, number>();
  private primed = false;
  /** Picks each provider's round-robin had made at its last reservation. */
  private readonly picksSeen = new Map<string, number>();
  /** Per provider, its key ids in round-robin order (by slot), rebuilt when the key set changes. */
  private order = new Map<string, string[]>();
  private listSeen: unknown;

  constructor(
    private readonly pool: KeyPool,
    private readonly names: StoreNames,
    private readonly idOf: (sid: string) => string | undefined,
  ) {}

  /** This instance's requests the store has just added (`requests` deltas by sid). */
  noteSent(bySid: ReadonlyMap<string, number> | undefined): void {
    if (bySid) for (const [sid, n] of bySid) this.sent.set(sid, (this.sent.get(sid) ?? 0) + n);
  }

  /**
   * Adds to each key's local use count what the other instances used it for since the last read.
   * The first read only sets the baseline: like a local daily reset, uses count from when this
   * instance joined, not from the store's beginning.
   */
  adoptUses(totals: ReadonlyMap<string, Readonly<Record<string, number>>>): void {
    for (const [sid, counts] of totals) {
      const now = (counts.requests ?? 0) - (this.sent.get(sid) ?? 0);
      const before = this.others.get(sid) ?? 0;
      this.others.set(sid, now);
      const id = this.primed && now > before ? this.idOf(sid) : undefined;
      if (id) this.pool.addUses(id, now - before);
    }
    this.primed = true;
  }

  /**
   * Reserves each provider's next places of the pool-wide cursor (as many as it gave out since its
   * last reservation; one at first) and moves the local cursor to the first of them.
   */
  async reserve(link: RedisLink): Promise<void> {
    const s = this.pool.strategy;
    if (s !== 'round-robin' && s !== 'cache-affinity') return;
    const asks: Array<{ provider: string; picks: number; n: number }> = [];
    for (const provider of this.pool.providerIds()) {
      const picks = this.pool.roundTurn(provider)?.picks ?? 0;
      const seen = this.picksSeen.get(provider);
      // Fewer picks than seen: the provider's index was rebuilt (a new key set) and counts afresh.
      const n = seen === undefined ? 1 : picks >= seen ? picks - seen : picks;
      if (n > 0) asks.push({ provider, picks, n });
    }
    if (asks.length === 0) return;
    const got = await link.pipeline(asks.map((a) => ['incrby', this.names.cursor(a.provider), a.n]));
    asks.forEach((a, i) => {
      const [err, end] = got[i] ?? [];
      if (err || typeof end !== 'number') return;
      this.picksSeen.set(a.provider, a.picks);
      this.moveTo(a.provider, end - a.n);
    });
  }

  /** The local cursor to the key at pool-wide `place` (its next pick is that key, or the next usable one). */
  private moveTo(provider: string, place: number): void {
    const ids = this.orderOf(provider);
    const turn = this.pool.roundTurn(provider);
    if (!turn || ids.length === 0) return;
    const slot = this.pool.slotOf(ids[place % ids.length]);
    if (slot !== undefined) turn.next = slot;
  }

  private orderOf(provider: string): string[] {
    const list = this.pool.list();
    if (list !== this.listSeen) {
      this.listSeen = list;
      const by = new Map<string, Array<{ id: string; slot: number }>>();
      for (const k of list) {
        let ks = by.get(k.providerId);
        if (!ks) by.set(k.providerId, (ks = []));
        ks.push({ id: k.id, slot: this.pool.slotOf(k.id) ?? 0 });
      }
      this.order = new Map([...by].map(([p, ks]) => [p, ks.sort((a, b) => a.slot - b.slot).map((k) => k.id)]));
    }
    return this.order.get(provider) ?? [];
  }
}
