import { Budgets } from '../accounting/budgets';
import type { SharedCounter } from '../accounting/budgets';
import type { Stats } from '../accounting/stats';
import { PriceBook } from '../config/prices';
import { RequestLog } from '../accounting/requestLog';
import type { ProviderCatalogue } from '../config/providers';
import { CredentialBroker } from '../credentials/credentialBroker';
import type { Disposable } from '../events';
import type { KeyPool } from '../pool/keyPool';
import { SecretRedactor } from '../redact';
import type { Clock, Logger, ProxyConfig } from '../types';
import { ConcurrencyGate } from './concurrency';
import type { ForwardDeps, Wording } from './requestContext';
import { Upstream } from './upstream';

/** What a ForwardKit is built from: the window's (or the CLI's) long-lived core objects. */
export interface ForwardKitOptions {
  config: ProxyConfig;
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  logger: Logger;
  clock: Clock;
  accessToken: string;
  /** Error messages in the CLI's words rather than the editor's (see ForwardDeps.wording). */
  wording?: Wording;
  /** The shared store's counters while one is configured: budgets count spend across every KeyRelay of the pool. */
  sharedCounter?: () => SharedCounter | undefined;
}

/**
 * Everything the forwarder needs (ForwardDeps), built without a server: the upstream agent, the
 * redactor that knows every key and the token, the optional request log and the live settings.
 * The HTTP server and the in-process callers (the editor's language models) share one, so both
 * paths choose keys, count and log the same way, and in-process requests work while the server
 * is stopped.
 */
export class ForwardKit implements Disposable {
  readonly deps: ForwardDeps;
  readonly upstream: Upstream;
  readonly redactor = new SecretRedactor();
  readonly credentials: CredentialBroker;
  readonly budgets: Budgets;
  private prices: PriceBook;
  private config: ProxyConfig;
  private token: string;
  private requestLog: RequestLog | undefined;
  private readonly subscription: Disposable;

  constructor(private readonly o: ForwardKitOptions) {
    this.config = o.config;
    this.token = o.accessToken;
    this.upstream = new Upstream(o.config.connectTimeoutMs);
    this.redactor.add(o.accessToken);
    this.credentials = new CredentialBroker({
      clock: o.clock,
      logger: o.logger,
      redactor: this.redactor,
      timeoutMs: () => this.config.credentialTimeoutMs,
    });
    this.prices = new PriceBook(o.config.prices);
    this.budgets = new Budgets({
      clock: o.clock,
      pool: o.pool,
      stats: o.stats,
      settings: () => this.config.budgets,
      shared: () => o.sharedCounter?.(),
    });
    this.syncRedactor();
    this.subscription = o.pool.onDidChange(() => {
      this.syncRedactor();
      this.budgets.keysChanged();
    });
    this.deps = {
      pool: o.pool,
      stats: o.stats,
      catalogue: o.catalogue,
      upstream: this.upstream,
      logger: o.logger,
      clock: o.clock,
      redactor: this.redactor,
      config: () => this.config,
      fallbackLogged: new Set(),
      requestLog: () => this.requestLog,
      wording: o.wording,
      gate: new ConcurrencyGate(o.pool, o.clock),
      credentials: this.credentials,
      prices: () => this.prices,
      budgets: this.budgets,
    };
    this.openRequestLog();
    this.budgets.keysChanged();
  }

  get current(): ProxyConfig {
    return this.config;
  }

  /** Applies new settings to the next request (idempotent: the server and its owner may both call it). */
  updateConfig(config: ProxyConfig): void {
    const old = this.config;
    this.config = config;
    if (config.connectTimeoutMs !== old.connectTimeoutMs) this.upstream.reconfigure(config.connectTimeoutMs);
    if (config.prices !== old.prices) this.prices = new PriceBook(config.prices);
    if (config.budgets !== old.budgets) this.budgets.recheck();
    const logFields = [
      'requestLogDir',
      'requestLogMaxEntryBytes',
      'requestLogMaxFileBytes',
      'requestLogMaxAgeMs',
    ] as const;
    if (logFields.some((f) => config[f] !== old[f])) this.openRequestLog();
  }

  setAccessToken(token: string): void {
    if (token === this.token) return;
    this.redactor.delete(this.token);
    this.token = token;
    this.redactor.add(token);
  }

  /** Resolves once every request log line written so far is on disk; the next line opens the file again. */
  flushRequestLog(): Promise<void> {
    return this.requestLog?.close() ?? Promise.resolve();
  }

  dispose(): void {
    this.subscription.dispose();
    this.credentials.dispose();
    this.upstream.destroy();
    this.deps.gate.dispose();
    this.requestLog?.dispose();
    this.requestLog = undefined;
  }

  private openRequestLog(): void {
    this.requestLog?.dispose();
    this.requestLog = undefined;
    if (!this.config.requestLogDir) return;
    try {
      const c = this.config;
      this.requestLog = new RequestLog(c.requestLogDir, this.redactor, {
        maxEntryBytes: c.requestLogMaxEntryBytes,
        maxFileBytes: c.requestLogMaxFileBytes,
        maxAgeMs: c.requestLogMaxAgeMs,
      });
    } catch (err) {
      this.o.logger.error(
        `Request logging is off: cannot use ${this.config.requestLogDir} (${(err as Error).message}).`,
      );
    }
  }

  /** Keeps every pool key and the token known to the redactor, so none can reach an output. */
  private syncRedactor(): void {
    const keys = this.o.pool.list();
    for (const k of keys) this.redactor.add(k.secret, k.masked);
    this.credentials.retain(new Set(keys.filter((k) => k.credentialCommand).map((k) => k.id)));
  }
}
