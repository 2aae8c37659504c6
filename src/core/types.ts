/**
 * Shared vocabulary of the core. Nothing here imports Node or VS Code APIs.
 */

/** The wire dialect a request speaks; it decides error shapes and auth headers. */
export type ApiShape = 'openai' | 'anthropic';

/** How a provider expects its key. */
export type AuthStyle = 'bearer' | 'x-api-key' | 'x-goog-api-key';

/** A key's health (DESIGN §3). */
export type KeyState = 'active' | 'cooling' | 'invalid' | 'discarded';

/** Key-selection strategies (DESIGN §4). */
export type StrategyName = 'round-robin' | 'random' | 'weighted' | 'least-used' | 'latency' | 'cache-affinity';

export const STRATEGIES: readonly StrategyName[] = [
  'round-robin',
  'random',
  'weighted',
  'least-used',
  'latency',
  'cache-affinity',
];

/** Milliseconds since the epoch, injectable so tests run on a fake clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Shaped like VS Code's LogOutputChannel so it satisfies this structurally. */
export interface Logger {
  /** VS Code's LogLevel numbering (0 off, 1 trace … 5 error); lets hot paths skip building trace text. */
  readonly logLevel?: number;
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(error: string | Error, ...args: unknown[]): void;
}

/** A logger that drops everything (tests, benchmarks). */
export const nullLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A cheap request used to test a key. `path` is appended to the provider base URL. */
export interface TestRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

/** A provider preset or custom entry (DESIGN §2). */
export interface ProviderSpec {
  id: string;
  name: string;
  shape: ApiShape;
  /** Base URL including the version segment, no trailing slash, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  auth: AuthStyle;
  testRequest: TestRequest;
  /** Known model ids, used when answering `/v1/models` without asking upstream. */
  models?: string[];
  /** Prefix of this provider's keys (`sk-ant-`), used for masking and import detection. */
  keyPrefix?: string;
  /** Environment variable stems: `OPENAI` reads `OPENAI_API_KEY`, `OPENAI_API_KEY_1..N`, `OPENAI_KEYS`. */
  envNames: string[];
  /** Whether `/fim/completions` is served by this provider. */
  hasFim?: boolean;
}

/** The non-secret description of a key: safe for globalState, status JSON and the tree. */
export interface KeyRecord {
  id: string;
  providerId: string;
  label: string;
  /** Masked form, e.g. `sk-…abcd`; computed once when the key is added. */
  masked: string;
  weight?: number;
  /** Model allow-list; `others` matches every model no key of the provider lists. */
  models?: string[];
  /** Per-key base URL (a key for a reverse proxy); overrides the provider's. */
  baseUrl?: string;
  /** Keys of one account share limits; the tree groups and says so. */
  account?: string;
  addedAt: number;
}

/** A key whose secret comes from a command instead of a fixed text (a machine setting only). */
export interface CredentialCommand {
  /** Program and arguments, run without a shell. */
  argv: string[];
  /** How long a token that states no expiry is used (default 300 s). */
  ttlSeconds?: number;
}

/** A key as the pool holds it in memory: the record plus its secret text. */
export interface PoolKey extends KeyRecord {
  /** The key text; '' for a key whose token comes from `credentialCommand`. */
  readonly secret: string;
  readonly credentialCommand?: CredentialCommand;
}

/** One recorded state change of a key, with its reason (key text already redacted). */
export interface Transition {
  at: number;
  from: KeyState;
  to: KeyState;
  reason: string;
  status?: number;
  errorType?: string;
  model?: string;
}

/** What happened upstream with one key on one attempt; the pool turns it into state. */
export type Outcome =
  | { kind: 'success'; ttfbMs: number }
  | { kind: 'rate-limited'; status: number; retryAfterMs?: number; reason: string; errorType?: string }
  | { kind: 'invalid'; status?: number; reason: string; errorType?: string }
  | { kind: 'exhausted'; status: number; reason: string; errorType?: string }
  | { kind: 'server-error'; status?: number; reason: string; errorType?: string };

/** Failure classes counted by the stats. */
export type FailureClass =
  'client' | 'rate-limit' | 'auth' | 'quota' | 'server' | 'network' | 'timeout' | 'aborted' | 'local';

