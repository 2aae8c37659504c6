import type { IncomingMessage, ServerResponse } from 'node:http';
import { Attempt } from './attempt';
import type { AttemptResult } from './attempt';
import { affinityKey, inspectJsonBody, readBody, replaceModel } from './body';
import { classifyRejection, classifyStreamError, errorFacts } from './classify';
import { ProxyError, renderError } from '../errors';
import { authHeaderName, authHeaderValue, forwardableRequestHeaders, headerRecord } from './headers';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { SecretRedactor } from '../redact';
import { resolveRoute } from './router';
import type { Stats } from '../accounting/stats';
import type { ApiShape, Clock, FailureClass, Logger, Outcome, PoolKey, ProviderSpec, ProxyConfig } from '../types';
import { classifyNetworkError } from './upstream';
import type { Upstream, UpstreamRequest } from './upstream';
import type { RequestLog } from '../accounting/requestLog';

/** Everything the forwarder needs, injected by the server. */
export interface ForwardDeps {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  upstream: Upstream;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
  config(): ProxyConfig;
  /** Providers already announced as running in fallback mode (one log line each). */
  fallbackLogged: Set<string>;
  /** The optional redacted request log (setting requestLogDir). */
  requestLog(): RequestLog | undefined;
}

/** One client request that passed local access checks. */
export interface ProxiedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  shape: ApiShape;
  /** The path without its `/v1` prefix and query, e.g. `/chat/completions`. */
  rest: string;
  /** `?…` or ''. */
  query: string;
  /** The client presented the local access token (pool keys allowed). */
  isToken: boolean;
  /** The client's own credential when it is not the token (fallback mode). */
  credential?: string;
  t0: number;
}

/** Per-request bookkeeping for the log line and the stats. */
interface Trace {
  body?: Buffer;
  provider?: ProviderSpec;
  model?: string;
  key?: PoolKey;
  attempts: number;
  ttfbMs?: number;
}

/** Sends an error in the caller's API shape, once, only while nothing has been sent (STYLE §5). */
export function sendError(res: ServerResponse, shape: ApiShape, err: ProxyError): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-keyrelay-error': err.code };
  if (err.extra.retryAfterSec !== undefined) {
    headers['retry-after'] = String(err.extra.retryAfterSec);
    // The SDKs obey this header: let them retry only when a key is ready soon.
    headers['x-should-retry'] = err.extra.retryAfterSec <= 20 ? 'true' : 'false';
  }
  res.writeHead(err.status, headers).end(renderError(shape, err));
}

/**
 * Forwards one request (DESIGN §5): bounded body, route, pick a key, send, and on a failure
 * before the first byte, try the next key. After the first byte there is no retry.
 */
export async function forwardRequest(deps: ForwardDeps, p: ProxiedRequest): Promise<void> {
  const trace: Trace = { attempts: 0 };
  let status = 0;
  try {
    status = await run(deps, p, trace);
  } catch (err) {
    const e = err instanceof ProxyError ? err : new ProxyError('upstream_error', 502, `KeyRelay failed to forward the request: ${(err as Error).message}`, { cause: err });
    status = e.status;
    sendError(p.res, p.shape, e);
  }
  const { logger } = deps;
  if (logger.logLevel === undefined || logger.logLevel <= 1) {
    const ms = deps.clock.now() - p.t0;
    logger.trace(`${p.req.method} ${p.req.url} model=${trace.model ?? '-'} key=${trace.key?.masked ?? '-'} attempts=${trace.attempts} status=${status} ms=${ms} ttfb=${trace.ttfbMs ?? '-'}`);
  }
  const log = deps.requestLog();
  if (log) {
    const now = deps.clock.now();
    log.write({
      method: p.req.method ?? '', path: p.req.url ?? '', headers: p.req.headers, body: trace.body ?? Buffer.alloc(0),
      provider: trace.provider?.id, model: trace.model, key: trace.key?.masked, attempts: trace.attempts, status,
      ms: now - p.t0, ttfbMs: trace.ttfbMs,
    }, now);
  }
}

