/**
 * Turns the many "when may I retry" headers of LLM providers into one number of milliseconds.
 * The pool caps the result (maxCooldownMs); this module only parses.
 */

/** Header bag as Node and undici hand it over (names usually lower-case already). */
export type HeaderBag = Record<string, string | string[] | undefined>;

/** Reset header paired with the "remaining" header that tells whether that limit is the one hit. */
const RESET_PAIRS: ReadonlyArray<
  readonly [reset: string, remaining: string | undefined, kind: 'duration' | 'date' | 'epoch']
> = [
  ['x-ratelimit-reset-requests', 'x-ratelimit-remaining-requests', 'duration'],
  ['x-ratelimit-reset-tokens', 'x-ratelimit-remaining-tokens', 'duration'],
  ['anthropic-ratelimit-requests-reset', 'anthropic-ratelimit-requests-remaining', 'date'],
  ['anthropic-ratelimit-tokens-reset', 'anthropic-ratelimit-tokens-remaining', 'date'],
  ['anthropic-ratelimit-input-tokens-reset', 'anthropic-ratelimit-input-tokens-remaining', 'date'],
  ['anthropic-ratelimit-output-tokens-reset', 'anthropic-ratelimit-output-tokens-remaining', 'date'],
  ['x-ratelimit-reset', 'x-ratelimit-remaining', 'epoch'],
];

// OpenAI/Groq durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`. The `m(?!s)` keeps `20ms` from reading as minutes.
const DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/;
const NUMBER = /^\d+(?:\.\d+)?$/;

/**
 * Milliseconds to wait before retrying, from `retry-after-ms`, `x-ms-retry-after-ms`, `retry-after`
 * (seconds or HTTP date), else the reset headers (`x-ratelimit-reset-*` durations, Anthropic
 * RFC 3339 `*-reset` timestamps, `x-ratelimit-reset` epoch seconds/ms or seconds-from-now).
 * Explicit retry headers win; among reset headers the larger one whose limit is exhausted
 * (remaining ≤ 0 or not stated) applies, else the larger of all. `undefined` when nothing parses.
 */
export function parseRetryAfter(headers: HeaderBag, now: number): number | undefined {
  const get = headerGetter(headers);
  const ms =
    parseMs(get('retry-after-ms')) ??
    parseMs(get('x-ms-retry-after-ms')) ??
    parseRetryAfterValue(get('retry-after'), now);
  if (ms !== undefined) return ms;

  let applying: number | undefined;
  let any: number | undefined;
  for (const [resetName, remainingName, kind] of RESET_PAIRS) {
    const value = parseReset(get(resetName), kind, now);
    if (value === undefined) continue;
    any = Math.max(any ?? 0, value);
    const remaining = remainingName ? get(remainingName) : undefined;
    // A limit with requests/tokens left is not the one that caused the 429.
    const exhausted = remaining === undefined || !NUMBER.test(remaining) || Number(remaining) <= 0;
    if (exhausted) applying = Math.max(applying ?? 0, value);
  }
  return applying ?? any;
}

/** Parses an OpenAI-style duration (`6m0s`, `20ms`, `1h2m3.5s`; a bare number is seconds) to ms. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (NUMBER.test(t)) return Math.ceil(Number(t) * 1000);
  const m = DURATION.exec(t);
  if (!m || (!m[1] && !m[2] && !m[3] && !m[4])) return undefined;
  const n = (i: number) => (m[i] ? Number(m[i]) : 0);
  return Math.ceil(n(1) * 3_600_000 + n(2) * 60_000 + n(3) * 1000 + n(4));
}

function headerGetter(headers: HeaderBag): (name: string) => string | undefined {
  let lower: Map<string, string | string[] | undefined> | undefined;
  return (name) => {
    let v = headers[name];
    if (v === undefined) {
      // Node lower-cases incoming names, but hand-built bags (tests, fetch adapters) may not.
      lower ??= new Map(Object.entries(headers).map(([k, x]) => [k.toLowerCase(), x]));
      v = lower.get(name);
    }
    const s = Array.isArray(v) ? v[0] : v;
    return s === undefined ? undefined : s.trim();
  };
}

function parseMs(v: string | undefined): number | undefined {
  if (v === undefined || !NUMBER.test(v)) return undefined;
  return Math.ceil(Number(v));
}

function parseRetryAfterValue(v: string | undefined, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (NUMBER.test(v)) return Math.ceil(Number(v) * 1000);
  return untilDate(v, now);
}

function untilDate(v: string, now: number): number | undefined {
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil(at - now));
}

function parseReset(v: string | undefined, kind: 'duration' | 'date' | 'epoch', now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (kind === 'duration') return parseDuration(v) ?? untilDate(v, now);
  if (kind === 'date') return untilDate(v, now) ?? parseDuration(v);
  if (!NUMBER.test(v)) return parseDuration(v) ?? untilDate(v, now);
  const n = Number(v);
  // Epoch milliseconds, epoch seconds, or (small numbers) seconds from now.
  if (n >= 1e12) return Math.max(0, Math.ceil(n - now));
  if (n >= 1e9) return Math.max(0, Math.ceil(n * 1000 - now));
  return Math.ceil(n * 1000);
}
