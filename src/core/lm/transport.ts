import type { Dispatcher } from 'undici';
import { forwardInProcess, InProcessAbortError } from '../proxy/inProcess';
import type { InProcessResponse } from '../proxy/inProcess';
import type { ForwardDeps } from '../proxy/requestContext';
import { undici } from '../proxy/undiciLoader';
import type { ApiShape, ProviderSpec } from '../types';

/** One request of the editor's chat models, before it is sent one way or another. */
export interface LmUpstreamRequest {
  shape: ApiShape;
  method: 'GET' | 'POST';
  /** Below the API version: `/chat/completions`, `/messages`, `/models`. */
  path: string;
  query?: string;
  providerId: string;
  /** The JSON body with the provider's own model id (no `provider/` prefix). */
  body?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** How a request reaches the pool: in this process, or through the window that serves the proxy. */
export type LmTransport = (r: LmUpstreamRequest) => Promise<InProcessResponse>;

const HEADERS = { 'content-type': 'application/json', 'user-agent': 'KeyRelay-vscode-lm' };

/** Through this window's pool, with no HTTP hop (proxy/inProcess.ts). */
export function inProcessTransport(deps: ForwardDeps): LmTransport {
  return (r) =>
    forwardInProcess(deps, {
      shape: r.shape,
      method: r.method,
      path: r.path,
      query: r.query,
      providerId: r.providerId,
      headers: HEADERS,
      body: r.body ? Buffer.from(JSON.stringify(r.body)) : undefined,
      signal: r.signal,
    });
}

/** Where the proxy of another window listens, and the token it takes. */
export interface LeaderTarget {
  endpoint: string;
  token: string;
}

/**
 * Through the proxy of the window that leads (DESIGN §7), so its pool (the one whose cooldowns,
 * statistics and log every window shows) serves the request. The model goes as
 * `providerId/model`, which the leader's router sends to that provider. Closing the connection
 * (the signal) makes the leader abort the upstream request at once.
 */
export function leaderTransport(target: () => LeaderTarget | undefined, dispatcher: () => Dispatcher): LmTransport {
  return async (r) => {
    const t = target();
    if (!t) throw new Error('no window serves the proxy');
    const body = r.body ? JSON.stringify({ ...r.body, model: `${r.providerId}/${String(r.body.model)}` }) : undefined;
    let res: Dispatcher.ResponseData;
    try {
      res = await undici().request(`${t.endpoint}/v1${r.path}${r.query ?? ''}`, {
        method: r.method,
        dispatcher: dispatcher(),
        headers: {
          ...HEADERS,
          authorization: `Bearer ${t.token}`,
          ...(r.shape === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}),
        },
        body,
        signal: r.signal,
      });
    } catch (err) {
      if (r.signal?.aborted) throw new InProcessAbortError();
      throw err;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
    const ended = new Promise<void>((resolve) => res.body.once('close', () => resolve()));
    return { status: res.statusCode, headers, body: res.body, done: ended };
  };
}

/** Error codes that mean the leader was not there to ask (it is closing; this window takes over soon). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** The first transport, or the second when the first cannot reach its server before any answer. */
export function withFallback(first: LmTransport, second: LmTransport): LmTransport {
  return async (r) => {
    try {
      return await first(r);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!(err instanceof InProcessAbortError) && (UNREACHABLE.has(code) || /no window serves/.test(String(err)))) {
        return second(r);
      }
      throw err;
    }
  };
}

/** Ids in a `/models` answer of either shape (`data[].id`); Gemini's `models/` prefix is dropped. */
export async function fetchModelIds(transport: LmTransport, provider: ProviderSpec): Promise<string[]> {
  const res = await transport({
    shape: provider.shape,
    method: 'GET',
    path: '/models',
    // Anthropic pages its list, 20 by default.
    query: provider.shape === 'anthropic' ? '?limit=1000' : undefined,
    providerId: provider.id,
  });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: Array<{ id?: unknown }> };
  if (!Array.isArray(json.data)) throw new Error('the answer has no data list');
  return json.data
    .map((m) => (typeof m.id === 'string' ? m.id.replace(/^models\//, '') : ''))
    .filter((id) => id.length > 0);
}
