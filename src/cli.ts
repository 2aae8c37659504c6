import { parseArgs } from 'node:util';
import { ProxyError } from './core/errors';
import { STRATEGIES } from './core/types';
import type { StrategyName } from './core/types';
import { ConsoleLogger, parseLevel } from './cli/consoleLogger';
import { CliError } from './cli/cliError';
import { exitWhenFlushed } from './cli/exit';
import { loadConfigFile } from './cli/configFile';
import { serve } from './cli/serve';
import type { Served } from './cli/serve';
import { status, statusWatch } from './cli/status';
import { checkHost, parsePort, parseSeconds, usageError } from './cli/cliArgs';
import { failureMessage } from './cli/failure';
import { cliWording } from './cli/wording';
import { dataDirOf, findToken } from './cli/token';
import { keysCommand } from './cli/keysCommand';

declare const KEYRELAY_VERSION: string | undefined;
const VERSION = typeof KEYRELAY_VERSION === 'string' ? KEYRELAY_VERSION : '0.0.0-dev';

const HELP = `KeyRelay ${VERSION} — a rotating API-key proxy for coding assistants, on 127.0.0.1.

Usage:
  keyrelay serve [options]     run the proxy in the foreground (Ctrl+C stops it cleanly)
  keyrelay status [options]    the keys of a running KeyRelay (this CLI's or a VS Code window's):
                               state, cooldown left, requests today, success rate, last error;
                               --json for the whole /keyrelay/status document (indented
                               on a terminal, as one line when piped or redirected);
                               --watch redraws it every second with sparklines of the last
                               hour (per provider) and day (per key) until Ctrl+C
  keyrelay token [--data-dir DIR]
                               print the access token (for "$(keyrelay token)" in a shell)
  keyrelay keys list           the keys of a running headless KeyRelay, with their ids
  keyrelay keys add            adds the keys piped on stdin (one per line) to a running
                               KeyRelay at once, saved to its --keys-file: options
                               --provider P (else from the key's prefix), --label L,
                               --models a,b
  keyrelay keys remove ID      removes a key added that way (ids from "keys list")
  keyrelay --help              this text
  keyrelay --version           the version

Options for serve:
  --port N          port to listen on, 0 to 65535 in decimal (default 8787; 0 picks a free one)
  --host H          IP address to bind (default 127.0.0.1; 0.0.0.0 or :: listen on every
                    interface and expose your keys to the network: only with a reason)
  --config FILE     JSON config: {"proxy": {...settings}, "providers": [...], "keys": [...]}
                    (the entries are described below)
  --keys-file FILE  keys to load: .env (OPENAI_API_KEY, OPENAI_API_KEY_1..N, GROQ_KEYS=a,b),
                    one key per line, a pasted list separated by ; , or newlines, or JSON
                    {"apiKeys": [{"key", "url", "models"}]}
  --provider ID     the provider of keys in --keys-file that neither name one nor start with
                    a telling prefix (e.g. --provider groq for a list of bare keys)
  --data-dir DIR    where state.json (health, stats) and the token live (default ~/.keyrelay,
                    or KEYRELAY_DATA_DIR); files are written atomically with mode 0600
  --token T         the local access token clients must send; default: generated once into
                    DIR/token (mode 0600). Careful: a --token value is visible to every user
                    of this machine in the process list (ps); prefer KEYRELAY_TOKEN or the
                    token file
  --strategy S      ${STRATEGIES.join(' | ')} (default round-robin)
  --shutdown-grace S  seconds Ctrl+C / SIGTERM lets running requests finish (default 30;
                    a second Ctrl+C stops at once); the config's proxy.shutdownGraceMs too
  --log-level L     off | trace | debug | info | warn | error (default info; trace logs one line
                    per request with the masked key)

A changed --config or --keys-file is applied at once (so is SIGHUP): added keys serve at once,
removed ones finish their requests. Where KeyRelay listens changes only with a restart.

Options for status: --port, --host and --config (to find the proxy; default 127.0.0.1:8787),
  --data-dir and --token (to find the token, as serve does), --json, --watch.

Keys are also read from the environment: <PROVIDER>_API_KEY, <PROVIDER>_API_KEY_1..N and
<PROVIDER>_KEYS (comma- or semicolon-separated), for OPENAI, ANTHROPIC, OPENROUTER, GEMINI,
GROQ, MISTRAL, DEEPSEEK, XAI, TOGETHER, FIREWORKS, CEREBRAS. With no keys KeyRelay still starts
(fallback mode: clients' own keys are forwarded).

Entries of the config file's "providers" list (a custom upstream, or a preset overridden):
  {"id": "mygw", "shape": "openai" | "anthropic", "baseUrl": "https://host/v1",
   "name", "auth": "bearer" | "x-api-key" | "x-goog-api-key", "keyPrefix": "sk-", "envNames": ["MYGW"],
   "models": [...], "hasFim": true, "testRequest": {"method": "GET", "path": "/models"}}
  An entry with a preset's id (openai, anthropic, groq, …) keeps every preset field it does
  not set: {"id": "openai", "baseUrl": "https://gateway/v1"} moves only the URL.
Entries of its "keys" list: {"provider": "openai", "key": "sk-…", "label", "models": [...],
  "weight": 2, "baseUrl", "account": "work"}.

Settings in the config file's "proxy" object: port, host, strategy, cooldownStepsMs,
maxCooldownMs, degradedAfter, connectTimeoutMs, headersTimeoutMs, idleTimeoutMs, bodyTimeoutMs,
maxAttempts, maxWaitMs, maxConcurrentPerKey, maxConcurrentPerKeyModel (requests one key, or
one key and model, carries at once; 0 = unlimited; when all are busy requests queue), maxBodyBytes,
passthrough, allowedOrigins, allowedHosts (names clients may call KeyRelay by besides
127.0.0.1/localhost, e.g. its LAN name with --host 0.0.0.0), discardOnQuota, retestIntervalMs
(background re-test of invalid and out-of-credit keys; 0 = off), requestLogDir (full request log:
bodies, streams reassembled, keys redacted), requestLogMaxEntryBytes, requestLogMaxFileBytes,
requestLogMaxAgeMs, dailyResetHour,
shutdownGraceMs, metricsWithoutToken (true: GET /keyrelay/metrics answers callers on 127.0.0.1
without the token, for a local scraper), credentialTimeoutMs (longest run of a key's credential
command), reasoning (off|auto|low|medium|high|max, or {"claude-*": "high", "gpt-5*": "medium"}),
nonReasoningModels (model patterns never given a reasoning field), allowKeyLease (true: GET
/keyrelay/lease hands a healthy key's secret to token holders; off by default, see the README).

A key may be a command instead of a fixed secret, in the config file's "keys":
  {"provider": "openai", "credentialCommand": ["gcloud", "auth", "print-access-token"],
   "label": "work", "credentialTtlSeconds": 3000}
It runs without a shell when the key is first needed; it prints the token, or JSON
{"token": "...", "expiresAt": "<ISO time>"} or {"token": "...", "expiresIn": <seconds>}.
`;

