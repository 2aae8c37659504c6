import type * as IoRedis from 'ioredis';

let loaded: typeof IoRedis | undefined;

/**
 * ioredis, loaded when a state store is configured and never otherwise: esbuild puts it in
 * dist/redis.js (esbuild.mjs), so without `stateStore` the extension neither parses nor evaluates it.
 */
export function ioredis(): typeof IoRedis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
  loaded ??= require('ioredis') as typeof IoRedis;
  return loaded;
}
