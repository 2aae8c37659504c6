/**
 * Runs a credential command (argv, never a shell) and reads the token it prints. Nothing the
 * command prints, on stdout or stderr, ever goes into an error message: stdout is the secret, and
 * stderr of token helpers often echoes it too.
 */
import { spawn } from 'node:child_process';
import type { CredentialCommand } from '../types';

/** A token the command printed, with the time it stops being valid. */
export interface IssuedToken {
  token: string;
  expiresAt: number;
}

/** Limits of one run. */
export interface RunLimits {
  timeoutMs: number;
  /** Bytes of stdout accepted; more is an error (and the command is stopped). */
  maxOutputBytes: number;
}

/** A token that states no expiry and has no `ttlSeconds` is used this long. */
export const DEFAULT_TTL_SECONDS = 300;
/** Stdout beyond this is not a token. */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/** A failed run, with a message that says what happened and never what the command printed. */
export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

/** Runs `cmd` once: resolves with the token it printed, rejects with a CredentialError. */
export function runCredentialCommand(cmd: CredentialCommand, limits: RunLimits, now: number): Promise<IssuedToken> {
  const program = cmd.argv[0];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const child = spawn(program, cmd.argv.slice(1), {
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const stop = (why: string): void => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(`did not finish within ${limits.timeoutMs / 1000} s`), limits.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limits.maxOutputBytes) stop(`printed more than ${limits.maxOutputBytes} bytes`);
      else chunks.push(c);
    });
    // Drained so a chatty helper never blocks on a full pipe; never read.
    child.stderr.resume();
    child.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= `could not be started (${err.code ?? 'error'}): check that "${program}" is installed and on PATH`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure === undefined && code !== 0)
        failure = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
      if (failure !== undefined) return reject(new CredentialError(failure));
      try {
        resolve(parseTokenOutput(Buffer.concat(chunks).toString('utf8'), cmd.ttlSeconds ?? DEFAULT_TTL_SECONDS, now));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

/**
 * What a command printed, as a token: the whole output (trimmed) when it is one word, or JSON
 * `{ "token", "expiresAt": ISO time | "expiresIn": seconds }` (OAuth's `access_token` /
 * `expires_in` accepted too). Without an expiry the token lives `ttlSeconds`.
 */
export function parseTokenOutput(text: string, ttlSeconds: number, now: number): IssuedToken {
  const out = text.trim();
  if (out === '') throw new CredentialError('printed nothing (it must print the token, or JSON {"token": …})');
  if (!out.startsWith('{')) {
    if (/\s/.test(out)) {
      throw new CredentialError('printed more than one word; print only the token, or JSON {"token": …}');
    }
    return { token: out, expiresAt: now + ttlSeconds * 1000 };
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(out) as Record<string, unknown>;
  } catch {
    throw new CredentialError('printed text starting with "{" that is not valid JSON');
  }
  const token = o.token ?? o.access_token;
  if (typeof token !== 'string' || token.trim() === '' || /\s/.test(token.trim())) {
    throw new CredentialError('printed JSON without a "token" string');
  }
  const expiresIn = o.expiresIn ?? o.expires_in;
  let expiresAt = now + ttlSeconds * 1000;
  if (o.expiresAt !== undefined) {
    const t = typeof o.expiresAt === 'string' ? Date.parse(o.expiresAt) : NaN;
    if (!Number.isFinite(t)) throw new CredentialError('printed an "expiresAt" that is not an ISO time');
    expiresAt = t;
  } else if (expiresIn !== undefined) {
    if (typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new CredentialError('printed an "expiresIn" that is not a positive number of seconds');
    }
    expiresAt = now + expiresIn * 1000;
  }
  if (expiresAt <= now) throw new CredentialError('printed a token that has already expired');
  return { token: token.trim(), expiresAt };
}
