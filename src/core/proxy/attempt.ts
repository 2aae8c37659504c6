import type { Dispatcher } from 'undici';
import { UsageScanner } from '../accounting/usage';
import { responseHeaderList } from './headers';
import type { BodyCapture } from './bodyCapture';
import type { ResponseHeaders } from './headers';
import type { ResponseSink } from './requestContext';

/** Error bodies are read whole to learn why a key failed; past this they are cut. */
const MAX_ERROR_BODY = 1024 * 1024;
/** Peek this far into an event stream for its first event before committing (DESIGN §5.3). */
const MAX_PEEK = 64 * 1024;

/** How one attempt with one key ended. */
export type AttemptResult =
  /** The response went to the client (completely, or broken after the first byte). */
  | { kind: 'sent'; status: number; complete: boolean; error?: Error }
  /** A non-2xx answer, held back so the forwarder can retry or pass it on. */
  | { kind: 'rejected'; status: number; headers: string[]; body: Buffer }
  /** A 200 event stream whose first event was an error: a failure before the first byte. */
  | { kind: 'stream-error'; status: number; headers: string[]; body: Buffer }
  /** No response: connect failure, timeout, reset, or the client went away. */
  | { kind: 'failed'; error: Error };

/** `onDone` until the caller sets it: one function for every attempt, not a closure each. */
const IGNORE = (): void => undefined;

const enum Mode {
  Waiting,
  Pass,
  Peek,
  Collect,
  Done,
}

/**
 * Drives one upstream request for one key through undici's handler API (the one undici 7 and 8
 * share) and decides, at the first byte, whether the answer is committed to the client. Success
 * bytes are written straight to `res` with backpressure; nothing is parsed beyond the usage scan.
 */
export class Attempt implements Dispatcher.DispatchHandler {
  readonly usage = new UsageScanner();
  /** Milliseconds from dispatch to the response headers. */
  ttfbMs = 0;
  /** The response's content type, once its headers came. */
  contentType = '';
  /** The bytes sent to the client, kept for the request log while it is on. */
  capture: BodyCapture | undefined;
  private mode = Mode.Waiting;
  private controller: Dispatcher.DispatchController | undefined;
  private pendingAbort: Error | undefined;
  private status = 0;
  private headers: string[] = [];
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Peek: where chunks after the first are gathered, with room to spare (see `gathered`). */
  private room: Buffer | undefined;
  /** `held[0]` is the start of `room`: later chunks are copied in after it. */
  private inRoom = false;
  /** Peek: held bytes before this are whole comment-only events; before `searched`, no event ended. */
  private peeked = 0;
  private searched = 0;
  private settled = false;
  /** The one 'drain' listener while upstream is paused for a full client socket (see pauseUntilDrain). */
  private onDrain: (() => void) | undefined;
  private readonly started: number;
  /** Called once with the attempt's result. */
  onDone: (r: AttemptResult) => void = IGNORE;

  constructor(
    private readonly res: ResponseSink,
    private readonly now: () => number,
  ) {
    this.started = now();
  }