/** The command line, parsed strictly: an unknown option is an error, not ignored. */
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      port: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      'keys-file': { type: 'string' },
      provider: { type: 'string' },
      'data-dir': { type: 'string' },
      token: { type: 'string' },
      strategy: { type: 'string' },
      'shutdown-grace': { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
      watch: { type: 'boolean' },
      label: { type: 'string' },
      models: { type: 'string' },
    },
  });
}
type Parsed = ReturnType<typeof parse>['values'];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (positionals.length === 0) {
    // A newcomer's first try: the usage, not an error about an empty command.
    process.stdout.write(HELP);
    return 0;
  }
  const isKeys = positionals[0] === 'keys' && positionals.length <= 3;
  if (!isKeys && (!['serve', 'status', 'token'].includes(positionals[0]) || positionals.length > 1)) {
    throw usageError(
      `Unknown command "${positionals.join(' ')}": run "keyrelay serve", "keyrelay status", "keyrelay token" or "keyrelay keys".`,
    );
  }
  const level = parseLevel(values['log-level'] ?? 'info');
  if (level === undefined) throw usageError(`--log-level must be one of off, trace, debug, info, warn, error.`);
  const port = parsePort(values.port);
  checkHost(values.host);
  if (positionals[0] === 'token') return printToken(values);
  if (isKeys) return runKeys(values, port, positionals.slice(1));
  return positionals[0] === 'status' ? runStatus(values, port) : runServe(values, port, level);
}

/** `keyrelay token`: the access token clients send, for `$(keyrelay token)` in a shell. */
function printToken(values: Parsed): number {
  const dataDir = dataDirOf(values['data-dir']);
  const found = findToken(values.token, dataDir);
  if (!found) {
    throw new CliError(
      `No access token yet in ${dataDir}: "keyrelay serve${values['data-dir'] ? ` --data-dir ${dataDir}` : ''}" makes one at its first start.`,
      2,
    );
  }
  process.stdout.write(`${found.value}\n`);
  return 0;
}

function runKeys(values: Parsed, port: number | undefined, args: string[]): Promise<number> {
  const proxy = loadConfigFile(values.config).proxy;
  const target = port ?? proxy.port;
  if (!target) throw usageError("The proxy's port is chosen at start (port 0): pass the one it printed with --port.");
  return keysCommand(
    {
      action: args[0] ?? '',
      id: args[1],
      host: values.host ?? proxy.host,
      port: target,
      dataDir: dataDirOf(values['data-dir']),
      token: values.token,
      provider: values.provider,
      label: values.label,
      models: values.models,
      stdin: () => text(process.stdin),
    },
    (line) => process.stdout.write(`${line}\n`),
  );
}

