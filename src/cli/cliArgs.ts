import { isIP } from 'node:net';
import { CliError } from './cliError';

const HELP_HINT = 'Run "keyrelay --help" for the options.';

/** A usage mistake: one line naming the problem and the fix, exit 2. */
export function usageError(message: string): CliError {
  return new CliError(`${message} ${HELP_HINT}`, 2);
}

/**
 * `--port`: decimal digits only, 0 to 65535. `Number()` took "" (0: a random port) and "0x1f90"
 * (8080), so a typo bound somewhere nobody asked for.
 */
export function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) {
    throw usageError(
      `--port "${text}" is not a port: give a decimal number from 0 to 65535 (0 picks a free one), e.g. --port 8787.`,
    );
  }
  return port;
}

/** A duration flag in whole seconds (0 to 600), as milliseconds. */
export function parseSeconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(n <= 600)) throw usageError(`${flag} "${text}" is not a number of seconds from 0 to 600, e.g. ${flag} 30.`);
  return n * 1000;
}

/**
 * `--host`: an address of this machine, as an IP literal or "localhost". A name is looked up at
 * listen time and failed with a stack trace (getaddrinfo ENOTFOUND); binding by name is never
 * what a local proxy needs.
 */
export function checkHost(host: string | undefined): string | undefined {
  if (host === undefined || host === 'localhost' || isIP(host) !== 0) return host;
  throw usageError(
    `--host "${host}" is not an IP address of this machine: use 127.0.0.1 (the default), ::1, or 0.0.0.0 to listen on every interface.`,
  );
}

/** node:util parseArgs' errors (a missing value, an option where a value belongs) as one line. */
export function parseArgsMessage(err: { code?: string; message: string }): string | undefined {
  const option = /'(--?[\w-]+)/.exec(err.message)?.[1] ?? 'an option';
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Unknown option ${option}. ${HELP_HINT}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(err.message)
        ? `${option} needs a value (e.g. ${option} ${EXAMPLES[option] ?? 'VALUE'}). ${HELP_HINT}`
        : `${option} is followed by "-…", which reads as another option: give ${option} a value${option === '--port' ? ' from 0 to 65535' : ''}, or write ${option}=VALUE if the value really starts with "-". ${HELP_HINT}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `${err.message.split('\n')[0]} ${HELP_HINT}`;
    default:
      return undefined;
  }
}

const EXAMPLES: Record<string, string> = {
  '--port': '8787',
  '--host': '127.0.0.1',
  '--config': 'keyrelay.json',
  '--keys-file': 'keys.env',
  '--data-dir': '~/.keyrelay',
  '--token': '"$(openssl rand -hex 24)"',
  '--strategy': 'round-robin',
  '--log-level': 'info',
  '--provider': 'openai',
  '--shutdown-grace': '30',
};
