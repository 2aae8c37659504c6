import { newNonce } from '../proof';

/** How long an issued nonce may be used, and how many may wait at once. */
const TTL_MS = 30_000;
const MAX_OUTSTANDING = 256;

/**
 * One-time nonces the leader issues with each challenge answer; a caller proves it knows the token
 * by an HMAC over one of them (see core/proof.ts). Each is valid once, for 30 s.
 */
export class NonceBook {
  private readonly issued = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  issue(): string {
    const nonce = newNonce();
    if (this.issued.size >= MAX_OUTSTANDING) this.issued.delete(this.issued.keys().next().value as string);
    this.issued.set(nonce, this.now() + TTL_MS);
    return nonce;
  }

  /** True once for a nonce this book issued and that has not expired. */
  consume(nonce: string): boolean {
    const until = this.issued.get(nonce);
    if (until === undefined) return false;
    this.issued.delete(nonce);
    return until >= this.now();
  }
}
