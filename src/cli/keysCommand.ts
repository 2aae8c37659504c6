import { proveLeader } from '../core/windows/localHttp';
import { CliError } from './cliError';
import { get, statusError, tokenOf } from './status';
import type { StatusOptions } from './status';

/** `keyrelay keys add|remove|list`, parsed. Keys to add come on stdin, never on the command line. */
export interface KeysOptions extends Omit<StatusOptions, 'json' | 'pretty'> {
  action: string;
  id?: string;
  provider?: string;
  label?: string;
  models?: string;
  /** The text piped in (add): one key per line. */
  stdin(): Promise<string>;
}

/**
 * Manages the keys of a running headless KeyRelay (`/keyrelay/keys`): its answer's message on a
 * refusal, one line, exit 1. Keys are read from stdin so they never sit in the process list or the
 * shell's history.
 */
export async function keysCommand(o: KeysOptions, print: (line: string) => void): Promise<number> {
  const token = tokenOf({ ...o, json: false });
  const where = `${o.host}:${o.port}`;
  const call = async (method: string, path: string, body?: unknown) => {
    try {
      const { authorization } = await proveLeader(o.port, token.value, { host: o.host, timeoutMs: 5000 });
      const res = await get(o.host, o.port, path, authorization, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const doc = JSON.parse(res.bytes.toString('utf8') || '{}') as Record<string, unknown> & {
        error?: { message?: string };
      };
      if (res.status >= 400) throw new CliError(`KeyRelay refused: ${doc.error?.message ?? `HTTP ${res.status}`}`);
      return doc;
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw statusError(err as NodeJS.ErrnoException, where, token.where);
    }
  };
  switch (o.action) {
    case 'list': {
      const doc = await call('GET', '/keyrelay/status');
      for (const k of doc.keys as Array<Record<string, string>>)
        print(`${k.id}  ${k.providerId}  ${k.label}  ${k.masked}  ${k.state}`.trimEnd());
      return 0;
    }
    case 'add': {
      const keys = (await o.stdin()).split(/[\s,;]+/).filter(Boolean);
      if (!keys.length) throw new CliError('No key on stdin: pipe them in, e.g. "keyrelay keys add < keys.txt".');
      const models = o.models
        ?.split(',')
        .map((m) => m.trim())
        .filter(Boolean);
      const entries = keys.map((key, i) => ({
        key,
        ...(o.provider ? { provider: o.provider } : {}),
        ...(o.label ? { label: keys.length > 1 ? `${o.label}-${i + 1}` : o.label } : {}),
        ...(models?.length ? { models } : {}),
      }));
      const doc = await call('POST', '/keyrelay/keys', entries);
      for (const k of doc.added as Array<Record<string, string>>) print(`added ${k.id}  ${k.label}  ${k.masked}`);
      return 0;
    }
    case 'remove': {
      if (!o.id) throw new CliError('Name the key: "keyrelay keys remove <id>" ("keyrelay keys list" shows ids).');
      const doc = await call('DELETE', `/keyrelay/keys/${encodeURIComponent(o.id)}`);
      const k = doc.removed as Record<string, string>;
      print(`removed ${k.id}  ${k.label}  ${k.masked}`);
      return 0;
    }
    default:
      throw new CliError(`Unknown keys action "${o.action}": use add, remove or list.`);
  }
}
