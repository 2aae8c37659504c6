/**
 * Top-level string fields (`model`, `prompt_cache_key`) out of request bodies, read from the bytes
 * without JSON.parse of the whole body: once per request, on the proxy's hot path.
 */
import { BACKSLASH, bytesAt, COLON, isEscaped, isSpace, NATIVE_SEARCH_FROM, Q } from '../accounting/jsonBytes';

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
