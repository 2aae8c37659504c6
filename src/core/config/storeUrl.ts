/**
 * The `stateStore` setting: a `redis://` or `rediss://` URL (Redis or Valkey), optionally with
 * `?pool=<name>` naming the shared pool (default "default"). Checked here so a bad value is one
 * clear line at start, never a client error later.
 */
import { ProxyError } from '../errors';

/** A checked store address: what the client connects to, and what status may show. */
export interface StoreAddress {
  /** The URL the client is given (the `pool` parameter removed; the password, if any, kept). */
  url: string;
  /** The same without any password: safe for logs and status. */
  shown: string;
  pool: string;
  tls: boolean;
}

const POOL_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses the setting; throws a ProxyError that names the fix. */
export function parseStoreUrl(text: string): StoreAddress {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    throw bad(`"${redactUrlText(text)}" is not a URL`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`"${u.protocol}" is not redis: or rediss:`);
  if (!u.hostname) throw bad('it names no host');
  const pool = u.searchParams.get('pool') ?? 'default';
  if (!POOL_NAME.test(pool)) throw bad(`pool "${pool}" must be 1–64 letters, digits, ".", "_" or "-"`);
  if (u.pathname && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname))
    throw bad(`the database "${u.pathname.slice(1)}" must be a number such as 0`);
  u.searchParams.delete('pool');
  const url = u.toString();
  u.password = '';
  u.username = '';
  return { url, shown: u.toString(), pool, tls: u.protocol === 'rediss:' };
}

/** Whether `text` is a store URL `parseStoreUrl` accepts. */
export function isStoreUrl(text: string): boolean {
  try {
    parseStoreUrl(text);
    return true;
  } catch {
    return false;
  }
}

function bad(why: string): ProxyError {
  return new ProxyError(
    'invalid_config',
    400,
    `stateStore: ${why}; use a URL such as "redis://127.0.0.1:6379/0" (or rediss:// for TLS, ?pool=team-a to name the pool).`,
  );
}

/** A URL-ish text with anything between "//" and "@" masked (a password typed into a bad URL). */
function redactUrlText(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//…@');
}
