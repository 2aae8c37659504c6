/**
 * One GET to a running KeyRelay on a plain socket, its answer read here: the body is handed on in
 * the slices the socket read, not copied. `keyrelay status` reads 20 MB at 100,000 keys, and
 * node:http's parser copies every body chunk into a new buffer: that, and the stream around it,
 * were more than half of the CLI's CPU (bench). Only for KeyRelay's own server, whose answers are
 * plain HTTP/1.1: a status line, headers, and a chunked body, a Content-Length one, or one that
 * ends with the connection.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

/** An answer at its headers; `body` is the decoded body, failing with ECONNRESET when cut off. */
export interface PlainResponse {
  statusCode: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Readable;
}

const MAX_HEAD = 64 * 1024;

/**
 * Sends `GET path` with `authorization`; resolves at the answer's headers. No answer in `timeoutMs`
 * (or a pause as long in its body while the reader waits for it) is ETIMEDOUT; the time the
 * reader itself takes (`| less`) is not.
 */
export function plainGet(
  host: string,
  port: number,
  path: string,
  authorization: string,
  timeoutMs: number,
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => socket.destroy(errorWithCode(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT')));
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    let body: BodyStream | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (body) return body.feed(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) socket.destroy(errorWithCode('an answer whose headers never end', 'EPROTO'));
        return;
      }
      const parsed = parseHead(head.toString('latin1', 0, end));
      if (!parsed) return socket.destroy(errorWithCode('an answer that is not HTTP/1.1', 'EPROTO'));
      body = new BodyStream(socket, framing(parsed.headers), timeoutMs);
      resolve({ ...parsed, body });
      if (end + 4 < head.length) body.feed(head.subarray(end + 4));
    });
    socket.on('end', () => body?.connectionEnded());
    socket.on('error', (err) => (body ? body.destroy(err) : reject(err)));
    socket.on('close', () => {
      if (!body) reject(errorWithCode('the connection closed before an answer', 'ECONNRESET'));
      else body.connectionClosed();
    });
  });
}

function errorWithCode(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

const brokenFraming = (): NodeJS.ErrnoException => errorWithCode('an answer whose chunk framing is broken', 'EPROTO');

function parseHead(text: string): { statusCode: number; headers: Record<string, string> } | undefined {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { statusCode: Number(m[1]), headers };
}

/** How the body ends: chunked, after `length` bytes, or with the connection (`length` -1). */
function framing(headers: Record<string, string>): { chunked: boolean; length: number } {
  if (/(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '')) return { chunked: true, length: -1 };
  const length = Number(headers['content-length'] ?? -1);
  return { chunked: false, length: Number.isSafeInteger(length) && length >= 0 ? length : -1 };
}

/** Where a chunked body's decoder is: in a size line, in a chunk's data, after it, in the trailers. */
type ChunkState = 'size' | 'data' | 'afterData' | 'trailers' | 'done';

/**
 * The body as a Readable: the socket's bytes decoded as they come, the socket paused while the
 * reader is behind. It ends after the last chunk (or `length` bytes, or the connection's end).
 */
class BodyStream extends Readable {
  private state: ChunkState;
  private remaining: number;
  private line = '';

  constructor(
    private readonly socket: Socket,
    private readonly frame: { chunked: boolean; length: number },
    private readonly timeoutMs: number,
  ) {
    super();
    this.state = frame.chunked ? 'size' : frame.length === 0 ? 'done' : 'data';
    this.remaining = frame.chunked ? 0 : frame.length;
    if (this.state === 'done') this.finish();
  }

  override _read(): void {
    this.socket.setTimeout(this.timeoutMs);
    this.socket.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }

  feed(bytes: Buffer): void {
    try {
      this.decode(bytes);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /** The connection's end: the end of a body without a length, otherwise too early. */
  connectionEnded(): void {
    if (!this.frame.chunked && this.frame.length < 0 && this.state !== 'done') this.finish();
  }

  connectionClosed(): void {
    if (this.state !== 'done' && !this.destroyed) this.destroy(errorWithCode('aborted', 'ECONNRESET'));
  }

  private decode(b: Buffer): void {
    let i = 0;
    while (i < b.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = this.remaining < 0 ? b.length - i : Math.min(this.remaining, b.length - i);
        const more = this.push(b.subarray(i, i + n));
        i += n;
        if (this.remaining > 0) this.remaining -= n;
        if (this.remaining === 0) this.endOfData();
        if (!more) this.waitForReader();
        continue;
      }
      const nl = b.indexOf(0x0a, i);
      this.line += b.toString('latin1', i, nl < 0 ? b.length : nl);
      if (this.line.length > 4096) throw brokenFraming();
      if (nl < 0) return;
      i = nl + 1;
      this.onLine(this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line);
      this.line = '';
    }
  }

  /** The reader is behind, not the server: no bytes are asked for, and none are waited for, until `_read`. */
  private waitForReader(): void {
    this.socket.pause();
    this.socket.setTimeout(0);
  }

  private endOfData(): void {
    if (this.frame.chunked) this.state = 'afterData';
    else this.finish();
  }

  private onLine(line: string): void {
    if (this.state === 'size') {
      const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
      if (!size) throw brokenFraming();
      this.remaining = parseInt(size[1], 16);
      this.state = this.remaining === 0 ? 'trailers' : 'data';
    } else if (this.state === 'afterData') {
      if (line !== '') throw brokenFraming();
      this.state = 'size';
    } else if (line === '') {
      this.finish(); // the blank line after the trailers
    }
  }

  /** The whole body is in: the connection has nothing more to say (Connection: close). */
  private finish(): void {
    this.state = 'done';
    this.push(null);
    this.socket.destroy();
  }
}
