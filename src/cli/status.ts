import { request } from 'node:http';
import { formatRemaining } from '../core/accounting/status';
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

/** The parts of `/keyrelay/status` this command shows (src/core/status.ts builds it). */
interface StatusKey {
  providerId: string;
  label: string;
  masked: string;
  account?: string;
  state: string;
  coolingUntil?: number;
  modelCooldowns?: Record<string, number>;
  lastError?: string;
  requestsToday: number;
  stats?: { requests: number; successes: number };
}
interface StatusDoc {
  version: string;
  endpoint?: string;
  strategy: string;
  at: number;
  providers: Array<{ id: string; name: string; keys: number; usable: number }>;
  keys: StatusKey[];
}

/**
 * `keyrelay status`: asks a running KeyRelay (headless or a VS Code window's) for its keys'
 * health and prints it, masked as the server masks it. Exit 0 when it answered, 1 when it did not.
 * `print` gets the whole output at once (one write: 100,000 lines one by one cost a syscall each).
 */
export async function status(opts: StatusOptions, print: (line: string) => void): Promise<number> {
  const token = findToken(opts.token, opts.dataDir);
  const where = `${opts.host}:${opts.port}`;
  let res: { status: number; body: string };
  try {
    res = await get(opts.host, opts.port, '/keyrelay/status', token?.value);
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
  // The compact document passes through as it came: parsing and re-printing 100,000 keys' JSON
  // would be most of the command's time. The server's first member tells a status apart.
  if (opts.json && !opts.pretty) {
    if (res.status !== 200 || !res.body.startsWith('{"keyrelay":true,') || !res.body.trimEnd().endsWith('}'))
      throw notStatus();
    print(res.body.trimEnd());
    return 0;
  }
  let doc: StatusDoc;
  try {
    doc = JSON.parse(res.body) as StatusDoc;
    if (res.status !== 200 || !Array.isArray(doc.keys)) throw new Error('not a status');
  } catch {
    throw notStatus();
  }
  print(opts.json ? JSON.stringify(doc, null, 2) : render(doc).join('\n'));
  return 0;
}

function get(
  host: string,
  port: number,
  path: string,
  token: string | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5000 },
      (res) => {
        // Chunks joined and decoded once (a string per chunk, concatenated, is twice the work).
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 5 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/**
 * One line per key under its provider, columns aligned; states say how long a cooldown has left.
 * Linear in the keys: one pass groups them, one measures the columns, one writes the lines.
 */
function render(doc: StatusDoc): string[] {
  let usable = 0;
  let today = 0;
  const byProvider = new Map<string, string[][]>();
  for (const k of doc.keys) {
    if (k.state === 'active') usable++;
    today += k.requestsToday ?? 0;
    let rows = byProvider.get(k.providerId);
    if (!rows) byProvider.set(k.providerId, (rows = []));
    rows.push(columns(k, doc.at));
  }
  const lines = [
    `KeyRelay ${doc.version} at ${doc.endpoint ?? '?'} · ${doc.strategy} · ${usable}/${doc.keys.length} keys usable · ${today} requests today`,
  ];
  if (doc.keys.length === 0)
    lines.push(
      'No keys: requests are answered in fallback mode. Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.',
    );
  for (const p of doc.providers) {
    const rows = byProvider.get(p.id) ?? [];
    const width = [0, 0, 0, 0, 0];
    for (const r of rows) for (let i = 0; i < width.length; i++) if (r[i].length > width[i]) width[i] = r[i].length;
    lines.push('', `${p.name} · ${p.usable}/${p.keys} usable`);
    for (const r of rows) {
      let line = ''; // every column padded but the last (the last error)
      for (let i = 0; i < width.length; i++) line += `  ${r[i].padEnd(width[i])}`;
      lines.push(`${line}  ${r[width.length]}`.trimEnd());
    }
  }
  return lines;
}

/** A key's columns: label, masked key, state, today, success rate, last error. */
function columns(k: StatusKey, now: number): string[] {
  return [
    k.account ? `[${k.account}] ${k.label}` : k.label,
    k.masked,
    stateText(k, now),
    `${k.requestsToday ?? 0} today`,
    k.stats?.requests ? `${Math.round((100 * k.stats.successes) / k.stats.requests)}% ok` : '',
    k.lastError ? oneLine(k.lastError, 80) : '',
  ];
}

/** `cooling 37s`; an active key with per-model cooldowns says which: `active, gpt-4o cooling 30s`. */
function stateText(k: StatusKey, now: number): string {
  const left = (until: number): string => formatRemaining(until - now);
  if (k.state === 'cooling' && k.coolingUntil) return `cooling ${left(k.coolingUntil)}`;
  const models = Object.entries(k.modelCooldowns ?? {}).filter(([, until]) => until > now);
  if (k.state !== 'active' || models.length === 0) return k.state;
  const shown = models.slice(0, 2).map(([m, until]) => `${m} cooling ${left(until)}`);
  return `active, ${shown.join(', ')}${models.length > 2 ? ` (+${models.length - 2} models)` : ''}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
