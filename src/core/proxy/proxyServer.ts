import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessGuard } from './access';
import { ProxyError } from '../errors';
import { Emitter } from '../events';
import type { Disposable, Event } from '../events';
import { forwardRequest } from './forward';
import { redactedError, sendError } from './replies';
import type { ForwardDeps } from './requestContext';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import { SecretRedactor } from '../redact';
import { Listeners } from './listeners';
import { OwnEndpoints } from './ownEndpoints';
import { checkKnownRoot, checkTarget, shapeOf, splitTarget } from './requestTarget';
import type { Stats } from '../accounting/stats';
import { buildModels } from '../accounting/status';
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

/**
 * The HTTP/1.1 server on 127.0.0.1 (DESIGN §1): local access checks, KeyRelay's own endpoints,
 * and everything else handed to the forwarder.
 */
export class ProxyServer implements Disposable {
  private readonly _onDidChangeState = new Emitter<ProxyState>();
  readonly onDidChangeState: Event<ProxyState> = this._onDidChangeState.event;
  readonly instanceId: string;
  private readonly listeners: Listeners;
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
  private readonly own: OwnEndpoints;

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
      pool: deps.pool,
      stats: deps.stats,
      catalogue: deps.catalogue,
      upstream: this.upstream,
      logger: deps.logger,
      clock: deps.clock,
      redactor: this.redactor,
      config: () => this.config,
      fallbackLogged: new Set(),
      requestLog: () => this.requestLog,
    };
    this.own = new OwnEndpoints({
      pool: deps.pool,
      stats: deps.stats,
      catalogue: deps.catalogue,
      redactor: this.redactor,
      version: deps.version,
      instanceId: this.instanceId,
      endpoint: () => this.endpoint,
      port: () => this._state.port,
      token: () => this.token,
      config: () => this.config,
      dispatcher: () => this.upstream.dispatcher,
    });
    this.listeners = new Listeners((req, res) => this.onRequest(req, res), deps.logger);
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

  /**
   * Listens (on 127.0.0.1 and [::1] by default, see Listeners); rejects with `code` EADDRINUSE
   * when the port is taken (another window?) or IPV6_SQUATTED when someone else holds [::1].
   */
  async start(): Promise<number> {
    if (this.listeners.listening) return this._state.port ?? 0;
    const c = this.config;
    let port: number;
    try {
      port = await this.listeners.listen({
        host: c.host,
        port: c.port,
        ipv4Only: c.ipv4Only,
        headersTimeoutMs: c.clientHeadersTimeoutMs,
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.setState({ running: false, error: e.code === 'EADDRINUSE' ? `port ${c.port} is in use` : e.message });
      throw err;
    }
    this.guard = this.newGuard(port, c);
    this.setState({ running: true, port });
    this.deps.logger.info(`KeyRelay listening on ${this.endpoint}`);
    // Off the activation path, before the first request needs it.
    setImmediate(() => this.upstream.warm());
    return port;
  }

  /**
   * Stops taking requests, lets in-flight ones finish for `graceMs`, then cuts what is left
   * (a cut stream ends without its terminator, so the client's SDK reports an error).
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    if (!this.listeners.listening) return;
    this.guard = undefined;
    await this.listeners.close(graceMs, () => this.inFlight.size > 0);
    this.setState({ running: false });
    this.deps.logger.info('KeyRelay stopped');
  }

  /** Applies new settings to the next request; the owner restarts on a port or host change. */
  updateConfig(config: ProxyConfig): void {
    const old = this.config;
    this.config = config;
    if (config.connectTimeoutMs !== old.connectTimeoutMs) this.upstream.reconfigure(config.connectTimeoutMs);
    if (config.requestLogDir !== old.requestLogDir) this.openRequestLog();
    if (this.guard && this._state.port !== undefined) this.guard = this.newGuard(this._state.port, config);
  }

  setAccessToken(token: string): void {
    this.redactor.delete(this.token);
    this.token = token;
    this.redactor.add(token);
    this.guard?.setToken(token);
  }

  /** Frees the port synchronously (STYLE §3). */
  dispose(): void {
    this.guard = undefined;
    this.listeners.closeNow();
    this.upstream.destroy();
    this.requestLog?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this._onDidChangeState.dispose();
  }

  private newGuard(port: number, c: ProxyConfig): AccessGuard {
    return new AccessGuard({ port, bindHost: c.host, allowedOrigins: c.allowedOrigins, token: this.token });
  }

  private openRequestLog(): void {
    this.requestLog?.dispose();
    this.requestLog = undefined;
    if (!this.config.requestLogDir) return;
    try {
      this.requestLog = new RequestLog(this.config.requestLogDir, this.redactor);
    } catch (err) {
      this.deps.logger.error(
        `Request logging is off: cannot use ${this.config.requestLogDir} (${(err as Error).message}).`,
      );
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
    const target = splitTarget(url);
    const shape = shapeOf(target, req.headers);
    try {
      checkTarget(url, target);
      const guard = this.guard;
      if (!guard) throw new ProxyError('shutting_down', 503, 'KeyRelay is shutting down. Retry in a moment.');
      guard.checkOrigin(req);
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
      void forwardRequest(this.forward, p);
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
    const e = redactedError(this.redactor, err, 'answer');
    if (!(err instanceof ProxyError)) this.deps.logger.error(e);
    this.deps.logger.debug(
      `${req.method} ${this.redactor.redact((req.url ?? '').split('?', 1)[0])} → ${e.status} ${e.code}`,
    );
    sendError(res, shape, e);
    // A body we refused to read must not be parsed as the next request on this connection.
    if (e.status === 413 || e.status === 408) res.once('finish', () => req.socket.destroySoon());
  }
}
