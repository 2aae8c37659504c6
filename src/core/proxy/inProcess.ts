import { EventEmitter } from 'node:events';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { ApiShape } from '../types';
import { forwardRequest } from './forward';
import { clientGone } from './tryKey';
import type { ForwardDeps, ResponseSink, Trace } from './requestContext';

/** One request made inside this process, by a caller that holds no socket (the editor's chat models). */
export interface InProcessRequest {
  shape: ApiShape;
  method: 'GET' | 'POST';
  /** The path below the API version, as the proxy sees it: `/chat/completions`, `/messages`, `/models`. */
  path: string;
  /** `?…` or omitted. */
  query?: string;
  /** Lower-case header names; credentials are never needed (the pool supplies the key). */
  headers?: Record<string, string>;
  body?: Buffer;
  /** Sends to this provider whatever the body's model says. */
  providerId?: string;
  /** Aborting closes the upstream request at once, as a client closing its socket does. */
  signal?: AbortSignal;
  /** A random usable key instead of the rotation's choice. */
  randomKey?: boolean;
  /** Filled in as the request goes: the key that answered, attempts, tokens. */
  trace?: Trace;
}

/** The answer as it arrives: status and headers once, then the body chunk by chunk. */
export interface InProcessResponse {
  status: number;
  headers: Record<string, string>;
  /** Body chunks as the upstream sends them; throws if the stream breaks off after its first byte. */
  body: AsyncIterable<Buffer>;
  /** Settles once the forwarder is done with the request (counted, logged). */
  done: Promise<void>;
}

/** Thrown when the caller's signal ended the request before any answer. */
export class InProcessAbortError extends Error {
  constructor() {
    super('The request was cancelled.');
    this.name = 'AbortError';
  }
}

/**
 * Runs one request through the proxy's own forwarder (forward.ts) with no HTTP hop: the same
 * route, key choice, failover before the first byte, cooldowns, statistics and request log as a
 * request on the socket. Works whether or not the HTTP server is listening.
 */
export async function forwardInProcess(deps: ForwardDeps, r: InProcessRequest): Promise<InProcessResponse> {
  if (r.signal?.aborted) throw new InProcessAbortError();
  const body = r.body ?? Buffer.alloc(0);
  const headers = { ...r.headers, 'content-length': String(body.length) };
  const url = `/v1${r.path}${r.query ?? ''}`;
  const req = Object.assign(Readable.from(body.length > 0 ? [body] : []), { method: r.method, url, headers });
  const sink = new ResponseQueue();
  const onAbort = (): void => sink.cancel();
  r.signal?.addEventListener('abort', onAbort, { once: true });
  const p = {
    req,
    res: sink,
    shape: r.shape,
    rest: r.path,
    query: r.query ?? '',
    isToken: true,
    t0: deps.clock.now(),
    providerId: r.providerId,
    randomKey: r.randomKey,
    trace: r.trace,
    attempt: undefined,
  };
  sink.on('close', () => clientGone(p));
  const done = forwardRequest(deps, p)
    .catch((err: unknown) => deps.logger.error(err instanceof Error ? err : String(err)))
    .finally(() => r.signal?.removeEventListener('abort', onAbort));
  const first = await Promise.race([sink.head.then(() => 'head' as const), done.then(() => 'done' as const)]);
  if (first === 'done' && !sink.headersSent) throw new InProcessAbortError();
  return { status: sink.status, headers: sink.headers, body: sink, done };
}

/** Bytes the caller may leave unread before the upstream is paused (backpressure). */
const HIGH_WATER = 64 * 1024;

/**
 * A response without a socket: implements what the forwarder uses of a ServerResponse and
 * queues the body for one async reader. `cancel()` is the client going away: it fires 'close',
 * on which the forwarder aborts the upstream request.
 */
export class ResponseQueue extends EventEmitter implements ResponseSink, AsyncIterable<Buffer> {
  headersSent = false;
  destroyed = false;
  writableFinished = false;
  readonly socket = null;
  status = 0;
  headers: Record<string, string> = {};
  readonly head: Promise<void>;
  private resolveHead: () => void = () => undefined;
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private waitingForDrain = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor() {
    super();
    this.head = new Promise((resolve) => (this.resolveHead = resolve));
  }

  writeHead(status: number, headers?: OutgoingHttpHeaders | string[]): this {
    this.status = status;
    this.headers = headerRecordOf(headers);
    this.headersSent = true;
    this.resolveHead();
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.writableFinished) return false;
    this.chunks.push(chunk);
    this.queued += chunk.length;
    this.notify();
    if (this.queued < HIGH_WATER) return true;
    this.waitingForDrain = true;
    return false;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableFinished || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(200);
    if (chunk !== undefined && chunk.length > 0) this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    this.writableFinished = true;
    this.notify();
    this.emit('finish');
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** The forwarder breaks a stream that failed after its first byte: the reader gets an error. */
  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.failure = error ?? new Error("The provider's stream broke off before the answer was complete.");
    this.notify();
    this.emit('close');
    return this;
  }

  /** The reader went away: the forwarder aborts the upstream request on 'close'. */
  cancel(): void {
    if (this.destroyed || this.writableFinished) return;
    this.destroyed = true;
    this.chunks.length = 0;
    this.notify();
    this.emit('close');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk) {
          this.queued -= chunk.length;
          if (this.waitingForDrain && this.queued < HIGH_WATER / 2) {
            this.waitingForDrain = false;
            this.emit('drain');
          }
          yield chunk;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.writableFinished || this.destroyed) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // A reader that stops early (break, an error of its own) is a client going away.
      this.cancel();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** `writeHead`'s headers (a flat list or a record) as a lower-cased record. */
function headerRecordOf(headers: OutgoingHttpHeaders | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) out[headers[i].toLowerCase()] = headers[i + 1];
  } else if (headers) {
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  }
  return out;
}
