/**
 * Selection structures behind the pool's strategies. Each one holds only the *available* keys of
 * one candidate group and answers `pick` in O(1) or O(log n), so a 10,000-key pool never scans
 * all keys per request. `exclude` (keys already tried by this request) is small: every structure
 * skips at most `excludeSize` entries before it finds one or gives up.
 */

/** The available members of one candidate group, ordered however the strategy needs. */
export interface Selector<T> {
  add(x: T): void;
  remove(x: T): void;
  /** The metrics the strategy orders by changed (uses, latency, weight…). */
  update(x: T): void;
  pick(isExcluded: (x: T) => boolean, excludeSize: number): T | undefined;
}

/**
 * Where a provider's round-robin continues: the slot after the last key it gave out, and how many
 * it gave out (src/core/shared reserves that many places of the pool-wide cursor, off the request path).
 */
export interface RoundTurn {
  next: number;
  picks?: number;
}

/**
 * Round-robin across a whole provider, whatever the model: the available keys sorted by their
 * provider-wide `slot`, and one cursor (`turn`) that every model's group of the provider shares,
 * so six requests for six models go to six keys. Pick: a binary search for the cursor, then at
 * most `excludeSize` more steps. Keys coming back are inserted in slot order (rare next to picks).
 */
export class RoundSelector<T extends { slot: number }> implements Selector<T> {
  private readonly items: T[] = [];
  /** Index of the last pick: the next one usually starts just after it. */
  private last = -1;

  constructor(private readonly turn: RoundTurn) {}

  add(x: T): void {
    const i = this.lowerBound(x.slot);
    if (this.items[i] === x) return;
    this.items.splice(i, 0, x);
  }

  remove(x: T): void {
    const i = this.lowerBound(x.slot);
    if (this.items[i] === x) this.items.splice(i, 1);
  }

  update(): void {}

  pick(isExcluded: (x: T) => boolean, excludeSize: number): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const start = this.startOf(this.turn.next);
    for (let k = 0; k <= Math.min(excludeSize, n - 1); k++) {
      const i = (start + k) % n;
      const x = this.items[i];
      if (isExcluded(x)) continue;
      this.turn.next = x.slot + 1;
      this.turn.picks = (this.turn.picks ?? 0) + 1;
      this.last = i;
      return x;
    }
    return undefined;
  }

  /**
   * `lowerBound(next)`, checked first right after the last pick, where the cursor usually is: two
   * keys read instead of a binary search whose 14 steps at 10,000 keys each read another key
   * (half of `pick`'s time there). Any other cursor (keys added or removed, another KeyRelay of a
   * shared pool moved it) fails the check and is searched.
   */
  private startOf(next: number): number {
    const items = this.items;
    const i = this.last + 1;
    if (i > 0 && i <= items.length && items[i - 1].slot < next && (i === items.length || items[i].slot >= next))
      return i;
    return this.lowerBound(next);
  }

  /** The first index whose slot is ≥ `slot` (n when none). */
  private lowerBound(slot: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid].slot < slot) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Uniform choice from a dense array (swap-remove keeps add/remove O(1)). */
export class RandomSelector<T> implements Selector<T> {
  private readonly items: T[] = [];
  private readonly pos = new Map<T, number>();

  constructor(private readonly random: () => number) {}

  add(x: T): void {
    if (this.pos.has(x)) return;
    this.pos.set(x, this.items.length);
    this.items.push(x);
  }

  remove(x: T): void {
    const i = this.pos.get(x);
    if (i === undefined) return;
    const last = this.items.pop() as T;
    this.pos.delete(x);
    if (last !== x) this.pos.set((this.items[i] = last), i);
  }

  update(): void {}
  pick(isExcluded: (x: T) => boolean, excludeSize: number): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    // A few rejection draws keep the choice uniform; the bounded walk guarantees termination.
    for (let tries = 0; tries < 8; tries++) {
      const x = this.items[Math.floor(this.random() * n) % n];
      if (!isExcluded(x)) return x;
    }
    const start = Math.floor(this.random() * n) % n;
    for (let i = 0; i <= Math.min(excludeSize, n - 1); i++) {
      const x = this.items[(start + i) % n];
      if (!isExcluded(x)) return x;
    }
    return undefined;
  }
}

/**
 * Weighted choice through a Fenwick tree of weights: sampling and updates are O(log n). Float
 * sums drift after many updates, so the tree is rebuilt every few thousand changes.
 */
export class WeightedSelector<T> implements Selector<T> {
  private tree: Float64Array = new Float64Array(17);
  private values: Float64Array = new Float64Array(16);
  private slots: Array<T | undefined> = [];
  private readonly pos = new Map<T, number>();
  private readonly free: number[] = [];
  private updates = 0;

  constructor(
    private readonly weightOf: (x: T) => number,
    private readonly random: () => number,
  ) {}

  add(x: T): void {
    if (this.pos.has(x)) return;
    let i = this.free.pop();
    if (i === undefined) {
      i = this.slots.length;
      if (i >= this.values.length) this.grow();
    }
    this.slots[i] = x;
    this.pos.set(x, i);
    this.set(i, this.weightOf(x));
  }

