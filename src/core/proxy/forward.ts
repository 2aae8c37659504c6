import { ProxyError } from '../errors';
import type { FailureClass, PoolKey, ProviderSpec, ProxyConfig } from '../types';
import type { PickResult } from '../pool/keyPool';
import type { AttemptResult } from './attempt';
import { affinityKey, inspectJsonBody, readBody, replaceModel } from './body';
import { errorFacts } from './classify';
import { forwardableRequestHeaders } from './headers';
import { passthrough } from './passthrough';
import { applyReasoning } from './reasoning';
import { redactedError, sendError, sendRejected } from './replies';
import type { ForwardDeps, ProxiedRequest, RequestContext, Trace } from './requestContext';
import { resolveRoute, routeToProvider } from './router';
import { finishWith, isProviderSide, statsTime, tryKey } from './tryKey';
import { classifyNetworkError } from './upstream';
import { concurrencyLimits } from './concurrency';

/**
 * Forwards one request (DESIGN §5): bounded body, route, pick a key, send, and on a failure
 * before the first byte, try the next key. After the first byte there is no retry.
 */
export async function forwardRequest(deps: ForwardDeps, p: ProxiedRequest): Promise<void> {
  const trace: Trace = p.trace ?? newTrace();
  let status = 0;
  try {
    const cfg = deps.config();
    const ctx = prepare(deps, p, trace, cfg, await readBody(p.req, cfg.maxBodyBytes, cfg.bodyTimeoutMs));
    status = deps.pool.hasKeys(ctx.provider.id) ? await rotate(ctx) : await passthrough(ctx);
  } catch (err) {
    const e = redactedError(deps.redactor, err);
    status = e.status;
    sendError(p.res, p.shape, e, deps.wording);
  }
  try {
    record(deps, p, trace, status);
  } finally {
    trace.release?.();
  }
}

/**
 * A trace with every field the usual request sets already in place: one allocation, where adding
 * them one by one grew a property array three times per request.
 */
function newTrace(): Trace {
  return {
    attempts: 0,
    body: undefined,
    sentBody: undefined,
    provider: undefined,
    model: undefined,
    key: undefined,
    answeredBy: undefined,
    lastFailure: undefined,
    usage: undefined,
    costUsd: undefined,
    ttfbMs: undefined,
    settledAt: undefined,
  };
}

/**
 * Counts the client request once, however many attempts it took, then writes the trace log line
 * and the optional request log, both without key text or query strings.
 */
function record(deps: ForwardDeps, p: ProxiedRequest, trace: Trace, status: number): void {
  const gone = p.res.destroyed && !p.res.writableFinished;
  const upstream = trace.answeredBy !== undefined || trace.viaClientKey === true;
  // Errors KeyRelay answered itself (no key could take it) are its own class, not the provider's;
  // an upstream answer keeps its attempt's class (a stream cut after its first byte included).
  const failure: FailureClass | undefined = gone
    ? 'aborted'
    : upstream
      ? trace.lastFailure
      : status >= 400
        ? 'local'
        : undefined;
  const ok = failure === undefined && status > 0 && status < 400;
  // An upstream answer went out as its attempt was judged: that reading is the end.
  const end = trace.answeredBy !== undefined && trace.settledAt !== undefined ? trace.settledAt : deps.clock.now();
  deps.stats.recordRequest(
    {
      keyId: trace.answeredBy?.id,
      providerId: trace.provider?.id ?? '',
      model: trace.model,
      endpoint: p.rest,
      ok,
      failure,
      status,
      latencyMs: end - p.t0,
      ttfbMs: trace.ttfbMs,
      inputTokens: upstream ? trace.usage?.inputTokens : undefined,
      outputTokens: upstream ? trace.usage?.outputTokens : undefined,
      costUsd: upstream ? trace.costUsd : undefined,
    },
    statsTime(deps, end),
  );
  const { logger } = deps;
  const traced = logger.logLevel === undefined || logger.logLevel <= 1;
  const log = deps.requestLog();
  if (!traced && !log) return; // the usual case: no path to redact
  const path = deps.redactor.redact(p.req.url?.split('?', 1)[0] ?? '');
  if (traced) {
    logger.trace(
      `${p.req.method} ${path} model=${trace.model ?? '-'} key=${trace.key?.masked ?? '-'} attempts=${trace.attempts} status=${status} ms=${end - p.t0} ttfb=${trace.ttfbMs ?? '-'}`,
    );
  }
  if (!log) return;
  log.write(
    {
      method: p.req.method ?? '',
      path,
      headers: p.req.headers,
      body: trace.body ?? Buffer.alloc(0),
      sentBody: trace.sentBody,
      provider: trace.provider?.id,
      model: trace.model,
      key: trace.key && `${trace.key.label} (${trace.key.masked})`,
      attempts: trace.attempts,
      tries: trace.tries,
      status,
      ms: end - p.t0,
      ttfbMs: trace.ttfbMs,
      response: trace.response,
    },
    end,
  );
}

