import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { renderStatus } from '../core/accounting/statusTable';
import type { StatusDoc } from '../core/accounting/statusTable';
import { proveLeader, UNTRUSTED } from '../core/windows/localHttp';
import { CliError } from './cliError';
import { findToken } from './token';
import { plainGet } from './plainGet';
import type { PlainResponse } from './plainGet';
import { watch } from './watch';
import type { WatchOptions } from './watch';

/** Options of `keyrelay status`, already parsed. */
export interface StatusOptions {
  host: string;
  port: number;
  dataDir: string;
  token?: string;
  json: boolean;
  /** --json indented for a person (a terminal); otherwise the document as the server sent it. */
  pretty?: boolean;
}

/** The compact status document starts with this (the server writes that member first). */
const STATUS_PREFIX = '{"keyrelay":true,';

/**
 * `keyrelay status`: asks a running KeyRelay (headless or a VS Code window's) for its keys'
 * health and prints it, masked as the server masks it. Exit 0 when it answered, 1 when it did not.
 * The table and the indented JSON are written at once (100,000 lines one by one cost a syscall
 * each); the compact JSON is passed on as it arrives.
 */
export async function status(opts: StatusOptions, out: NodeJS.WritableStream): Promise<number> {
  const token = tokenOf(opts);
  const where = `${opts.host}:${opts.port}`;
  let res: PlainResponse;
  try {
    // The token is never sent: the port's holder proves it knows it first (core/proof.ts), so a
    // program that merely listens on --port learns nothing.
    const { authorization } = await proveLeader(opts.port, token.value, { host: opts.host, timeoutMs: 5000 });
    // The table comes ready-made from the server.
    const path = `/keyrelay/status${opts.json ? '' : '?format=text'}`;
    res = await plainGet(opts.host, opts.port, path, authorization, 5000);
  } catch (err) {
    throw statusError(err as NodeJS.ErrnoException, where, token.where);
  }
  if (res.statusCode === 401) {
    res.body.destroy();
    throw new CliError(`KeyRelay on ${where} refused the proof of the access token from ${token.where}.`);
  }
  const notStatus = () =>
    new CliError(`${where} answered HTTP ${res.statusCode}, not KeyRelay's status: is another program on that port?`);
  // The compact document passes through as it comes: parsing and re-printing 100,000 keys' JSON
  // would be most of the command's time, and the server sends it while it is still writing it.
  if (opts.json && !opts.pretty) {
    if (res.statusCode !== 200) {
      res.body.destroy();
      throw notStatus();
    }
    await passOn(res.body, out, notStatus, where);
    return 0;
  }
  const bytes = await readAll(res.body).catch((err: NodeJS.ErrnoException) => {
    throw cutOff(err, where);
  });
  const body = (): string => bytes.toString('utf8');
  const type = res.headers['content-type'] ?? '';
  if (!opts.json && res.statusCode === 200 && type.startsWith('text/plain') && startsWith(bytes, 'KeyRelay ')) {
    out.write(`${body().trimEnd()}\n`);
    return 0;
  }
  let doc: StatusDoc;
  try {
    doc = JSON.parse(body()) as StatusDoc;
    if (res.statusCode !== 200 || !Array.isArray(doc.keys)) throw new Error('not a status');
  } catch {
    throw notStatus();
  }
  out.write(`${opts.json ? JSON.stringify(doc, null, 2) : renderStatus(doc).join('\n')}\n`);
  return 0;
}

/**
 * Copies the status body to `out` chunk by chunk, pausing while `out` is full, once its first bytes
 * show it is KeyRelay's document. A body that ends anywhere but after its closing brace was cut
 * off: what arrived is out, and the error says so. A reader that went away (`| head`, EPIPE)
 * ends the copy quietly, as `cat` would. The chunks are taken as 'data' events: read through the
 * async iterator, the stream joined the chunks it held into new buffers first (bench: 47 ms of
 * the CLI's 230 at 100,000 keys).
 */
