/**
 * Hot-path byte scanner for token usage out of response bodies and streams, without JSON.parse of
 * whole bodies (request bodies' top-level fields: proxy/bodyFields.ts).
 */
import { bytesAt, COLON, isEscaped, isSpace, NATIVE_SEARCH_FROM, Q } from './jsonBytes';

/** Bytes kept from one chunk to the next so a field split across chunks is still seen (the longest, `"cache_creation_input_tokens": 123456`, fits). */
const TAIL = 48;
/** Every usage field ends in this; one indexOf pass finds every kind. */
const SUFFIX = Buffer.from('_tokens"');
type Kind = 'in' | 'out' | 'cached' | 'written';
const PREFIXES: ReadonlyArray<[Buffer, Kind]> = [
  [Buffer.from('"prompt'), 'in'],
  [Buffer.from('"input'), 'in'],
  [Buffer.from('"completion'), 'out'],
  [Buffer.from('"output'), 'out'],
  // Prompt-cache reads (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`) and writes.
  [Buffer.from('"cached'), 'cached'],
  [Buffer.from('"cache_read_input'), 'cached'],
  [Buffer.from('"cache_creation_input'), 'written'],
];

const SUFFIX_LAST = SUFFIX.length - 1;
/**
 * Horspool's skip table for SUFFIX: how far the window may move when the byte under its last
 * position is `c`. Most bytes of a stream are in no usage field, so the loop reads about one byte
 * in eight instead of every byte (the per-chunk scan was the largest KeyRelay function on streams).
 */
const SKIP = new Uint8Array(256).fill(SUFFIX.length);
for (let j = 0; j < SUFFIX_LAST; j++) SKIP[SUFFIX[j]] = SUFFIX_LAST - j;

/** Index of the first SUFFIX that lies wholly in `buf[from, end)`, or -1. */
function findSuffix(buf: Buffer, from: number, end: number): number {
  const last = end - SUFFIX.length;
  if (end - from >= NATIVE_SEARCH_FROM) {
    const at = buf.indexOf(SUFFIX, from);
    return at <= last ? at : -1;
  }
  let i = from;
  outer: while (i <= last) {
    const c = buf[i + SUFFIX_LAST];
    if (c === SUFFIX[SUFFIX_LAST]) {
      for (let j = 0; j < SUFFIX_LAST; j++) {
        if (buf[i + j] !== SUFFIX[j]) {
          i += SKIP[c];
          continue outer;
        }
      }
      return i;
    }
    i += SKIP[c];
  }
  return -1;
}

/** `src[from, to)` into `dst` at `at`; for ≤ 48 bytes a loop beats `Buffer.copy`'s view + C++ call. */
function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): void {
  for (let i = from; i < to; i++) dst[at++] = src[i];
}

/**
 * True when no usage field can run from the end of `chunk` into the next one: its last byte that is
 * not white space is none of a field's bytes (quote, lower-case letter, `_`, colon, digit). An event
 * stream's chunks end with `}` and blank lines, so the per-chunk copies of the joint are skipped.
 */
function endsOutsideField(chunk: Buffer): boolean {
  let i = chunk.length - 1;
  while (i >= 0 && isSpace(chunk[i])) i--;
  if (i < 0) return false;
  const b = chunk[i];
  return !(b === Q || b === COLON || b === 0x5f || (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a));
}

/** Bytes at the start of a response scanned as they arrive (Anthropic's `message_start`). */
const HEAD_BYTES = 4096;
/**
 * Bytes at the end of a response kept (by reference) until the counts are read: every provider
 * reports usage in its last event or two (OpenAI's usage chunk before `[DONE]`, Anthropic's
 * `message_delta` before `message_stop`, the Responses API's `response.completed`, whose `usage`
 * sits near the end of the echoed response object; a JSON body's `usage` near its end).
 */
const TAIL_BYTES = 16_384;

/** The ring of every scanner that has not remembered a chunk yet (never written: `grow` comes first). */
const NO_RING: Array<Buffer | undefined> = [];

/**
 * Reads `prompt_tokens` / `input_tokens` and `completion_tokens` / `output_tokens` from a response
 * as it streams (OpenAI chat with `stream_options.include_usage`, Anthropic `message_start` /
 * `message_delta`, Responses API `response.completed`, and plain JSON bodies). The last value
 * seen wins. Occurrences inside JSON strings (escaped quotes) are ignored.
 *
 * Cost per chunk is O(1) whatever its size: the first HEAD_BYTES are scanned as they come, later
 * chunks are only remembered (a reference in a reused ring, the oldest forgotten once the last
 * TAIL_BYTES are covered) and the remembered ones are scanned once, when the counts are read after
 * the response. Nothing is allocated per chunk once the array has grown to its working size, and
 * no strings are built from chunks (test/unit/proxy/streamChunks.test.ts counts it).
 */
export class UsageScanner {
  private _in?: number;
  private _out?: number;
  private _cached?: number;
  private _written?: number;
  private headLeft = HEAD_BYTES;
  /**
   * Chunks not scanned yet: `count` of them from `head`, in a ring that only ever grows (a power
   * of two; none until the first chunk past the head). An array pushed to and cut back by length
   * instead had V8 trim and regrow its store: ~36 bytes allocated per chunk of every stream.
   */
  private ring: Array<Buffer | undefined> = NO_RING;
  private head = 0;
  private count = 0;
  private pendingBytes = 0;
  /** A chunk was forgotten: the next scanned one does not continue the previous tail. */
  private gap = false;
  /**
   * The previous chunk's last bytes (`[0, tailLen)`) and, while a chunk is scanned, its first
   * bytes after them. One small buffer per response, reused: a copy and a concat per chunk were
   * two Buffer objects for every event of every stream.
   */
  private joint: Buffer | undefined;
  private tailLen = 0;

