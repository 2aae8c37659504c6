import type { IncomingHttpHeaders } from 'node:http';
import { ProxyError } from '../errors';
import type { ApiShape } from '../types';

/** A request target split once: the path, the path without `/v1`, and the query. */
export interface Target {
  /** `/v1/chat/completions` as sent (no query). */
  path: string;
  /** The path without its `/v1` prefix, e.g. `/chat/completions`. */
  rest: string;
  /** `?…` or ''. */
  query: string;
}

/** Roots served without the `/v1` prefix (clients disagree on it, DESIGN §1). */
const KNOWN_ROOTS = new Set([
  'chat',
  'completions',
  'embeddings',
  'responses',
  'models',
  'messages',
  'fim',
  'moderations',
  'audio',
  'images',
  'files',
  'batches',
  'rerank',
  'assistants',
  'threads',
  'vector_stores',
  'uploads',
  'fine_tuning',
]);

/** Splits `req.url`; never throws (a bad target is refused by `checkTarget` in the caller's shape). */
export function splitTarget(url: string): Target {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rest = path === '/v1' || path.startsWith('/v1/') ? path.slice(3) : path;
  return { path, rest, query: q < 0 ? '' : url.slice(q) };
}

/** The API shape a path speaks, which decides the shape of any error KeyRelay answers. */
export function shapeOf(t: Target, headers: IncomingHttpHeaders): ApiShape {
  return t.rest.startsWith('/messages') || (t.rest === '/models' && headers['anthropic-version'] !== undefined)
    ? 'anthropic'
    : 'openai';
}

/**
 * Refuses request targets that could reach anything but the provider's API under its base URL:
 * absolute-form (`http://host/…`) and `//host` targets would let a client pick the upstream.
 */
export function checkTarget(url: string): void {
  if (url.charCodeAt(0) !== 47 || url.charCodeAt(1) === 47) {
    throw new ProxyError(
      'bad_request_target',
      400,
      "The request target must be a path like /v1/chat/completions, not an absolute URL. Set the client's base URL to KeyRelay's endpoint instead.",
    );
  }
}

/** Paths outside `/v1/…` must name an API root KeyRelay knows (`/chat/…`, `/messages`, …). */
export function checkKnownRoot(t: Target): void {
  const root = t.rest.split('/', 2)[1] ?? '';
  if (t.path === t.rest && !KNOWN_ROOTS.has(root)) {
    throw new ProxyError(
      'not_found',
      404,
      `Unknown path ${t.path}. KeyRelay serves the OpenAI and Anthropic APIs under /v1 (e.g. /v1/chat/completions, /v1/messages) and its own /keyrelay/health and /keyrelay/status.`,
    );
  }
}
