import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';

/** The built headless CLI, run as a user runs it. */
export const CLI = resolve(__dirname, '../../../dist/cli.js');

/** One `keyrelay` process: its output so far and its exit. */
export interface CliRun {
  child: ChildProcess;
  out: string;
  exited: Promise<number>;
}

/** Starts the CLI with a clean environment (no stray *_API_KEY from the machine). */
export function startCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: CliRun = {
    child,
    out: '',
    exited: new Promise((r) => child.on('exit', (code, sig) => r(code ?? (sig ? 128 : 1)))),
  };
  child.stdout!.on('data', (d) => (run.out += d));
  child.stderr!.on('data', (d) => (run.out += d));
  return run;
}

/** Resolves with the port once the CLI prints its endpoint; rejects when it exits or after `ms`. */
export function portOf(run: CliRun, ms = 10_000): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => finish(new Error(`no endpoint within ${ms} ms:\n${run.out}`)), ms);
    const check = (): void => {
      const m = /KeyRelay listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(run.out);
      if (m) finish(undefined, Number(m[1]));
    };
    const onExit = (): void => finish(new Error(`the CLI exited:\n${run.out}`));
    function finish(err?: Error, port?: number): void {
      clearTimeout(timer);
      run.child.stdout!.off('data', check);
      run.child.off('exit', onExit);
      if (err) reject(err);
      else resolvePort(port!);
    }
    run.child.stdout!.on('data', check);
    run.child.on('exit', onExit);
    check();
  });
}

/** A raw HTTP/1.1 response as it came off the socket. */
export interface RawReply {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
  json?: any;
  /** The proxy ended the connection (not us). */
  closed: boolean;
  raw: string;
}

/** A whole response is in `out`: its body at content-length, or the last chunk of a chunked one. */
function complete(out: string): boolean {
  const end = out.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = out.slice(0, end);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) return out.endsWith('\r\n0\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  return !!length && Buffer.byteLength(out) >= end + 4 + Number(length[1]);
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 4 + size);
  }
}

export function parseReply(raw: string, closed: boolean): RawReply {
  const end = raw.indexOf('\r\n\r\n');
  const head = end < 0 ? raw : raw.slice(0, end);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = end < 0 ? '' : raw.slice(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  return { status, head, headers, body, json, closed, raw };
}

/** How a probe talks to the socket. */
export interface RawOptions {
  /** Written after connecting, in order, `gapMs` apart. */
  parts: Array<string | Buffer>;
  gapMs?: number;
  /** Wait for the proxy to close the connection (not only for a whole answer). */
  untilClosed?: boolean;
  /** Bound on the whole exchange. */
  boundMs?: number;
}

/**
 * Sends raw bytes (what a client library would normalise or refuse to send) and reads the raw
 * answer. Never half-closes: a hostile client keeps its side open, so "closed" means the proxy
 * closed it. Resolves once the answer is whole (and, with `untilClosed`, the connection closed);
 * resolves with what came when `boundMs` passes (closed: false), which the row then fails on.
 */
export function rawProbe(port: number, o: RawOptions): Promise<RawReply> {
  return new Promise((done) => {
    const s: Socket = connect(port, '127.0.0.1');
    let out = '';
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      s.destroy();
      done(parseReply(out, closed));
    };
    timers.push(setTimeout(() => finish(false), o.boundMs ?? 4000));
    s.on('connect', () => {
      o.parts.forEach((p, i) => {
        const write = (): void => {
          if (!s.destroyed && s.writable) s.write(p);
        };
        if (i === 0 || !o.gapMs) write();
        else timers.push(setTimeout(write, i * o.gapMs));
      });
    });
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (!o.untilClosed && complete(out)) finish(false);
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
  });
}