async function run(deps: ForwardDeps, p: ProxiedRequest, trace: Trace): Promise<number> {
  const { pool, catalogue } = deps;
  const cfg = deps.config();
  let body = await readBody(p.req, cfg.maxBodyBytes, cfg.bodyTimeoutMs);
  trace.body = body;
  const facts = p.req.method === 'POST' ? inspectJsonBody(body, p.shape) : {};
  const route = resolveRoute({ shape: p.shape, model: facts.model?.value }, catalogue, pool);
  trace.provider = route.provider;
  trace.model = route.model;
  if (p.rest.startsWith('/fim/') && route.provider.hasFim === false) {
    throw new ProxyError('not_found', 404, `${route.provider.name} has no fill-in-the-middle endpoint (/v1/fim/completions). Point autocomplete at a provider that has one, e.g. model "mistral/codestral-latest".`);
  }
  if (route.stripped && facts.model && route.model !== undefined) body = replaceModel(body, facts.model, route.model);

  const headers = forwardableRequestHeaders(p.req.headers);
  if (route.provider.shape === 'anthropic' && p.req.headers['anthropic-version'] === undefined) {
    headers.push('anthropic-version', '2023-06-01');
  }
  if (!pool.hasKeys(route.provider.id)) return passthrough(deps, p, trace, route.provider, headers, body);
  if (!p.isToken) {
    throw new ProxyError('unauthorized', 401, 'The credential sent is not KeyRelay\'s access token. Use the token from "KeyRelay: Copy Access Token" (CLI: the token file or --token) as the API key.');
  }

  const affinity = cfg.strategy === 'cache-affinity' ? affinityKey(p.req.headers, body) : undefined;
  const tried = new Set<string>();
  const deadline = p.t0 + Math.max(cfg.headersTimeoutMs, cfg.maxWaitMs);
  const maxAttempts = cfg.maxAttempts > 0 ? cfg.maxAttempts : Infinity;
  let last: AttemptResult | undefined;
  for (;;) {
    const pick = pool.pick({ providerId: route.provider.id, model: route.model, affinity, exclude: tried });
    if (pick.kind === 'cooling') {
      const waitUntil = deps.clock.now() + pick.retryAfterMs;
      if (cfg.maxWaitMs > 0 && waitUntil <= p.t0 + cfg.maxWaitMs && !p.res.destroyed) {
        await sleep(pick.retryAfterMs, p.res);
        continue;
      }
      // A provider-side failure (5xx, timeout) says more than "the others are cooling"; a key's
      // own 401/402 would wrongly tell the client its credential is bad.
      if (last && isProviderSide(last)) return finishWith(deps, p, last, route.provider);
      const sec = Math.max(1, Math.ceil(pick.retryAfterMs / 1000));
      throw new ProxyError('all_keys_cooling', 429, `Every ${route.provider.name} key in KeyRelay is cooling down after rate limits (${pick.count} key${pick.count === 1 ? '' : 's'}; the first is ready in ${sec} s). This is not the provider's answer: wait, or add keys with "KeyRelay: Add Key".`, { retryAfterSec: sec });
    }
    if (pick.kind === 'unusable') {
      // Always KeyRelay's own answer: the upstream's "invalid API key" would send the user
      // hunting for a problem with the access token, which is fine.
      const states = [pick.invalid ? `${pick.invalid} invalid` : '', pick.discarded ? `${pick.discarded} discarded` : ''].filter(Boolean).join(', ');
      const said = last && (last.kind === 'rejected' || last.kind === 'stream-error') ? errorFacts(last.body.toString('utf8')).message : undefined;
      throw new ProxyError('keys_unusable', pick.invalid ? 401 : 402, `No usable ${route.provider.name} key in KeyRelay (${states})${said ? `; the provider said: "${deps.redactor.redact(said)}"` : ''}. Replace them with "KeyRelay: Add Key", or run "KeyRelay: Restore Key" / "KeyRelay: Test Key" once they work again.`);
    }
    if (pick.kind === 'none') {
      if (last) return finishWith(deps, p, last, route.provider);
      throw new ProxyError('no_keys', 503, `No ${route.provider.name} key in KeyRelay serves model "${route.model ?? '?'}". Add one with "KeyRelay: Add Key", or check the keys' model lists.`);
    }
    const key = pick.key;
    tried.add(key.id);
    trace.key = key;
    trace.attempts++;
    const { result: r, outcome, ttfbMs } = await attempt(deps, p, key, route.provider, headers, body, route.model);
    trace.ttfbMs = ttfbMs;
    if (r.kind === 'sent') return r.status;
    last = r;
    if (p.res.destroyed) return 499;
    if (r.kind === 'failed') {
      // Every key of a provider shares its host: if it cannot be reached, another key will not help.
      if (classifyNetworkError(r.error, route.provider.name).isConnect && !key.baseUrl) return finishWith(deps, p, r, route.provider);
    } else if (outcome === undefined) {
      return sendRejected(deps, p, r); // the request's own fault (400/404/413/422): never retried
    }
    if (tried.size >= maxAttempts || deps.clock.now() >= deadline) return finishWith(deps, p, r, route.provider);
  }
}

