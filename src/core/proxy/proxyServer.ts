import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessGuard } from './access';
import { ProxyError } from '../errors';
import { Emitter } from '../events';
import type { Disposable, Event } from '../events';
import { forwardRequest } from './forward';
import { ForwardKit } from './forwardKit';
import { Listeners } from './listeners';
import { redactedError, sendError } from './replies';
import type { ProxiedRequest, Wording } from './requestContext';
import { clientGone } from './tryKey';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import { OwnEndpoints } from './ownEndpoints';
import type { KeyManager } from './ownEndpoints';
import { checkKnownRoot, checkTarget, shapeOf, splitTarget } from './requestTarget';
import type { Stats } from '../accounting/stats';
import { buildModels, buildProviders } from '../accounting/status';
import type { ApiShape, Clock, Logger, ProxyConfig, SharedStoreStatus } from '../types';
import { BackgroundRetest } from './retest';
import type { SharedCounter } from '../accounting/budgets';

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
  /** Error messages in the CLI's words (ForwardDeps.wording); used when the server builds its kit. */
  wording?: Wording;
  /** Key management over HTTP (`/keyrelay/keys`): the headless CLI gives one. */
  keyManager?: KeyManager;
  /** The shared state store's status for `/keyrelay/status` (src/core/shared), when one is configured. */
  shared?: () => SharedStoreStatus | undefined;
  /** Its counters, for budgets across every KeyRelay of the pool; used when the server builds its kit. */
  sharedCounter?: () => SharedCounter | undefined;
}

/** Whether the server is listening, where, and why not. */
export interface ProxyState {
  running: boolean;
  port?: number;
  error?: string;
}

