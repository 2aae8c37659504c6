import * as assert from 'node:assert/strict';
import { DisposableBase, DisposableStore, Emitter, toDisposable } from '../../src/core/events';
import type { Disposable, Event } from '../../src/core/events';

/**
 * Runs `fn` with mocha's uncaughtException handlers swapped for a recorder, so errors the
 * Emitter rethrows in a microtask are observed instead of failing the run. Bounded: one macrotask.
 */
async function captureUncaught(fn: () => void): Promise<unknown[]> {
  const saved = process.listeners('uncaughtException');
  const seen: unknown[] = [];
  const record = (err: unknown): void => {
    seen.push(err);
  };
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', record);
  try {
    fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.removeListener('uncaughtException', record);
    for (const l of saved) process.on('uncaughtException', l);
  }
  return seen;
}

suite('Emitter', () => {
  test('delivers to every listener in subscription order', () => {
    const e = new Emitter<number>();
    const got: string[] = [];
    e.event((n) => got.push(`a${n}`));
    e.event((n) => got.push(`b${n}`));
    e.fire(1);
    e.fire(2);
    assert.deepEqual(got, ['a1', 'b1', 'a2', 'b2']);
  });

  test('disposing a subscription stops delivery, once and for all', () => {
    const e = new Emitter<void>();
    let n = 0;
    const sub = e.event(() => n++);
    e.fire();
    sub.dispose();
    sub.dispose();
    e.fire();
    assert.equal(n, 1);
    assert.equal(e.hasListeners, false);
  });

  test('the same function subscribed twice is two subscriptions; disposing one keeps the other', () => {
    const e = new Emitter<void>();
    let n = 0;
    const f = (): void => {
      n++;
    };
    const s1 = e.event(f);
    e.event(f);
    s1.dispose();
    e.fire();
    assert.equal(n, 1);
  });

  test('thisArgs binds the listener and disposables collects the subscription', () => {
    const e = new Emitter<number>();
    const owner = {
      total: 0,
      add(this: { total: number }, n: number) {
        this.total += n;
      },
    };
    const bag: Disposable[] = [];
    e.event(owner.add, owner, bag);
    e.fire(5);
    assert.equal(owner.total, 5);
    assert.equal(bag.length, 1);
    bag[0].dispose();
    e.fire(5);
    assert.equal(owner.total, 5);
  });

  test('a listener that unsubscribes during delivery does not make its neighbour miss the event', () => {
    const e = new Emitter<void>();
    const got: string[] = [];
    const first = e.event(() => {
      got.push('first');
      first.dispose();
    });
    e.event(() => got.push('second'));
    e.fire();
    e.fire();
    assert.deepEqual(got, ['first', 'second', 'second']);
  });

  test('a throwing listener does not stop the others; its error is rethrown asynchronously', async () => {
    const e = new Emitter<void>();
    const got: string[] = [];
    e.event(() => {
      throw new Error('listener boom');
    });
    e.event(() => got.push('after'));
    const uncaught = await captureUncaught(() => e.fire());
    assert.deepEqual(got, ['after']);
    assert.equal(uncaught.length, 1);
    assert.match(String(uncaught[0]), /listener boom/);
  });

  test('after dispose nothing is delivered and new subscriptions are inert', () => {
    const e = new Emitter<void>();
    let n = 0;
    e.event(() => n++);
    e.dispose();
    const late = e.event(() => n++);
    e.fire();
    assert.equal(n, 0);
    assert.equal(e.hasListeners, false);
    assert.doesNotThrow(() => late.dispose());
  });

  test('the event is a plain function usable detached from the emitter', () => {
    const e = new Emitter<string>();
    const ev: Event<string> = e.event;
    let got = '';
    ev((s) => {
      got = s;
    });
    e.fire('x');
    assert.equal(got, 'x');
  });
});

suite('toDisposable', () => {
  test('runs its function at most once', () => {
    let n = 0;
    const d = toDisposable(() => n++);
    d.dispose();
    d.dispose();
    assert.equal(n, 1);
  });
});

suite('DisposableStore', () => {
  test('disposes in reverse order of registration', () => {
    const order: string[] = [];
    const s = new DisposableStore();
    s.add(toDisposable(() => order.push('a')));
    s.add(toDisposable(() => order.push('b')));
    s.add(toDisposable(() => order.push('c')));
    s.dispose();
    assert.deepEqual(order, ['c', 'b', 'a']);
  });

  test('add returns its argument and, after dispose, disposes it at once', () => {
    const s = new DisposableStore();
    s.dispose();
    let n = 0;
    const d = toDisposable(() => n++);
    assert.equal(s.add(d), d);
    assert.equal(n, 1);
  });

  test('clear disposes the items but the store stays usable; dispose is idempotent', () => {
    const s = new DisposableStore();
    let a = 0;
    let b = 0;
    s.add(toDisposable(() => a++));
    s.clear();
    assert.equal(a, 1);
    s.add(toDisposable(() => b++));
    assert.equal(b, 0, 'an item added after clear is kept, not disposed');
    s.dispose();
    s.dispose();
    assert.deepEqual([a, b], [1, 1]);
  });
});

suite('DisposableBase', () => {
  class Owner extends DisposableBase {
    readonly changes = this._register(new Emitter<number>());
    readonly log: string[] = [];
    constructor(source: Emitter<number>) {
      super();
      this._register(source.event((n) => this.log.push(`saw ${n}`)));
      this._register(toDisposable(() => this.log.push('cleanup')));
    }
  }

  test('dispose releases every registered resource: subscriptions stop, own emitters go quiet', () => {
    const source = new Emitter<number>();
    const o = new Owner(source);
    let heard = 0;
    o.changes.event(() => heard++);
    source.fire(1);
    o.dispose();
    source.fire(2);
    o.changes.fire(3);
    assert.deepEqual(o.log, ['saw 1', 'cleanup']);
    assert.equal(source.hasListeners, false, 'the subscription on the outside emitter is gone');
    assert.equal(heard, 0);
  });

  test('registered items go in reverse order, last registered first', () => {
    const order: string[] = [];
    class Two extends DisposableBase {
      constructor() {
        super();
        this._register(toDisposable(() => order.push('first')));
        this._register(toDisposable(() => order.push('second')));
      }
    }
    new Two().dispose();
    assert.deepEqual(order, ['second', 'first']);
  });
});
