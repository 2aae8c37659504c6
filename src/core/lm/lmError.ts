/**
 * Why a chat request to a KeyRelay model failed, for the editor to show: every message says
 * what to do about it.
 * - `no-keys`: no key of the model's provider (add one);
 * - `cooling`: every key of the provider is cooling (the message has the time left);
 * - `unusable`: every key is invalid or out of credit (replace or restore them);
 * - `rejected`: the provider refused the request itself (4xx: what it said);
 * - `upstream`: the provider failed or could not be reached, or its stream broke;
 * - `cancelled`: the caller cancelled.
 */
export type LmErrorKind = 'no-keys' | 'cooling' | 'unusable' | 'rejected' | 'upstream' | 'cancelled';

export class LmError extends Error {
  constructor(
    readonly kind: LmErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LmError';
  }
}