/** Routes the body read: which provider, which model, which headers go upstream. */
function prepare(deps: ForwardDeps, p: ProxiedRequest, trace: Trace, cfg: ProxyConfig, read: Buffer): RequestContext {
  let body = read;
  trace.body = body;
  const facts = p.req.method === 'POST' ? inspectJsonBody(body, p.shape) : {};
  const route = p.providerId
    ? routeToProvider(p.providerId, facts.model?.value, deps.catalogue)
    : resolveRoute({ shape: p.shape, model: facts.model?.value }, deps.catalogue, deps.pool);
  trace.provider = route.provider;
  trace.model = route.model;
  if (p.rest.startsWith('/fim/') && route.provider.hasFim === false) {
    throw new ProxyError(
      'not_found',
      404,
      `${route.provider.name} has no fill-in-the-middle endpoint (/v1/fim/completions). Point autocomplete at a provider that has one, e.g. model "mistral/codestral-latest".`,
    );
  }
  if (route.stripped && facts.model && route.model !== undefined) body = replaceModel(body, facts.model, route.model);
  // A reasoning level set for this model rewrites the body; otherwise it goes on byte for byte.
  if (p.req.method === 'POST')
    body = applyReasoning(body, { provider: route.provider, rest: p.rest, model: route.model }, cfg);
  if (body !== trace.body) trace.sentBody = body;
  const headers = forwardableRequestHeaders(p.req.headers);
  if (route.provider.shape === 'anthropic' && p.req.headers['anthropic-version'] === undefined) {
    headers.push('anthropic-version', '2023-06-01');
  }
  return { deps, p, trace, cfg, provider: route.provider, model: route.model, headers, body };
}

/** Most waits for a cooling key in one request; with `maxWaitMs` this keeps the loop finite. */
const MAX_WAITS = 8;

/**
 * Tries keys of the routed provider until one answers, the candidates run out, or the time does.
 * When every candidate is cooling and one frees within what is left of `maxWaitMs`, it waits
 * (sending nothing) and goes on; a key this request already tried is a candidate again after the
 * wait once its own cooldown has ended (the pool offers only keys that are not cooling).
 */
async function rotate(ctx: RequestContext): Promise<number> {
  const { deps, p, cfg, trace } = ctx;
  if (!p.isToken) {
    throw new ProxyError(
      'unauthorized',
      401,
      'The credential sent is not KeyRelay\'s access token. Use the token from "KeyRelay: Copy Access Token" (CLI: "keyrelay token" prints it) as the API key.',
    );
  }
  const affinity = cfg.strategy === 'cache-affinity' ? affinityKey(p.req.headers, ctx.body) : undefined;
  let tried: Set<string> | undefined; // made when a second key is wanted: nothing on the usual path
  let wait: WaitBudget | undefined; // made only when every key is cooling: nothing on the usual path
  const maxAttempts = cfg.maxAttempts > 0 ? cfg.maxAttempts : Infinity;
  const limits = concurrencyLimits(cfg); // undefined (no gate, no cost) unless maxConcurrentPerKey* is set
  let last: AttemptResult | undefined;
  for (;;) {
    const want = { providerId: ctx.provider.id, model: ctx.model, affinity, exclude: tried, random: p.randomKey };
    const pick = limits ? await deps.gate.pick(want, limits, p.t0 + limits.waitMs, p.res) : deps.pool.pick(want);
    if (pick.kind === 'gone') return 499;
    if (pick.kind !== 'key') {
      if (
        pick.kind === 'cooling' &&
        (await waitForCooldown(ctx, pick.retryAfterMs, (wait ??= { waitedMs: 0, waits: 0 })))
      ) {
        if (p.res.destroyed) return 499;
        tried?.clear();
        continue;
      }
      return noKeyLeft(ctx, pick, last);
    }
    const key = pick.key;
    if (!deps.budgets.admit(key)) {
      // Spent its budget (perhaps on another KeyRelay of a shared pool): now marked, so the pool skips it
      // and, once every key is marked, answers "over budget" (an exclusion here would read "no key").
      if (limits) release(ctx, key)();
      continue;
    }
    trace.key = key;
    trace.attempts++;
    const attempt = tryKey(ctx, pick);
    // The slot gate.pick took; without limits no extra promise on the usual path.
    const { result: r, outcome, ttfbMs } = await (limits ? attempt.finally(release(ctx, key)) : attempt);
    trace.ttfbMs = ttfbMs;
    if (r.kind === 'sent') {
      trace.answeredBy = key;
      return r.status;
    }
    (tried ??= new Set()).add(key.id);
    last = r;
    if (p.res.destroyed) return 499;
    if (r.kind === 'failed') {
      // Every key of a provider shares its host: if it cannot be reached, another key will not help.
      if (classifyNetworkError(r.error, ctx.provider.name).isConnect && !key.baseUrl) return finishWith(ctx, r);
    } else if (outcome === undefined) {
      trace.answeredBy = key;
      return sendRejected(p.res, deps.redactor, r); // the request's own fault (400/404/413/422): never retried
    }
    // The deadline for trying more keys: the upstream's headers timeout, plus any time spent waiting.
    const deadline = p.t0 + Math.max(cfg.headersTimeoutMs, cfg.maxWaitMs) + (wait?.waitedMs ?? 0);
    if (trace.attempts >= maxAttempts || deps.clock.now() >= deadline) return finishWith(ctx, r);
  }
}

