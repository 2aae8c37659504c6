/**
 * Proofs that a party knows the access token without sending it (DESIGN §6–7). A window that
 * follows another, and `keyrelay status`, must not hand the token to whatever answers on the port:
 * the holder first proves it knows the token (`leaderProof` of the caller's fresh nonce), then the
 * caller proves it too (`clientProof` of a one-time nonce the holder issued). The token itself
 * never crosses the wire, so a program squatting on the port learns nothing it can use.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The Authorization scheme of a client proof: `KeyRelay-HMAC <nonce>:<proof>`. */
export const PROOF_SCHEME = 'KeyRelay-HMAC';

/** A nonce as both sides send it: 32 to 128 hex characters. */
export const NONCE_PATTERN = /^[0-9a-f]{32,128}$/;

/** A fresh random nonce (128 bits). */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

function hmac(token: string, role: string, nonce: string): string {
  return createHmac('sha256', token).update(`keyrelay ${role}\0${nonce}`).digest('hex');
}

/** What the token's holder answers to a caller's nonce. */
export function leaderProof(token: string, nonce: string): string {
  return hmac(token, 'leader', nonce);
}

/** What a caller sends for a nonce the holder issued (never valid as a leader proof, and back). */
export function clientProof(token: string, nonce: string): string {
  return hmac(token, 'client', nonce);
}

/** Compares two hex proofs in constant time. */
export function proofsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
