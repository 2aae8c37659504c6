/**
 * A large JSON object whose entries are made only when they are written. A state document made
 * whole before a save held every key's entries (~8 MB at 10,000 keys) for the whole sliced write;
 * under load they outlived their scavenges, and V8 counted them as live at the save's mark-compact
 * and let the heap grow to ~110 MB before the next one, which then ran while the proxy was idle
 * and dropped its optimised code (test/bench/README.md, "The idle collection").
 * `writeJsonInSlices` asks for one entry at a time; `JSON.stringify` gets the whole object.
 */
export class LazyRecord<I, V> {
  /** `entry`: the item's (at `index`) name and value, or undefined to leave it out; read when reached. */
  constructor(
    private readonly items: Iterable<I>,
    private readonly entry: (item: I, index: number) => readonly [string, V] | undefined,
  ) {}

  *entries(): Generator<readonly [string, V]> {
    let index = 0;
    for (const item of this.items) {
      const e = this.entry(item, index++);
      if (e !== undefined) yield e;
    }
  }

  toJSON(): Record<string, V> {
    // No prototype, so an id such as `__proto__` stays an entry.
    const o = Object.create(null) as Record<string, V>;
    for (const [k, v] of this.entries()) o[k] = v;
    return o;
  }
}
