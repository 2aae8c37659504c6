import type * as SharedModule from './sharedState';

let loaded: typeof SharedModule | undefined;

/**
 * The SharedState module, loaded only when a state store is configured: esbuild puts it in
 * dist/shared.js (and ioredis in dist/redis.js), so with `stateStore` off the extension's and the
 * CLI's bundles hold none of it and start exactly as before.
 */
export function sharedStateModule(): typeof SharedModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
  loaded ??= require('./sharedState') as typeof SharedModule;
  return loaded;
}
