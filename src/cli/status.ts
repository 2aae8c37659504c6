import { request } from 'node:http';
import { renderStatus } from '../core/accounting/statusTable';
import type { StatusDoc } from '../core/accounting/statusTable';
import { CliError } from './cliError';
import { findToken } from './token';

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
  const token = findToken(opts.token, opts.dataDir);
  const where = `${opts.host}:${opts.port}`;
  let res: { status: number; type: string; bytes: Buffer };
  try {
    // The table comes ready-made from the server (a KeyRelay that predates ?format=text sends JSON).
    res = await get(opts.host, opts.port, `/keyrelay/status${opts.json ? '' : '?format=text'}`, token?.value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ECONNREFUSED'
        ? `Nothing listens on ${where}. Start it with "keyrelay serve" (or open VS Code), or pass the port it uses with --port.`
        : `Could not ask ${where}: ${code ?? (err as Error).message}.`,
    );
  }
  if (res.status === 401) {
    throw new CliError(
      `KeyRelay on ${where} refused the access token${token ? ` from ${token.where}` : ' (none was found)'}. Pass --token or set KEYRELAY_TOKEN to the proxy's token (in VS Code: "KeyRelay: Copy Access Token").`,
    );
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

function get(
  host: string,
  port: number,
  path: string,
  token: string | undefined,
): Promise<{ status: number; type: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5000 },
      (res) => {
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
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 5 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

function startsWith(bytes: Buffer, text: string): boolean {
  return bytes.subarray(0, text.length).toString('latin1') === text;
}
