/**
 * Keys whose secret comes from a command, as the CLI config and the editor's machine setting
 * describe them: `{ "provider", "credentialCommand": [argv…], "credentialTtlSeconds"?, "label"? }`.
 * One checker for both, so the two spell and refuse the same way. Nothing of a command is ever
 * echoed in a message: its arguments may hold secrets (a client secret, a refresh token).
 */
import { hash } from 'node:crypto';
import { ProxyError } from '../errors';
import type { CredentialCommand } from '../types';

/** `credentialCommand` and `credentialTtlSeconds` of one entry, checked; undefined for an ordinary key. */
export function credentialCommandOf(e: Record<string, unknown>, where: string): CredentialCommand | undefined {
  if (e.credentialCommand === undefined) {
    if (e.credentialTtlSeconds !== undefined)
      throw new ProxyError('invalid_config', 400, `${where}: "credentialTtlSeconds" needs a "credentialCommand".`);
    return undefined;
  }
  const argv = e.credentialCommand;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string') || !argv[0]) {
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "credentialCommand" must be a list: the program, then its arguments, e.g. ["gcloud", "auth", "print-access-token"] (it runs without a shell).`,
    );
  }
  const ttl = e.credentialTtlSeconds;
  if (ttl !== undefined && !(typeof ttl === 'number' && ttl > 0 && ttl <= 31 * 86_400)) {
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "credentialTtlSeconds" must be a number of seconds above 0 (at most 31 days).`,
    );
  }
  return { argv: [...(argv as string[])], ...(ttl !== undefined ? { ttlSeconds: ttl as number } : {}) };
}

/** How a command key shows where its masked text would be: the program's name, never its arguments. */
export function commandMask(argv: readonly string[]): string {
  const program = argv[0] ?? '?';
  return `cmd:${program.slice(Math.max(program.lastIndexOf('/'), program.lastIndexOf('\\')) + 1)}`;
}

/** A stable id for a command key (provider + argv), so health and counters find it after a restart. */
export function commandKeyId(providerId: string, argv: readonly string[]): string {
  return `cmd-${hash('sha256', `${providerId}\0${JSON.stringify(argv)}`, 'hex').slice(0, 16)}`;
}

/**
 * Splits a command line the way a user types it into argv, without a shell: words split at
 * spaces, `"…"` and `'…'` group, `\` escapes the next character outside single quotes. No
 * variables, globs, pipes or redirections: they are plain characters here.
 */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new ProxyError('invalid_config', 400, `The command line has an unclosed ${quote} quote.`);
  if (inWord) out.push(cur);
  return out;
}
