import type { ServerResponse } from 'node:http';
import { responseHeaderList } from './headers';
import type { UpstreamHandler } from './upstream';
import { UsageScanner } from '../accounting/usage';

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

const enum Mode { Waiting, Pass, Peek, Collect, Done }

/**
 * Drives one upstream request for one key and decides, at the first byte, whether the answer
 * is committed to the client. Success bytes are written straight to `res` with backpressure;
 * nothing is parsed beyond the usage scan.
 */
export class Attempt implements UpstreamHandler {
  readonly usage = new UsageScanner();
  /** Milliseconds from dispatch to the response headers. */
  ttfbMs = 0;
  private mode = Mode.Waiting;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private status = 0;
  private headers: string[] = [];
  private held: Buffer[] = [];
  private heldBytes = 0;
  private resume: (() => void) | undefined;
  private settled = false;
  private readonly started: number;
  /** Called once with the attempt's result. */
  onDone: (r: AttemptResult) => void = () => undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly now: () => number,
  ) {
    this.started = now();
  }

  /** Aborts the upstream request (client gone, or a peeked stream failed). */
  abort(err: Error): void {
    if (this.abortUpstream) this.abortUpstream(err);
    else this.pendingAbort = err;
  }
  private pendingAbort: Error | undefined;

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.pendingAbort) abort(this.pendingAbort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 100-continue and friends are ours to swallow
    this.ttfbMs = this.now() - this.started;
    this.status = statusCode;
    this.resume = resume;
    const { list, contentType } = responseHeaderList(rawHeaders);
    this.headers = list;
    if (statusCode < 200 || statusCode >= 300) {
      this.mode = Mode.Collect;
      return true;
    }
    if (contentType.startsWith('text/event-stream')) {
      this.mode = Mode.Peek;
      return true;
    }
    return this.commit();
  }

  onData(chunk: Buffer): boolean {
    switch (this.mode) {
      case Mode.Pass:
        this.usage.feed(chunk);
        return this.res.write(chunk);
      case Mode.Peek:
        this.hold(chunk);
        return this.peek();
      case Mode.Collect:
        if (this.heldBytes < MAX_ERROR_BODY) this.hold(chunk);
        return true;
      default:
        return true;
    }
  }

  onComplete(): void {
    if (this.mode === Mode.Collect) {
      this.finish({ kind: 'rejected', status: this.status, headers: this.headers, body: this.joined() });
      return;
    }
    // A stream that ended before its first event was whole is committed as it is.
    if (this.mode === Mode.Peek) this.commit();
    if (this.mode === Mode.Pass) {
      this.mode = Mode.Done;
      this.res.end();
      this.finish({ kind: 'sent', status: this.status, complete: true });
    }
  }

  onError(err: Error): void {
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
  private commit(): boolean {
    this.mode = Mode.Pass;
    const res = this.res;
    if (res.destroyed) return true;
    res.writeHead(this.status, this.headers);
    // undici pauses the socket when we return false; the client's drain resumes it.
    if (this.resume) res.on('drain', this.resume);
    let ok = true;
    for (const chunk of this.held) {
      this.usage.feed(chunk);
      ok = res.write(chunk);
    }
    this.held = [];
    return ok;
  }

  /** Looks at the first complete SSE event; comment-only events (keep-alives) are skipped. */
  private peek(): boolean {
    const text = this.joined().toString('utf8');
    let from = 0;
    for (;;) {
      const end = eventEnd(text, from);
      if (end < 0) break;
      const event = text.slice(from, end);
      from = end;
      if (isCommentOnly(event)) continue;
      if (isErrorEvent(event)) {
        this.mode = Mode.Done;
        this.finish({ kind: 'stream-error', status: this.status, headers: this.headers, body: Buffer.from(event) });
        this.abort(new Error('first stream event was an error'));
        return true;
      }
      return this.commit();
    }
    return this.heldBytes >= MAX_PEEK ? this.commit() : true;
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

  private joined(): Buffer {
    if (this.held.length === 1) return this.held[0];
    const b = Buffer.concat(this.held, this.heldBytes);
    this.held = [b];
    return b;
  }

  private finish(r: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.onDone(r);
  }
}

/** Index just past the blank line that ends the SSE event starting at `from`, or -1. */
function eventEnd(text: string, from: number): number {
  const lf = text.indexOf('\n\n', from);
  const crlf = text.indexOf('\r\n\r\n', from);
  if (lf < 0) return crlf < 0 ? -1 : crlf + 4;
  if (crlf < 0 || lf < crlf) return lf + 2;
  return crlf + 4;
}

function isCommentOnly(event: string): boolean {
  for (const line of event.split(/\r?\n/)) {
    if (line !== '' && !line.startsWith(':')) return false;
  }
  return true;
}

/** Anthropic's `event: error`, or an OpenAI-style `data: {"error": …}` as the first event. */
function isErrorEvent(event: string): boolean {
  if (/^event:\s*error\s*$/m.test(event)) return true;
  return /^data:\s*\{\s*"(?:error"|type"\s*:\s*"error")/m.test(event);
}