  /** Aborts the upstream request (client gone, or a peeked stream failed). */
  abort(err: Error): void {
    if (this.settled) return;
    if (this.controller) this.controller.abort(err);
    else this.pendingAbort = err;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.pendingAbort) controller.abort(this.pendingAbort);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders): void {
    if (statusCode < 200) return; // 100-continue and friends are ours to swallow
    this.ttfbMs = this.now() - this.started;
    this.status = statusCode;
    const { list, contentType } = responseHeaderList(headers);
    this.headers = list;
    this.contentType = contentType;
    if (statusCode >= 300) this.mode = Mode.Collect;
    else if (contentType.startsWith('text/event-stream')) this.mode = Mode.Peek;
    else this.commit(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.mode) {
      case Mode.Pass:
        this.usage.feed(chunk);
        this.capture?.add(chunk);
        if (!this.res.write(chunk)) this.pauseUntilDrain(controller);
        return;
      case Mode.Peek:
        this.hold(chunk);
        this.peek(controller);
        return;
      case Mode.Collect:
        if (this.heldBytes < MAX_ERROR_BODY) this.hold(chunk);
        return;
      default:
    }
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (this.mode === Mode.Collect) {
      this.finish({ kind: 'rejected', status: this.status, headers: this.headers, body: this.joined() });
      return;
    }
    // A stream that ended before its first event was whole is committed as it is.
    if (this.mode === Mode.Peek) this.commit(controller);
    if (this.mode === Mode.Pass) {
      this.mode = Mode.Done;
      this.res.end();
      this.finish({ kind: 'sent', status: this.status, complete: true });
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.mode === Mode.Pass) {
      this.mode = Mode.Done;
      this.breakClientStream();
      this.finish({ kind: 'sent', status: this.status, complete: false, error: err });
      return;
    }
    if (this.mode === Mode.Done) return;
    this.mode = Mode.Done;
    this.finish({ kind: 'failed', error: err });
  }

  /** Sends status and headers to the client: from here on there is no retry. */
  private commit(controller: Dispatcher.DispatchController): void {
    this.mode = Mode.Pass;
    const res = this.res;
    if (res.destroyed) return;
    res.writeHead(this.status, this.headers);
    let ok = true;
    for (const chunk of this.held) {
      this.usage.feed(chunk);
      this.capture?.add(chunk);
      ok = res.write(chunk);
    }
    this.held = [];
    if (!ok) this.pauseUntilDrain(controller);
  }

  /**
   * The client's socket is full: undici stops reading upstream until the client's 'drain'. The
   * listener is added only then and removed when the attempt ends: a 'drain' listener left on
   * every response kept the whole upstream request (controller, handler, buffers) reachable from
   * the response, and GC promoted ~2.5 MB per scavenge at 4,000 req/s.
   */
  private pauseUntilDrain(controller: Dispatcher.DispatchController): void {
    controller.pause();
    if (this.onDrain) return;
    this.onDrain = () => {
      this.onDrain = undefined;
      controller.resume();
    };
    this.res.once('drain', this.onDrain);
  }

  /**
   * Looks at the first complete SSE event; comment-only events (keep-alives) are skipped. Only the
   * event's own bytes become a string: the rest of a burst that came in the same chunk is not
   * decoded, and bytes already searched for an event's end are not searched again.
   */
  private peek(controller: Dispatcher.DispatchController): void {
    const held = this.gathered();
    for (;;) {
      const from = this.peeked;
      const end = eventEnd(held, Math.max(from, this.searched - 3));
      if (end < 0) break;
      this.peeked = this.searched = end;
      const event = held.toString('utf8', from, end);
      if (isCommentOnly(event)) continue;
      if (isErrorEvent(event)) {
        this.mode = Mode.Done;
        this.finish({ kind: 'stream-error', status: this.status, headers: this.headers, body: Buffer.from(event) });
        controller.abort(new Error('first stream event was an error'));
        return;
      }
      this.commit(controller);
      return;
    }
    this.searched = held.length;
    if (this.heldBytes >= MAX_PEEK) this.commit(controller);
  }

  /**
   * Ends a broken stream so the client's SDK reports an error instead of a short answer:
   * no terminating chunk is sent, the socket is closed once what was written has flushed.
   */
  private breakClientStream(): void {
    const res = this.res;
    if (res.destroyed) return;
    const socket = res.socket;
    if (socket) socket.destroySoon();
    else res.destroy();
  }

  private hold(chunk: Buffer): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
  }

  /**
   * The held bytes as one buffer, for the peek. Chunks after the first are copied into a buffer
   * that doubles when full, so a first event in many small chunks costs O(its bytes) in all: a
   * concat of everything held, on every chunk, was quadratic up to MAX_PEEK.
   */
  private gathered(): Buffer {
    const held = this.held;
    if (held.length === 1) return held[0];
    let at = 0;
    let from = 0;
    if (this.inRoom && (this.room as Buffer).length >= this.heldBytes) {
      at = held[0].length;
      from = 1;
    } else this.room = Buffer.allocUnsafe(Math.max(2 * this.heldBytes, 4096));
    const room = this.room as Buffer;
    for (let i = from; i < held.length; i++) at += held[i].copy(room, at);
    const b = room.subarray(0, at);
    this.held = [b];
    this.inRoom = true;
    return b;
  }

  private joined(): Buffer {
    if (this.held.length === 1) return this.held[0];
    const b = Buffer.concat(this.held, this.heldBytes);
    this.held = [b];
    return b;
  }

  private finish(r: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    if (this.onDrain) this.res.off('drain', this.onDrain);
    this.onDrain = undefined;
    // The result has what it needs; the attempt may be kept after its request (lastForwarded).
    if (this.held.length > 0) this.held = [];
    this.room = undefined;
    this.onDone(r);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Index just past the first blank line (`\n\n` or `\r\n\r\n`) that starts at or after `from`, or
 * -1: the end of the SSE event being read. A JS loop: events are short, and the search stops there.
 */
function eventEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length - 1; i++) {
    if (buf[i] !== LF) continue;
    if (buf[i + 1] === LF) return i + 2;
    if (i > from && i + 2 < buf.length && buf[i - 1] === CR && buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** Every line empty or a comment (`:`): a keep-alive, not the first event. */
function isCommentOnly(event: string): boolean {
  for (let start = 0; start < event.length;) {
    let nl = event.indexOf('\n', start);
    if (nl < 0) nl = event.length;
    const empty = nl === start || (nl === start + 1 && event.charCodeAt(start) === CR);
    if (!empty && event.charCodeAt(start) !== 0x3a) return false;
    start = nl + 1;
  }
  return true;
}

/** Anthropic's `event: error`, or an OpenAI-style `data: {"error": …}` as the first event. */
function isErrorEvent(event: string): boolean {
  if (/^event:\s*error\s*$/m.test(event)) return true;
  return /^data:\s*\{\s*"(?:error"|type"\s*:\s*"error")/m.test(event);
}