  remove(x: T): void {
    const i = this.pos.get(x);
    if (i === undefined) return;
    this.set(i, 0);
    this.pos.delete(x);
    this.slots[i] = undefined;
    this.free.push(i);
  }

  update(x: T): void {
    const i = this.pos.get(x);
    if (i !== undefined) this.set(i, this.weightOf(x));
  }

  pick(isExcluded: (x: T) => boolean, excludeSize: number): T | undefined {
    if (this.pos.size === 0) return undefined;
    // Excluded keys get weight 0 for this one draw (restored below), so the choice stays exact.
    const zeroed = new Set<number>();
    const zero = (i: number) => void (zeroed.add(i), this.add1(i, -this.values[i]));
    if (excludeSize >= this.pos.size) {
      for (const [x, i] of this.pos) if (isExcluded(x)) zero(i);
    }
    let found: T | undefined;
    for (let tries = 0; tries <= excludeSize + 1 && found === undefined; tries++) {
      const x = this.sample(zeroed);
      if (x === undefined) break;
      if (isExcluded(x)) zero(this.pos.get(x) as number);
      else found = x;
    }
    for (const i of zeroed) this.add1(i, this.values[i]);
    return found;
  }

  private sample(zeroed: ReadonlySet<number>): T | undefined {
    const n = this.slots.length;
    const total = this.prefix(n);
    if (!(total > 1e-12)) return undefined;
    let target = this.random() * total;
    let idx = 0;
    for (let step = 1 << Math.floor(Math.log2(this.tree.length - 1)); step > 0; step >>= 1) {
      const next = idx + step;
      if (next < this.tree.length && this.tree[next] <= target) {
        idx = next;
        target -= this.tree[next];
      }
    }
    // Float rounding can land on an empty or zero-weight slot: settle on the nearest weighted one.
    const ok = (i: number) => this.slots[i] !== undefined && this.values[i] > 0 && !zeroed.has(i);
    for (let i = Math.min(idx, n - 1); i >= 0; i--) if (ok(i)) return this.slots[i];
    for (let i = idx + 1; i < n; i++) if (ok(i)) return this.slots[i];
    return undefined;
  }

  private set(i: number, w: number): void {
    const weight = Number.isFinite(w) && w > 0 ? w : 0;
    const delta = weight - this.values[i];
    this.values[i] = weight;
    if (delta !== 0) this.add1(i, delta);
    if (++this.updates > 4096) this.rebuild(this.values.length);
  }

  private add1(i: number, delta: number): void {
    for (let j = i + 1; j < this.tree.length; j += j & -j) this.tree[j] += delta;
  }

  private prefix(n: number): number {
    let s = 0;
    for (let j = n; j > 0; j -= j & -j) s += this.tree[j];
    return s;
  }

  private grow(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
    this.rebuild(values.length);
  }

  private rebuild(size: number): void {
    this.updates = 0;
    this.tree = new Float64Array(size + 1);
    for (let i = 0; i < size; i++) {
      this.tree[i + 1] += this.values[i];
      const parent = i + 1 + ((i + 1) & -(i + 1));
      if (parent <= size) this.tree[parent] += this.tree[i + 1];
    }
  }
}

/** An indexed binary min-heap: `update` re-sifts one entry in O(log n). */
export class HeapSelector<T> implements Selector<T> {
  private readonly heap: T[] = [];
  private readonly pos = new Map<T, number>();

  /** `less(a, b)` true when `a` should be picked before `b`. */
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  add(x: T): void {
    if (this.pos.has(x)) return;
    this.heap.push(x);
    this.pos.set(x, this.heap.length - 1);
    this.up(this.heap.length - 1);
  }

  remove(x: T): void {
    const i = this.pos.get(x);
    if (i === undefined) return;
    const last = this.heap.pop() as T;
    this.pos.delete(x);
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.pos.set(last, i);
      this.down(this.up(i));
    }
  }

  update(x: T): void {
    const i = this.pos.get(x);
    if (i !== undefined) this.down(this.up(i));
  }

  pick(isExcluded: (x: T) => boolean, excludeSize: number): T | undefined {
    // Best-first walk from the root: only excluded nodes expand, so at most excludeSize expand.
    const frontier = this.heap.length > 0 ? [0] : [];
    let expanded = 0;
    while (frontier.length > 0 && expanded <= excludeSize) {
      let k = 0;
      for (let j = 1; j < frontier.length; j++) if (this.less(this.heap[frontier[j]], this.heap[frontier[k]])) k = j;
      const i = frontier.splice(k, 1)[0];
      const x = this.heap[i];
      if (!isExcluded(x)) return x;
      expanded++;
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < this.heap.length) frontier.push(c);
    }
    return undefined;
  }

  private up(i: number): number {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      this.swap(i, p);
      i = p;
    }
    return i;
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    [this.heap[a], this.heap[b]] = [this.heap[b], this.heap[a]];
    this.pos.set(this.heap[a], a).set(this.heap[b], b);
  }
}
