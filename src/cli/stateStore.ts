import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Stats } from '../core/accounting/stats';
import { readJsonFile, writeJsonFileAtomic, writeJsonFileAtomicAsync } from '../core/config/stateFile';
import type { Disposable } from '../core/events';
import type { KeyPool } from '../core/pool/keyPool';
import type { PersistedHealth } from '../core/pool/persistedHealth';
import type { Clock, Logger } from '../core/types';

/** What `<data-dir>/state.json` holds: key health and counters, never key text. */
export interface SavedState {
  health?: PersistedHealth;
  stats?: unknown;
}

/** How often the saver looks for changes, and how old unsaved counters may get. */
const CHECK_MS = 1_000;
const STATS_EVERY_MS = 60_000;

/**
 * The headless proxy's state file. Key state changes are rare and worth saving within a second;
 * counters change on every request and are saved once a minute (and at shutdown), off the request
 * path's disk waits.
 */
export class StateStore implements Disposable {
  readonly path: string;
  private saver: NodeJS.Timeout | undefined;
  private readonly subscriptions: Disposable[] = [];

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, 'state.json');
  }

  /**
   * The saved state, or nothing (no file yet). A corrupt one, invalid JSON or JSON of another
   * shape, is kept aside as `.corrupt` with a warning: overwriting it unsaid lost the only copy.
   */
  load(): SavedState | undefined {
    const saved = readJsonFile(this.path, (m) => this.log.warn(m));
    if (saved === undefined) return undefined;
    const wrong = shapeProblem(saved);
    if (wrong === undefined) return saved as SavedState;
    renameSync(this.path, `${this.path}.corrupt`);
    this.log.warn(`${this.path} is not KeyRelay state (${wrong}); kept it as ${this.path}.corrupt and started fresh.`);
    return undefined;
  }

  /** Saves in the background whenever the pool or the counters changed. */
  watch(pool: KeyPool, stats: Stats, clock: Clock): void {
    let healthDirty = false;
    let statsDirty = false;
    let saving = false;
    let lastSave = clock.now();
    this.subscriptions.push(
      pool.onDidChange(() => {
        healthDirty = true;
      }),
      stats.onDidChange(() => {
        statsDirty = true;
      }),
    );
    this.saver = setInterval(() => {
      if (saving || !(healthDirty || (statsDirty && clock.now() - lastSave >= STATS_EVERY_MS))) return;
      healthDirty = statsDirty = false;
      saving = true;
      lastSave = clock.now();
      writeJsonFileAtomicAsync(this.path, snapshot(pool, stats))
        .catch((err: Error) => this.log.error(`Could not save state to ${this.path}: ${err.message}`))
        .finally(() => {
          saving = false;
        });
    }, CHECK_MS);
    this.saver.unref();
  }

  /** Saves now, synchronously (shutdown); a failure is logged, never thrown. */
  saveNow(pool: KeyPool, stats: Stats): void {
    try {
      writeJsonFileAtomic(this.path, snapshot(pool, stats));
    } catch (err) {
      this.log.error(`Could not save state to ${this.path}: ${(err as Error).message}`);
    }
  }

  dispose(): void {
    clearInterval(this.saver);
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why `saved` is not what `snapshot` writes, or undefined when it is. */
function shapeProblem(saved: unknown): string | undefined {
  if (!isRecord(saved)) return `the file holds ${Array.isArray(saved) ? 'a list' : typeof saved}, not an object`;
  if (saved.version !== 1) return `"version" is ${JSON.stringify(saved.version) ?? 'missing'}, not 1`;
  if (saved.health !== undefined && !(isRecord(saved.health) && Object.values(saved.health).every(isRecord)))
    return '"health" is not an object of key records';
  if (saved.stats !== undefined && !isRecord(saved.stats)) return '"stats" is not an object';
  return undefined;
}

function snapshot(pool: KeyPool, stats: Stats): unknown {
  return { version: 1, health: pool.exportHealth(), stats: stats.toJSON() };
}