function passOn(res: Readable, out: NodeJS.WritableStream, notStatus: () => CliError, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let last = 0;
    let whole = false;
    const resume = (): void => void res.resume();
    const data = (chunk: Buffer): void => {
      let c = chunk;
      if (head) {
        head = Buffer.concat([head, c]);
        if (head.length < STATUS_PREFIX.length) return;
        if (!startsWith(head, STATUS_PREFIX)) return done(notStatus());
        c = head;
        head = undefined;
      }
      last = c[c.length - 1];
      if (out.write(c)) return;
      res.pause();
      out.once('drain', resume);
    };
    const end = (): void => {
      whole = true;
      if (head) return done(notStatus());
      if (last !== 0x7d) return done(cutOff(undefined, where));
      out.write('\n');
      done();
    };
    const failed = (err: NodeJS.ErrnoException): void => done(cutOff(err, where));
    const closed = (): void => done(cutOff(undefined, where)); // closed before its end, without an error
    const readerGone = (): void => done();
    const done = (err?: CliError): void => {
      res.removeListener('data', data).removeListener('end', end).removeListener('error', failed);
      res.removeListener('close', closed);
      out.removeListener('error', readerGone);
      out.removeListener('drain', resume);
      if (err || !whole) res.destroy();
      if (err) reject(err);
      else resolve();
    };
    res.on('data', data).once('end', end).once('error', failed).once('close', closed);
    out.once('error', readerGone);
  });
}

function cutOff(err: NodeJS.ErrnoException | undefined, where: string): CliError {
  const why = err ? ` (${err.code ?? err.message})` : '';
  return new CliError(`The answer from ${where} was cut off${why}: is the proxy still running? Run the command again.`);
}

export function tokenOf(opts: StatusOptions): { value: string; where: string } {
  const token = findToken(opts.token, opts.dataDir);
  if (!token) {
    throw new CliError(
      `No access token found (no --token, KEYRELAY_TOKEN or ${opts.dataDir}/token). Pass the proxy's token with --token or KEYRELAY_TOKEN (in VS Code: "KeyRelay: Copy Access Token").`,
    );
  }
  return token;
}

/**
 * `keyrelay status --watch`: the table redrawn every second, with sparklines, until `io.stopped`
 * (Ctrl+C). Each frame proves the token afresh (watch.ts); exit 0 when stopped, 1 when asking failed.
 */
export async function statusWatch(
  opts: StatusOptions,
  io: Pick<WatchOptions, 'size' | 'write' | 'stopped' | 'tty' | 'intervalMs'>,
): Promise<number> {
  const token = tokenOf(opts);
  try {
    await watch({ ...io, host: opts.host, port: opts.port, token: token.value });
  } catch (err) {
    throw statusError(err as NodeJS.ErrnoException, `${opts.host}:${opts.port}`, token.where);
  }
  return 0;
}

/** Why asking failed, in one line that says what to do. */
export function statusError(err: NodeJS.ErrnoException, where: string, tokenWhere: string): CliError {
  if (err.code === 'ECONNREFUSED') {
    return new CliError(
      `Nothing listens on ${where}. Start it with "keyrelay serve" (or open VS Code), or pass the port it uses with --port.`,
    );
  }
  if (err.code === UNTRUSTED) {
    return new CliError(
      `${err.message} (token from ${tokenWhere}); nothing was sent to it. Pass the right port with --port, or the proxy's token with --token or KEYRELAY_TOKEN (in VS Code: "KeyRelay: Copy Access Token").`,
    );
  }
  return new CliError(
    `Could not ask ${where} (${err.code ?? err.message}): is KeyRelay running there? Check --port, then run the command again.`,
  );
}

/** One request to a running KeyRelay with a proven authorization; `body` is sent as JSON. */
export async function get(
  host: string,
  port: number,
  path: string,
  authorization: string,
  o: { method?: string; body?: string } = {},
): Promise<{ status: number; type: string; bytes: Buffer }> {
  const res = await open(host, port, path, authorization, o);
  return { status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', bytes: await readAll(res) };
}

/** The answer to one request, at its headers; its body is the caller's to read. */
function open(
  host: string,
  port: number,
  path: string,
  authorization: string,
  o: { method?: string; body?: string } = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host, port, path, method: o.method ?? 'GET', headers, timeout: 5000 }, resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 5 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A body's chunks joined once (a string per chunk, concatenated, is twice the work). */
async function readAll(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function startsWith(bytes: Buffer, text: string): boolean {
  return bytes.subarray(0, text.length).toString('latin1') === text;
}
