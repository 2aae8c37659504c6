import type { IncomingHttpHeaders } from 'node:http';
import type { AuthStyle } from '../types';

/**
 * Headers that describe one hop, never the message (RFC 9110 §7.6.1), plus the ones we
 * recompute: a buffered body gets its own content-length, and undici sets host from the origin.
 */
const REQUEST_DROP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect',
  // Credentials: the client's (our access token or its own key) never goes upstream as-is.
  'authorization', 'x-api-key', 'api-key', 'x-goog-api-key',
  // We must see plain bytes to peek at SSE and count tokens; compression on loopback buys nothing.
  'accept-encoding',
  // Browsers' headers have no business upstream; Origin is checked locally (DESIGN §6).
  'origin', 'referer', 'cookie',
]);

const RESPONSE_DROP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
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
 * Client headers minus hop-by-hop and credentials, as the flat `[name, value, …]` list undici
 * takes. Built once per request; each attempt appends its own key header.
 */
export function forwardableRequestHeaders(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name in headers) {
    if (REQUEST_DROP.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}

/**
 * Upstream response headers (undici's raw Buffer pairs) as a flat string list for
 * `res.writeHead`, minus hop-by-hop ones. Also reports the content type, which decides
 * whether the body is an event stream to peek at.
 */
export function responseHeaderList(raw: Buffer[]): { list: string[]; contentType: string } {
  const list: string[] = [];
  let contentType = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    if (RESPONSE_DROP.has(name)) continue;
    const value = raw[i + 1].toString('latin1');
    if (name === 'content-type') contentType = value;
    list.push(name, value);
  }
  return { list, contentType };
}

/** Raw header pairs to a lower-cased record (only used on error paths, never on success). */
export function headerRecord(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

/** The credential a client presented, from any of the headers SDKs use (DESIGN §6). */
export function clientCredential(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth.trim() || undefined;
  }
  const k = headers['x-api-key'] ?? headers['api-key'] ?? headers['x-goog-api-key'];
  return typeof k === 'string' && k !== '' ? k : undefined;
}
