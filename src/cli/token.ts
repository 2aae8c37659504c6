import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/config/stateFile';

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
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), where: file };
  return undefined;
}

/** `findToken`, or a new token written once to `<data-dir>/token` (mode 0600) for the next start. */
export function resolveToken(flag: string | undefined, dataDir: string): FoundToken {
  const found = findToken(flag, dataDir);
  if (found) return found;
  const file = join(dataDir, 'token');
  const value = `kr-${randomBytes(24).toString('base64url')}`;
  writeFileAtomic(file, `${value}\n`);
  return { value, where: file };
}
