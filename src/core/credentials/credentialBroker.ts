/**
 * Tokens of keys whose secret comes from a command (OAuth, cloud identity, six-hour tokens): each
 * command runs when its key is first needed, its token is cached until shortly before it expires,
 * refreshed in the background while the key is in use, and re-run once when upstream says 401.
 * One run at a time per key: concurrent requests wait for the same run.
 */
import type { SecretRedactor } from '../redact';
import { maskKey } from '../redact';
import type { Clock, CredentialCommand, Logger } from '../types';
import { CredentialError, MAX_OUTPUT_BYTES, runCredentialCommand } from './commandRunner';
import type { IssuedToken } from './commandRunner';

/** The key fields the broker reads. */
export interface CommandKey {
  id: string;
  label: string;
  credentialCommand: CredentialCommand;
}

/** What the broker is built from. */
export interface BrokerOptions {
  clock: Clock;
  logger: Logger;
  /** Every token is registered here, so no log line or error body can carry it. */
  redactor: Pick<SecretRedactor, 'add' | 'delete'>;
  /** Longest run of one command. */
  timeoutMs(): number;
}

/** Consecutive failed runs after which the key's failure says "invalid" (see `CredentialFailure`). */
export const FAILURES_BEFORE_INVALID = 3;
/** The background refresh starts this share of a token's life before it expires (capped). */
const REFRESH_SHARE = 1 / 3;
const MAX_REFRESH_LEAD_MS = 60_000;

/** A run that failed, with how many runs of this key failed in a row. */
export class CredentialFailure extends CredentialError {
  constructor(
    message: string,
    readonly consecutive: number,
  ) {
    super(message);
  }
}

interface Slot {
  /** The argv the token came from: a changed command drops the token. */
  sig: string;
  current?: IssuedToken;
  /** The one before, still redacted (an answer to a request that used it may still be on its way). */
  previous?: string;
  refreshAt: number;
  running?: Promise<string>;
  timer?: NodeJS.Timeout;
  usedSinceRun: boolean;
  failures: number;
}

/** Runs, caches and refreshes credential commands. */
export class CredentialBroker {
  private readonly slots = new Map<string, Slot>();
  private disposed = false;

  constructor(private readonly o: BrokerOptions) {}

  /** A valid token for `key`: the cached one, or the result of a run (shared with concurrent callers). */
  async token(key: CommandKey): Promise<string> {
    const s = this.slot(key);
    const now = this.o.clock.now();
    const cur = s.current;
    if (cur && now < s.refreshAt) {
      s.usedSinceRun = true;
      return cur.token;
    }
    // Past the refresh point but still valid: use it, and refresh meanwhile.
    if (cur && now < cur.expiresAt - skewMs(cur, s)) {
      s.usedSinceRun = true;
      this.background(key, s);
      return cur.token;
    }
    const token = await this.run(key, s);
    s.usedSinceRun = true;
    return token;
  }

  /**
   * Upstream refused `used` (401): a new token, unless another request already replaced it. The
   * caller retries once with it; a second refusal makes the key invalid.
   */
  async refresh(key: CommandKey, used: string): Promise<string> {
    const s = this.slot(key);
    const fresh =
      s.current && s.current.token !== used && this.o.clock.now() < s.current.expiresAt
        ? s.current.token
        : await this.run(key, s);
    s.usedSinceRun = true;
    return fresh;
  }

  /** Forgets keys that are gone (their tokens stay redacted: an answer may still be on its way). */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, s] of this.slots) {
      if (ids.has(id)) continue;
      clearTimeout(s.timer);
      this.slots.delete(id);
    }
  }

  /** When each key's token expires (ms since the epoch), for views; no token text. */
  expiry(id: string): number | undefined {
    return this.slots.get(id)?.current?.expiresAt;
  }

  dispose(): void {
    this.disposed = true;
    for (const s of this.slots.values()) clearTimeout(s.timer);
    this.slots.clear();
  }

  private slot(key: CommandKey): Slot {
    const sig = JSON.stringify(key.credentialCommand);
    let s = this.slots.get(key.id);
    if (!s || s.sig !== sig) {
      if (s) clearTimeout(s.timer);
      s = { sig, refreshAt: 0, usedSinceRun: false, failures: 0 };
      this.slots.set(key.id, s);
    }
    return s;
  }

  /** One run at a time per key: a caller that comes during a run gets that run's token. */
  private run(key: CommandKey, s: Slot): Promise<string> {
    s.running ??= this.execute(key, s).finally(() => {
      s.running = undefined;
    });
    return s.running;
  }

  private async execute(key: CommandKey, s: Slot): Promise<string> {
    const started = this.o.clock.now();
    let issued: IssuedToken;
    try {
      issued = await runCredentialCommand(
        key.credentialCommand,
        { timeoutMs: this.o.timeoutMs(), maxOutputBytes: MAX_OUTPUT_BYTES },
        started,
      );
    } catch (err) {
      s.failures++;
      const why = err instanceof CredentialError ? err.message : 'failed';
      const message = `The credential command of key "${key.label}" ${why}. Run it yourself to see why (KeyRelay never logs what it prints).`;
      this.o.logger.warn(message);
      throw new CredentialFailure(message, s.failures);
    }
    if (this.slots.get(key.id) !== s) return issued.token; // the key left meanwhile
    this.o.redactor.add(issued.token, maskKey(issued.token));
    if (s.previous !== undefined && s.previous !== issued.token) this.o.redactor.delete(s.previous);
    s.previous = s.current?.token;
    s.current = issued;
    s.failures = 0;
    const life = issued.expiresAt - started;
    s.refreshAt = issued.expiresAt - Math.min(MAX_REFRESH_LEAD_MS, life * REFRESH_SHARE);
    this.o.logger.debug(
      `Credential command of key "${key.label}" gave a token valid for ${Math.round(life / 1000)} s.`,
    );
    this.schedule(key, s);
    return issued.token;
  }

  /** A timer at the refresh point: a key in use since its last run gets a new token before expiry. */
  private schedule(key: CommandKey, s: Slot): void {
    clearTimeout(s.timer);
    if (this.disposed) return;
    s.usedSinceRun = false;
    const delay = Math.max(0, s.refreshAt - this.o.clock.now());
    s.timer = setTimeout(() => {
      // An idle key is left to expire: its command runs again when a request needs it.
      if (s.usedSinceRun && this.slots.get(key.id) === s) this.background(key, s);
    }, delay);
    s.timer.unref();
  }

  private background(key: CommandKey, s: Slot): void {
    if (s.running) return;
    // The failure is logged (without output) by execute; requests see it when the token runs out.
    this.run(key, s).catch(() => undefined);
  }
}

/** Margin before the stated expiry inside which a token is not sent any more (clock skew, transit). */
function skewMs(t: IssuedToken, s: Slot): number {
  return Math.min(5_000, (t.expiresAt - s.refreshAt) / 4);
}
