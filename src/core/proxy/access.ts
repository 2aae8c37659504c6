import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ProxyError } from '../errors';
import { clientCredential } from './headers';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** `credential()`'s usual answer, one object for every request. */
const TOKEN_PRESENTED: { readonly isToken: true } = Object.freeze({ isToken: true });

/**
 * Local access rules (DESIGN §6): a Host allow-list against DNS rebinding, no foreign Origin,
 * and the access token. Built once per server start; `check` runs on every request.
 */
export class AccessGuard {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  /** The access token, compared in constant time (see isToken). */
  private token = '';
  /** Bound beyond loopback: a request's origin on this machine cannot be taken for granted. */
  private readonly exposed: boolean;

  constructor(opts: {
    port: number;
    bindHost: string;
    allowedOrigins: readonly string[];
    allowedHosts?: readonly string[];
    token: string;
  }) {
    const names = new Set([...LOOPBACK_NAMES, ...(opts.allowedHosts ?? []).map(bracketed)]);
    // Binding one non-loopback address was an explicit choice; accept that name too (not 0.0.0.0
    // or ::, which no client calls: other names come from allowedHosts).
    if (!['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(opts.bindHost))
      names.add(bracketed(opts.bindHost));
    this.hosts = new Set([...names].map((h) => `${h}:${opts.port}`));
    this.origins = new Set(opts.allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
    this.setToken(opts.token);
    this.exposed = !['127.0.0.1', 'localhost', '::1'].includes(opts.bindHost);
  }

  setToken(token: string): void {
    this.token = token;
  }

  /** Host and Origin checks; throws a 400/403 that names the fix. */
  checkOrigin(req: Pick<IncomingMessage, 'headers' | 'rawHeaders'>): void {
    const headers = req.headers;
    // Node keeps the first of two Host headers: one allowed and one foreign must not pass as allowed.
    if (hostCount(req.rawHeaders) > 1) {
      throw new ProxyError(
        'bad_request_target',
        400,
        'The request has more than one Host header. Send exactly one, e.g. Host: 127.0.0.1:<port>.',
      );
    }
    const host = headers.host;
    if (host === undefined) {
      throw new ProxyError(
        'bad_request_target',
        400,
        `The request has no Host header (HTTP/1.1 requires one). Send Host: ${[...this.hosts][0]}.`,
      );
    }
    if (!this.hosts.has(host.toLowerCase())) {
      throw new ProxyError(
        'forbidden_host',
        403,
        `Host "${host}" is not allowed. Call KeyRelay as http://${[...this.hosts][0]} (DNS-rebinding protection).`,
      );
    }
    const origin = headers.origin;
    if (origin !== undefined && !this.origins.has(origin.toLowerCase())) {
      throw new ProxyError(
        'forbidden_origin',
        403,
        `Requests from web pages (Origin ${origin}) are refused so that no site can spend your keys. Add the origin to keyRelay.proxy.allowedOrigins if you trust it.`,
      );
    }
  }

  /**
   * Classifies the client's credential: the access token (pool keys allowed), another
   * credential (its own provider key: fallback mode only), or none (401).
   */
  credential(headers: IncomingHttpHeaders): {
    readonly isToken: boolean;
    readonly credential?: string;
    readonly mayPassThrough?: boolean;
  } {
    const presented = clientCredential(headers);
    if (presented === undefined) {
      throw new ProxyError(
        'unauthorized',
        401,
        'Missing KeyRelay access token. Send it as the API key (Authorization: Bearer, x-api-key or api-key); copy it with "KeyRelay: Copy Access Token" (CLI: "keyrelay token" prints it).',
      );
    }
    if (this.isToken(presented)) return TOKEN_PRESENTED;
    const beside = headers['x-keyrelay-token'];
    const mayPassThrough = !this.exposed || (typeof beside === 'string' && this.isToken(beside));
    return { isToken: false, credential: presented, mayPassThrough };
  }

  /**
   * A constant-time comparison: every character the client sent is compared (against the token,
   * repeated), the differences OR-ed together with no branch on them, so the time depends on the
   * length the client chose and on nothing of the token. In JS: `timingSafeEqual` over a padded
   * buffer needed four calls into C++ per request (fill, write, compare, byteLength), 0.6 µs of
   * each; SHA-256 before it was 2–4 µs.
   */
  private isToken(presented: string): boolean {
    const token = this.token;
    const n = presented.length;
    let diff = n ^ token.length;
    for (let i = 0; i < n; i++) diff |= presented.charCodeAt(i) ^ token.charCodeAt(i % token.length);
    return diff === 0;
  }
}

/** An IPv6 address as a Host header spells it. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host.toLowerCase();
}

/** How many Host headers the raw list has (names at even indexes, in the client's case). */
function hostCount(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // The usual spellings first: toLowerCase makes a new string of any other.
    if (name === 'Host' || name === 'host' || (name.length === 4 && name.toLowerCase() === 'host')) n++;
  }
  return n;
}