/** A failure of the provider (5xx, overload, timeout, network) rather than of one key. */
function isProviderSide(r: AttemptResult): boolean {
  return r.kind === 'failed' || r.kind === 'stream-error' || (r.kind === 'rejected' && (r.status >= 500 || r.status === 408));
}

/** Ends a request whose attempts all failed with the last failure, as the client would see it. */
function finishWith(deps: ForwardDeps, p: ProxiedRequest, last: AttemptResult, provider: ProviderSpec): number {
  if (last.kind === 'failed') throw classifyNetworkError(last.error, provider.name).error;
  return sendRejected(deps, p, last);
}

/** One upstream call with one key; reports the outcome to the pool and the stats. */
async function attempt(
  deps: ForwardDeps, p: ProxiedRequest, key: PoolKey, provider: ProviderSpec,
  baseHeaders: string[], body: Buffer, model: string | undefined,
): Promise<{ result: AttemptResult; outcome?: Outcome; ttfbMs?: number }> {
  const cfg = deps.config();
  const target = deps.upstream.target(key.baseUrl ?? provider.baseUrl);
  const headers = baseHeaders.slice();
  headers.push(authHeaderName(provider.auth), authHeaderValue(provider.auth, key.secret));
  const { pool, clock } = deps;
  pool.begin(key.id);
  const handler = new Attempt(p.res, clock.now);
  try {
    const result = await dispatchAttempt(deps, p, handler, {
      origin: target.origin,
      path: target.basePath + p.rest + p.query,
      method: p.req.method ?? 'GET',
      headers,
      body: body.length > 0 ? body : null,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.idleTimeoutMs,
    });
    const outcome = settle(deps, p, key, provider, model, result, handler);
    return { result, outcome, ttfbMs: handler.ttfbMs || undefined };
  } finally {
    pool.end(key.id);
  }
}

/** Runs one dispatch to its end; a client that goes away aborts the upstream call at once. */
function dispatchAttempt(deps: ForwardDeps, p: ProxiedRequest, handler: Attempt, req: UpstreamRequest): Promise<AttemptResult> {
  return new Promise<AttemptResult>((resolve) => {
    const onClose = (): void => {
      if (!p.res.writableFinished) handler.abort(new Error(CLIENT_CLOSED));
    };
    p.res.once('close', onClose);
    handler.onDone = (r) => {
      p.res.off('close', onClose);
      resolve(r);
    };
    deps.upstream.dispatch(req, handler);
  });
}

const CLIENT_CLOSED = 'client closed the connection';

/** Feeds one attempt's outcome to the key's health and the counters. */
function settle(
  deps: ForwardDeps, p: ProxiedRequest, key: PoolKey, provider: ProviderSpec, model: string | undefined,
  r: AttemptResult, h: Attempt,
): Outcome | undefined {
  const now = deps.clock.now();
  let outcome: Outcome | undefined;
  let failure: FailureClass | undefined;
  let status = 0;
  if (r.kind === 'sent') {
    status = r.status;
    if (r.status < 400) outcome = { kind: 'success', ttfbMs: h.ttfbMs };
    if (!r.complete) failure = r.error?.message === CLIENT_CLOSED ? 'aborted' : 'network';
  } else if (r.kind === 'rejected') {
    status = r.status;
    outcome = classifyRejection(r.status, headerRecord(r.headers), r.body.toString('utf8'), now);
    failure = failureClass(outcome) ?? 'client';
  } else if (r.kind === 'stream-error') {
    status = r.status;
    outcome = classifyStreamError(r.status, r.body.toString('utf8'));
    failure = failureClass(outcome);
  } else if (p.res.destroyed) {
    failure = 'aborted';
  } else {
    const f = classifyNetworkError(r.error, provider.name);
    status = f.error.status;
    failure = f.isTimeout ? 'timeout' : 'network';
    if (!f.isConnect) outcome = { kind: 'server-error', reason: f.error.message };
  }
  if (outcome) {
    if (outcome.kind !== 'success') outcome = { ...outcome, reason: deps.redactor.redact(outcome.reason) };
    deps.pool.report(key.id, model, outcome);
  }
  deps.stats.record({
    keyId: key.id, providerId: provider.id, model, endpoint: p.rest, ok: failure === undefined, failure, status,
    latencyMs: now - p.t0, ttfbMs: h.ttfbMs || undefined,
    inputTokens: h.usage.inputTokens, outputTokens: h.usage.outputTokens,
  });
  return outcome;
}

