import { randomUUID } from 'node:crypto';
import type { Stats } from '../core/accounting/stats';
import { parseStoreUrl } from '../core/config/storeUrl';
import { ProxyError } from '../core/errors';
import type { KeyPool } from '../core/pool/keyPool';
import { sharedStateModule } from '../core/shared/sharedLoader';
import type { SharedState } from '../core/shared/sharedState';
import type { Clock, Logger, ProxyConfig } from '../core/types';

/** Shortest team secret accepted: the HMAC that hides key ids is only as strong as it. */
const MIN_SECRET = 16;

/** The team secret, from KEYRELAY_TEAM_SECRET or the config file's "teamSecret"; checked only when a store is set. */
export function teamSecretFor(config: ProxyConfig, fromFile: string | undefined): string | undefined {
  if (!config.stateStore.trim()) return undefined;
  const secret = process.env.KEYRELAY_TEAM_SECRET || fromFile;
  if (!secret || secret.length < MIN_SECRET)
    throw new ProxyError(
      'invalid_config',
      400,
      `stateStore needs a team secret of at least ${MIN_SECRET} characters, the same on every KeyRelay of the pool: ` +
        'set KEYRELAY_TEAM_SECRET (or "teamSecret" in the config file).',
    );
  return secret;
}

/**
 * Starts sharing the pool's state when `stateStore` is set (ioredis is loaded only then); the
 * store's password comes from the URL or KEYRELAY_STATE_STORE_PASSWORD. Never waits for the store.
 */
export function startSharedState(
  config: ProxyConfig,
  teamSecret: string | undefined,
  parts: { pool: KeyPool; stats: Stats; clock: Clock; log: Logger },
): SharedState | undefined {
  if (!config.stateStore.trim() || !teamSecret) return undefined;
  const shared = new (sharedStateModule().SharedState)({
    address: parseStoreUrl(config.stateStore),
    password: process.env.KEYRELAY_STATE_STORE_PASSWORD || undefined,
    teamSecret,
    pool: parts.pool,
    stats: parts.stats,
    logger: parts.log,
    clock: parts.clock,
    instanceId: randomUUID(),
  });
  shared.start();
  return shared;
}
