/**
 * Hot-path byte scanners: token usage out of response bodies and streams, and top-level string
 * fields (`model`, `prompt_cache_key`) out of request bodies, without JSON.parse of whole bodies.
 */

const Q = 0x22; // "
const BACKSLASH = 0x5c;
const COLON = 0x3a;
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

/** Below this many bytes a JS loop beats `Buffer.indexOf`, whose call into C++ costs ~0.3 µs. */
const NATIVE_SEARCH_FROM = 512;
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
 * Whether `buf[at, at + word.length)` equals `word`: a JS loop for these short words, not
 * `Buffer.compare`, whose call into C++ cost more than the compare (`compareOffset` was the largest
 * native item of KeyRelay's JSON profile).
 */
function bytesAt(buf: Buffer, at: number, word: Buffer): boolean {
  for (let j = 0; j < word.length; j++) if (buf[at + j] !== word[j]) return false;
  return true;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
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

/** True when the quote at `i` is escaped, i.e. preceded by an odd run of backslashes. */
function isEscaped(buf: Buffer, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && buf[i - n - 1] === BACKSLASH) n++;
  return n % 2 === 1;
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

/**
 * Reads `prompt_tokens` / `input_tokens` and `completion_tokens` / `output_tokens` from a response
 * as it streams (OpenAI chat with `stream_options.include_usage`, Anthropic `message_start` /
 * `message_delta`, Responses API `response.completed`, and plain JSON bodies). The last value
 * seen wins. Occurrences inside JSON strings (escaped quotes) are ignored.
 *
 * Cost per chunk is O(1) whatever its size: the first HEAD_BYTES are scanned as they come, later
 * chunks are only remembered (a reference in a reused array, the oldest forgotten once the last
 * TAIL_BYTES are covered) and the remembered ones are scanned once, when the counts are read after
 * the response. Nothing is allocated per chunk once the array has grown to its working size, and
 * no strings are built from chunks.
 */
export class UsageScanner {
  private _in?: number;
  private _out?: number;
  private _cached?: number;
  private _written?: number;
  private headLeft = HEAD_BYTES;
  /** Chunks not scanned yet, `[first, length)`; the ones before `first` were forgotten. */
  private readonly pending: Array<Buffer | undefined> = [];
  private first = 0;
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
    const p = this.pending;
    p.push(chunk);
    this.pendingBytes += n;
    // Forget the oldest while the rest still covers the tail window.
    while (this.pendingBytes - (p[this.first] as Buffer).length >= TAIL_BYTES) {
      this.pendingBytes -= (p[this.first] as Buffer).length;
      p[this.first++] = undefined;
      this.gap = true;
    }
    if (this.first >= 32 && this.first * 2 >= p.length) {
      p.copyWithin(0, this.first);
      p.length -= this.first;
      this.first = 0;
    }
  }

  /** Scans the remembered chunks, oldest first. */
  private settle(): void {
    const p = this.pending;
    if (p.length === this.first) return;
    if (this.gap) this.tailLen = 0; // the bytes before the first kept chunk are gone
    for (let i = this.first; i < p.length; i++) this.scanChunk(p[i] as Buffer);
    p.length = 0;
    this.first = 0;
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

/** Bytes a JS loop looks at before handing a search to `Buffer.indexOf` (see NATIVE_SEARCH_FROM). */
const SHORT_SCAN = 64;

/**
 * Index of the first `byte` in `buf` from `from`, or -1. Keys and model ids end within a few dozen
 * bytes, where a JS loop beats `Buffer.indexOf`'s call into C++; a long string goes on natively.
 */
function indexOfByte(buf: Buffer, byte: number, from: number): number {
  const stop = Math.min(buf.length, from + SHORT_SCAN);
  for (let i = from; i < stop; i++) if (buf[i] === byte) return i;
  return stop < buf.length ? buf.indexOf(byte, stop) : -1;
}

/** Index just past the string whose opening quote is at `open`, or -1 when it does not end. */
function skipString(body: Buffer, open: number): number {
  let q = indexOfByte(body, Q, open + 1);
  while (q !== -1 && isEscaped(body, q)) q = indexOfByte(body, Q, q + 1);
  return q === -1 ? -1 : q + 1;
}

/** Whether `buf[from, to)` holds a backslash: only the string's own bytes, never the rest of the body. */
function hasBackslash(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] === BACKSLASH) return true;
  return false;
}

function skipSpace(body: Buffer, i: number): number {
  while (i < body.length && isSpace(body[i])) i++;
  return i;
}

function valueAt(
  body: Buffer,
  open: number,
  seen: string[] | undefined,
): { value: string; start: number; end: number } | undefined {
  const close = skipString(body, open);
  if (close === -1) return undefined;
  const start = open + 1;
  const end = close - 1;
  if (!hasBackslash(body, start, end)) {
    return { value: (seen && known(seen, body, start, end)) ?? body.toString('utf8', start, end), start, end };
  }
  try {
    // Escapes present: let JSON decode just this one string.
    return { value: JSON.parse(body.toString('utf8', open, close)) as string, start, end };
  } catch {
    return undefined;
  }
}

/** How many strings `seen` keeps, and the longest it keeps (model ids are shorter). */
const SEEN_MAX = 8;
const SEEN_BYTES = 64;

/** Short ASCII strings read before, newest first: see `findTopLevelString`'s `seen`. */
function known(seen: string[], body: Buffer, start: number, end: number): string | undefined {
  const n = end - start;
  if (n > SEEN_BYTES) return undefined;
  for (const s of seen) if (s.length === n && asciiAt(body, start, s)) return s;
  for (let i = start; i < end; i++) if (body[i] >= 0x80) return undefined;
  const s = body.toString('latin1', start, end);
  if (seen.unshift(s) > SEEN_MAX) seen.pop();
  return s;
}

/** Whether the bytes at `at` are the ASCII string `s`. */
function asciiAt(body: Buffer, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (body[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** `"key"` as bytes, made once per key (the callers ask for a few fixed names, once per request). */
const needles = new Map<string, Buffer>();
function needleOf(key: string): Buffer {
  let n = needles.get(key);
  if (!n) needles.set(key, (n = Buffer.from(JSON.stringify(key))));
  return n;
}

/**
 * The top-level JSON string field `key` of a request body, with the byte offsets of its content
 * (between the quotes). `undefined` when absent, nested only, or not a string. In a large body an
 * absent key costs one `indexOf`; otherwise a depth-aware scan that jumps over string contents and
 * stops at the first top-level hit. (A single occurrence is not trusted blindly: tool schemas carry
 * nested `"model"` properties, and a request without a top-level model must not route by them.)
 * `seen`: for a field with few values (the model), the caller's list of strings read before; the
 * same bytes give back the same string, with no decoding, and later comparisons with it (Stats'
 * per-key model, at 10,000 keys a cache miss each when compared by content) are by identity.
 */
export function findTopLevelString(
  body: Buffer,
  key: string,
  seen?: string[],
): { value: string; start: number; end: number } | undefined {
  const needle = needleOf(key);
  // A large body without the name is refused with one native search; a small one is scanned anyway.
  if (body.length >= NATIVE_SEARCH_FROM && body.indexOf(needle) === -1) return undefined;
  let i = skipSpace(body, 0);
  if (body[i] !== 0x7b) return undefined; // not an object
  let depth = 0;
  // At depth 1, strings alternate key, value; `expectKey` tracks which one comes next.
  let expectKey = false;
  while (i < body.length) {
    const b = body[i];
    if (b === Q) {
      const next = skipString(body, i);
      if (next === -1) return undefined;
      if (depth === 1 && expectKey) {
        const isTarget = next - i === needle.length && bytesAt(body, i, needle);
        const colon = skipSpace(body, next);
        if (body[colon] !== COLON) return undefined;
        i = skipSpace(body, colon + 1);
        expectKey = false;
        if (isTarget) return body[i] === Q ? valueAt(body, i, seen) : undefined;
        continue;
      }
      i = next;
      continue;
    }
    if (b === 0x7b || b === 0x5b) {
      depth++;
      expectKey = depth === 1;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth === 0) return undefined;
    } else if (b === 0x2c && depth === 1) {
      expectKey = true;
    }
    i++;
  }
  return undefined;
}
