import { DisposableBase, toDisposable } from '../core/events';
import type { ValueStore } from '../core/keys/keyVault';
import type { KeyPool } from '../core/pool/keyPool';
import type { PersistedHealth } from '../core/pool/persistedHealth';
import type { Stats } from '../core/accounting/stats';
import { StorageKey } from './ids';

/**
 * Keeps key health and counters in globalState across restarts. Key state changes are rare and
 * saved within a second; counters change on every request and are saved at most once a minute
 * (and by `flush()` on deactivate), so a busy proxy does not rewrite globalState all the time.
 */
export class HealthPersistence extends DisposableBase {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  /** Followers do not write: the leader's counters are the real ones. */
  enabled = true;

  constructor(
    private readonly memento: ValueStore,
    private readonly pool: KeyPool,
    private readonly stats: Stats,
    private readonly healthDelayMs = 1_000,
    private readonly statsDelayMs = 60_000,
  ) {
    super();
    this._register(pool.onDidChange(() => this.schedule(this.healthDelayMs)));
    this._register(stats.onDidChange(() => this.schedule(this.statsDelayMs)));
    this._register(toDisposable(() => clearTimeout(this.timer)));
  }

  /** Health saved by an earlier run (or by the window that led before us). */
  loadHealth(): PersistedHealth | undefined {
    return this.memento.get<PersistedHealth>(StorageKey.health);
  }

  loadStats(): unknown {
    return this.memento.get<unknown>(StorageKey.stats);
  }

  /** Saves within `delay`, keeping an earlier save already scheduled. */
  private schedule(delay: number): void {
    if (!this.enabled) return;
    const at = Date.now() + delay;
    if (this.timer && at >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Infinity;
      void this.flush();
    }, delay);
    this.timer.unref?.();
  }

  async flush(): Promise<void> {
    if (!this.enabled) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Infinity;
    await this.memento.update(StorageKey.health, this.pool.exportHealth());
    // toJSON shares the live counters; globalState keeps what it is given, so give it a copy.
    await this.memento.update(StorageKey.stats, JSON.parse(JSON.stringify(this.stats.toJSON())));
  }
}
