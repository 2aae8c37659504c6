import { ProxyError } from '../errors';
import { Attempt } from './attempt';
import { authHeaderName, authHeaderValue } from './headers';
import type { RequestContext } from './requestContext';
import { captureFor, noteAttempt } from './logCapture';
import { dispatchAttempt, finishWith } from './tryKey';

/**
 * Fallback mode (DESIGN §2): the provider has no keys. Forward the client's own credential,
 * never a pool key and never the access token; otherwise say how to add a key.
 */
export async function passthrough(ctx: RequestContext): Promise<number> {
  const { deps, p, cfg, provider } = ctx;
  if (p.isToken || !p.credential || !cfg.passthrough) {
    throw new ProxyError(
      'no_keys',
      503,
      `KeyRelay has no ${provider.name} keys. Add one with "KeyRelay: Add Key" (CLI: a keys file or ${provider.envNames[0] ?? 'PROVIDER'}_API_KEY)${cfg.passthrough ? ', or send your own provider key instead of the access token' : ''}.`,
    );
  }
  if (p.mayPassThrough === false) {
    throw new ProxyError(
      'unauthorized',
      401,
      `KeyRelay has no ${provider.name} keys and listens beyond this machine (host ${cfg.host}): it forwards your own provider key only with the access token beside it, in an x-keyrelay-token header. Send that header, or add ${provider.name} keys.`,
    );
  }
  if (!deps.fallbackLogged.has(provider.id)) {
    deps.fallbackLogged.add(provider.id);
    deps.logger.info(
      `No ${provider.name} keys in the pool: forwarding clients' own credentials (fallback mode; setting keyRelay.proxy.passthrough).`,
    );
  }
  ctx.trace.attempts = 1;
  const target = deps.upstream.target(provider.baseUrl);
  const headers = ctx.headers.concat(authHeaderName(provider.auth), authHeaderValue(provider.auth, p.credential));
  const handler = new Attempt(p.res, deps.clock.now);
  handler.capture = captureFor(ctx);
  // Masked in every output until the request's log lines are written (forwardRequest releases it).
  ctx.trace.release = deps.redactor.hold(p.credential);
  const r = await dispatchAttempt(ctx, handler, {
    origin: target.origin,
    path: target.basePath + p.rest + p.query,
    method: p.req.method ?? 'GET',
    headers,
    body: ctx.body.length > 0 ? ctx.body : null,
    headersTimeout: cfg.headersTimeoutMs,
    bodyTimeout: cfg.idleTimeoutMs,
  });
  ctx.trace.viaClientKey = true;
  noteAttempt(ctx, "the client's own key", r, undefined, handler);
  if (r.kind === 'sent' && !r.complete) ctx.trace.lastFailure = p.res.destroyed ? 'aborted' : 'network';
  ctx.trace.usage = { inputTokens: handler.usage.inputTokens, outputTokens: handler.usage.outputTokens };
  return r.kind === 'sent' ? r.status : finishWith(ctx, r);
}
