/**
 * `/keyrelay/status`'s key entries written straight into bytes as ASCII JSON: the same members, in
 * the same order, as `JSON.stringify` of the entry object `buildStatus` makes, every non-ASCII
 * char a `\u` escape. At 100,000 keys the entry objects, their generic stringify and escaping the
 * 100,000 `…` (one per masked key) afterwards took ~0.6 s on the bench machine; strings built by
 * concatenation instead spent most of theirs flattening 3 million pieces, in two bytes a char as
 * soon as one `…` was among them. A JS loop copies each piece's chars into a buffer once.
 */
import { ByteParts } from './byteParts';
import type { HealthView } from '../pool/health';
import { cooldownRecord } from '../pool/health';
import type { KeyRecord } from '../types';
import { cloneCounters, fromSec, modelEntries } from './counters';
import type { Counters, KeyCounters, LiveCounters } from './counters';

const NON_ASCII = /[\u0080-\uffff]/;
const NON_ASCII_ALL = /[\u0080-\uffff]/g;
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** JSON text as ASCII: every non-ASCII char (only ever inside a string) as a `\u` escape. */
export function asciiText(json: string): string {
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, escapeChar) : json;
}

const HEX = '0123456789abcdef';
/** The short escapes JSON.stringify writes for these control chars; the others are `\u00XX`. */
const SHORT_ESCAPE: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/** `c` (a quote, a backslash, a control or a non-ASCII char) as its JSON escape at `b[o]`; returns the end. */
function escapeTo(b: Buffer, o: number, c: number): number {
  b[o++] = 0x5c;
  const short = c === 0x22 || c === 0x5c ? c : SHORT_ESCAPE[c];
  if (short !== undefined) {
    b[o++] = short;
    return o;
  }
  b[o++] = 0x75;
  for (let shift = 12; shift >= 0; shift -= 4) b[o++] = HEX.charCodeAt((c >> shift) & 15);
  return o;
}

/** ASCII JSON written into a growing buffer, taken out in parts. */
export class JsonBytes extends ByteParts {
  /** JSON text (punctuation, a number, JSON.stringify's output): non-ASCII chars escaped. */
  raw(json: string): void {
    const n = json.length;
    this.room(6 * n);
    const b = this.buf;
    let o = this.at;
    for (let i = 0; i < n; i++) {
      const c = json.charCodeAt(i);
      if (c < 0x80) b[o++] = c;
      else o = escapeTo(b, o, c);
    }
    this.at = o;
  }

  /** A string value, quoted and escaped as JSON.stringify does, non-ASCII as `\u` escapes. */
  str(s: string): void {
    const n = s.length;
    this.room(6 * n + 2);
    const b = this.buf;
    let o = this.at;
    b[o++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) b[o++] = c;
      else if (c === 0x7f) b[o++] = c;
      else o = escapeTo(b, o, c);
    }
    b[o++] = 0x22;
    this.at = o;
  }

  /** A number as JSON writes it (a non-finite one as null). */
  num(n: number): void {
    this.raw(Number.isFinite(n) ? String(n) : 'null');
  }

  /** Any value, through JSON.stringify. */
  value(v: unknown): void {
    this.raw(JSON.stringify(v) ?? 'null');
  }
}

/**
 * Writes key `k`'s entry: record fields, health and counters (`c`, when it has any), then `budget`
 * when budgets are on. Parsed, it equals `JSON.parse(JSON.stringify(statusKey(...)))`.
 */
export function writeKeyJson(
  w: JsonBytes,
  k: Readonly<KeyRecord>,
  h: HealthView,
  c: Readonly<KeyCounters> | undefined,
  budget: unknown,
): void {
  w.raw('{"id":');
  w.str(k.id);
  w.raw(',"providerId":');
  w.str(k.providerId);
  w.raw(',"label":');
  w.str(k.label);
  w.raw(',"masked":');
  w.str(k.masked);
  if (k.account !== undefined) member(w, ',"account":', k.account);
  if (k.models !== undefined) member(w, ',"models":', k.models);
  if (k.weight !== undefined) member(w, ',"weight":', k.weight);
  w.raw(',"state":');
  w.str(h.state);
  if (h.state === 'cooling' && h.coolingUntil !== undefined) member(w, ',"coolingUntil":', h.coolingUntil);
  if (h.modelCooldowns.size === 0) w.raw(',"modelCooldowns":{}');
  else member(w, ',"modelCooldowns":', cooldownRecord(h));
  if (h.overBudget !== undefined) member(w, ',"overBudget":', h.overBudget);
  if (h.lastError !== undefined) member(w, ',"lastError":', h.lastError);
  if (h.history.length === 0) w.raw(',"history":[]');
  else member(w, ',"history":', h.history);
  w.raw(',"inFlight":');
  w.num(h.inFlight);
  w.raw(',"requestsToday":');
  w.num(c?.today ?? 0);
  if (c && c.all.requests > 0) {
    w.raw(',"stats":');
    writeCounters(w, c.all);
    member(w, ',"cost":{"costUsd":', c.all.priced > 0 ? c.all.costUsd : NaN); // NaN: costFigure's null
    member(w, ',"unpricedAttempts":', c.all.unpriced);
    w.raw('}');
  }
  if (c && c.model !== undefined) {
    w.raw(',"byModel":');
    let sep = '{';
    for (const [model, m] of modelEntries(c)) {
      w.raw(sep);
      sep = ',';
      w.str(model);
      w.raw(':');
      writeCounters(w, m);
    }
    w.raw(sep === '{' ? '{}' : '}');
  }
  if (budget !== undefined) member(w, ',"budget":', budget);
  w.raw('}');
}

/**
 * `JSON.stringify(cloneCounters(c))`, without the copy: at 100,000 keys the keys that served
 * (stats, cost and per model each) were a tenth of the status call in JSON.stringify.
 */
function writeCounters(w: JsonBytes, c: Readonly<LiveCounters>): void {
  member(w, '{"requests":', c.requests);
  member(w, ',"successes":', c.successes);
  if (c.failures === undefined) w.raw(',"failures":{}');
  else member(w, ',"failures":', c.failures);
  member(w, ',"inputTokens":', c.inputTokens);
  member(w, ',"outputTokens":', c.outputTokens);
  member(w, ',"latencyMsTotal":', c.latencyMsTotal);
  member(w, ',"ttfbMsTotal":', c.ttfbMsTotal);
  member(w, ',"ttfbCount":', c.ttfbCount);
  member(w, ',"costUsd":', c.costUsd);
  member(w, ',"priced":', c.priced);
  member(w, ',"unpriced":', c.unpriced);
  if (c.lastUsedSec > 0) member(w, ',"lastUsed":', fromSec(c.lastUsedSec));
  w.raw('}');
}

/** `,"name":value` (`name` is given with its punctuation): strings and numbers written directly. */
function member(w: JsonBytes, name: string, v: unknown): void {
  w.raw(name);
  if (typeof v === 'string') w.str(v);
  else if (typeof v === 'number') w.num(v);
  else w.value(v);
}

/** A key's counters per model, as the status document shows them. */
export function modelRecord(c: Readonly<KeyCounters>): Record<string, Counters> {
  const out = Object.create(null) as Record<string, Counters>;
  for (const [model, m] of modelEntries(c)) out[model] = cloneCounters(m);
  return out;
}
