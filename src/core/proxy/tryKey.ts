import { CredentialFailure, FAILURES_BEFORE_INVALID } from '../credentials/credentialBroker';
import { ProxyError } from '../errors';
import type { KeyHandle } from '../pool/poolTypes';
import type { CredentialCommand, FailureClass, Outcome, PoolKey } from '../types';
import { Attempt } from './attempt';
import type { AttemptResult } from './attempt';
import { classifyRejection, classifyStreamError } from './classify';
import { authHeaderName, authHeaderValue, headerRecord } from './headers';
import { captureFor, noteAttempt } from './logCapture';
import { sendRejected } from './replies';
import type { ProxiedRequest, RequestContext } from './requestContext';
import { classifyNetworkError } from './upstream';
import type { UpstreamRequest } from './upstream';

/** What one attempt with one key came to. `outcome` undefined: the request's own fault. */
export interface Tried {
  result: AttemptResult;
  outcome?: Outcome;
  ttfbMs?: number;
}

/** The key `pick` chose, with its handle for the pool's per-request calls (no lookup by id). */
export interface Picked {
  readonly key: PoolKey;
  readonly handle: KeyHandle;
}

/**
 * One upstream call with one key; reports the outcome to the pool and the stats. A key whose
 * secret comes from a command gets its token from the broker first, and on a 401/403 one more
 * call with a freshly run token before the refusal counts against the key.
 */
export function tryKey(ctx: RequestContext, picked: Picked): Promise<Tried> {
  const { key } = picked;
  if (key.credentialCommand) return tryCommandKey(ctx, picked, key.credentialCommand);
  // The usual path: one async frame (send), which also ends the key's turn.
  ctx.deps.pool.begin(picked.handle);
  return send(ctx, picked, key.secret, ENDS_TURN);
}

async function tryCommandKey(
  ctx: RequestContext,
  picked: Picked,
  credentialCommand: CredentialCommand,
): Promise<Tried> {
  const { deps } = ctx;
  const { key, handle } = picked;
  deps.pool.begin(handle);
  try {
    const cmdKey = { id: key.id, label: key.label, credentialCommand };
    const first = await tokenOrFailure(ctx, key, () => deps.credentials.token(cmdKey));
    if (typeof first !== 'string') return first;
    const tried = await send(ctx, picked, first, HOLD_REFUSAL);
    if (tried.outcome !== undefined || !isAuthRefusal(tried.result)) return tried;
    const second = await tokenOrFailure(ctx, key, () => deps.credentials.refresh(cmdKey, first));
    if (typeof second !== 'string') return second;
    return await send(ctx, picked, second, NO_OPTIONS);
  } finally {
    deps.pool.end(handle);
  }
}

/** `holdRefusal`: a 401/403 is returned unjudged, for one retry; `endsTurn`: send calls pool.end. */
interface SendOptions {
  holdRefusal?: boolean;
  endsTurn?: boolean;
}
const NO_OPTIONS: SendOptions = {};
const HOLD_REFUSAL: SendOptions = { holdRefusal: true };
const ENDS_TURN: SendOptions = { endsTurn: true };

/** One dispatch with `secret` (see SendOptions). */
async function send(ctx: RequestContext, picked: Picked, secret: string, o: SendOptions): Promise<Tried> {
  const { key } = picked;
  try {
    const { deps, p, cfg } = ctx;
    const target = deps.upstream.target(key.baseUrl ?? ctx.provider.baseUrl);
    const headers = ctx.headers.slice();
    headers.push(authHeaderName(ctx.provider.auth), authHeaderValue(ctx.provider.auth, secret));
    const handler = new Attempt(p.res, deps.clock.now);
    handler.capture = captureFor(ctx);
    const result = await dispatchAttempt(ctx, handler, {
      origin: target.origin,
      path: target.basePath + p.rest + p.query,
      method: p.req.method ?? 'GET',
      headers,
      body: ctx.body.length > 0 ? ctx.body : null,
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: cfg.idleTimeoutMs,
    });
    if (o.holdRefusal && isAuthRefusal(result)) return { result } satisfies Tried;
    const outcome = settle(ctx, picked, result, handler);
    noteAttempt(ctx, key, result, outcome, handler);
    return { result, outcome, ttfbMs: handler.ttfbMs || undefined } satisfies Tried;
  } finally {
    if (o.endsTurn) ctx.deps.pool.end(picked.handle);
  }
}

