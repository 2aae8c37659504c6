import { request } from 'node:http';
import { renderStatus } from '../core/accounting/statusTable';
import type { StatusDoc } from '../core/accounting/statusTable';
import { proveLeader, UNTRUSTED } from '../core/windows/localHttp';
import { CliError } from './cliError';
import { findToken } from './token';
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

/**
 * `keyrelay status`: asks a running KeyRelay (headless or a VS Code window's) for its keys'
 * health and prints it, masked as the server masks it. Exit 0 when it answered, 1 when it did not.
 * `print` gets the whole output at once (one write: 100,000 lines one by one cost a syscall each).
 */
export async function status(opts: StatusOptions, print: (out: string | Uint8Array) => void): Promise<number> {
  const token = tokenOf(opts);
  const where = `${opts.host}:${opts.port}`;
  let res: { status: number; type: string; bytes: Buffer };
  try {
    // The token is never sent: the port's holder proves it knows it first (core/proof.ts), so a
    // program that merely listens on --port learns nothing.
    const { authorization } = await proveLeader(opts.port, token.value, { host: opts.host, timeoutMs: 5000 });
    // The table comes ready-made from the server.
    res = await get(opts.host, opts.port, `/keyrelay/status${opts.json ? '' : '?format=text'}`, authorization);
  } catch (err) {
    throw statusError(err as NodeJS.ErrnoException, where, token.where);
  }
  if (res.status === 401) {
    throw new CliError(`KeyRelay on ${where} refused the proof of the access token from ${token.where}.`);
  }
  const notStatus = () =>
    new CliError(`${where} answered HTTP ${res.status}, not KeyRelay's status: is another program on that port?`);
  const body = (): string => res.bytes.toString('utf8');
  if (!opts.json && res.status === 200 && res.type.startsWith('text/plain') && startsWith(res.bytes, 'KeyRelay ')) {
    print(body().trimEnd());
    return 0;
  }
  // The compact document passes through as it came: parsing and re-printing 100,000 keys' JSON
  // would be most of the command's time. The server's first member tells a status apart.
  if (opts.json && !opts.pretty) {
    if (res.status !== 200 || !startsWith(res.bytes, '{"keyrelay":true,') || res.bytes.at(-1) !== 0x7d)
      throw notStatus();
    print(res.bytes); // the bytes as they came: no decoding and encoding of 20 MB
    return 0;
  }
  let doc: StatusDoc;
  try {
    doc = JSON.parse(body()) as StatusDoc;
    if (res.status !== 200 || !Array.isArray(doc.keys)) throw new Error('not a status');
  } catch {
    throw notStatus();
  }
  print(opts.json ? JSON.stringify(doc, null, 2) : renderStatus(doc).join('\n'));
  return 0;
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
  return new CliError(`Could not ask ${where}: ${err.code ?? err.message}.`);
}

/** One request to a running KeyRelay with a proven authorization; `body` is sent as JSON. */
export function get(
  host: string,
  port: number,
  path: string,
  authorization: string,
  o: { method?: string; body?: string } = {},
): Promise<{ status: number; type: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host, port, path, method: o.method ?? 'GET', headers, timeout: 5000 }, (res) => {
      // Chunks joined and decoded once (a string per chunk, concatenated, is twice the work).
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'] ?? '',
          bytes: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 5 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(o.body);
  });
}

function startsWith(bytes: Buffer, text: string): boolean {
  return bytes.subarray(0, text.length).toString('latin1') === text;
}