/** How long `stop()` waits, after cutting what outlived the grace, for those requests to be counted. */
const SETTLE_AFTER_CUT_MS = 2_000;

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
  private readonly kit: ForwardKit;
  private readonly ownsKit: boolean;
  /** Responses not yet closed; counters and shared listeners, so a request adds no closure. */
  private inFlight = 0;
  /** Forwarded requests not yet counted (they settle after their response closes). */
  private forwards = 0;
  /**
   * The last forwarded request (its request, response and attempt), kept until the next one. While
   * the proxy is idle no request is alive, and a full GC then (V8's memory reducer runs one on an
   * idle process) collects the hidden classes of those objects, which optimised code holds weakly:
   * 120–130 functions of the request path were dropped at once, and after each time the process
   * spent ~5 % more CPU per request. With one request kept, 25 (test/bench/README.md, "The idle
   * collection"). It holds no body: the request's is the forwarder's, the attempt drops its own.
   */
  private readonly lastForwarded: { request?: ProxiedRequest } = {};
  /** Set while stopping: called when the last in-flight request closes. */
  private onDrained: (() => void) | undefined;
  /** Set while stopping: called when the last forwarded request is counted. */
  private onCounted: (() => void) | undefined;
  private readonly forwardSettled = (): void => {
    if (--this.forwards === 0) this.onCounted?.();
  };
  private readonly subscriptions: Disposable[] = [];
  private readonly own: OwnEndpoints;
  /** The optional background re-test of invalid keys; runs only while this server serves. */
  readonly retest: BackgroundRetest;

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
      forward: () => this.kit.deps,
      keyManager: deps.keyManager,
      shared: () => deps.shared?.(),
    });
    this.listeners = new Listeners((req, res) => this.onRequest(req, res), deps.logger);
    this.retest = new BackgroundRetest({
      pool: deps.pool,
      catalogue: deps.catalogue,
      logger: deps.logger,
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
    this.retest.update();
    // Off the activation path, before the first request needs it.
    setImmediate(() => this.kit.upstream.warm());
    return port;
  }

  /**
   * Stops taking requests, lets in-flight ones finish for `graceMs`, then cuts what is left
   * (a cut stream ends without its terminator, so the client's SDK reports an error).
   */
  async stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    if (!this.listeners.listening) return;
    this.guard = undefined;
    this.retest.stop();
    const drained = new Promise<void>((resolve) => (this.onDrained = resolve));
    await this.listeners.close(graceMs, () => this.inFlight > 0, drained);
    this.onDrained = undefined;
    // A request cut at the end of the grace is still being counted (its upstream call unwinds
    // after the socket closed): wait for that, bounded, so the saved statistics include it.
    if (this.forwards > 0)
      await Promise.race([
        new Promise<void>((r) => (this.onCounted = r)),
        new Promise<void>((r) => setTimeout(r, SETTLE_AFTER_CUT_MS).unref()),
      ]);
    this.onCounted = undefined;
    // The last requests' log lines are still in the file stream's buffer: a process that exits
    // next (the CLI on SIGTERM) would lose them.
    await this.kit.flushRequestLog();
    this.setState({ running: false });
    this.deps.logger.info('KeyRelay stopped');
  }

  /** Applies new settings to the next request; the owner restarts on a port or host change. */
  updateConfig(config: ProxyConfig): void {
    this.config = config;
    this.kit.updateConfig(config);
    if (this.guard && this._state.port !== undefined) this.guard = this.newGuard(this._state.port, config);
    if (this.listeners.listening) this.retest.update();
  }

  setAccessToken(token: string): void {
    this.token = token;
    this.kit.setAccessToken(token);
    this.guard?.setToken(token);
  }

  /** Frees the port synchronously (STYLE §3). */
  dispose(): void {
    this.retest.dispose();
    this.own.dispose();
    this.guard = undefined;
    this.listeners.closeNow();
    if (this.ownsKit) this.kit.dispose();
    for (const s of this.subscriptions) s.dispose();
    this._onDidChangeState.dispose();
  }

  private newGuard(port: number, c: ProxyConfig): AccessGuard {
    return new AccessGuard({
      port,
      bindHost: c.host,
      allowedOrigins: c.allowedOrigins,
      allowedHosts: c.allowedHosts,
      token: this.token,
    });
  }

  private responseClosed(): void {
    if (--this.inFlight === 0) this.onDrained?.();
  }

  private track(forward: Promise<void>): void {
    this.forwards++;
    forward.then(this.forwardSettled, this.forwardSettled);
  }

  private setState(s: ProxyState): void {
    this._state = s;
    this._onDidChangeState.fire(s);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = this.deps.clock.now();
    this.inFlight++;
    // The response's one 'close' listener, for the count and for the attempt in flight alike
    // (`clientGone` says why only one); 'close' comes once, so `on` spares `once`'s wrapper.
    let p: ProxiedRequest | undefined;
    res.on('close', () => {
      this.responseClosed();
      if (p === undefined) return;
      clientGone(p);
      this.lastForwarded.request = p;
    });
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
      if (method === 'GET' && access.isToken && this.answerDiscovery(res, target.rest, shape)) return;
      const { rest, query } = target;
      const { isToken, credential, mayPassThrough } = access;
      p = { req, res, shape, rest, query, t0, isToken, credential, mayPassThrough, attempt: undefined };
      this.track(forwardRequest(this.kit.deps, p));
    } catch (err) {
      this.fail(req, res, shape, err);
    }
  }

  /**
   * `GET /v1/models` (the union of what the keys and presets list, each with its provider) and
   * `GET /v1/providers`, answered for the access token; false: forward as any other path (a
   * client's own key asks its provider; nothing known about models asks the provider too).
   */
  private answerDiscovery(res: ServerResponse, rest: string, shape: ApiShape): boolean {
    const { pool, catalogue } = this.deps;
    const body =
      rest === '/models'
        ? buildModels(shape, pool, catalogue)
        : rest === '/providers'
          ? buildProviders(pool, catalogue)
          : undefined;
    if (body === undefined) return false;
    res.writeHead(200, { 'content-type': 'application/json' }).end(this.kit.redactor.redact(body));
    return true;
  }

  private fail(req: IncomingMessage, res: ServerResponse, shape: ApiShape, err: unknown): void {
    const e = redactedError(this.kit.redactor, err, 'answer');
    if (!(err instanceof ProxyError)) this.deps.logger.error(e);
    const path = this.kit.redactor.redact((req.url ?? '').split('?', 1)[0]);
    this.deps.logger.debug(`${req.method} ${path} → ${e.status} ${e.code}`);
    sendError(res, shape, e, this.kit.deps.wording);
    // A body we refused to read must not be parsed as the next request on this connection.
    if (e.status === 413 || e.status === 408) res.once('finish', () => req.socket.destroySoon());
  }
}
