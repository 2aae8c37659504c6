import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessGuard } from './access';
import { ProxyError } from '../errors';
import { Emitter } from '../events';
import type { Disposable, Event } from '../events';
import { forwardRequest } from './forward';
import { ForwardKit } from './forwardKit';
import { sendError } from './replies';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import { OwnEndpoints } from './ownEndpoints';
import { checkKnownRoot, checkTarget, shapeOf, splitTarget } from './requestTarget';
import type { Stats } from '../accounting/stats';
import { buildModels } from '../accounting/status';
import type { ApiShape, Clock, Logger, ProxyConfig } from '../types';

/** What the server needs; the VS Code adapter and the CLI both build one. */
export interface ProxyDeps {
  config: ProxyConfig;
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  logger: Logger;
  clock: Clock;
  accessToken: string;
  version: string;
  instanceId?: string;
  /**
   * The forwarding kit to share with in-process callers; its owner disposes it. Without one the
   * server builds its own (the CLI, tests).
   */
  kit?: ForwardKit;
}

/** Whether the server is listening, where, and why not. */
export interface ProxyState {
  running: boolean;
  port?: number;
  error?: string;
}

/**
 * The HTTP/1.1 server on 127.0.0.1 (DESIGN §1): local access checks, KeyRelay's own endpoints,
 * and everything else handed to the forwarder.
 */
export class ProxyServer implements Disposable {
  private readonly _onDidChangeState = new Emitter<ProxyState>();
  readonly onDidChangeState: Event<ProxyState> = this._onDidChangeState.event;
  readonly instanceId: string;
  private server: Server | undefined;
  private guard: AccessGuard | undefined;
  private _state: ProxyState = { running: false };
  private config: ProxyConfig;
  private token: string;
  private readonly kit: ForwardKit;
  private readonly ownsKit: boolean;
  private readonly inFlight = new Set<ServerResponse>();
  private readonly subscriptions: Disposable[] = [];
  private readonly own: OwnEndpoints;

  constructor(private readonly deps: ProxyDeps) {
    this.config = deps.config;
    this.token = deps.accessToken;
    this.instanceId = deps.instanceId ?? randomUUID();
    this.kit = deps.kit ?? new ForwardKit(deps);
    this.ownsKit = deps.kit === undefined;
    this.kit.updateConfig(deps.config);
    this.kit.setAccessToken(deps.accessToken);
    this.subscriptions.push(deps.stats.onDidRollDay(() => deps.pool.resetDaily()));
    this.own = new OwnEndpoints({
      pool: deps.pool,
      stats: deps.stats,
      catalogue: deps.catalogue,
      redactor: this.kit.redactor,
      version: deps.version,
      instanceId: this.instanceId,
      endpoint: () => this.endpoint,
      port: () => this._state.port,
      token: () => this.token,
      config: () => this.config,
      dispatcher: () => this.kit.upstream.dispatcher,
    });
  }

  get state(): ProxyState {
    return this._state;
  }

  get port(): number | undefined {
    return this._state.port;
  }

