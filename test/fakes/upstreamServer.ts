import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { openaiShape } from './upstreamOpenAI';
import { anthropicShape } from './upstreamAnthropic';
import { Emitter } from '../../src/core/events';
import type { Event } from '../../src/core/events';
import { until as untilEvent } from './waits';

/** Stream knobs that any behaviour may carry; they override the server defaults for that key. */
export interface StreamKnobs {
  chunks?: number;
  chunkDelayMs?: number;
}

/**
 * What the fake does for requests made with one key. "Chunk" below means one SSE event, written
 * with its own `write()` (for JSON replies: the first half of the body).
 */
export type Behaviour = StreamKnobs &
  (
    | { kind: 'ok' }
    | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
    | { kind: 'stream-error-first' }
    | { kind: 'cut-mid-stream'; afterChunks: number }
    | { kind: 'stall-headers' }
    | { kind: 'delay-headers'; ms: number }
    | { kind: 'stall-mid-stream'; afterChunks: number }
    | { kind: 'redirect'; location: string }
    /** `events` SSE events of about `eventBytes` each (`data: {"i":n,"pad":"…"}`), for backpressure tests. */
    | { kind: 'bulk'; events: number; eventBytes: number }
  );

/** Start options. `keys` omitted: any non-empty key is accepted (plus those given behaviours). */
export interface FakeUpstreamOptions extends StreamKnobs {
  keys?: readonly string[];
  echoKey?: boolean;
  openaiModels?: readonly string[];
  anthropicModels?: readonly string[];
}

/** One request as the fake saw it. `aborted`: the client went away before the response ended. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  key: string;
  shape: 'openai' | 'anthropic';
  model?: string;
  aborted: boolean;
  at: number;
  /** When the fake saw the client go away (Date.now()), for aborted requests. */
  abortedAt?: number;
  /** Response body bytes handed to the socket so far. */
  bytesOut: number;
  /** Times a write filled the socket's buffer and the fake waited for 'drain' (the reader's backpressure). */
  drainWaits: number;
  /** Waiting for 'drain' right now: the reader is not taking more. */
  blocked: boolean;
  /** The whole response was written. */
  ended: boolean;
}

/** Everything a shape module needs to build one reply; computed once per request. */
export interface FakeCall {
  method: string;
  path: string;
  body: Record<string, any>;
  model: string;
  key: string;
  stream: boolean;
  deltas: string[];
  inputTokens: number;
  models: { openai: readonly string[]; anthropic: readonly string[] };
}

