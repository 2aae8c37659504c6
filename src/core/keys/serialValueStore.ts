import type { ValueStore } from './keyVault';

/**
 * A ValueStore whose writes run one at a time, in call order, each once the one before it is
 * done; reads see the newest value, written or still queued. Every writer of one extension's
 * globalState must share one of these.
 *
 * Why: VS Code keeps all of an extension's globalState in one object and saves the whole object
 * on each write; the workbench echoes every save back, and the echo replaces the object in the
 * extension host. A write that starts before an earlier save's echo has come back is undone by
 * that echo: for a moment if its own save already went out, for good if the echo arrives first
 * (the save then carries the old values, and its promise still resolves). Seen in VS Code 1.139
 * (code-server 4.139): a key removed, or put in an account, while health was being saved came
 * back. Writes that never overlap never meet an older echo.
 */
export class SerialValueStore implements ValueStore {
  private tail: Promise<unknown> = Promise.resolve();
  /** Values queued and not yet handed to the store, by name: what reads must see meanwhile. */
  private readonly queued = new Map<string, { value: unknown }>();

  constructor(private readonly store: ValueStore) {}

  get<T>(name: string): T | undefined {
    const q = this.queued.get(name);
    return q ? (q.value as T | undefined) : this.store.get<T>(name);
  }

  /** Queues the write; resolves (or rejects) when the store has it. A failed write does not stop later ones. */
  update(name: string, value: unknown): Promise<void> {
    const entry = { value };
    this.queued.set(name, entry);
    const write = this.tail.then(() => {
      // From here the store's own read answers (VS Code sets its copy at once).
      if (this.queued.get(name) === entry) this.queued.delete(name);
      return this.store.update(name, value);
    });
    this.tail = write.catch(() => undefined);
    return write;
  }
}