  /** Input (prompt) tokens, when the response reported them. */
  get inputTokens(): number | undefined {
    this.settle();
    return this._in;
  }

  /** Output (completion) tokens, when the response reported them. */
  get outputTokens(): number | undefined {
    this.settle();
    return this._out;
  }

  /** Input tokens read from the prompt cache, when the response reported them. */
  get cachedTokens(): number | undefined {
    this.settle();
    return this._cached;
  }

  /** Input tokens written to the prompt cache (Anthropic), when the response reported them. */
  get cacheWriteTokens(): number | undefined {
    this.settle();
    return this._written;
  }

  /** Takes the next chunk of the response body. */
  feed(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.headLeft > 0) {
      this.headLeft -= n;
      return this.scanChunk(chunk);
    }
    if (this.count === this.ring.length) this.grow();
    const ring = this.ring;
    const mask = ring.length - 1;
    ring[(this.head + this.count++) & mask] = chunk;
    this.pendingBytes += n;
    // Forget the oldest while the rest still covers the tail window (the newest always stays).
    for (
      let old = ring[this.head] as Buffer;
      this.pendingBytes - old.length >= TAIL_BYTES;
      old = ring[this.head] as Buffer
    ) {
      this.pendingBytes -= old.length;
      ring[this.head] = undefined;
      this.head = (this.head + 1) & mask;
      this.count--;
      this.gap = true;
    }
  }

  /** Twice the room, the remembered chunks moved to its start in order. */
  private grow(): void {
    const old = this.ring;
    const ring = new Array<Buffer | undefined>(Math.max(8, 2 * old.length)).fill(undefined);
    for (let i = 0; i < this.count; i++) ring[i] = old[(this.head + i) & (old.length - 1)];
    this.ring = ring;
    this.head = 0;
  }

  /** Scans the remembered chunks, oldest first. */
  private settle(): void {
    if (this.count === 0) return;
    if (this.gap) this.tailLen = 0; // the bytes before the first kept chunk are gone
    const ring = this.ring;
    for (; this.count > 0; this.count--) {
      const chunk = ring[this.head] as Buffer;
      ring[this.head] = undefined;
      this.head = (this.head + 1) & (ring.length - 1);
      this.scanChunk(chunk);
    }
    this.pendingBytes = 0;
    this.gap = false;
  }

  /** Scans one chunk, and the joint with the previous one's last bytes. */
  private scanChunk(chunk: Buffer): void {
    const n = chunk.length;
    const head = Math.min(TAIL, n);
    if (this.tailLen > 0) {
      // Matches that start in the previous chunk's tail and end in this one's head.
      const joint = this.joint as Buffer; // kept a tail: made then
      copyBytes(chunk, 0, head, joint, this.tailLen);
      this.scan(joint, this.tailLen, this.tailLen + head);
    }
    this.scan(chunk, n, n);
    if (endsOutsideField(chunk)) {
      this.tailLen = 0; // no field runs on into the next chunk: no tail to copy, no joint to scan
      return;
    }
    // Made the first time a tail is kept: a JSON body or an event stream usually never needs one.
    const joint = (this.joint ??= Buffer.allocUnsafe(2 * TAIL));
    if (n >= TAIL) {
      copyBytes(chunk, n - TAIL, n, joint, 0); // a copy: the tail must not pin the whole chunk
      this.tailLen = TAIL;
    } else {
      // A short chunk: the tail is the old tail plus this chunk, its last TAIL bytes at most.
      if (this.tailLen === 0) copyBytes(chunk, 0, n, joint, 0);
      const total = this.tailLen + n;
      const keep = Math.min(TAIL, total);
      joint.copyWithin(0, total - keep, total);
      this.tailLen = keep;
    }
  }

  /** Records every complete field in `buf[0, end)` whose suffix starts before `limit`. */
  private scan(buf: Buffer, limit: number, end: number): void {
    let at = findSuffix(buf, 0, end);
    while (at !== -1) {
      const hit = this.matchAt(buf, at, limit, end);
      if (hit) {
        const [kind, n] = hit;
        if (kind === 'in') this._in = n;
        else if (kind === 'out') this._out = n;
        else if (kind === 'cached') this._cached = n;
        else this._written = n;
      }
      at = findSuffix(buf, at + SUFFIX.length, end);
    }
  }

  private matchAt(buf: Buffer, at: number, limit: number, end: number): [Kind, number] | undefined {
    for (const [prefix, kind] of PREFIXES) {
      const start = at - prefix.length;
      if (start < 0 || start >= limit || !bytesAt(buf, start, prefix)) continue;
      if (isEscaped(buf, start)) return undefined;
      let i = at + SUFFIX.length;
      while (i < end && isSpace(buf[i])) i++;
      if (i >= end || buf[i] !== COLON) return undefined;
      i++;
      while (i < end && isSpace(buf[i])) i++;
      let n = 0;
      const digits = i;
      while (i < end && buf[i] >= 0x30 && buf[i] <= 0x39) n = n * 10 + (buf[i++] - 0x30);
      // A number that runs to the end of the buffer may continue in the next chunk: wait for it.
      if (i === digits || i >= end) return undefined;
      return [kind, n];
    }
    return undefined;
  }
}
