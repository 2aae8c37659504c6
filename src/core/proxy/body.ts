import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors';
import { findTopLevelString } from './bodyFields';
import type { RequestSource } from './requestContext';

const EMPTY = Buffer.alloc(0);

/**
 * Reads the request body whole, up to `maxBytes`, so a 429 or 401 can be retried on the next
 * key with the same bytes (STYLE §5: reply-from streams bodies and so cannot retry). A body that
 * stops arriving for `idleMs` (up to one StallWatch tick more) is refused with 408.
 */
export function readBody(
  req: Pick<RequestSource, 'headers' | 'on' | 'off'>,
  maxBytes: number,
  idleMs: number,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(tooLarge(maxBytes));
  }
  if (declared === '0' || (declared === undefined && req.headers['transfer-encoding'] === undefined)) {
    return Promise.resolve(EMPTY);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const read: Reading = {
      seen: stalls.tick,
      limit: Math.ceil(idleMs / STALL_TICK_MS) + 1,
      stalled: () => {
        stop();
        reject(stalledError(idleMs));
      },
      prev: undefined,
      next: undefined,
      listed: false,
    };
    const onData = (chunk: Buffer): void => {
      // An idle timeout, not a total one: a large body on a slow link keeps arriving.
      read.seen = stalls.tick;
      size += chunk.length;
      if (size > maxBytes) {
        stop();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      // The usual end: the listeners stay on a request whose body is over (three removals cost
      // more than the one 'close' call they save); onClose finds nothing left to do.
      stalls.delete(read);
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onClose = (): void => {
      if (!stalls.delete(read)) return;
      stop();
      reject(
        new ProxyError('body_timeout', 400, 'The client closed the connection before the request body was complete.'),
      );
    };
    function stop(): void {
      stalls.delete(read);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    }
    stalls.add(read);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

/**
 * One body being read: the StallWatch tick of its last bytes, how many ticks it may idle, and its
 * links in the watch's list.
 */
interface Reading {
  seen: number;
  limit: number;
  stalled(): void;
  prev: Reading | undefined;
  next: Reading | undefined;
  listed: boolean;
}

/** How often the body timeouts are checked while some body is being read. */
const STALL_TICK_MS = 100;

/**
 * The idle timeouts of every body being read, on one unref'd interval that runs only while one is
 * pending. A setTimeout per request, refreshed per chunk, was ~1 µs of a request's CPU (node's
 * timer-list insert and unenroll in the JSON profile); here a chunk costs one field write, and
 * adding and removing a body are a few link writes (a Set's hashing showed in the profile).
 */
class StallWatch {
  tick = 0;
  private head: Reading | undefined;
  private timer: NodeJS.Timeout | undefined;

  add(r: Reading): void {
    r.next = this.head;
    if (this.head) this.head.prev = r;
    this.head = r;
    r.listed = true;
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), STALL_TICK_MS);
    this.timer.unref();
  }

  /** False when `r` was not pending (already ended, failed or stalled). */
  delete(r: Reading): boolean {
    if (!r.listed) return false;
    r.listed = false;
    if (r.prev) r.prev.next = r.next;
    else this.head = r.next;
    if (r.next) r.next.prev = r.prev;
    r.prev = r.next = undefined;
    return true;
  }

  private sweep(): void {
    this.tick++;
    for (let r = this.head; r;) {
      const next = r.next;
      if (this.tick - r.seen >= r.limit) r.stalled();
      r = next;
    }
    if (this.head) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

const stalls = new StallWatch();

/** A duration as a message shows it: "<1 s" under a second (never "0 s"), else whole seconds. */
export function secondsText(ms: number): string {
  return ms < 1000 ? '<1 s' : `${Math.round(ms / 1000)} s`;
}

function stalledError(idleMs: number): ProxyError {
  return new ProxyError(
    'body_timeout',
    408,
    `The request body stalled: nothing arrived for ${secondsText(idleMs)}. Check the client's connection; nothing was sent upstream.`,
  );
}

function tooLarge(maxBytes: number): ProxyError {
  const mb = Math.round(maxBytes / (1024 * 1024));
  return new ProxyError(
    'body_too_large',
    413,
    `The request body is larger than ${mb} MiB. Send less context, or raise keyRelay.proxy.maxBodyMB.`,
  );
}

/** What routing needs from a JSON body, found without parsing it. */
export interface BodyFacts {
  model?: { value: string; start: number; end: number };
}

/**
 * Checks the body looks like one JSON object and finds its top-level `model`. A full parse
 * would cost more than the rest of the proxy on a 200 KB prompt; a malformed middle is left
 * for upstream to reject (its 400 passes through with no penalty to the key).
 */
export function inspectJsonBody(body: Buffer, shape: 'openai' | 'anthropic'): BodyFacts {
  if (body.length === 0) return {};
  let first = 0;
  while (first < body.length && isSpace(body[first])) first++;
  let last = body.length - 1;
  while (last > first && isSpace(body[last])) last--;
  if (body[first] !== 0x7b || body[last] !== 0x7d) {
    throw new ProxyError(
      'invalid_json',
      400,
      `The request body is not a JSON object. Send a JSON body like the ${shape === 'anthropic' ? 'Anthropic Messages' : 'OpenAI'} API expects.`,
    );
  }
  return { model: findTopLevelString(body, 'model', MODELS) };
}

/** The model names requests named lately (findTopLevelString's `seen`). */
const MODELS: string[] = [];

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The body with the model string replaced (the `provider/` prefix stripped). */
export function replaceModel(body: Buffer, at: { start: number; end: number }, model: string): Buffer {
  // The found value was decoded; write it back JSON-escaped so a `"` or `\\` cannot break the body.
  return Buffer.concat([
    body.subarray(0, at.start),
    Buffer.from(JSON.stringify(model).slice(1, -1), 'utf8'),
    body.subarray(at.end),
  ]);
}

/**
 * A conversation id for cache-affinity (DESIGN §4): Claude Code's session header, else the
 * client's `prompt_cache_key` or `metadata.user_id`, else a hash of the body's opening, where
 * the system prompt and first message sit and stay the same turn after turn.
 */
export function affinityKey(headers: IncomingMessage['headers'], body: Buffer): string | undefined {
  const session = headers['x-claude-code-session-id'];
  if (typeof session === 'string' && session) return `s:${session}`;
  if (body.length === 0) return undefined;
  const cacheKey = findTopLevelString(body, 'prompt_cache_key');
  if (cacheKey) return `p:${cacheKey.value}`;
  const userId = /"user_id"\s*:\s*"([^"]{1,200})"/.exec(body.subarray(0, 8192).toString('utf8'));
  if (userId) return `u:${userId[1]}`;
  // Stop before the first assistant turn so later turns hash like the second one.
  const assistant = body.indexOf('"assistant"');
  const end = Math.min(assistant > 0 ? assistant : body.length, 4096);
  return `h:${createHash('sha1').update(body.subarray(0, end)).digest('base64')}`;
}