/** A shape's answer: JSON, or preformatted SSE events (`event: x\ndata: …\n\n`). */
export type ShapeReply =
  | { type: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | { type: 'sse'; events: string[] };

/** What differs between OpenAI and Anthropic: auth, routes, error shape, headers. */
export interface ShapeHandler {
  keyOf(req: IncomingMessage): string;
  precheck(req: IncomingMessage, key: string): ShapeReply | undefined;
  handle(call: FakeCall): ShapeReply | undefined;
  error(status: number, key: string, message?: string): { headers: Record<string, string>; body: string };
  streamError(path: string): string;
  headers(requestId: string): Record<string, string>;
}

const WORDS = ['Hello', 'from', 'the', 'fake', 'upstream', 'model', 'streaming', 'tokens'];

/** A fake OpenAI + Anthropic server on 127.0.0.1 with per-key failure injection and recording. */
export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Defaults for every request; tests may change them between requests. */
  chunks: number;
  chunkDelayMs: number;
  echoKey: boolean;
  connectionsOpened = 0;
  private readonly sockets = new Set<Socket>();
  private readonly behaviours = new Map<string, Behaviour>();
  private rule: ((r: RecordedRequest) => Behaviour | undefined) | undefined;
  private readonly keys: Set<string> | undefined;
  private readonly live = new Set<AbortController>();
  private closing = false;
  private closed: Promise<void> | undefined;
  private readonly models: FakeCall['models'];
  private readonly changed = new Emitter<void>();
  /** Fires when a request is recorded, blocks, unblocks, ends or aborts, and when a socket closes. */
  readonly onDidChange: Event<void> = this.changed.event;

  private constructor(
    private readonly server: Server,
    opts: FakeUpstreamOptions,
  ) {
    [this.chunks, this.chunkDelayMs, this.echoKey] = [opts.chunks ?? 5, opts.chunkDelayMs ?? 0, opts.echoKey ?? false];
    this.keys = opts.keys ? new Set(opts.keys) : undefined;
    this.models = {
      openai: opts.openaiModels ?? ['gpt-4o', 'gpt-4o-mini', 'gpt-5'],
      anthropic: opts.anthropicModels ?? ['claude-opus-4-6', 'claude-sonnet-4-6', 'claude-haiku-4-5'],
    };
  }

  /** Listens on 127.0.0.1 with an ephemeral port. */
  static async start(opts: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
    const server = createServer((req, res) => fake.onRequest(req, res));
    const fake = new FakeUpstream(server, opts);
    server.on('connection', (s: Socket) => {
      fake.connectionsOpened++;
      fake.sockets.add(s);
      s.on('close', () => {
        fake.sockets.delete(s);
        fake.changed.fire();
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get openaiBase(): string {
    return `${this.url}/v1`;
  }
  get anthropicBase(): string {
    return `${this.url}/v1`;
  }
  /** Sockets open right now (keep-alive ones included). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Sets how requests with `key` are answered; the key becomes a known (accepted) key. */
  setKeyBehaviour(key: string, b: Behaviour): void {
    this.keys?.add(key);
    this.behaviours.set(key, b);
  }
  /**
   * A behaviour decided per request (ahead of the per-key one), e.g. "429 to the first attempt of
   * every client request"; `undefined` from the rule falls back to the key's behaviour.
   */
  setRequestRule(rule: ((r: RecordedRequest) => Behaviour | undefined) | undefined): void {
    this.rule = rule;
  }
  /** Adds accepted keys when the server was started with an explicit `keys` list. */
  addKeys(...keys: string[]): void {
    for (const k of keys) this.keys?.add(k);
  }

  /** Requests seen per credential (missing credential counts under ''). */
  countsByKey(): Record<string, number> {
    return this.requests.reduce<Record<string, number>>((o, r) => ((o[r.key] = (o[r.key] ?? 0) + 1), o), {});
  }

  /** Forgets recorded requests and behaviours (keys stay accepted); restarts the connection count. */
  reset(): void {
    this.requests.length = 0;
    this.behaviours.clear();
    this.rule = undefined;
    this.connectionsOpened = this.sockets.size;
  }

  /** Resolves once `cond()` holds, checked now and at every change the fake sees; rejects after `timeoutMs`. */
  waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
    return untilEvent(this.onDidChange, cond, `FakeUpstream: ${what}`, timeoutMs);
  }

  /** Resolves with the first recorded request whose client went away before its response ended. */
  async waitForAbort(timeoutMs = 2000): Promise<RecordedRequest> {
    await this.waitFor(() => this.requests.some((r) => r.aborted), 'an aborted request', timeoutMs);
    return this.requests.find((r) => r.aborted)!;
  }

  /** Resolves once at least `n` requests were recorded. */
  async waitForRequests(n: number, timeoutMs = 2000): Promise<RecordedRequest[]> {
    await this.waitFor(() => this.requests.length >= n, `${n} requests`, timeoutMs);
    return this.requests;
  }

  /** Resolves with the `n`-th request recorded (1-based), once it has arrived. */
  async waitForRequest(n: number, timeoutMs = 2000): Promise<RecordedRequest> {
    return (await this.waitForRequests(n, timeoutMs))[n - 1];
  }

  /** Resolves once no socket is open (the client closed or was told to close its connections). */
  async waitForIdle(timeoutMs = 2000): Promise<void> {
    await this.waitFor(() => this.sockets.size === 0, 'all connections closed', timeoutMs);
  }

  /** Stops listening and destroys every socket, stalled ones included. */
  close(): Promise<void> {
    if (this.closed) return this.closed; // idempotent: teardown may call it after a test did
    this.closing = true;
    for (const c of this.live) c.abort();
    this.closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    return this.closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // Only work per request: collect the body and JSON.parse it once.
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => this.respond(req, res, Buffer.concat(parts).toString('utf8')));
  }

  private respond(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const isAnthropic =
      path.startsWith('/v1/messages') || (path === '/v1/models' && req.headers['anthropic-version'] !== undefined);
    const shape = isAnthropic ? anthropicShape : openaiShape;
    const key = shape.keyOf(req);
    let body: Record<string, any> = {},
      badJson = false;
    try {
      if (raw) body = JSON.parse(raw);
    } catch {
      badJson = true;
    }
    const rec: RecordedRequest = {
      method,
      path,
      headers: req.headers,
      body: raw,
      key,
      shape: isAnthropic ? 'anthropic' : 'openai',
      model: typeof body?.model === 'string' ? body.model : undefined,
      aborted: false,
      at: Date.now(),
      bytesOut: 0,
      drainWaits: 0,
      blocked: false,
      ended: false,
    };
    this.requests.push(rec);
    this.changed.fire();
    const ctl = new AbortController();
    this.live.add(ctl);
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    const ctx: Ctx = {
      req,
      res,
      shape,
      key,
      path,
      method,
      raw,
      body,
      badJson,
      rec,
      isAnthropic,
      signal: ctl.signal,
      cut: false,
      requestId,
    };
    res.on('close', () => {
      this.live.delete(ctl);
      ctl.abort();
      // Only a close we did not cause ourselves counts as the client going away.
      if (!res.writableFinished && !ctx.cut && !this.closing) {
        rec.aborted = true;
        rec.abortedAt = Date.now();
      }
      this.changed.fire();
    });
    res.on('finish', () => {
      rec.ended = true;
      this.changed.fire();
    });
    const pre = shape.precheck(req, key);
    if (pre) return this.sendReply(ctx, pre, { kind: 'ok' });
    if (!this.isKnown(key)) return this.sendError(ctx, 401);
    const b = this.rule?.(rec) ?? this.behaviours.get(key) ?? { kind: 'ok' };
    switch (b.kind) {
      case 'status':
        return this.sendError(ctx, b.status, undefined, b.headers, b.body);
      case 'redirect':
        return this.send(ctx, 302, { location: b.location }, '');
      case 'stall-headers':
        return; // the socket stays open until the client or close() ends it
      case 'bulk':
        return this.sendReply(ctx, { type: 'sse', events: bulkEvents(b.events, b.eventBytes) }, b);
      case 'delay-headers': {
        const t = setTimeout(() => this.answer(ctx, b), b.ms);
        ctl.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
        return;
      }
      default:
        return this.answer(ctx, b);
    }
  }

  private answer(ctx: Ctx, b: Behaviour): void {
    if (ctx.badJson) return this.sendError(ctx, 400, 'We could not parse the JSON body of your request.');
    const chunks = num(ctx.req.headers['x-fake-chunks']) ?? b.chunks ?? this.chunks;
    const call: FakeCall = {
      method: ctx.method,
      path: ctx.path,
      body: ctx.body ?? {},
      key: ctx.key,
      model: ctx.rec.model ?? 'unknown-model',
      stream: ctx.body?.stream === true,
      deltas: this.deltas(ctx.key, chunks),
      inputTokens: Math.max(1, Math.ceil(ctx.raw.length / 4)),
      models: this.models,
    };
    if (b.kind === 'stream-error-first') {
      // A 200 whose first event is an error; a non-streaming call gets the equivalent status instead.
      if (!call.stream) return this.sendError(ctx, ctx.isAnthropic ? 529 : 503);
      return this.sendReply(ctx, { type: 'sse', events: [ctx.shape.streamError(ctx.path)] }, b);
    }
    const reply = ctx.shape.handle(call);
    if (!reply) return this.sendError(ctx, 404, `Unknown request URL: ${ctx.method} ${ctx.path}`);
    this.sendReply(ctx, reply, b);
  }

  private isKnown(key: string): boolean {
    return key !== '' && (this.keys ? this.keys.has(key) : true);
  }

  /** Text pieces of the answer, one per chunk; with echoKey the first piece names the key. */
  private deltas(key: string, n: number): string[] {
    const out: string[] = this.echoKey ? [`key=${key} `] : [];
    for (let i = 0; i < Math.max(1, n); i++) out.push((i === 0 ? '' : ' ') + WORDS[i % WORDS.length]);
    return out;
  }

  private sendError(ctx: Ctx, status: number, message?: string, extra?: Record<string, string>, text?: string): void {
    const e = ctx.shape.error(status, ctx.key, message);
    this.send(ctx, status, { ...e.headers, ...extra }, text ?? e.body);
  }

  private send(ctx: Ctx, status: number, headers: Record<string, string>, body: string): void {
    ctx.res.writeHead(status, {
      ...ctx.shape.headers(ctx.requestId),
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    ctx.rec.bytesOut += Buffer.byteLength(body);
    ctx.res.end(body);
  }

  private sendReply(ctx: Ctx, reply: ShapeReply, b: Behaviour): void {
    const limit = b.kind === 'cut-mid-stream' || b.kind === 'stall-mid-stream' ? b.afterChunks : Infinity;
    const cut = b.kind === 'cut-mid-stream';
    const { res } = ctx;
    if (reply.type === 'json') {
      const text = JSON.stringify(reply.body);
      const headers = { 'content-type': 'application/json', ...reply.headers };
      if (limit === Infinity) return this.send(ctx, reply.status ?? 200, headers, text);
      // Promise the full length, deliver at most half: the client sees a truncated body.
      res.writeHead(reply.status ?? 200, {
        ...ctx.shape.headers(ctx.requestId),
        ...headers,
        'content-length': String(Buffer.byteLength(text)),
      });
      const half = text.slice(0, text.length >> 1);
      if (limit > 0) ctx.rec.bytesOut += Buffer.byteLength(half);
      if (limit > 0) res.write(half);
      else res.flushHeaders();
      return cut ? this.cut(ctx) : undefined;
    }
    const delay = num(ctx.req.headers['x-fake-chunk-delay-ms']) ?? b.chunkDelayMs ?? this.chunkDelayMs;
    res.writeHead(200, {
      ...ctx.shape.headers(ctx.requestId),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    res.flushHeaders();
    void this.pump(ctx, reply.events, delay, limit, cut);
  }

  /** Writes events one by one with backpressure; stops early for cut/stall behaviours. */
  private async pump(ctx: Ctx, events: string[], delay: number, limit: number, cut: boolean): Promise<void> {
    const { res, signal } = ctx;
    const n = Math.min(limit, events.length);
    for (let i = 0; i < n; i++) {
      if (i > 0 && delay > 0)
        await until(signal, (d) => {
          const t = setTimeout(d, delay);
          return () => clearTimeout(t);
        });
      if (signal.aborted || res.destroyed) return;
      ctx.rec.bytesOut += Buffer.byteLength(events[i]);
      if (!res.write(events[i])) await this.drained(ctx);
    }
    if (signal.aborted || res.destroyed) return;
    if (limit === Infinity || limit > events.length) return void res.end();
    if (cut) this.cut(ctx); // a stall just leaves the socket open
  }

  /** Waits for the reader to take what is buffered, recording that it had to (backpressure seen). */
  private async drained(ctx: Ctx): Promise<void> {
    ctx.rec.drainWaits++;
    ctx.rec.blocked = true;
    this.changed.fire();
    await until(ctx.signal, (d) => {
      ctx.res.on('drain', d);
      return () => ctx.res.off('drain', d);
    });
    ctx.rec.blocked = false;
    this.changed.fire();
  }

  /** Ends the TCP connection mid-body: written bytes are flushed first, then FIN (no final chunk). */
  private cut(ctx: Ctx): void {
    ctx.cut = true;
    ctx.res.socket?.destroySoon();
  }
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  shape: ShapeHandler;
  key: string;
  path: string;
  method: string;
  raw: string;
  body: Record<string, any>;
  badJson: boolean;
  rec: RecordedRequest;
  isAnthropic: boolean;
  signal: AbortSignal;
  requestId: string;
  cut: boolean;
}

/** `n` numbered SSE events of about `bytes` each, so a reader can check order and completeness. */
export function bulkEvents(n: number, bytes: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const head = `data: {"i":${i},"pad":"`;
    return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 5))}"}\n\n`;
  });
}

function num(v: string | string[] | undefined): number | undefined {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Resolves when `arm`'s trigger fires or the request ends, whichever comes first; `arm` returns its disarm. */
function until(signal: AbortSignal, arm: (done: () => void) => () => void): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      disarm();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const disarm = arm(done);
    signal.addEventListener('abort', done, { once: true });
  });
}