function isAuthRefusal(r: AttemptResult): boolean {
  return r.kind === 'rejected' && (r.status === 401 || r.status === 403);
}

/**
 * The token of a command key, or the failed attempt when its command failed: the request moves on
 * to the next key, and the key cools (or turns invalid once its command keeps failing).
 */
async function tokenOrFailure(ctx: RequestContext, key: PoolKey, get: () => Promise<string>): Promise<string | Tried> {
  try {
    return await get();
  } catch (err) {
    const { deps, p } = ctx;
    const message = deps.redactor.redact((err as Error).message);
    const keepsFailing = err instanceof CredentialFailure && err.consecutive >= FAILURES_BEFORE_INVALID;
    const outcome: Outcome = keepsFailing
      ? { kind: 'invalid', reason: message, errorType: 'credential_failed' }
      : { kind: 'server-error', reason: message, errorType: 'credential_failed' };
    deps.pool.report(key.id, ctx.model, outcome);
    ctx.trace.lastFailure = 'auth';
    deps.stats.recordAttempt({
      keyId: key.id,
      providerId: ctx.provider.id,
      model: ctx.model,
      endpoint: p.rest,
      ok: false,
      failure: 'auth',
      status: 502,
      latencyMs: deps.clock.now() - p.t0,
    });
    return { result: { kind: 'failed', error: new ProxyError('credential_failed', 502, message) }, outcome };
  }
}

/** The reason a dispatch is aborted when the client goes away. */
export const CLIENT_CLOSED = 'client closed the connection';

/**
 * The response's 'close' for a forwarded request: aborts the attempt in flight, unless the
 * response had finished. Whoever owns the response (the server, the in-process caller) registers
 * it once per request; attempts only set `p.attempt`. One listener, not one more per attempt:
 * with two, Node keeps them in a two-element array per request, made at one allocation site in
 * `events` that every emitter shares and that V8 may tenure under load (it did in the bench, when
 * wrk cut 50 streams at once). From then on each request's array is born in old space and holds
 * the attempt's listener, and through it the attempt, until the next full GC
 * (test/bench/README.md, "The load generator's cut").
 */
export function clientGone(p: ProxiedRequest): void {
  if (p.attempt !== undefined && !p.res.writableFinished) p.attempt.abort(new Error(CLIENT_CLOSED));
}

/**
 * Runs one dispatch to its end; a client that goes away aborts the upstream call at once (through
 * `clientGone`). `p.attempt` stays set after the attempt ends (a settled attempt ignores an abort):
 * the server keeps the last request, and with it its attempt (`ProxyServer.lastForwarded` says why).
 * The handler is given the promise's own `resolve`, never a closure over this request: a finished
 * handler stays reachable for a while (past a scavenge or two), and while `onDone` closed over the
 * request, every early request's objects survived the first scavenges under load. V8 then tenured
 * their allocation sites and the process ran at ~0.75x for its whole life (test/bench/README.md,
 * "The cause of the slow state").
 */
export function dispatchAttempt(ctx: RequestContext, handler: Attempt, req: UpstreamRequest): Promise<AttemptResult> {
  ctx.p.attempt = handler;
  return new Promise<AttemptResult>((resolve) => {
    handler.onDone = resolve;
    ctx.deps.upstream.dispatch(req, handler);
  });
}

