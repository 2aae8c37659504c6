import { parseRetryAfter } from './retryAfter';
import type { Outcome } from '../types';

/**
 * Bodies that mean the account is out of money, not momentarily throttled. OpenAI and Gemini
 * share the words "You exceeded your current quota", so only OpenAI's `insufficient_quota`
 * code counts: Gemini's per-minute and per-day quotas are rate limits with a retry delay.
 */
const QUOTA_BODY =
  /insufficient_quota|credit balance is too low|insufficient[_ ]credits|billing_hard_limit|out of credits/i;

/** Gemini puts the wait in the body: `"retryDelay": "43s"`. */
const RETRY_DELAY_BODY = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/;

/** Pulls `"type"`/`"code"` and `"message"` out of an error body without trusting its shape. */
export function errorFacts(body: string): { errorType?: string; message?: string } {
  const type = /"(?:type|code)"\s*:\s*"([^"]{1,80})"/.exec(
    body.includes('"error"') ? body.slice(body.indexOf('"error"')) : body,
  );
  const message = /"message"\s*:\s*"((?:[^"\\]|\\.){1,300})/.exec(body);
  return { errorType: type?.[1], message: message?.[1] };
}

/**
 * Decides what a non-2xx upstream answer says about the key (DESIGN §3). `undefined` means the
 * request itself was at fault (400/404/413/422…): pass it through, no penalty, no retry.
 */
export function classifyRejection(
  status: number,
  headers: Record<string, string>,
  body: string,
  now: number,
): Outcome | undefined {
  const { errorType, message } = errorFacts(body);
  const reason = `HTTP ${status}${errorType ? ` ${errorType}` : ''}${message ? `: ${message}` : ''}`;
  if (status === 402 || ((status === 429 || status === 403 || status === 400) && QUOTA_BODY.test(body))) {
    return { kind: 'exhausted', status, reason, errorType };
  }
  if (status === 429) {
    const delay = RETRY_DELAY_BODY.exec(body);
    const retryAfterMs = parseRetryAfter(headers, now) ?? (delay ? Math.ceil(Number(delay[1]) * 1000) : undefined);
    return { kind: 'rate-limited', status, retryAfterMs, reason, errorType };
  }
  if (status === 401 || status === 403) return { kind: 'invalid', status, reason, errorType };
  if (status >= 500 || status === 408) return { kind: 'server-error', status, reason, errorType };
  return undefined;
}

/** What a 200 stream whose first event is an error says about the key. */
export function classifyStreamError(status: number, event: string): Outcome {
  const { errorType, message } = errorFacts(event);
  const reason = `stream error${errorType ? ` ${errorType}` : ''}${message ? `: ${message}` : ''}`;
  if (errorType === 'rate_limit_error' || errorType === 'rate_limit_exceeded') {
    return { kind: 'rate-limited', status: 429, reason, errorType };
  }
  if (errorType === 'authentication_error' || errorType === 'permission_error') {
    return { kind: 'invalid', status: 401, reason, errorType };
  }
  if (QUOTA_BODY.test(event)) return { kind: 'exhausted', status: 402, reason, errorType };
  return { kind: 'server-error', status, reason, errorType };
}