/** All of a stream's text (the keys piped into "keys add"). */
async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

function runStatus(values: Parsed, port: number | undefined): Promise<number> {
  const proxy = loadConfigFile(values.config).proxy;
  const target = port ?? proxy.port;
  if (!target) throw usageError("The proxy's port is chosen at start (port 0): pass the one it printed with --port.");
  const opts = {
    host: values.host ?? proxy.host,
    port: target,
    dataDir: dataDirOf(values['data-dir']),
    token: values.token,
    json: values.json ?? false,
    pretty: process.stdout.isTTY === true,
  };
  if (values.watch) {
    if (values.json) throw usageError('--watch draws a table: leave out --json.');
    return statusWatch(opts, {
      tty: process.stdout.isTTY === true,
      size: () => ({ rows: process.stdout.rows || 40, cols: process.stdout.columns || 160 }),
      write: (text) => process.stdout.write(text),
      stopped: new Promise((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }),
    });
  }
  return status(opts, process.stdout);
}

async function runServe(values: Parsed, port: number | undefined, level: number): Promise<number> {
  const strategy = values.strategy as StrategyName | undefined;
  if (strategy !== undefined && !STRATEGIES.includes(strategy))
    throw usageError(`--strategy must be one of ${STRATEGIES.join(', ')}.`);
  // The core's log lines name editor settings and commands: in a terminal, the CLI's own.
  const log = new ConsoleLogger(level, (line) => process.stderr.write(cliWording(line)));
  // Held from the start: a signal that came between "listening" and untilStopped's handlers would
  // kill the process by default, unsaved. They are acted on once the proxy is up.
  const held = holdSignals();
  const served = await serve(
    {
      config: values.config,
      keysFile: values['keys-file'],
      provider: values.provider,
      dataDir: values['data-dir'],
      token: values.token,
      port,
      host: values.host,
      strategy,
      shutdownGraceMs: parseSeconds('--shutdown-grace', values['shutdown-grace']),
      version: VERSION,
      command: selfCommand(),
    },
    log,
    (line) => process.stdout.write(`${line}\n`),
  ).catch((err: unknown) => {
    held.release();
    throw err;
  });
  return untilStopped(served, log, held);
}

interface HeldSignals {
  /** Signals received while holding, in order. */
  signals: NodeJS.Signals[];
  /** Stops holding (after the real handlers are in place, so no signal finds none). */
  release(): void;
}

function holdSignals(): HeldSignals {
  const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const signals: NodeJS.Signals[] = [];
  const hold = (signal: NodeJS.Signals): void => void signals.push(signal);
  for (const n of names) process.on(n, hold);
  return { signals, release: () => names.forEach((n) => process.off(n, hold)) };
}

/** How this CLI was started, as a command to print: `keyrelay` when installed, else `node <path>`. */
function selfCommand(): string {
  const script = process.argv[1] ?? '';
  return /(^|[/\\])keyrelay(\.cmd)?$/.test(script)
    ? 'keyrelay'
    : `node ${script.includes(' ') ? `"${script}"` : script}`;
}

/**
 * Runs until SIGINT/SIGTERM, then lets in-flight requests finish; a second signal exits at once.
 * SIGHUP reloads the config and keys files. State is saved on every way out, a crash included.
 */
function untilStopped(served: Served, log: ConsoleLogger, held: HeldSignals): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn(`${signal} again: exiting now`);
        served.saveNow();
        resolve(130);
        return;
      }
      stopping = true;
      log.info(`${signal}: finishing in-flight requests, then stopping`);
      served.shutdown().then(
        () => resolve(0),
        (err: Error) => {
          log.error(`Stopping failed: ${err.message}`);
          served.saveNow();
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGHUP', () => served.reload('SIGHUP'));
    held.release();
    for (const signal of held.signals.splice(0)) process.emit(signal, signal);
    process.on('uncaughtException', (err) => {
      log.error(`KeyRelay hit a bug and stops (please report it): ${err.message}`);
      served.saveNow();
      resolve(70);
    });
  });
}

main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`keyrelay: ${err.message}\n`);
      exitWhenFlushed(err.exitCode);
      return;
    }
    // One line, never a stack: a trace tells a user nothing about what to change.
    const message = err instanceof ProxyError ? cliWording(err.message) : failureMessage(err as NodeJS.ErrnoException);
    process.stderr.write(`keyrelay: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    exitWhenFlushed(2);
  },
);