/** Gives back the per-key slot `gate.pick` took for this request. */
function release(ctx: RequestContext, key: PoolKey): () => void {
  return () => ctx.deps.gate.release(key, ctx.model);
}

interface WaitBudget {
  /** Time this request has spent waiting for cooling keys. */
  waitedMs: number;
  waits: number;
}

/**
 * Waits for the soonest cooling key when it frees within what is left of `maxWaitMs` (counted over
 * all of this request's waits); false: answer now. A client that goes away ends the wait at once.
 */
async function waitForCooldown(ctx: RequestContext, retryAfterMs: number, budget: WaitBudget): Promise<boolean> {
  const { deps, p, cfg } = ctx;
  if (budget.waits >= MAX_WAITS || budget.waitedMs + retryAfterMs > cfg.maxWaitMs || p.res.destroyed) return false;
  budget.waits++;
  ctx.trace.settledAt = undefined;
  const start = deps.clock.now();
  await sleep(retryAfterMs, p.res);
  budget.waitedMs += Math.max(retryAfterMs, deps.clock.now() - start);
  return true;
}

/** The answer when no key can take the request: the last failure when it says more, else why. */
function noKeyLeft(
  ctx: RequestContext,
  pick: Exclude<PickResult, { kind: 'key' }>,
  last: AttemptResult | undefined,
): number {
  // A provider-side failure (5xx, timeout) says more than "the others are cooling"; a key's own
  // 401/402 would wrongly tell the client its credential is bad.
  if (last && (pick.kind === 'none' || (pick.kind === 'cooling' && isProviderSide(last)))) return finishWith(ctx, last);
  const said =
    pick.kind === 'unusable' && last && (last.kind === 'rejected' || last.kind === 'stream-error')
      ? errorFacts(last.body.toString('utf8')).message
      : undefined;
  throw noKeyError(ctx.provider, ctx.model, pick, said && ctx.deps.redactor.redact(said));
}

/**
 * Why no key of `provider` can serve `model`, in words that say what to do; `said`: what the
 * provider last answered (already redacted). The forwarder and the key lease answer with it.
 */
export function noKeyError(
  provider: ProviderSpec,
  model: string | undefined,
  pick: Exclude<PickResult, { kind: 'key' }>,
  said?: string,
): ProxyError {
  if (pick.kind === 'cooling') {
    const sec = Math.max(1, Math.ceil(pick.retryAfterMs / 1000));
    return new ProxyError(
      'all_keys_cooling',
      429,
      `Every ${provider.name} key in KeyRelay is cooling down after rate limits (${pick.count} key${pick.count === 1 ? '' : 's'}; the first is ready in ${sec} s). This is not the provider's answer: wait, or add keys with "KeyRelay: Add Key".`,
      { retryAfterSec: sec },
    );
  }
  if (pick.kind === 'unusable') {
    // Always KeyRelay's own answer: the upstream's "invalid API key" would send the user
    // hunting for a problem with the access token, which is fine.
    const states = [pick.invalid ? `${pick.invalid} invalid` : '', pick.discarded ? `${pick.discarded} discarded` : '']
      .filter(Boolean)
      .join(', ');
    return new ProxyError(
      'keys_unusable',
      pick.invalid ? 401 : 402,
      `No usable ${provider.name} key in KeyRelay (${states})${said ? `; the provider said: "${said}"` : ''}. Replace them with "KeyRelay: Add Key", or run "KeyRelay: Restore Key" / "KeyRelay: Test Key" once they work again.`,
    );
  }
  if (pick.kind === 'over-budget') return overBudgetError(provider, pick);
  return new ProxyError(
    'no_keys',
    503,
    `No ${provider.name} key in KeyRelay serves model "${model ?? '?'}". Add one with "KeyRelay: Add Key", or check the keys' model lists.`,
  );
}

/** Every usable key spent its budget: KeyRelay's own 429, saying when the first is back and what to change. */
function overBudgetError(provider: ProviderSpec, pick: Extract<PickResult, { kind: 'over-budget' }>): ProxyError {
  const back = new Date(pick.resetsAt).toISOString().slice(0, 16).replace('T', ' ');
  return new ProxyError(
    'budget_exceeded',
    429,
    `Every ${provider.name} key in KeyRelay has spent its budget (${pick.count} key${pick.count === 1 ? '' : 's'}); the first is back at ${back} UTC. Raise the limit in keyRelay.budgets, or add a key with "KeyRelay: Add Key".`,
    { retryAfterSec: Math.max(1, Math.ceil(pick.retryAfterMs / 1000)) },
  );
}

/** Resolves after `ms`, or at once when the client goes away. */
function sleep(ms: number, res: ProxiedRequest['res']): Promise<void> {
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
