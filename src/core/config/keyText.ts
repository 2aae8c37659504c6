import { maskKey } from '../redact';

/**
 * Shortest text taken as a key. Real keys run 20–200 characters; LiteLLM documents `sk-1234` as a
 * local gateway's key, so 6 still passes. Anything shorter is a typo or a truncated paste.
 */
export const MIN_KEY_LENGTH = 6;

/** Characters no key holds: controls (NUL, line breaks), invisible and direction marks (U+202E…). */
const BAD_CHAR = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]/u;
const BAD_CHARS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\s]/gu;

const NAMES: Record<number, string> = {
  0x00: 'a NUL character',
  0x09: 'a tab',
  0x0a: 'a line break',
  0x0d: 'a line break',
  0x20: 'a space',
  0xa0: 'a no-break space',
  0xfeff: 'an invisible byte-order mark',
  0x200b: 'an invisible zero-width space',
  0x200e: 'an invisible direction mark',
  0x200f: 'an invisible direction mark',
  0x202a: 'an invisible direction control',
  0x202b: 'an invisible direction control',
  0x202c: 'an invisible direction control',
  0x202d: 'an invisible direction control',
  0x202e: 'an invisible right-to-left override',
  0x2066: 'an invisible direction control',
  0x2067: 'an invisible direction control',
  0x2068: 'an invisible direction control',
  0x2069: 'an invisible direction control',
};

/**
 * The masked form of a key that may hold characters a terminal would act on: those are dropped
 * before masking, so a message never carries a right-to-left override or a NUL.
 */
export function maskForMessage(secret: string, prefix?: string): string {
  return maskKey(secret.replace(BAD_CHARS, ''), prefix);
}

/**
 * What is wrong with a key's text, or undefined when it can be a key: the one check every source
 * (CLI config, keys file, environment, .env, the editor's Add Key) applies. The text names the key
 * only masked, the problem and the fix, e.g. `the key sk-…abcd has a NUL character (U+0000) in it:
 * copy it again from the provider's page`.
 */
export function keyProblem(secret: string, prefix?: string): string | undefined {
  const bad = BAD_CHAR.exec(secret);
  if (!bad && secret.length >= MIN_KEY_LENGTH) return undefined;
  // Masked only for the message: masking every key of a 1,000-key config a second time at start
  // made maskKey hot enough for the optimizing compiler, whose code pages are +1.4 MB of RSS.
  const masked = maskForMessage(secret, prefix);
  if (bad) {
    const code = bad[0].codePointAt(0)!;
    const name = NAMES[code] ?? (/\s/u.test(bad[0]) ? 'a space' : 'an invisible control character');
    const hex = code.toString(16).toUpperCase().padStart(4, '0');
    return `the key ${masked} has ${name} (U+${hex}) in it: copy the key again from the provider's page, on one line`;
  }
  return `the key ${masked} is ${secret.length} character${secret.length === 1 ? '' : 's'} long, too short for an API key: copy the whole key from the provider's page`;
}

/**
 * Text of a keys or config file as editors and shells write it: UTF-8 (a BOM dropped), or UTF-16
 * LE/BE with or without a BOM (PowerShell's `>` writes UTF-16 LE). Without a BOM, UTF-16 shows as
 * a zero byte beside every ASCII character.
 */
export function decodeText(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) return swapped(b.subarray(2)).toString('utf16le');
  if (b.length >= 2 && b.length % 2 === 0 && b[0] !== 0 && b[1] === 0 && zeroShare(b, 1) > 0.9)
    return b.toString('utf16le');
  if (b.length >= 2 && b.length % 2 === 0 && b[0] === 0 && b[1] !== 0 && zeroShare(b, 0) > 0.9)
    return swapped(b).toString('utf16le');
  return b.toString('utf8').replace(/^\uFEFF/, '');
}

/** The share of zero bytes at every other position from `start` (ASCII text in UTF-16: nearly all). */
function zeroShare(b: Buffer, start: number): number {
  let zeros = 0;
  let n = 0;
  for (let i = start; i < b.length; i += 2, n++) if (b[i] === 0) zeros++;
  return zeros / n;
}

function swapped(b: Buffer): Buffer {
  const copy = Buffer.from(b.subarray(0, b.length - (b.length % 2)));
  return copy.swap16();
}
