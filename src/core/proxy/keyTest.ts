import type { Dispatcher } from 'undici';
import { undici } from './undiciLoader';
import { classifyRejection } from './classify';
import { authHeaderName, authHeaderValue } from './headers';
import type { KeyPool } from '../pool/keyPool';
import type { Outcome, PoolKey, ProviderSpec } from '../types';

/** What a key test found, in words fit for a notification (never the key itself). */
export interface KeyTestResult {
  ok: boolean;
  status?: number;
  message: string;
  outcome: Outcome;
}

/**
 * Sends the provider's cheap test request with one key (DESIGN §2). The caller feeds
 * `outcome` to the pool (`markTested` / `report`). Uses its own short-lived Agent unless one is
 * given: never the global dispatcher.
 */
export async function testKey(
  key: PoolKey,
  provider: ProviderSpec,
  opts: { timeoutMs?: number; dispatcher?: Dispatcher; now?: () => number } = {},
): Promise<KeyTestResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const now = opts.now ?? Date.now;
  const own = opts.dispatcher ? undefined : new (undici().Agent)({ connect: { timeout: timeoutMs } });
  const base = (key.baseUrl ?? provider.baseUrl).replace(/\/+$/, '');
  const t = provider.testRequest;
  const headers: Record<string, string> = {
    [authHeaderName(provider.auth)]: authHeaderValue(provider.auth, key.secret),
  };
  if (provider.shape === 'anthropic') headers['anthropic-version'] = '2023-06-01';
  if (t.body !== undefined) headers['content-type'] = 'application/json';
  const started = now();
  try {
    const res = await undici().request(base + t.path, {
      method: t.method,
      headers,
      body: t.body,
      dispatcher: opts.dispatcher ?? own,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return {
        ok: true,
        status: res.statusCode,
        message: `${key.label}: works (HTTP ${res.statusCode}, ${now() - started} ms).`,
        outcome: { kind: 'success', ttfbMs: now() - started },
      };
    }
    const outcome = classifyRejection(res.statusCode, flatten(res.headers), text, now()) ?? {
      kind: 'server-error' as const,
      status: res.statusCode,
      reason: `HTTP ${res.statusCode} to the test request`,
    };
    const reason = outcome.kind === 'success' ? '' : outcome.reason;
    return {
      ok: false,
      status: res.statusCode,
      message: `${key.label}: ${reason}`.replaceAll(key.secret, key.masked),
      outcome,
    };
  } catch (err) {
    const { name, code, message } = err as { name?: string; code?: unknown; message?: string };
    // The signal's TimeoutError carries DOMException's numeric code (23): say what happened instead.
    const reason =
      name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
        ? `no answer from ${provider.name} within ${timeoutMs / 1000} s`
        : `could not reach ${provider.name} (${typeof code === 'string' ? code : message})`;
    return { ok: false, message: `${key.label}: ${reason}`, outcome: { kind: 'server-error', reason } };
  } finally {
    if (own) void own.close().catch(() => undefined);
  }
}

/**
 * Tests a key and feeds what was found into the pool: a pass brings an invalid or cooling key back,
 * a rejection updates its state like traffic would. The same in every window and in the CLI.
 */
export async function testAndRecord(
  pool: KeyPool,
  key: PoolKey,
  provider: ProviderSpec,
  opts: { timeoutMs?: number; dispatcher?: Dispatcher } = {},
): Promise<KeyTestResult> {
  const r = await testKey(key, provider, opts);
  if (r.ok) pool.markTested(key.id, true, r.message);
  else if (r.outcome.kind !== 'success') pool.report(key.id, undefined, r.outcome);
  return r;
}

function flatten(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
