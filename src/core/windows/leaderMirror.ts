import type { CostFigure } from '../accounting/costReport';
import type { SyncCursor, SyncDoc, SyncKey } from '../accounting/syncFeed';

/** The leader's keys as a following window shows them: `keys` in the leader's order. */
export interface MirroredStatus {
  keys: SyncKey[];
  requestsToday: number;
  cost?: CostFigure;
  at: number;
}

/**
 * A following window's copy of the leader's key rows, kept up to date from `/keyrelay/sync`
 * answers: each brings only the rows that changed, or all of them (`whole`).
 */
export class LeaderMirror {
  cursor: SyncCursor = { pool: 0, stats: 0 };
  private rows = new Map<string, SyncKey>();
  private instanceId = '';

  /** Merges one answer; a new leader (another instance) starts the copy over. */
  apply(instanceId: string, doc: SyncDoc): MirroredStatus {
    if (instanceId !== this.instanceId) {
      this.instanceId = instanceId;
      // This answer was asked with the old leader's cursor: trust only a whole one.
      if (!doc.whole) this.cursor = { pool: 0, stats: 0 };
      this.rows = new Map();
      if (!doc.whole) return this.status(doc);
    }
    if (doc.whole) this.rows = new Map();
    for (const k of doc.keys) this.rows.set(k.id, k);
    this.cursor = doc.cursor;
    return this.status(doc);
  }

  private status(doc: SyncDoc): MirroredStatus {
    return { keys: [...this.rows.values()], requestsToday: doc.requestsToday, cost: doc.cost, at: doc.at };
  }
}
