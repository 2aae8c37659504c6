import { ProxyError, renderError } from '../errors';
import type { SecretRedactor } from '../redact';
import type { ApiShape } from '../types';
import type { AttemptResult } from './attempt';
import { headerRecord } from './headers';
import type { ResponseSink } from './requestContext';

/** Sends an error in the caller's API shape, once, only while nothing has been sent (STYLE §5). */
export function sendError(res: ResponseSink, shape: ApiShape, err: ProxyError): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-keyrelay-error': err.code };
  if (err.extra.retryAfterSec !== undefined) {
    headers['retry-after'] = String(err.extra.retryAfterSec);
    // The SDKs obey this header: let them retry only when a key is ready soon.
    headers['x-should-retry'] = err.extra.retryAfterSec <= 20 ? 'true' : 'false';
  }
  // The rest of a stalled or oversize body may still come (or never): the connection cannot be reused.
  if (err.code === 'body_timeout' || err.code === 'body_too_large') headers.connection = 'close';
  res.writeHead(err.status, headers).end(renderError(shape, err));
}

/**
 * Passes a held-back upstream answer (an error status, or a stream whose first event failed) to
 * the client with any key text masked. Redirects are never passed on: KeyRelay does not follow
 * them, and a client following one would leave the proxy.
 */
export function sendRejected(res: ResponseSink, redactor: SecretRedactor, r: AttemptResult): number {
  if (r.kind !== 'rejected' && r.kind !== 'stream-error') return 0;
  if (res.headersSent || res.destroyed) return r.status;
  if (r.status >= 300 && r.status < 400) {
    const location = headerRecord(r.headers).location ?? '?';
    throw new ProxyError(
      'upstream_error',
      502,
      `The provider answered with a redirect (HTTP ${r.status} to ${redactor.redact(location)}). KeyRelay never follows redirects: check the provider's base URL.`,
    );
  }
  const body = Buffer.from(redactor.redact(r.body.toString('utf8')), 'utf8');
  const headers: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) {
    if (r.headers[i] !== 'content-length') headers.push(r.headers[i], r.headers[i + 1]);
  }
  headers.push('content-length', String(body.length));
  res.writeHead(r.status, headers).end(body);
  return r.status;
}

/** The error to answer with, any key text in its message masked (undici's messages included). */
export function redactedError(redactor: SecretRedactor, err: unknown, doing = 'forward the request'): ProxyError {
  if (!(err instanceof ProxyError)) {
    const message = `KeyRelay failed to ${doing}: ${(err as Error).message}`;
    return new ProxyError('upstream_error', 502, redactor.redact(message), { cause: err });
  }
  const message = redactor.redact(err.message);
  return message === err.message ? err : new ProxyError(err.code, err.status, message, err.extra);
}
