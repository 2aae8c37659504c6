import type * as Undici from 'undici';

let loaded: typeof Undici | undefined;

/**
 * undici, loaded on first use. Its index evaluates fetch, WebSocket, cookies and an HTTP/2 client
 * (~40 ms): at module load that would sit on VS Code's activation path, while the proxy only
 * needs it once the first request arrives (the server warms it right after it listens).
 */
export function undici(): typeof Undici {
  // A call-site require: esbuild bundles undici but evaluates it here, not at startup.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
  loaded ??= require('undici') as typeof Undici;
  return loaded;
}
