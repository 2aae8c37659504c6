import { IPV6_SQUATTED } from '../core/proxy/listeners';
import { parseArgsMessage } from './cliArgs';

/** A Node error with the fields listen() and fs calls add. */
type SystemError = NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };

/**
 * The one line the CLI prints for an error that is not already a CliError or ProxyError: what went
 * wrong in the user's terms and what to change. Never the stack: it names our files, not theirs.
 */
export function failureMessage(err: SystemError): string {
  const parsed = parseArgsMessage(err);
  if (parsed) return parsed;
  const at =
    err.address !== undefined
      ? `${err.address}${err.port ? `:${err.port}` : ''}`
      : (err.hostname ?? err.path ?? 'the address');
  switch (err.code) {
    case 'EADDRINUSE':
      return `The port ${at} is already in use (another KeyRelay, perhaps a VS Code window?). Pick another with --port, or stop the other one.`;
    case 'EADDRNOTAVAIL':
      return `${at} is not an address of this machine. Pass --host 127.0.0.1 (the default) or an address "ip addr" lists.`;
    case 'EACCES':
    case 'EPERM':
      return err.syscall === 'listen' || err.syscall === 'bind'
        ? `Not allowed to listen on ${at} (ports below 1024 need privileges). Pick a port from 1024 up with --port, e.g. --port 8787.`
        : `Permission denied for ${at}: make it readable and writable by you, or point KeyRelay elsewhere (see "keyrelay --help").`;
    case 'ENOTFOUND':
      return `The host name ${at} is unknown. Pass an IP address with --host, e.g. --host 127.0.0.1.`;
    case 'EISDIR':
      return `${at} is a folder where KeyRelay expects a file: pass the file's path instead.`;
    case IPV6_SQUATTED:
      return err.message;
    case 'ENOENT':
      return `${at} does not exist: check the path.`;
    default:
      return `${String(err.message ?? err).split('\n')[0]} (unexpected: please report it at https://github.com/keyrelay/keyrelay/issues).`;
  }
}
