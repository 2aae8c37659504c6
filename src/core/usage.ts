/**
 * Hot-path byte scanners: token usage out of response bodies and streams, and top-level string
 * fields (`model`, `prompt_cache_key`) out of request bodies, without JSON.parse of whole bodies.
 */

const Q = 0x22; // "
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/** Bytes kept from one chunk to the next so a field split across chunks is still seen. */
const TAIL = 32;
/** Every usage field ends in this; one indexOf pass finds all four kinds. */
const SUFFIX = Buffer.from('_tokens"');
const PREFIXES: ReadonlyArray<[Buffer, 'in' | 'out']> = [
  [Buffer.from('"prompt'), 'in'],
  [Buffer.from('"input'), 'in'],
  [Buffer.from('"completion'), 'out'],
  [Buffer.from('"output'), 'out'],
];

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** True when the quote at `i` is escaped, i.e. preceded by an odd run of backslashes. */
function isEscaped(buf: Buffer, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && buf[i - n - 1] === BACKSLASH) n++;
  return n % 2 === 1;
}

/**
 * Reads `prompt_tokens` / `input_tokens` and `completion_tokens` / `output_tokens` from a response
 * as it streams (OpenAI chat with `stream_options.include_usage`, Anthropic `message_start` /
 * `message_delta`, Responses API `response.completed`, and plain JSON bodies). The last value
 * seen wins. Occurrences inside JSON strings (escaped quotes) are ignored. Cost per chunk: one
 * `Buffer.indexOf` pass plus a ≤ 64-byte join at the boundary; no strings are built from chunks.
 */
export class UsageScanner {
  private _in?: number;
  private _out?: number;
  private tail: Buffer = Buffer.alloc(0);

  /** Input (prompt) tokens, when the response reported them. */
  get inputTokens(): number | undefined {
    return this._in;
  }

  /** Output (completion) tokens, when the response reported them. */
  get outputTokens(): number | undefined {
    return this._out;
  }

  /** Scans the next chunk of the response body. */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.tail.length > 0) {
      // Matches that start in the previous chunk's tail and end in this one's head.
      const joint = Buffer.concat([this.tail, chunk.subarray(0, TAIL)]);
      this.scan(joint, this.tail.length);
    }
    this.scan(chunk, chunk.length);
    this.tail = chunk.length >= TAIL
      ? Buffer.from(chunk.subarray(chunk.length - TAIL)) // copy: do not pin the whole chunk
      : Buffer.concat([this.tail, chunk]).subarray(-TAIL);
  }

  /** Records every complete field whose suffix starts before `limit`. */
  private scan(buf: Buffer, limit: number): void {
    let at = buf.indexOf(SUFFIX);
    while (at !== -1) {
      const hit = this.matchAt(buf, at, limit);
      if (hit) {
        if (hit[0] === 'in') this._in = hit[1];
        else this._out = hit[1];
      }
      at = buf.indexOf(SUFFIX, at + SUFFIX.length);
    }
  }

  private matchAt(buf: Buffer, at: number, limit: number): ['in' | 'out', number] | undefined {
    for (const [prefix, kind] of PREFIXES) {
      const start = at - prefix.length;
      if (start < 0 || start >= limit || buf.compare(prefix, 0, prefix.length, start, at) !== 0) continue;
      if (isEscaped(buf, start)) return undefined;
      let i = at + SUFFIX.length;
      while (i < buf.length && isSpace(buf[i])) i++;
      if (buf[i] !== COLON) return undefined;
      i++;
      while (i < buf.length && isSpace(buf[i])) i++;
      let n = 0;
      const digits = i;
      while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) n = n * 10 + (buf[i++] - 0x30);
      // A number that runs to the end of the buffer may continue in the next chunk: wait for it.
      if (i === digits || i >= buf.length) return undefined;
      return [kind, n];
    }
    return undefined;
  }
}

/** Index just past the string whose opening quote is at `open`, or -1 when it does not end. */
function skipString(body: Buffer, open: number): number {
  let q = body.indexOf(Q, open + 1);
  while (q !== -1 && isEscaped(body, q)) q = body.indexOf(Q, q + 1);
  return q === -1 ? -1 : q + 1;
}

function skipSpace(body: Buffer, i: number): number {
  while (i < body.length && isSpace(body[i])) i++;
  return i;
}

function valueAt(body: Buffer, open: number): { value: string; start: number; end: number } | undefined {
  const close = skipString(body, open);
  if (close === -1) return undefined;
  const start = open + 1;
  const end = close - 1;
  const raw = body.indexOf(BACKSLASH, start);
  if (raw === -1 || raw >= end) return { value: body.toString('utf8', start, end), start, end };
  try {
    // Escapes present: let JSON decode just this one string.
    return { value: JSON.parse(body.toString('utf8', open, close)) as string, start, end };
  } catch {
    return undefined;
  }
}

/**
 * The top-level JSON string field `key` of a request body, with the byte offsets of its content
 * (between the quotes). `undefined` when absent, nested only, or not a string. Absent keys cost one
 * `indexOf`; otherwise a depth-aware scan that jumps over string contents with `indexOf` and stops
 * at the first top-level hit. (A single occurrence is not trusted blindly: tool schemas carry
 * nested `"model"` properties, and a request without a top-level model must not route by them.)
 */
export function findTopLevelString(body: Buffer, key: string): { value: string; start: number; end: number } | undefined {
  const needle = Buffer.from(JSON.stringify(key));
  if (body.indexOf(needle) === -1) return undefined;
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
        const isTarget = next - i === needle.length && body.compare(needle, 0, needle.length, i, next) === 0;
        const colon = skipSpace(body, next);
        if (body[colon] !== COLON) return undefined;
        i = skipSpace(body, colon + 1);
        expectKey = false;
        if (isTarget) return body[i] === Q ? valueAt(body, i) : undefined;
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
