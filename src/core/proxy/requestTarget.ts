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
  'providers',
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

/**
 * The usual paths' `rest`, one string each for the life of the process: a slice per request was a
 * new string that Stats' endpoint map hashed again on every request; these are hashed once.
 */
const CHAT = '/chat/completions';
const MESSAGES = '/messages';

/** Splits `req.url`; never throws (a bad target is refused by `checkTarget` in the caller's shape). */
export function splitTarget(url: string): Target {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rest =
    path === '/v1/chat/completions'
      ? CHAT
      : path === '/v1/messages'
        ? MESSAGES
        : path === '/v1' || path.startsWith('/v1/')
          ? path.slice(3)
          : path;
  return { path, rest, query: q < 0 ? '' : url.slice(q) };
}

/** The API shape a path speaks, which decides the shape of any error KeyRelay answers. */
export function shapeOf(t: Target, headers: IncomingHttpHeaders): ApiShape {
  return t.rest.startsWith('/messages') || (t.rest === '/models' && headers['anthropic-version'] !== undefined)
    ? 'anthropic'
    : 'openai';
}

/**
 * Percent-escapes that decode to a dot, a slash, a backslash, NUL or another escape (double
 * encoding): an upstream or a gateway in front of it may decode them and climb out of the base
 * URL's path. No OpenAI or Anthropic path needs them.
 */
const DANGEROUS_ESCAPE = /%(?:2e|2f|5c|00|25)/i;

/**
 * Refuses request targets that could reach anything but the provider's API under its base URL
 * (DESIGN §5.2): absolute-form (`http://host/…`) and `//host` targets would let a client pick the
 * upstream; dot segments, backslashes, control characters and encoded slashes or dots would climb
 * out of a base URL such as `https://gateway/team-a/v1` once joined to it.
 */
export function checkTarget(url: string, t: Target): void {
  if (url.charCodeAt(0) !== 47 || url.charCodeAt(1) === 47) {
    throw new ProxyError(
      'bad_request_target',
      400,
      "The request target must be a path like /v1/chat/completions, not an absolute URL. Set the client's base URL to KeyRelay's endpoint instead.",
    );
  }
  const path = t.path;
  // Fast path: a plain API path has no '.', '\\' or '%' at all.
  if (path.indexOf('.') < 0 && path.indexOf('%') < 0 && path.indexOf('\\') < 0 && !hasControl(path)) return;
  if (path.includes('\\') || DANGEROUS_ESCAPE.test(path) || hasControl(path) || hasDotSegment(path)) {
    throw new ProxyError(
      'bad_request_target',
      400,
      'The request path has dot segments, backslashes, control characters or encoded slashes or dots (like /../ or %2e%2e): KeyRelay never forwards such a path. Send the API path as the SDK builds it, e.g. /v1/chat/completions.',
    );
  }
}

/** A segment that starts with a dot (`.`, `..`, `..;x`): no API path has one. */
function hasDotSegment(path: string): boolean {
  return path.includes('/.');
}

function hasControl(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Paths outside `/v1/…` must name an API root KeyRelay knows (`/chat/…`, `/messages`, …). */
export function checkKnownRoot(t: Target): void {
  if (t.path !== t.rest) return; // under /v1: any API path (the usual case splits nothing)
  const root = t.rest.split('/', 2)[1] ?? '';
  if (!KNOWN_ROOTS.has(root)) {
    throw new ProxyError(
      'not_found',
      404,
      `Unknown path ${t.path}. KeyRelay serves the OpenAI and Anthropic APIs under /v1 (e.g. /v1/chat/completions, /v1/messages) and its own /keyrelay/health and /keyrelay/status.`,
    );
  }
}
