import type * as vscode from 'vscode';
import { DisposableBase, toDisposable } from '../core/events';
import type { KeyPool, PersistedHealth } from '../core/keyPool';
import type { Stats } from '../core/stats';
import { StorageKey } from './ids';

/**
 * Keeps key health and counters in globalState across restarts. Writes are coalesced (at most one
 * per `delayMs`) because counters change on every request; `flush()` runs on deactivate.
 */
export class HealthPersistence extends DisposableBase {
  private timer: NodeJS.Timeout | undefined;
  /** Followers do not write: the leader's counters are the real ones. */
  enabled = true;

  constructor(
    private readonly memento: vscode.Memento,
    private readonly pool: KeyPool,
    private readonly stats: Stats,
    private readonly delayMs = 5_000,
  ) {
    super();
    this._register(pool.onDidChange(() => this.schedule()));
    this._register(stats.onDidChange(() => this.schedule()));
    this._register(toDisposable(() => clearTimeout(this.timer)));
  }

  /** Health saved by an earlier run (or by the window that led before us). */
  loadHealth(): PersistedHealth | undefined {
    return this.memento.get<PersistedHealth>(StorageKey.health);
  }

  loadStats(): unknown {
    return this.memento.get<unknown>(StorageKey.stats);
  }

  private schedule(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.delayMs);
    this.timer.unref?.();
  }

  async flush(): Promise<void> {
    if (!this.enabled) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.memento.update(StorageKey.health, this.pool.exportHealth());
    await this.memento.update(StorageKey.stats, this.stats.toJSON());
  }
}
