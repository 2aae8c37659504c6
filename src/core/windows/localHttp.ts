import * as http from 'node:http';
import * as net from 'node:net';

/** GET (or POST) a small JSON document on a local port; bounded, no keep-alive (no lingering sockets). */
export function getLocalJson(
  port: number,
  path: string,
  token?: string,
  timeoutMs = 1500,
  method = 'GET',
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        timeout: timeoutMs,
        headers: token ? { authorization: `Bearer ${token}` } : {},
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
    req.on('timeout', () => req.destroy(new Error(`no answer from port ${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Whether the holder of `port` answers `/keyrelay/health` as KeyRelay. */
export async function isKeyRelayAt(port: number): Promise<boolean> {
  try {
    const { status, body } = await getLocalJson(port, '/keyrelay/health');
    return (
      status === 200 && typeof body === 'object' && body !== null && (body as { keyrelay?: unknown }).keyrelay === true
    );
  } catch {
    return false;
  }
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