/** Reasoning levels (`keyRelay.reasoning`); `auto` leaves the client's own choice. */
export const REASONING_LEVELS = ['off', 'auto', 'low', 'medium', 'high', 'max'] as const;
export type ReasoningLevel = (typeof REASONING_LEVELS)[number];
/** One level for every model, or model patterns (`*` matches any run of characters) to levels. */
export type ReasoningSetting = ReasoningLevel | Record<string, ReasoningLevel>;

/** The proxy's settings; the same names serve VS Code settings and the CLI config file. */
export interface ProxyConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  strategy: StrategyName;
  /** Escalating cooldown steps used when upstream gives no reset time. */
  cooldownStepsMs: number[];
  /** Upper bound on any cooldown, including ones upstream asks for. */
  maxCooldownMs: number;
  /** Consecutive 5xx/timeouts that make a key cool as degraded. */
  degradedAfter: number;
  connectTimeoutMs: number;
  /** Time to the upstream's response headers. */
  headersTimeoutMs: number;
  /** Idle time between response chunks; a long healthy stream is never cut. */
  idleTimeoutMs: number;
  /** Longest silence while a client sends its request body (a stalled body gets 408). */
  bodyTimeoutMs: number;
  /** Time a client has to send its request line and headers (slowloris). */
  clientHeadersTimeoutMs: number;
  /** 0 = every candidate key. */
  maxAttempts: number;
  /** When every key is cooling, wait up to this long in all for one before answering 429 (0 = answer at once). */
  maxWaitMs: number;
  /** Requests one key carries at once before the next goes to another key or waits (0 = unlimited). */
  maxConcurrentPerKey: number;
  /** The same per key and model (0 = unlimited). */
  maxConcurrentPerKeyModel: number;
  maxBodyBytes: number;
  /**
   * Background re-test of invalid keys and keys the provider said were out of credit, at most one
   * test request per key per interval, never for a key a person discarded; 0 = off.
   */
  retestIntervalMs: number;
  /** Listen on 127.0.0.1 only; by default [::1] of the same port is held too (DESIGN §1). */
  ipv4Only: boolean;
  /** Forward the client's own credential when a provider has no keys. */
  passthrough: boolean;
  allowedOrigins: string[];
  /**
   * Host names (or addresses) clients may call KeyRelay by besides the loopback ones, e.g. the
   * machine's LAN name when it listens on 0.0.0.0: the Host check against DNS rebinding.
   */
  allowedHosts: string[];
  /** Treat 402 / quota-exhausted as discarded (else as a long cooldown). */
  discardOnQuota: boolean;
  /** Directory for redacted request logs; empty = off. */
  requestLogDir: string;
  /** One request log entry's bodies are cut to about this many bytes. */
  requestLogMaxEntryBytes: number;
  /** A request log file past this size is closed and the next one started. */
  requestLogMaxFileBytes: number;
  /** Request log files older than this are deleted. */
  requestLogMaxAgeMs: number;
  /** Hour of day (0–23, local time) at which "today" counters restart; -1 = never (count since start). */
  dailyResetHour: number;
  /** Grace period for in-flight streams on shutdown. */
  shutdownGraceMs: number;
  /** Answer `GET /keyrelay/metrics` without the access token to callers on loopback (a local scraper). */
  metricsWithoutToken: boolean;
  /** Longest run of a key's credential command before it counts as failed. */
  credentialTimeoutMs: number;
  /**
   * `GET /keyrelay/lease` hands a healthy key's secret to a token holder for tools that cannot use
   * a proxy (proxy/keyLease.ts). Off by default: the secret leaves KeyRelay.
   */
  allowKeyLease: boolean;
  /** The reasoning level to set on requests, globally or per model pattern (proxy/reasoning.ts). */
  reasoning: ReasoningSetting;
  /** Model patterns that take no reasoning parameter: their bodies are never rewritten. */
  nonReasoningModels: string[];
  /**
   * Share the pool's state with other KeyRelays through Redis or Valkey: `redis://host:6379/0`
   * (`rediss://` for TLS, `?pool=name` to name the pool); "" = off (issue 18).
   */
  stateStore: string;
  /** Prices per model over the shipped table (config/priceTable.ts): model id (or `provider/model`) → USD per 1M tokens. */
  prices: Record<string, ModelPrice>;
  /** Daily and monthly spending limits in USD per key (by label or id; `*` = each key) and per account. */
  budgets: BudgetSettings;
}

/** A model's list price in USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Input tokens read from the prompt cache; absent: they cost the input price. */
  cachedInput?: number;
  /** Input tokens written to the prompt cache (Anthropic); absent: they cost the input price. */
  cacheWrite?: number;
}

