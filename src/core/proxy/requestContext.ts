import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Budgets } from '../accounting/budgets';
import type { Stats } from '../accounting/stats';
import type { LoggedAttempt, LoggedResponse, RequestLog } from '../accounting/requestLog';
import type { PriceBook } from '../config/prices';
import type { ProviderCatalogue } from '../config/providers';
import type { CredentialBroker } from '../credentials/credentialBroker';
import type { KeyPool } from '../pool/keyPool';
import type { SecretRedactor } from '../redact';
import type { ApiShape, Clock, FailureClass, Logger, PoolKey, ProviderSpec, ProxyConfig } from '../types';
import type { ConcurrencyGate } from './concurrency';
import type { Upstream } from './upstream';

/** Everything the forwarder needs, injected by the server. */
export interface ForwardDeps {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  upstream: Upstream;
  logger: Logger;
  clock: Clock;
  redactor: SecretRedactor;
  config(): ProxyConfig;
  /** Providers already announced as running in fallback mode (one log line each). */
  fallbackLogged: Set<string>;
  /** The optional redacted request log (setting requestLogDir). */
  requestLog(): RequestLog | undefined;
  /** Rewrites error messages into the words of the surface the user is on (the CLI's flags). */
  wording?: Wording;
  /** Per-key concurrency slots and their wait queue (used only when a limit is set). */
  gate: ConcurrencyGate;
  /** Tokens of keys whose secret comes from a command. */
  credentials: CredentialBroker;
  /** The price table in force (shipped table under the `prices` setting). */
  prices(): PriceBook;
  /** Spending limits: a key over its budget is skipped. */
  budgets: Budgets;
}

/** Rewrites a message written in the editor's words (settings, commands) for another surface. */
export type Wording = (message: string) => string;

/**
 * What the forwarder reads of a client's request: its head, and its body as a stream (readBody).
 * An IncomingMessage is one; so is the in-process stand-in of inProcess.ts.
 */
export interface RequestSource {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  on(event: 'data' | 'end' | 'close', listener: (chunk: Buffer) => void): unknown;
  off(event: 'data' | 'end' | 'close', listener: (chunk: Buffer) => void): unknown;
}

/**
 * What the forwarder uses of a response: a ServerResponse is one; so is the in-process sink of
 * inProcess.ts. 'close' means the client went away (or the response is done); 'drain' that a
 * `write` that returned false may go on.
 */
export interface ResponseSink {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
  /** Present on a socket-backed response: a broken stream is ended by closing it once flushed. */
  readonly socket?: { destroySoon(): void } | null;
  writeHead(status: number, headers?: OutgoingHttpHeaders | string[]): this;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): this;
  destroy(error?: Error): this;
  on(event: 'drain' | 'close', listener: () => void): this;
  once(event: 'drain' | 'close', listener: () => void): this;
  off(event: 'drain' | 'close', listener: () => void): this;
}

/** One client request that passed local access checks. */
export interface ProxiedRequest {
  req: RequestSource;
  res: ResponseSink;
  shape: ApiShape;
  /** The path without its `/v1` prefix and query, e.g. `/chat/completions`. */
  rest: string;
  /** `?…` or ''. */
  query: string;
  /** The client presented the local access token (pool keys allowed). */
  isToken: boolean;
  /** The client's own credential when it is not the token (fallback mode). */
  credential?: string;
  /**
   * False when KeyRelay listens beyond loopback (--host 0.0.0.0) and the request did not also send
   * the token in `x-keyrelay-token`: its own key is then not forwarded (anyone on the network could).
   */
  mayPassThrough?: boolean;
  t0: number;
  /** Routes to this provider whatever the model says (in-process callers that already chose it). */
  providerId?: string;
  /** A random usable key for each attempt instead of the rotation's choice (the fan-out's `random_key`). */
  randomKey?: boolean;
  /** The caller's own trace to fill in (the fan-out reads which key answered and the tokens). */
  trace?: Trace;
  /** The latest upstream attempt, which `clientGone` aborts when the client goes away (unless it ended). */
  attempt?: { abort(err: Error): void };
}

/** Per-request bookkeeping for the log line, the request log and the stats. */
export interface Trace {
  body?: Buffer;
  /** The body as sent upstream, when KeyRelay changed it (a `provider/` prefix, a reasoning level). */
  sentBody?: Buffer;
  provider?: ProviderSpec;
  model?: string;
  /** The key of the latest attempt. */
  key?: PoolKey;
  /** The key whose upstream answer the client got (none when KeyRelay answered itself). */
  answeredBy?: PoolKey;
  /** How the latest attempt failed (a stream cut after its first byte included), if it did. */
  lastFailure?: FailureClass;
  /** Fallback mode: the client's own key answered. */
  viaClientKey?: boolean;
  /** Tokens of the latest attempt (the one that answered, when one did). */
  usage?: { inputTokens?: number; outputTokens?: number };
  /** What the latest attempt cost in USD; undefined when its model has no price (or it reported no usage). */
  costUsd?: number;
  attempts: number;
  ttfbMs?: number;
  /**
   * When the latest attempt was judged: the request's end when its answer followed at once (one
   * clock read fewer per request); cleared by a wait for a cooling key.
   */
  settledAt?: number;
  /** Each attempt, and the answer the client got: kept only while the request log is on. */
  tries?: LoggedAttempt[];
  response?: LoggedResponse;
  /** Ends a temporary redaction (a client's own key) once the request's outputs are written. */
  release?: () => void;
}

/** One routed request on its way through the pool: what every attempt with a key shares. */
export interface RequestContext {
  deps: ForwardDeps;
  p: ProxiedRequest;
  trace: Trace;
  cfg: ProxyConfig;
  provider: ProviderSpec;
  /** The model sent upstream (a `provider/` prefix already stripped). */
  model?: string;
  /** Client headers to forward; each attempt appends its own credential. */
  headers: string[];
  body: Buffer;
}
