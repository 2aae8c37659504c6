/**
 * VS Code-shaped events and disposables for the core, so adapters in src/vscode are one-liners
 * and the core never imports 'vscode'.
 */

/** Anything that holds a resource and can let go of it. */
export interface Disposable {
  dispose(): void;
}

/** A subscription function, shaped like `vscode.Event<T>`. */
export type Event<T> = (listener: (e: T) => unknown, thisArgs?: unknown, disposables?: Disposable[]) => Disposable;

/** Wraps a function as a Disposable that runs at most once. */
export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return {
    dispose: () => {
      if (!done) {
        done = true;
        fn();
      }
    },
  };
}

/** Fires events to listeners; listeners that throw do not stop the others. */
export class Emitter<T> implements Disposable {
  private listeners: Array<(e: T) => unknown> = [];
  private disposed = false;

  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    const bound = thisArgs ? listener.bind(thisArgs) : listener;
    if (!this.disposed) this.listeners.push(bound);
    const sub = toDisposable(() => {
      const i = this.listeners.indexOf(bound);
      if (i >= 0) this.listeners.splice(i, 1);
    });
    disposables?.push(sub);
    return sub;
  };

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  fire(e: T): void {
    // Copy so a listener that unsubscribes during delivery does not skip its neighbour.
    for (const l of this.listeners.slice()) {
      try {
        l(e);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    this.listeners = [];
  }
}

/** A set of disposables released together, in reverse order of registration. */
export class DisposableStore implements Disposable {
  private items: Disposable[] = [];
  private disposed = false;

  add<T extends Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.items.push(d);
    return d;
  }

  clear(): void {
    const items = this.items.reverse();
    this.items = [];
    for (const d of items) d.dispose();
  }

  dispose(): void {
    this.disposed = true;
    this.clear();
  }
}

/** Base class for objects that own listeners: `_register` ties their lifetime to this one. */
export abstract class DisposableBase implements Disposable {
  protected readonly _store = new DisposableStore();

  protected _register<T extends Disposable>(d: T): T {
    return this._store.add(d);
  }

  dispose(): void {
    this._store.dispose();
  }
}
