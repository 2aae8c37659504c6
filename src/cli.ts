import { parseArgs } from 'node:util';
import { ProxyError } from './core/errors';
import { IPV6_SQUATTED } from './core/proxy/listeners';
import { STRATEGIES } from './core/types';
import type { StrategyName } from './core/types';
import { ConsoleLogger, parseLevel } from './cli/consoleLogger';
import { CliError } from './cli/cliError';
import { exitWhenFlushed } from './cli/exit';
import { loadConfigFile } from './cli/configFile';
import { serve } from './cli/serve';
import type { Served } from './cli/serve';
import { status, statusWatch } from './cli/status';
import { dataDirOf } from './cli/token';

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
  keyrelay --help              this text
  keyrelay --version           the version

Options for serve:
  --port N          port to listen on (default 8787; 0 picks a free one)
  --host H          address to bind (default 127.0.0.1; anything else exposes your keys
                    to the network: only with a reason)
  --config FILE     JSON config: {"proxy": {...settings}, "providers": [...], "keys": [...]}
  --keys-file FILE  keys to load: .env (OPENAI_API_KEY, OPENAI_API_KEY_1..N, GROQ_KEYS=a,b),
                    one key per line, a pasted list separated by ; , or newlines, or JSON
                    {"apiKeys": [{"key", "url", "models"}]}
  --data-dir DIR    where state.json (health, stats) and the token live (default ~/.keyrelay,
                    or KEYRELAY_DATA_DIR); files are written atomically with mode 0600
  --token T         the local access token clients must send; default: generated once into
                    DIR/token (mode 0600). Careful: a --token value is visible to every user
                    of this machine in the process list (ps); prefer KEYRELAY_TOKEN or the
                    token file
  --strategy S      ${STRATEGIES.join(' | ')} (default round-robin)
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

Settings in the config file's "proxy" object: port, host, strategy, cooldownStepsMs,
maxCooldownMs, degradedAfter, connectTimeoutMs, headersTimeoutMs, idleTimeoutMs, bodyTimeoutMs,
maxAttempts, maxWaitMs, maxBodyBytes, passthrough, allowedOrigins, discardOnQuota,
requestLogDir, dailyResetHour, shutdownGraceMs, metricsWithoutToken (true: GET
/keyrelay/metrics answers callers on 127.0.0.1 without the token, for a local scraper).
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
      'data-dir': { type: 'string' },
      token: { type: 'string' },
      strategy: { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
      watch: { type: 'boolean' },
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
  if (!['serve', 'status'].includes(positionals[0]) || positionals.length > 1) {
    process.stderr.write(
      `Unknown command "${positionals.join(' ')}". Run "keyrelay serve" or "keyrelay status", or "keyrelay --help" for the options.\n`,
    );
    return 2;
  }
  const level = parseLevel(values['log-level'] ?? 'info');
  if (level === undefined) throw usage(`--log-level must be one of off, trace, debug, info, warn, error.`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw usage('--port must be an integer from 0 to 65535.');
  return positionals[0] === 'status' ? runStatus(values, port) : runServe(values, port, level);
}

function runStatus(values: Parsed, port: number | undefined): Promise<number> {
  const proxy = loadConfigFile(values.config).proxy;
  const target = port ?? proxy.port;
  if (!target) throw usage("The proxy's port is chosen at start (port 0): pass the one it printed with --port.");
  const opts = {
    host: values.host ?? proxy.host,
    port: target,
    dataDir: dataDirOf(values['data-dir']),
    token: values.token,
    json: values.json ?? false,
    pretty: process.stdout.isTTY === true,
  };
  if (values.watch) {
    if (values.json) throw usage('--watch draws a table: leave out --json.');
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
  return status(opts, (out) => {
    process.stdout.write(out);
    process.stdout.write('\n');
  });
}

async function runServe(values: Parsed, port: number | undefined, level: number): Promise<number> {
  const strategy = values.strategy as StrategyName | undefined;
  if (strategy !== undefined && !STRATEGIES.includes(strategy))
    throw usage(`--strategy must be one of ${STRATEGIES.join(', ')}.`);
  const log = new ConsoleLogger(level);
  // Held from the start: a signal that came between "listening" and untilStopped's handlers would
  // kill the process by default, unsaved. They are acted on once the proxy is up.
  const held = holdSignals();
  const served = await serve(
    {
      config: values.config,
      keysFile: values['keys-file'],
      dataDir: values['data-dir'],
      token: values.token,
      port,
      host: values.host,
      strategy,
      version: VERSION,
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

function usage(message: string): ProxyError {
  return new ProxyError('invalid_config', 400, `${message} Run "keyrelay --help" for the options.`);
}

main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`keyrelay: ${err.message}\n`);
      exitWhenFlushed(err.exitCode);
      return;
    }
    const code = (err as { code?: string }).code;
    // Our own refusals are sentences for the user: the message alone, never a stack trace.
    const message =
      err instanceof ProxyError || code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === IPV6_SQUATTED
        ? (err as Error).message
        : code === 'EADDRINUSE'
          ? `The port is already in use (another KeyRelay, perhaps a VS Code window?). Pick another with --port.`
          : String((err as Error).stack ?? err);
    process.stderr.write(`keyrelay: ${message}\n`);
    exitWhenFlushed(2);
  },
);