function failureClass(o: Outcome | undefined): FailureClass | undefined {
  switch (o?.kind) {
    case 'rate-limited': return 'rate-limit';
    case 'invalid': return 'auth';
    case 'exhausted': return 'quota';
    case 'server-error': return 'server';
    default: return undefined;
  }
}

/** Passes a held-back upstream answer to the client, with any key text masked. */
function sendRejected(deps: ForwardDeps, p: ProxiedRequest, r: AttemptResult): number {
  if (r.kind !== 'rejected' && r.kind !== 'stream-error') return 0;
  const res = p.res;
  if (res.headersSent || res.destroyed) return r.status;
  if (r.status >= 300 && r.status < 400) {
    const location = headerRecord(r.headers).location ?? '?';
    throw new ProxyError('upstream_error', 502, `The provider answered with a redirect (HTTP ${r.status} to ${deps.redactor.redact(location)}). KeyRelay never follows redirects: check the provider's base URL.`);
  }
  const body = Buffer.from(deps.redactor.redact(r.body.toString('utf8')), 'utf8');
  const headers: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) {
    if (r.headers[i] !== 'content-length') headers.push(r.headers[i], r.headers[i + 1]);
  }
  headers.push('content-length', String(body.length));
  res.writeHead(r.status, headers).end(body);
  return r.status;
}

/**
 * Fallback mode (DESIGN §2): the provider has no keys. Forward the client's own credential,
 * never a pool key and never the access token; otherwise say how to add a key.
 */
async function passthrough(
  deps: ForwardDeps, p: ProxiedRequest, trace: Trace, provider: ProviderSpec, headers: string[], body: Buffer,
): Promise<number> {
  const cfg = deps.config();
  if (p.isToken || !p.credential || !cfg.passthrough) {
    throw new ProxyError('no_keys', 503, `KeyRelay has no ${provider.name} keys. Add one with "KeyRelay: Add Key" (CLI: a keys file or ${provider.envNames[0] ?? 'PROVIDER'}_API_KEY)${cfg.passthrough ? ', or send your own provider key instead of the access token' : ''}.`);
  }
  if (!deps.fallbackLogged.has(provider.id)) {
    deps.fallbackLogged.add(provider.id);
    deps.logger.info(`No ${provider.name} keys in the pool: forwarding clients' own credentials (fallback mode; setting keyRelay.proxy.passthrough).`);
  }
  trace.attempts = 1;
  const target = deps.upstream.target(provider.baseUrl);
  const all = headers.concat(authHeaderName(provider.auth), authHeaderValue(provider.auth, p.credential));
  const handler = new Attempt(p.res, deps.clock.now);
  deps.redactor.add(p.credential);
  try {
    const r = await dispatchAttempt(deps, p, handler, {
      origin: target.origin, path: target.basePath + p.rest + p.query, method: p.req.method ?? 'GET', headers: all,
      body: body.length > 0 ? body : null, headersTimeout: cfg.headersTimeoutMs, bodyTimeout: cfg.idleTimeoutMs,
    });
    return r.kind === 'sent' ? r.status : finishWith(deps, p, r, provider);
  } finally {
    deps.redactor.delete(p.credential);
  }
}

function sleep(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    res.once('close', done);
    function done(): void {
      clearTimeout(t);
      res.off('close', done);
      resolve();
    }
  });
}
