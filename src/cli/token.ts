import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/config/stateFile';
import { CliError } from './cliError';

/** Where state.json and the token live: --data-dir, else KEYRELAY_DATA_DIR, else ~/.keyrelay. */
export function dataDirOf(flag: string | undefined): string {
  return flag ?? process.env.KEYRELAY_DATA_DIR ?? join(homedir(), '.keyrelay');
}

/** The access token and where it came from (for messages: never the token itself). */
export interface FoundToken {
  value: string;
  where: string;
}

/** `--token`, else `KEYRELAY_TOKEN`, else `<data-dir>/token`; undefined when none is set. */
export function findToken(flag: string | undefined, dataDir: string): FoundToken | undefined {
  if (flag) return { value: flag, where: '--token' };
  if (process.env.KEYRELAY_TOKEN) return { value: process.env.KEYRELAY_TOKEN, where: 'KEYRELAY_TOKEN' };
  const file = join(dataDir, 'token');
  return existsSync(file) ? { value: readTokenFile(file), where: file } : undefined;
}

/**
 * The token file's text, after checking it is a private, non-empty file: a token other users can
 * read lets them spend every key in the pool.
 */
function readTokenFile(file: string): string {
  const st = statSync(file);
  if (!st.isFile())
    throw new CliError(`${file} is not a file. Remove it (KeyRelay writes a new token there), or pass --data-dir.`, 2);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new CliError(
      `${file} can be read by other users (mode ${mode}): they could use your keys. Run "chmod 600 ${file}" and start again.`,
      2,
    );
  }
  const value = readFileSync(file, 'utf8').trim();
  if (!value) throw new CliError(`${file} is empty. Delete it and KeyRelay makes a new token, or put yours in it.`, 2);
  return value;
}

/** Shortest token accepted from --token or KEYRELAY_TOKEN: a guessable token is no lock. */
const MIN_TOKEN_LENGTH = 16;

/** `findToken`, or a new token written once to `<data-dir>/token` (mode 0600) for the next start. */
export function resolveToken(flag: string | undefined, dataDir: string): FoundToken {
  const found = findToken(flag, dataDir);
  if (found && found.value.length < MIN_TOKEN_LENGTH) {
    throw new CliError(
      `The access token from ${found.where} is shorter than ${MIN_TOKEN_LENGTH} characters: anyone could guess it. Use a long random one (e.g. "openssl rand -hex 24").`,
      2,
    );
  }
  if (found) return found;
  const file = join(dataDir, 'token');
  const value = `kr-${randomBytes(24).toString('base64url')}`;
  writeFileAtomic(file, `${value}\n`);
  return { value, where: file };
}
