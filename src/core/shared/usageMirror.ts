/**
 * Usage counters shared through the store: the deltas of the local Stats since the last look
 * (read off the request path, on a timer), plus any counter another part adds (`add`: the hook
 * budgets use for their own fields, e.g. "costUsd"). Deltas wait here while the store is down and
 * are added when it is back, so counts merge without loss (HINCRBY / HINCRBYFLOAT are atomic).
 */
import type { Stats } from '../accounting/stats';
import { USAGE_FIELDS } from './sharedRecords';

type Counts = Record<string, number>;
const ZERO: Readonly<Counts> = Object.freeze(Object.fromEntries(USAGE_FIELDS.map((f) => [f, 0])));

export class UsageMirror {
  /** Deltas not yet in the store: field → sid → amount. */
  private pending = new Map<string, Map<string, number>>();
  /** What Stats said at the last look, by local key id. */
  private readonly seen = new Map<string, Counts>();
  private statsRev = 0;
  /** Totals over every instance, as last read: sid → field → amount. */
  private totals = new Map<string, Counts>();

  constructor(
    private readonly stats: Stats,
    private readonly sidOf: (keyId: string) => string | undefined,
  ) {
    // Counts from before the store was configured (loaded from disk) are this instance's history,
    // not new usage: the mirror starts from them.
    this.look(false);
  }

  /** Adds `n` to a shared counter of a key (budgets: cost, tokens against a limit). */
  add(sid: string, field: string, n: number): void {
    if (!Number.isFinite(n) || n === 0) return;
    let m = this.pending.get(field);
    if (!m) this.pending.set(field, (m = new Map()));
    m.set(sid, (m.get(sid) ?? 0) + n);
  }

  /** Moves what Stats counted since the last look into the pending deltas. */
  look(record = true): void {
    const { revision, ids } = this.stats.changedSince(this.statsRev);
    this.statsRev = revision;
    const live = this.stats.liveKeys();
    for (const id of ids) {
      const all = live.get(id)?.all;
      if (!all) continue;
      // One record per key, updated in place: a busy pool changes every key between two looks.
      let seen = this.seen.get(id);
      if (!seen) this.seen.set(id, (seen = { ...ZERO }));
      const sid = record ? this.sidOf(id) : undefined;
      for (const f of USAGE_FIELDS) {
        // A local reset makes a counter smaller: nothing to add, the shared total keeps its count.
        if (sid && all[f] > seen[f]) this.add(sid, f, all[f] - seen[f]);
        seen[f] = all[f];
      }
    }
  }

  /** Deltas waiting for the store (a count of key × field). */
  get pendingCount(): number {
    let n = 0;
    for (const m of this.pending.values()) n += m.size;
    return n;
  }

  /** Takes the pending deltas to send; `putBack` them if the write fails. */
  take(): Map<string, Map<string, number>> {
    const out = this.pending;
    this.pending = new Map();
    return out;
  }

  putBack(batch: Map<string, Map<string, number>>): void {
    for (const [field, m] of batch) for (const [sid, n] of m) this.add(sid, field, n);
  }

  /** Replaces the shared totals with what the store holds (field → sid → amount as strings). */
  setTotals(byField: Array<[string, Record<string, string>]>): void {
    const totals = new Map<string, Counts>();
    for (const [field, bySid] of byField) {
      for (const [sid, v] of Object.entries(bySid)) {
        const n = Number(v);
        if (!Number.isFinite(n)) continue;
        let c = totals.get(sid);
        if (!c) totals.set(sid, (c = {}));
        c[field] = n;
      }
    }
    this.totals = totals;
  }

  /** The shared total of one key's counter, as last read (0 when never counted). */
  total(sid: string, field: string): number {
    return this.totals.get(sid)?.[field] ?? 0;
  }

  /** Every key's shared totals, by sid. */
  all(): ReadonlyMap<string, Readonly<Counts>> {
    return this.totals;
  }
}
