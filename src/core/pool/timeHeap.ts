/** A plain min-heap of timed items with lazy deletion (callers skip stale tops). */
export class TimeHeap<T extends { at: number }> {
  readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const h = this.items;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].at <= h[i].at) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        let m = i;
        if (l < h.length && h[l].at < h[m].at) m = l;
        if (l + 1 < h.length && h[l + 1].at < h[m].at) m = l + 1;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  /** Drops everything and re-adds `xs` (used to shed stale items). */
  reset(xs: T[]): void {
    this.items.length = 0;
    for (const x of xs) this.push(x);
  }
}