/** What an attempt's result says about the key (for the pool) and how it failed (for the stats). */
function judge(
  ctx: RequestContext,
  r: AttemptResult,
  now: number,
): { outcome?: Outcome; failure?: FailureClass; status: number } {
  switch (r.kind) {
    case 'sent': {
      const outcome: Outcome | undefined = r.status < 400 ? { kind: 'success', ttfbMs: 0 } : undefined;
      const failure: FailureClass | undefined = r.complete
        ? undefined
        : r.error?.message === CLIENT_CLOSED
          ? 'aborted'
          : 'network';
      return { outcome, failure, status: r.status };
    }
    case 'rejected': {
      const outcome = classifyRejection(r.status, headerRecord(r.headers), r.body.toString('utf8'), now);
      return { outcome, failure: failureClass(outcome) ?? 'client', status: r.status };
    }
    case 'stream-error': {
      const outcome = classifyStreamError(r.status, r.body.toString('utf8'));
      return { outcome, failure: failureClass(outcome), status: r.status };
    }
    default: {
      if (ctx.p.res.destroyed) return { failure: 'aborted', status: 0 };
      const f = classifyNetworkError(r.error, ctx.provider.name);
      const outcome: Outcome | undefined = f.isConnect ? undefined : { kind: 'server-error', reason: f.error.message };
      return { outcome, failure: f.isTimeout ? 'timeout' : 'network', status: f.error.status };
    }
  }
}

/** Feeds one attempt's outcome to the key's health and the counters. */
function settle(ctx: RequestContext, picked: Picked, r: AttemptResult, h: Attempt): Outcome | undefined {
  const { deps, p } = ctx;
  const { key } = picked;
  const now = deps.clock.now();
  const judged = judge(ctx, r, now);
  let outcome = judged.outcome;
  if (outcome?.kind === 'success') outcome = { kind: 'success', ttfbMs: h.ttfbMs };
  else if (outcome) outcome = { ...outcome, reason: deps.redactor.redact(outcome.reason) };
  if (outcome) deps.pool.report(picked.handle, ctx.model, outcome);
  // count_tokens answers with the size of a prompt nobody sent: it is not usage.
  const counts = !p.rest.endsWith('/count_tokens');
  const inputTokens = counts ? h.usage.inputTokens : undefined;
  const outputTokens = counts ? h.usage.outputTokens : undefined;
  const { cachedTokens, cacheWriteTokens } = h.usage;
  const costUsd = counts
    ? deps.prices().cost(ctx.provider.id, ctx.provider.shape, ctx.model, {
        inputTokens,
        outputTokens,
        cachedTokens,
        cacheWriteTokens,
      })
    : undefined;
  ctx.trace.usage = { inputTokens, outputTokens };
  ctx.trace.costUsd = costUsd;
  ctx.trace.lastFailure = judged.failure;
  ctx.trace.settledAt = now;
  deps.stats.recordAttempt(
    {
      keyId: key.id,
      providerId: ctx.provider.id,
      model: ctx.model,
      endpoint: p.rest,
      ok: judged.failure === undefined,
      failure: judged.failure,
      status: judged.status,
      latencyMs: now - p.t0,
      ttfbMs: h.ttfbMs || undefined,
      inputTokens,
      outputTokens,
      costUsd,
    },
    statsTime(deps, now),
    picked.handle,
  );
  if (costUsd) deps.budgets.charge(key, costUsd);
  return outcome;
}

/** `now` for `Stats` when it counts on the proxy's clock (one clock read fewer); else it reads its own. */
export function statsTime(deps: RequestContext['deps'], now: number): number | undefined {
  return deps.stats.clock === deps.clock ? now : undefined;
}

function failureClass(o: Outcome | undefined): FailureClass | undefined {
  switch (o?.kind) {
    case 'rate-limited':
      return 'rate-limit';
    case 'invalid':
      return 'auth';
    case 'exhausted':
      return 'quota';
    case 'server-error':
      return 'server';
    default:
      return undefined;
  }
}

/** A failure of the provider (5xx, overload, timeout, network) rather than of one key. */
export function isProviderSide(r: AttemptResult): boolean {
  return (
    r.kind === 'failed' || r.kind === 'stream-error' || (r.kind === 'rejected' && (r.status >= 500 || r.status === 408))
  );
}

/** Ends a request whose attempts all failed with the last failure, as the client would see it. */
export function finishWith(ctx: RequestContext, last: AttemptResult): number {
  if (last.kind === 'failed' && last.error instanceof ProxyError) throw last.error;
  if (last.kind === 'failed') throw classifyNetworkError(last.error, ctx.provider.name).error;
  ctx.trace.answeredBy = ctx.trace.key;
  return sendRejected(ctx.p.res, ctx.deps.redactor, last);
}
