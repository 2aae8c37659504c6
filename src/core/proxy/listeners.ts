import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ProxyError, renderError } from '../errors';
import type { Logger } from '../types';

/** How the HTTP servers treat their clients. */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port (the same one on both loopbacks). */
  port: number;
  /** Listen on 127.0.0.1 only, leaving [::1] to whoever takes it. */
  ipv4Only: boolean;
  /** A client must send its request line and headers within this (slowloris). */
  headersTimeoutMs: number;
}

/** Error code when another program holds `[::1]:<port>` (see `Listeners.listen`). */
export const IPV6_SQUATTED = 'EKEYRELAY_IPV6_TAKEN';

/** Tries on a random port when [::1] of the port 127.0.0.1 gave us is taken. */
const RANDOM_PORT_TRIES = 5;

/**
 * The proxy's HTTP servers. With the default 127.0.0.1, KeyRelay also holds `[::1]` on the same
 * port: clients configured with `localhost` may resolve it to the IPv6 loopback first, and a
 * program listening there would collect their access token (DESIGN §1). When that address is
 * already taken by someone else, `listen` refuses with code IPV6_SQUATTED instead of starting.
 */
export class Listeners {
  private servers: Server[] = [];

  constructor(
    private readonly handler: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly logger: Logger,
  ) {}

  get listening(): boolean {
    return this.servers.length > 0;
  }

  /** Binds and resolves with the port; rejects with `code` EADDRINUSE or IPV6_SQUATTED. */
  async listen(o: ListenOptions): Promise<number> {
    const dualStack = !o.ipv4Only && (o.host === '127.0.0.1' || o.host === 'localhost');
    for (let attempt = 0; ; attempt++) {
      const primary = await this.bind(o, dualStack ? '127.0.0.1' : o.host, o.port);
      const port = (primary.address() as AddressInfo).port;
      if (!dualStack) return this.keep([primary], port);
      try {
        return this.keep([primary, await this.bind(o, '::1', port)], port);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
          this.logger.debug('No IPv6 loopback on this machine: listening on 127.0.0.1 only.');
          return this.keep([primary], port);
        }
        primary.close();
        if (code !== 'EADDRINUSE') throw err;
        // A random port that happens to be taken on [::1]: try another one.
        if (o.port === 0 && attempt < RANDOM_PORT_TRIES) continue;
        throw Object.assign(
          new Error(
            `[::1]:${port} (the IPv6 loopback of this port) is held by another program, which would receive the requests and the access token of every client configured with "localhost". Stop that program, pick another port, or set ipv4Only to listen on 127.0.0.1 alone.`,
          ),
          { code: IPV6_SQUATTED },
        );
      }
    }
  }

  /**
   * Stops accepting connections and closes idle ones; in-flight requests get `graceMs` when
   * `busy()` says there are some, then every connection is cut.
   */
  async close(graceMs: number, busy: () => boolean, drained?: Promise<void>): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of servers) s.closeIdleConnections();
    // `drained`: the last request finished; a client's idle keep-alive socket must not hold the
    // stop until the grace runs out.
    if (busy())
      await Promise.race([
        closed,
        ...(drained ? [drained] : []),
        new Promise<void>((r) => setTimeout(r, graceMs).unref()),
      ]);
    for (const s of servers) s.closeAllConnections();
    await closed;
  }

  /** Frees the ports now (dispose). */
  closeNow(): void {
    for (const s of this.servers) {
      s.close();
      s.closeAllConnections();
    }
    this.servers = [];
  }

  private keep(servers: Server[], port: number): number {
    this.servers = servers;
    for (const s of servers) s.on('error', (err) => this.logger.error(err));
    return port;
  }

  private bind(o: ListenOptions, host: string, port: number): Promise<Server> {
    const server = createServer(
      {
        keepAliveTimeout: 65_000,
        // A request without Host is refused by the access check, in JSON that says why (not Node's bare 400).
        requireHostHeader: false,
        // A response may stream for as long as the model writes: only the request is timed.
        requestTimeout: 0,
        headersTimeout: o.headersTimeoutMs,
        // Node checks both timeouts on this tick (its default, 30 s, let slowloris sockets live on).
        connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs),
      },
      this.handler,
    );
    server.on('clientError', answerClientError);
    return new Promise<Server>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }
}

/**
 * A request Node's HTTP parser refused before KeyRelay saw it (a smuggling attempt, a broken
 * header, headers too large, no Host, headers that never finished): the status Node would send,
 * with a JSON body that says why (OpenAI's shape: nothing parsed tells which API the caller
 * speaks), and the connection closed, never reused after a framing error.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (err.code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new ProxyError(
          'headers_too_large',
          431,
          'The request headers are too large (over 16 KB). Send a shorter Authorization or fewer headers.',
        )
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new ProxyError(
            'body_timeout',
            408,
            'The request line and headers did not arrive in time; send the whole request at once.',
          )
        : new ProxyError(
            'malformed_request',
            400,
            'Malformed HTTP request (its framing, a header or the Host header is invalid); KeyRelay only takes well-formed HTTP/1.1 requests.',
          );
  const body = renderError('openai', e);
  const reason =
    e.status === 431 ? 'Request Header Fields Too Large' : e.status === 408 ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${e.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nx-keyrelay-error: ${e.code}\r\n\r\n${body}`,
  );
}