  /** The base URL clients are told to use: always 127.0.0.1, never `localhost` (DESIGN §1). */
  get endpoint(): string | undefined {
    if (this._state.port === undefined) return undefined;
    const host = this.config.host === '0.0.0.0' || this.config.host === '::' ? '127.0.0.1' : this.config.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this._state.port}`;
  }

  /** Listens; rejects with `code === 'EADDRINUSE'` when the port is taken (another window?). */
  start(): Promise<number> {
    if (this.server) return Promise.resolve(this._state.port ?? 0);
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) =>
      this.onRequest(req, res),
    );
    this.server = server;
    return new Promise<number>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = undefined;
        this.setState({
          running: false,
          error: err.code === 'EADDRINUSE' ? `port ${this.config.port} is in use` : err.message,
        });
        reject(err);
      };
      server.once('error', onError);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.deps.logger.error(err));
        const port = (server.address() as AddressInfo).port;
        this.guard = new AccessGuard({
          port,
          bindHost: this.config.host,
          allowedOrigins: this.config.allowedOrigins,
          token: this.token,
        });
        this.setState({ running: true, port });
        this.deps.logger.info(`KeyRelay listening on ${this.endpoint}`);
        resolve(port);
        // Off the activation path, before the first request needs it.
        setImmediate(() => this.kit.upstream.warm());
      });
    });
  }

  /**
   * Stops taking requests, lets in-flight ones finish for `graceMs`, then cuts what is left
   * (a cut stream ends without its terminator, so the client's SDK reports an error).
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (this.inFlight.size > 0) {
      await Promise.race([closed, new Promise<void>((r) => setTimeout(r, graceMs).unref())]);
    }
    server.closeAllConnections();
    await closed;
    this.setState({ running: false });
    this.deps.logger.info('KeyRelay stopped');
  }

  /** Applies new settings to the next request; the owner restarts on a port or host change. */
  updateConfig(config: ProxyConfig): void {
    this.config = config;
    this.kit.updateConfig(config);
    if (this.guard && this._state.port !== undefined) {
      this.guard = new AccessGuard({
        port: this._state.port,
        bindHost: config.host,
        allowedOrigins: config.allowedOrigins,
        token: this.token,
      });
    }
  }

  setAccessToken(token: string): void {
    this.token = token;
    this.kit.setAccessToken(token);
    this.guard?.setToken(token);
  }

  /** Frees the port synchronously (STYLE §3). */
  dispose(): void {
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.close();
      server.closeAllConnections();
    }
    if (this.ownsKit) this.kit.dispose();
    for (const s of this.subscriptions) s.dispose();
    this._onDidChangeState.dispose();
  }

  private setState(s: ProxyState): void {
    this._state = s;
    this._onDidChangeState.fire(s);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = this.deps.clock.now();
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
    const url = req.url ?? '';
    const target = splitTarget(url);
    const shape = shapeOf(target, req.headers);
    try {
      checkTarget(url);
      const guard = this.guard;
      if (!guard || !this.server)
        throw new ProxyError('shutting_down', 503, 'KeyRelay is shutting down. Retry in a moment.');
      guard.checkOrigin(req.headers);
      if (target.path.startsWith('/keyrelay/')) {
        const answered = this.own.handle(req, res, target.path, guard);
        if (answered) answered.catch((err: unknown) => this.fail(req, res, 'openai', err));
        return;
      }
      checkKnownRoot(target);
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
        throw new ProxyError('method_not_allowed', 405, `Method ${method} is not supported. Use GET or POST.`);
      }
      const access = guard.credential(req.headers);
      if (target.rest === '/models' && method === 'GET' && access.isToken && this.answerModels(res, shape)) return;
      const { rest, query } = target;
      const p = { req, res, shape, rest, query, isToken: access.isToken, credential: access.credential, t0 };
      void forwardRequest(this.kit.deps, p);
    } catch (err) {
      this.fail(req, res, shape, err);
    }
  }

  /** `GET /v1/models`: the union of what the keys and presets list; false when nothing is known. */
  private answerModels(res: ServerResponse, shape: ApiShape): boolean {
    const models = buildModels(shape, this.deps.pool, this.deps.catalogue);
    if (models === undefined) return false; // ask the provider instead
    res.writeHead(200, { 'content-type': 'application/json' }).end(models);
    return true;
  }

  private fail(req: IncomingMessage, res: ServerResponse, shape: ApiShape, err: unknown): void {
    const e =
      err instanceof ProxyError
        ? err
        : new ProxyError(
            'upstream_error',
            500,
            `KeyRelay failed: ${this.kit.redactor.redact((err as Error).message)}`,
            {
              cause: err,
            },
          );
    if (!(err instanceof ProxyError)) this.deps.logger.error(e);
    this.deps.logger.debug(`${req.method} ${this.kit.redactor.redact(req.url ?? '')} → ${e.status} ${e.code}`);
    sendError(res, shape, e);
    // A body we refused to read must not be parsed as the next request on this connection.
    if (e.status === 413 || e.status === 408) res.once('finish', () => req.socket.destroySoon());
  }
}
