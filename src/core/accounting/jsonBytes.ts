/**
 * Byte-level helpers shared by the hot-path JSON scanners: token usage in responses (usage.ts) and
 * top-level string fields in request bodies (proxy/bodyFields.ts). No JSON.parse, no strings.
 */

export const Q = 0x22; // "
export const BACKSLASH = 0x5c;
export const COLON = 0x3a;

/** Below this many bytes a JS loop beats `Buffer.indexOf`, whose call into C++ costs ~0.3 µs. */
export const NATIVE_SEARCH_FROM = 512;

/**
 * Whether `buf[at, at + word.length)` equals `word`: a JS loop for these short words, not
 * `Buffer.compare`, whose call into C++ cost more than the compare (`compareOffset` was the largest
 * native item of KeyRelay's JSON profile).
 */
export function bytesAt(buf: Buffer, at: number, word: Buffer): boolean {
  for (let j = 0; j < word.length; j++) if (buf[at + j] !== word[j]) return false;
  return true;
}

export function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** True when the quote at `i` is escaped, i.e. preceded by an odd run of backslashes. */
export function isEscaped(buf: Buffer, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && buf[i - n - 1] === BACKSLASH) n++;
  return n % 2 === 1;
}
