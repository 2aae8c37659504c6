import type { ApiShape } from './types';

/** Stable error codes of the proxy's own answers; clients and tests match on these. */
export type ProxyErrorCode =
  | 'bad_request_target'
  | 'malformed_request'
  | 'headers_too_large'
  | 'invalid_json'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'forbidden_host'
  | 'forbidden_origin'
  | 'body_too_large'
  | 'body_timeout'
  | 'unknown_provider'
  | 'unknown_model'
  | 'no_keys'
  | 'keys_unusable'
  | 'all_keys_cooling'
  | 'all_keys_busy'
  | 'upstream_connect_failed'
  | 'upstream_timeout'
  | 'upstream_error'
  | 'shutting_down'
  | 'invalid_config'
  | 'credential_failed'
  | 'key_lease_off';

/** OpenAI-style `type` per code; Anthropic answers use `anthropicType`. */
const OPENAI_TYPE: Record<ProxyErrorCode, string> = {
  bad_request_target: 'invalid_request_error',
  malformed_request: 'invalid_request_error',
  headers_too_large: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  not_found: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden_host: 'permission_error',
  forbidden_origin: 'permission_error',
  body_too_large: 'invalid_request_error',
  body_timeout: 'invalid_request_error',
  unknown_provider: 'invalid_request_error',
  unknown_model: 'invalid_request_error',
  no_keys: 'keyrelay_no_keys',
  keys_unusable: 'keyrelay_keys_unusable',
  // Distinct on purpose: an SDK must not take it for a provider rate limit.
  all_keys_cooling: 'keyrelay_all_keys_cooling',
  all_keys_busy: 'keyrelay_all_keys_busy',
  upstream_connect_failed: 'keyrelay_upstream_unreachable',
  upstream_timeout: 'keyrelay_upstream_timeout',
  upstream_error: 'keyrelay_upstream_error',
  shutting_down: 'keyrelay_shutting_down',
  invalid_config: 'invalid_request_error',
  credential_failed: 'keyrelay_credential_failed',
  key_lease_off: 'permission_error',
};

const ANTHROPIC_TYPE: Partial<Record<ProxyErrorCode, string>> = {
  unauthorized: 'authentication_error',
  forbidden_host: 'permission_error',
  forbidden_origin: 'permission_error',
  body_too_large: 'request_too_large',
  all_keys_busy: 'keyrelay_all_keys_busy',
  not_found: 'not_found_error',
  upstream_connect_failed: 'api_error',
  upstream_timeout: 'api_error',
  upstream_error: 'api_error',
  shutting_down: 'overloaded_error',
  credential_failed: 'api_error',
  key_lease_off: 'permission_error',
};

/** An error the proxy answers itself, with a status and a message that names the fix. */
export class ProxyError extends Error {
  constructor(
    readonly code: ProxyErrorCode,
    readonly status: number,
    message: string,
    readonly extra: { retryAfterSec?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ProxyError';
  }
}

/** The JSON body for an error, in the API shape the client spoke (DESIGN §5.6). */
export function renderError(shape: ApiShape, err: ProxyError): string {
  if (shape === 'anthropic') {
    const type = ANTHROPIC_TYPE[err.code] ?? (err.status === 429 ? 'keyrelay_all_keys_cooling' : OPENAI_TYPE[err.code]);
    return JSON.stringify({ type: 'error', error: { type, message: err.message, keyrelay_code: err.code } });
  }
  return JSON.stringify({ error: { message: err.message, type: OPENAI_TYPE[err.code], code: err.code, param: null } });
}

/**
 * What is wrong with text JSON.parse refused, without any of the text: V8's message quotes the
 * characters around the error (`…"3456789"},]}" is not valid JSON`), and in a config or settings
 * file those may be part of a key or token. Returns e.g. `Unexpected token ']' (line 4)`.
 */
export function jsonSyntaxProblem(err: unknown, text: string): { problem: string; line?: number } {
  const message = err instanceof Error ? err.message : String(err);
  const pos = /at position (\d+)/.exec(message);
  const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined;
  const what =
    message
      .split(/,?\s*(?:\.\.\.)?"/)[0]
      .replace(/ in JSON( at position \d+)?.*$/, '')
      .trim() || 'Not valid JSON';
  return { problem: line ? `${what} (line ${line})` : what, line };
}
