import type { Agent, Dispatcher } from 'undici';
import { undici } from './undiciLoader';
import { ProxyError } from '../errors';

/** Where a base URL sends requests: undici wants the origin and the path apart. */
export interface UpstreamTarget {
  origin: string;
  basePath: string;
}

/** One upstream request as the forwarder builds it: undici's own dispatch options. */
export type UpstreamRequest = Dispatcher.DispatchOptions & { origin: string; path: string; headers: string[] };

/**
 * Owns the one undici Agent the proxy uses. It is never installed globally and never handed
 * to `fetch`: the extension host is shared with every other extension (DESIGN §6).
 */
export class Upstream {
  private current: Agent | undefined;
  private readonly targets = new Map<string, UpstreamTarget>();

  constructor(private connectTimeoutMs: number) {}

  /** Created on first use, so constructing the server costs no undici load. */
  private get agent(): Agent {
    this.current ??= Upstream.createAgent(this.connectTimeoutMs);
    return this.current;
  }

  /** Loads undici and builds the agent now (after listen), so the first request does not wait. */
  warm(): void {
    void this.agent;
  }

  private static createAgent(connectTimeoutMs: number): Agent {
    return new (undici().Agent)({
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      // Timeouts are set per request from the live config.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** Replaces the agent (connect timeout changed); the old one finishes its requests. */
  reconfigure(connectTimeoutMs: number): void {
    const old = this.current;
    this.connectTimeoutMs = connectTimeoutMs;
    this.current = undefined;
    void old?.close().catch(() => undefined);
  }

  /** Splits a base URL once; requests then join strings, never `new URL(path, base)` (DESIGN §5.2). */
  target(baseUrl: string): UpstreamTarget {
    let t = this.targets.get(baseUrl);
    if (!t) {
      const u = new URL(baseUrl);
      t = { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
      if (this.targets.size > 1000) this.targets.clear();
      this.targets.set(baseUrl, t);
    }
    return t;
  }

  /** Starts one request; redirects are never followed (the response is handed back as is). */
  dispatch(req: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    // The handler API undici 7 and 8 share; request()/stream() wrap it in promises,
    // AsyncResources and Writables this hot path does not need.
    this.agent.dispatch(req, handler);
  }

  /** The dispatcher for one-off calls (key tests), still never the global one. */
  get dispatcher(): Dispatcher {
    return this.agent;
  }

  async close(): Promise<void> {
    await this.current?.close();
  }

  destroy(): void {
    void this.current?.destroy().catch(() => undefined);
  }
}

/** What a failed upstream call means for the client and for the key. */
export interface NetworkFailure {
  error: ProxyError;
  /** The host could not be reached: other keys on the same origin will not help. */
  isConnect: boolean;
  isTimeout: boolean;
}

/** OpenSSL's verification failures as Node reports them: an HTTPS upstream KeyRelay does not trust. */
const CERT_ERRORS: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function certFailure(err: unknown, code: string, where: string): NetworkFailure {
  return {
    error: new ProxyError(
      'upstream_connect_failed',
      502,
      `${where}'s TLS certificate is not trusted (${code}). For your own gateway with a private or self-signed certificate, start KeyRelay with NODE_EXTRA_CA_CERTS=/path/to/its-ca.pem; otherwise check the provider's base URL.`,
      { cause: err },
    ),
    // Every key goes to the same host: another key cannot help.
    isConnect: true,
    isTimeout: false,
  };
}

/** Maps undici/socket error codes to the proxy's answer (STYLE §5: once, in one place). */
export function classifyNetworkError(err: unknown, where: string): NetworkFailure {
  const code = (err as { code?: string }).code ?? '';
  const detail = (err as Error).message ?? String(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return {
      error: new ProxyError(
        'upstream_timeout',
        504,
        `${where} did not start answering in time (headers timeout). Raise keyRelay.timeouts.headersSeconds if the model is slow to start.`,
        { cause: err },
      ),
      isConnect: false,
      isTimeout: true,
    };
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return {
      error: new ProxyError(
        'upstream_timeout',
        504,
        `${where} stopped sending mid-response (idle timeout). Raise keyRelay.timeouts.idleSeconds if this model pauses for long.`,
        { cause: err },
      ),
      isConnect: false,
      isTimeout: true,
    };
  }
  if (CERT_ERRORS.has(code)) return certFailure(err, code, where);
  const isConnect =
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    (code === 'ECONNRESET' && detail.includes('connect'));
  if (isConnect) {
    return {
      error: new ProxyError(
        'upstream_connect_failed',
        502,
        `Could not connect to ${where} (${code || detail}). Check the provider's base URL and your network.`,
        { cause: err },
      ),
      isConnect: true,
      isTimeout: code === 'UND_ERR_CONNECT_TIMEOUT',
    };
  }
  return {
    error: new ProxyError('upstream_error', 502, `${where} closed the connection unexpectedly (${code || detail}).`, {
      cause: err,
    }),
    isConnect: false,
    isTimeout: false,
  };
}