/** A spending limit in USD; either period may be left out. */
export interface BudgetLimit {
  dailyUsd?: number;
  monthlyUsd?: number;
}

/** Budgets per key (label or id, `*` for each key without its own) and per account name. */
export interface BudgetSettings {
  keys: Record<string, BudgetLimit>;
  accounts: Record<string, BudgetLimit>;
}

/** Defaults for every ProxyConfig field (DESIGN numbers). */
export const DEFAULT_CONFIG: Readonly<ProxyConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8787,
  strategy: 'round-robin',
  cooldownStepsMs: [10_000, 30_000, 60_000, 120_000, 300_000],
  maxCooldownMs: 3_600_000,
  degradedAfter: 3,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 120_000,
  idleTimeoutMs: 120_000,
  bodyTimeoutMs: 30_000,
  clientHeadersTimeoutMs: 10_000,
  maxAttempts: 0,
  maxWaitMs: 30_000,
  maxConcurrentPerKey: 0,
  maxConcurrentPerKeyModel: 0,
  maxBodyBytes: 32 * 1024 * 1024,
  retestIntervalMs: 0,
  ipv4Only: false,
  passthrough: true,
  allowedOrigins: [],
  allowedHosts: [],
  discardOnQuota: true,
  requestLogDir: '',
  requestLogMaxEntryBytes: 256 * 1024,
  requestLogMaxFileBytes: 20 * 1024 * 1024,
  requestLogMaxAgeMs: 7 * 86_400_000,
  dailyResetHour: 0,
  shutdownGraceMs: 3_000,
  metricsWithoutToken: false,
  credentialTimeoutMs: 30_000,
  allowKeyLease: false,
  reasoning: 'auto',
  // Models that reject a reasoning parameter; matched without the provider prefix.
  nonReasoningModels: [
    'gpt-3.5*',
    'gpt-4',
    'gpt-4-*',
    'gpt-4o*',
    'chatgpt-4o*',
    'gpt-4.1*',
    'claude-3-haiku*',
    'claude-3-opus*',
    'claude-3-sonnet*',
    'claude-3-5-*',
    'gemini-1.5*',
    'gemini-2.0*',
    '*embedding*',
  ],
  stateStore: '',
  prices: {},
  budgets: { keys: {}, accounts: {} },
} satisfies ProxyConfig);

/**
 * The shared state store (src/core/shared, issue 18) as `/keyrelay/status` and the views show it:
 * which store (the URL without its password), which pool, and whether it is reachable now.
 */
export interface SharedStoreStatus {
  /** `redis://host:port/db` with any password removed. */
  store: string;
  /** The shared pool's name: one store serves several teams, each under its own name. */
  pool: string;
  state: 'connecting' | 'connected' | 'down';
  /** When `state` last changed (ms since the epoch). */
  since: number;
  /** Why the store is down, when it is (no secret in it). */
  lastError?: string;
  /** Local changes and counts not yet written to the store (sent when it is back). */
  pending: number;
  /** Counters summed over every instance of the pool, by local key id (only keys counted anywhere). */
  usage: Record<string, Record<string, number>>;
}

/**
 * What the views show of the store (no counters): the status without its usage, plus
 * `no-secret` in the editor while `keyRelay.stateStore` is set but no team secret is stored.
 */
export interface SharedStoreSummary extends Omit<SharedStoreStatus, 'usage' | 'state'> {
  state: SharedStoreStatus['state'] | 'no-secret';
}

/**
 * One model's part of a fan-out's answer (`/keyrelay/run`, the field names of the multi-key `/run`
 * tools), as the proxy sends it and the Compare Models webview shows it.
 */
export interface ModelResponse {
  model: string;
  provider: string | null;
  /** The masked key that answered (or the last one tried), never the key itself. */
  key: string | null;
  key_label: string | null;
  output: string;
  /** HTTP status of the model's answer; 0 when no call was made. */
  status: number;
  /** Milliseconds from the fan-out's start to this model's last byte. */
  duration: number;
  /** Milliseconds to the first text. */
  ttft: number | null;
  usage: { input_tokens?: number; output_tokens?: number } | null;
  /** USD from the price table (config/prices.ts); null when the model has no price or no usage came back. */
  cost: number | null;
  attempts: number;
  error: string | null;
}
