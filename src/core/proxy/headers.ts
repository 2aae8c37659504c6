import type { IncomingHttpHeaders } from 'node:http';
import type { AuthStyle } from '../types';

/**
 * Headers that describe one hop, never the message (RFC 9110 §7.6.1), plus the ones we
 * recompute: a buffered body gets its own content-length, and undici sets host from the origin.
 */
const REQUEST_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  // Credentials: the client's (our access token or its own key) never goes upstream as-is.
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  // The access token beside a client's own key (fallback mode on an exposed address): ours alone.
  'x-keyrelay-token',
  // We must see plain bytes to peek at SSE and count tokens; compression on loopback buys nothing.
  'accept-encoding',
  // Browsers' headers have no business upstream; Origin is checked locally (DESIGN §6).
  'origin',
  'referer',
  'cookie',
]);

const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Upstream cookies belong to the provider's domain, not to 127.0.0.1.
  'set-cookie',
]);

/** The header name a provider reads its key from. */
export function authHeaderName(style: AuthStyle): string {
  return style === 'bearer' ? 'authorization' : style;
}

/** The header value that carries `key` for an auth style. */
export function authHeaderValue(style: AuthStyle, key: string): string {
  return style === 'bearer' ? `Bearer ${key}` : key;
}

/**
 * Extra hop-by-hop names a message declares in its `Connection` header (RFC 9110 §7.6.1), or
 * undefined for the usual `keep-alive` / `close`, which name no header: the common case allocates
 * nothing.
 */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const names = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && name !== 'keep-alive' && name !== 'close') names.add(name);
    }
  }
  return names.size > 0 ? names : undefined;
}

/**
 * Client headers minus hop-by-hop (those named in its `Connection` header too) and credentials,
 * as the flat `[name, value, …]` list undici takes. Built once per request; each attempt appends
 * its own key header.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): string[] {
  const listed = connectionListed(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    if (REQUEST_DROP.has(name) || listed?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}

/** Response headers as undici's handler API hands them over (names lower-cased). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * Upstream response headers as a flat string list for `res.writeHead`, minus hop-by-hop ones
 * (and those the upstream's `Connection` header names). Also reports the content type, which
 * decides whether the body is an event stream to peek at.
 */
export function responseHeaderList(headers: ResponseHeaders): { list: string[]; contentType: string } {
  const listed = connectionListed(headers.connection);
  const list: string[] = [];
  for (const name in headers) {
    if (RESPONSE_DROP.has(name) || listed?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') list.push(name, value);
    else for (const v of value) list.push(name, v);
  }
  const type = headers['content-type'];
  return { list, contentType: typeof type === 'string' ? type : '' };
}

/** Raw header pairs to a lower-cased record (only used on error paths, never on success). */
export function headerRecord(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

const BEARER = /^\s*bearer\s+(\S+)\s*$/i;

/** The credential a client presented, from any of the headers SDKs use (DESIGN §6). */
export function clientCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    // `Bearer <token>` as every SDK sends it is read without the regex (a match array and a
    // capture on every request); any other spelling, or a character it might count as a space,
    // goes through it.
    if (auth.length > 7 && auth.startsWith('Bearer ') && plainAscii(auth, 7)) return auth.slice(7);
    const m = BEARER.exec(auth);
    return m ? m[1] : auth.trim() || undefined;
  }
  const k = headers['x-api-key'] ?? headers['api-key'] ?? headers['x-goog-api-key'];
  return typeof k === 'string' && k !== '' ? k : undefined;
}

/** Whether `s` from `from` on is printable ASCII without spaces (nothing `\s` matches). */
function plainAscii(s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}
