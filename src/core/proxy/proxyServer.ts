import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessGuard } from './access';
import { ProxyError } from '../errors';
import { Emitter } from '../events';
import type { Disposable, Event } from '../events';
import { forwardRequest, sendError } from './forward';
import type { ForwardDeps } from './forward';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import { SecretRedactor } from '../redact';
import { runFanOut } from './fanOut';
import type { Stats } from '../accounting/stats';
import { buildModels, buildStatus } from '../accounting/status';
import type { ApiShape, Clock, Logger, ProxyConfig } from '../types';
import { RequestLog } from '../accounting/requestLog';
import { Upstream } from './upstream';

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
}

/** Whether the server is listening, where, and why not. */
export interface ProxyState {
  running: boolean;
  port?: number;
  error?: string;
}

/** Roots served without the `/v1` prefix (clients disagree on it, DESIGN §1). */
const KNOWN_ROOTS = new Set([
  'chat', 'completions', 'embeddings', 'responses', 'models', 'messages', 'fim', 'moderations', 'audio', 'images',
  'files', 'batches', 'rerank', 'assistants', 'threads', 'vector_stores', 'uploads', 'fine_tuning',
]);

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
  private readonly upstream: Upstream;
  private readonly redactor = new SecretRedactor();
  private readonly forward: ForwardDeps;
  private readonly inFlight = new Set<ServerResponse>();
  private readonly subscriptions: Disposable[] = [];
  private requestLog: RequestLog | undefined;

  constructor(private readonly deps: ProxyDeps) {
    this.config = deps.config;
    this.token = deps.accessToken;
    this.instanceId = deps.instanceId ?? randomUUID();
    this.upstream = new Upstream(deps.config.connectTimeoutMs);
    this.redactor.add(deps.accessToken);
    this.syncRedactor();
    this.subscriptions.push(
      deps.pool.onDidChange(() => this.syncRedactor()),
      deps.stats.onDidRollDay(() => deps.pool.resetDaily()),
    );
    this.forward = {
      pool: deps.pool, stats: deps.stats, catalogue: deps.catalogue, upstream: this.upstream, logger: deps.logger,
      clock: deps.clock, redactor: this.redactor, config: () => this.config, fallbackLogged: new Set(),
      requestLog: () => this.requestLog,
    };
    this.openRequestLog();
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
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => this.onRequest(req, res));
    this.server = server;
    return new Promise<number>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = undefined;
        this.setState({ running: false, error: err.code === 'EADDRINUSE' ? `port ${this.config.port} is in use` : err.message });
        reject(err);
      };
      server.once('error', onError);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', onError);
        server.on('error', (err) => this.deps.logger.error(err));
        const port = (server.address() as AddressInfo).port;
        this.guard = new AccessGuard({ port, bindHost: this.config.host, allowedOrigins: this.config.allowedOrigins, token: this.token });
        this.setState({ running: true, port });
        this.deps.logger.info(`KeyRelay listening on ${this.endpoint}`);
        resolve(port);
        // Off the activation path, before the first request needs it.
        setImmediate(() => this.upstream.warm());
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
    const old = this.config;
    this.config = config;
    if (config.connectTimeoutMs !== old.connectTimeoutMs) this.upstream.reconfigure(config.connectTimeoutMs);
    if (config.requestLogDir !== old.requestLogDir) this.openRequestLog();
    if (this.guard && this._state.port !== undefined) {
      this.guard = new AccessGuard({ port: this._state.port, bindHost: config.host, allowedOrigins: config.allowedOrigins, token: this.token });
    }
  }

  setAccessToken(token: string): void {
    this.redactor.delete(this.token);
    this.token = token;
    this.redactor.add(token);
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
    this.upstream.destroy();
    this.requestLog?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this._onDidChangeState.dispose();
  }

  private openRequestLog(): void {
    this.requestLog?.dispose();
    this.requestLog = undefined;
    if (!this.config.requestLogDir) return;
    try {
      this.requestLog = new RequestLog(this.config.requestLogDir, this.redactor);
    } catch (err) {
      this.deps.logger.error(`Request logging is off: cannot use ${this.config.requestLogDir} (${(err as Error).message}).`);
    }
  }

  private setState(s: ProxyState): void {
    this._state = s;
    this._onDidChangeState.fire(s);
  }

  /** Keeps every pool key and the token known to the redactor, so none can reach an output. */
  private syncRedactor(): void {
    for (const k of this.deps.pool.list()) this.redactor.add(k.secret, k.masked);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = this.deps.clock.now();
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rest = path === '/v1' || path.startsWith('/v1/') ? path.slice(3) : path;
    const shape: ApiShape = rest.startsWith('/messages') || (rest === '/models' && req.headers['anthropic-version'] !== undefined) ? 'anthropic' : 'openai';
    try {
      // Absolute-form (`http://host/…`) and `//host` targets would let a client pick the upstream.
      if (url.charCodeAt(0) !== 47 || url.charCodeAt(1) === 47) {
        throw new ProxyError('bad_request_target', 400, 'The request target must be a path like /v1/chat/completions, not an absolute URL. Set the client\'s base URL to KeyRelay\'s endpoint instead.');
      }
      const guard = this.guard;
      if (!guard || !this.server) throw new ProxyError('shutting_down', 503, 'KeyRelay is shutting down. Retry in a moment.');
      guard.checkOrigin(req.headers);
      if (path.startsWith('/keyrelay/')) {
        this.ownEndpoint(req, res, path, guard);
        return;
      }
      const root = rest.split('/', 2)[1] ?? '';
      if (path === rest && !KNOWN_ROOTS.has(root)) {
        throw new ProxyError('not_found', 404, `Unknown path ${path}. KeyRelay serves the OpenAI and Anthropic APIs under /v1 (e.g. /v1/chat/completions, /v1/messages) and its own /keyrelay/health and /keyrelay/status.`);
      }
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
        throw new ProxyError('method_not_allowed', 405, `Method ${method} is not supported. Use GET or POST.`);
      }
      const access = guard.credential(req.headers);
      if (rest === '/models' && method === 'GET' && access.isToken) {
        // The union of what the keys and presets list; when nothing is known, ask the provider.
        const models = buildModels(shape, this.deps.pool, this.deps.catalogue);
        if (models !== undefined) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(models);
          return;
        }
      }
      void forwardRequest(this.forward, {
        req, res, shape, rest, query: q < 0 ? '' : url.slice(q), isToken: access.isToken, credential: access.credential, t0,
      });
    } catch (err) {
      this.fail(req, res, shape, err);
    }
  }

  private ownEndpoint(req: IncomingMessage, res: ServerResponse, path: string, guard: AccessGuard): void {
    if (path === '/keyrelay/health') {
      // No auth: says only "this is KeyRelay" so another window can recognise the port's holder.
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keyrelay: true, version: this.deps.version, instanceId: this.instanceId, port: this._state.port }));
      return;
    }
    if (!guard.credential(req.headers).isToken) {
      throw new ProxyError('unauthorized', 401, 'KeyRelay\'s own endpoints need the access token. Copy it with "KeyRelay: Copy Access Token".');
    }
    if (path === '/keyrelay/status' && req.method === 'GET') {
      const body = buildStatus({ ...this.deps, instanceId: this.instanceId, endpoint: this.endpoint });
      res.writeHead(200, { 'content-type': 'application/json' }).end(this.redactor.redact(JSON.stringify(body)));
      return;
    }
    const keyAction = /^\/keyrelay\/keys\/([^/]+)\/(discard|restore)$/.exec(path);
    if (keyAction && req.method === 'POST') {
      this.keyAction(res, decodeURIComponent(keyAction[1]), keyAction[2] as 'discard' | 'restore');
      return;
    }
    if (path === '/keyrelay/run' && req.method === 'POST') {
      void runFanOut(req, res, { endpoint: this.endpoint ?? '', token: this.token, dispatcher: this.upstream.dispatcher, catalogue: this.deps.catalogue, pool: this.deps.pool, maxBodyBytes: this.config.maxBodyBytes })
        .catch((err) => this.fail(req, res, 'openai', err));
      return;
    }
    throw new ProxyError('not_found', 404, `Unknown KeyRelay endpoint ${req.method} ${path}. Available: GET /keyrelay/health, GET /keyrelay/status, POST /keyrelay/run, POST /keyrelay/keys/<id>/discard|restore.`);
  }

  /** Discard/Restore asked for by another window, which only follows this one (DESIGN §7). */
  private keyAction(res: ServerResponse, id: string, action: 'discard' | 'restore'): void {
    const pool = this.deps.pool;
    if (!pool.get(id)) {
      throw new ProxyError('not_found', 404, `No key with id "${id}" in this KeyRelay. Reload the window so both see the same keys.`);
    }
    if (action === 'discard') pool.discard(id, 'discarded by the user (another window)');
    else pool.restore(id);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, state: pool.health(id)?.state }));
  }

  private fail(req: IncomingMessage, res: ServerResponse, shape: ApiShape, err: unknown): void {
    const e = err instanceof ProxyError ? err : new ProxyError('upstream_error', 500, `KeyRelay failed: ${this.redactor.redact((err as Error).message)}`, { cause: err });
    if (!(err instanceof ProxyError)) this.deps.logger.error(e);
    this.deps.logger.debug(`${req.method} ${this.redactor.redact(req.url ?? '')} → ${e.status} ${e.code}`);
    sendError(res, shape, e);
    // A body we refused to read must not be parsed as the next request on this connection.
    if (e.status === 413 || e.status === 408) res.once('finish', () => req.socket.destroySoon());
  }
}
