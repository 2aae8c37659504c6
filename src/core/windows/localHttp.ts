import * as http from 'node:http';
import * as net from 'node:net';
import { clientProof, leaderProof, newNonce, PROOF_SCHEME, proofsEqual } from '../proof';

/** How to ask: which host (default 127.0.0.1), method, headers, and how long to wait. */
export interface LocalRequest {
  host?: string;
  method?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** GET (or POST) a small JSON document on a local port; bounded, no keep-alive (no lingering sockets). */
export function getLocalJson(
  port: number,
  path: string,
  o: LocalRequest = {},
): Promise<{ status: number; body: unknown }> {
  const timeoutMs = o.timeoutMs ?? 1500;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: o.host ?? '127.0.0.1',
        port,
        path,
        method: o.method ?? 'GET',
        agent: false,
        timeout: timeoutMs,
        headers: o.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(
        Object.assign(new Error(`no answer from port ${port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }),
      ),
    );
    req.on('error', reject);
    req.end();
  });
}

/** Whether the holder of `port` answers `/keyrelay/health` as KeyRelay. */
export async function isKeyRelayAt(port: number, host?: string): Promise<boolean> {
  try {
    const { status, body } = await getLocalJson(port, '/keyrelay/health', { host });
    return (
      status === 200 && typeof body === 'object' && body !== null && (body as { keyrelay?: unknown }).keyrelay === true
    );
  } catch {
    return false;
  }
}

/** The port's holder is not KeyRelay, or a KeyRelay that does not know this token. */
export const UNTRUSTED = 'EKEYRELAY_UNTRUSTED';

/** A leader's answer, with the instance that proved it knows the token. */
export interface LeaderAnswer {
  status: number;
  body: unknown;
  instanceId: string;
}

/**
 * Asks the KeyRelay on `port` for `path` without ever sending the access token (core/proof.ts):
 * first it must prove it knows the token (an HMAC of a fresh nonce), then this request carries a
 * proof over the one-time nonce it issued. A program that merely answers on the port learns
 * nothing; one that cannot prove the token is refused with code UNTRUSTED.
 */
export async function askLeader(
  port: number,
  token: string,
  path: string,
  o: LocalRequest = {},
): Promise<LeaderAnswer> {
  const proof = await proveLeader(port, token, o);
  const r = await getLocalJson(port, path, { ...o, headers: { ...o.headers, authorization: proof.authorization } });
  return { ...r, instanceId: proof.instanceId };
}

/**
 * The challenge half of `askLeader`: the holder of `port` proves it knows the token, and the
 * answer is an Authorization header good for one request to it. Rejects with code UNTRUSTED.
 */
export async function proveLeader(
  port: number,
  token: string,
  o: Pick<LocalRequest, 'host' | 'timeoutMs'> = {},
): Promise<{ authorization: string; instanceId: string }> {
  const mine = newNonce();
  const c = await getLocalJson(port, `/keyrelay/challenge?nonce=${mine}`, { host: o.host, timeoutMs: o.timeoutMs });
  const answer = (c.body ?? {}) as { keyrelay?: unknown; proof?: unknown; nonce?: unknown; instanceId?: unknown };
  if (
    c.status !== 200 ||
    answer.keyrelay !== true ||
    typeof answer.proof !== 'string' ||
    typeof answer.nonce !== 'string'
  ) {
    throw Object.assign(
      new Error(`the program on port ${port} is not KeyRelay (its challenge answer was HTTP ${c.status})`),
      { code: UNTRUSTED },
    );
  }
  if (!proofsEqual(answer.proof, leaderProof(token, mine))) {
    throw Object.assign(new Error(`the KeyRelay on port ${port} does not know this access token`), { code: UNTRUSTED });
  }
  return {
    authorization: `${PROOF_SCHEME} ${answer.nonce}:${clientProof(token, answer.nonce)}`,
    instanceId: String(answer.instanceId ?? ''),
  };
}

/** A port nobody holds right now, on loopback. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
