/**
 * The storage under the time series (issue 17): fixed-size rings of buckets in one typed array,
 * shared by many series (providers, or keys), so that counting costs one index computation and an
 * add, with nothing allocated per request.
 */

/** Upper bounds (ms) of the latency histogram's buckets; one more bucket holds everything slower. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000,
];
/** Buckets per histogram: the bounds plus the overflow bucket. */
export const HIST_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The histogram bucket of `ms`: a bounded scan of 13 bounds, no allocation. */
export function latencyBucket(ms: number): number {
  const b = LATENCY_BOUNDS_MS;
  for (let i = 0; i < b.length; i++) if (ms <= b[i]) return i;
  return b.length;
}

/**
 * The `q` quantile (0..1) of a histogram stored at `data[at .. at + HIST_BUCKETS)`, interpolated
 * linearly inside its bucket; undefined when the histogram is empty. The overflow bucket answers
 * its lower bound (the histogram cannot say more).
 */
export function quantile(data: ArrayLike<number>, at: number, q: number): number | undefined {
  let total = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) total += data[at + i];
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const n = data[at + i];
    if (n > 0 && seen + n >= rank) {
      const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      if (i === LATENCY_BOUNDS_MS.length) return lo;
      return lo + ((LATENCY_BOUNDS_MS[i] - lo) * (rank - seen)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

/** The typed arrays a tier may keep: counts in 32 bits, or doubles where sums grow large. */
export type Cells = Uint32Array | Float64Array;

/**
 * Series × `slots` buckets × `fields` numbers, as a ring per series: bucket `step` (an absolute
 * index, e.g. minutes since the epoch) lives at `step % slots`. Series live in chunks of `chunk`
 * series, one typed array each, so a new series never copies the others and memory grows by at
 * most one chunk past what is used. Every series shares one head: moving to a new bucket zeroes
 * it in all of them at once (per new minute or hour, never per request). Counts in a Uint32Array
 * wrap at 2^32: a minute's or an hour's tokens of one provider or key stay far below that.
 */
export class Tier {
  private readonly chunks: Cells[] = [];
  /** The absolute step of the newest bucket; -1 before the first. */
  head = -1;

  constructor(
    readonly slots: number,
    readonly fields: number,
    private readonly chunk: number,
    private readonly wide = false,
  ) {}

  /** Series this tier has room for. */
  get size(): number {
    return this.chunks.length * this.chunk;
  }

  /** Bytes held (for the stated memory bound). */
  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.byteLength, 0);
  }

  /** Makes room for `n` series, a chunk at a time. */
  ensure(n: number): void {
    while (this.size < n) {
      const len = this.chunk * this.slots * this.fields;
      this.chunks.push(this.wide ? new Float64Array(len) : new Uint32Array(len));
    }
  }

  /** The array that holds `series` (index into it with `at` / `offsetAt`). */
  cells(series: number): Cells {
    return this.chunks[(series / this.chunk) | 0];
  }

  /** Moves the head to `step`, zeroing the buckets that enter the window (bounded by `slots`). */
  advance(step: number): void {
    if (step <= this.head) return;
    if (this.head < 0 || step - this.head >= this.slots) {
      // The whole window is new: one fill per chunk. Clearing it step by step walked every series
      // once per slot (60 × 1,000 at the start of a 1,000-key proxy), hot enough for the optimizing
      // compiler, whose code pages alone are +1.4 MB of RSS.
      for (const c of this.chunks) c.fill(0);
    } else {
      for (let s = this.head + 1; s <= step; s++) this.clearStep(s);
    }
    this.head = step;
  }

  /** Offset in `cells(series)` of `field` of the head bucket. */
  at(series: number, field: number): number {
    return ((series % this.chunk) * this.slots + (this.head % this.slots)) * this.fields + field;
  }

  /** Offset in `cells(series)` of the bucket `age` steps before the head (0 = head); -1 outside the window. */
  offsetAt(series: number, age: number): number {
    if (age < 0 || age >= this.slots || this.head - age < 0 || series < 0 || series >= this.size) return -1;
    return ((series % this.chunk) * this.slots + ((this.head - age) % this.slots)) * this.fields;
  }

  /** Zeroes every bucket of one series (a key that takes over a busy slot). */
  clearSeries(series: number): void {
    const n = this.slots * this.fields;
    const o = (series % this.chunk) * n;
    this.cells(series).fill(0, o, o + n);
  }

  /** Zeroes everything and forgets the head. */
  reset(): void {
    for (const c of this.chunks) c.fill(0);
    this.head = -1;
  }

  private clearStep(step: number): void {
    const at = (step % this.slots) * this.fields;
    const stride = this.slots * this.fields;
    for (const c of this.chunks) for (let o = at; o < c.length; o += stride) c.fill(0, o, o + this.fields);
  }
}
