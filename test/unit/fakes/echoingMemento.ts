import { Emitter } from '../../../src/core/events';
import type { ValueStore } from '../../../src/core/keys/keyVault';

/**
 * globalState as VS Code 1.139's extension host keeps it (ExtensionMemento + MainThreadStorage),
 * so that its race can be replayed without a workbench:
 * - all keys of the extension live in one object; `update()` sets its key there at once and
 *   schedules one save of the whole object on the next turn (updates before it share that save);
 * - the workbench stores each save, echoes the stored object back, then answers; the echo
 *   replaces the object in the extension host, the answer resolves the save's `update()` promises.
 * Messages come back in order, one turn after the save, so an echo that is under way when a
 * later update arrives is applied before that update's save goes out (the unlucky order: it
 * is what happens in a real host when the workbench answers faster than the next timer fires).
 */
export class EchoingMemento implements ValueStore {
  /** What the workbench holds: what a restart or another window reads. */
  saved: Record<string, unknown> = {};
  /** Saves sent so far. */
  saves = 0;
  private readonly sent = new Emitter<void>();
  /** Fires when a save goes out to the workbench. */
  readonly onDidSend = this.sent.event;
  private value: Record<string, unknown> = {};
  private waiting = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private saveDue = false;
  private readonly underWay: Array<() => void> = [];

  get<T>(name: string): T | undefined {
    return structuredClone(this.value[name]) as T | undefined;
  }

  update(name: string, value: unknown): Promise<void> {
    this.value[name] = structuredClone(value);
    const pending = this.waiting.get(name);
    if (pending) return pending.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.waiting.set(name, { promise, resolve });
    if (!this.saveDue) {
      this.saveDue = true;
      setImmediate(() => this.save());
    }
    return promise;
  }

  private save(): void {
    this.saveDue = false;
    const sent = structuredClone(this.value);
    const done = [...this.waiting.values()];
    this.waiting = new Map();
    this.saved = structuredClone(sent);
    this.underWay.push(
      () => (this.value = structuredClone(sent)), // the echo
      () => done.forEach((d) => d.resolve()), // the answer
    );
    setImmediate(() => this.underWay.splice(0).forEach((m) => m()));
    this.saves++;
    this.sent.fire();
  }
}
