import { readFileSync } from 'node:fs';
import { decodeText, keyProblem } from '../core/config/keyText';
import { unknownField } from '../core/config/nearest';
import { normalizeConfig } from '../core/config/proxyConfig';
import { jsonSyntaxProblem, ProxyError } from '../core/errors';
import { importKeys, normalizeAccount } from '../core/config/importers';
import { normalizeBaseUrl, ProviderCatalogue, validateProviderSpec } from '../core/config/providers';
import type { ProviderSpec, ProxyConfig } from '../core/types';
import { credentialCommandOf } from '../core/config/credentialSpec';
import type { KeyInput } from './keySources';

/** What a CLI config file holds once checked. */
export interface LoadedConfig {
  proxy: ProxyConfig;
  providers: ProviderSpec[];
  keys: KeyInput[];
  /** The team secret for a shared state store (KEYRELAY_TEAM_SECRET wins over it). */
  teamSecret?: string;
}

/**
 * Reads `{ proxy, providers, keys }` (DESIGN §9); the older tools' `{ apiKeys: [{ key, url,
 * models }] }` is accepted too. Every problem names the file and the field.
 */
export function loadConfigFile(file: string | undefined): LoadedConfig {
  if (!file) return { proxy: withCliDefaults(normalizeConfig(undefined), undefined), providers: [], keys: [] };
  let raw: unknown;
  let text = '';
  try {
    text = decodeText(readFileSync(file));
    raw = JSON.parse(text);
  } catch (err) {
    const why =
      err instanceof SyntaxError
        ? `is not valid JSON: ${jsonSyntaxProblem(err, text).problem}`
        : `cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`;
    throw new ProxyError('invalid_config', 400, `Config file ${file} ${why}.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ProxyError(
      'invalid_config',
      400,
      `Config file ${file} must hold a JSON object like {"proxy": {...}, "providers": [...], "keys": [...]}.`,
    );
  }
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!['proxy', 'providers', 'keys', 'apiKeys', '$schema', 'stateStore', 'teamSecret'].includes(k)) {
      throw new ProxyError(
        'invalid_config',
        400,
        `Config file ${file}: unknown top-level field "${k}" (expected proxy, providers, keys, stateStore, teamSecret).`,
      );
    }
  }
  // "stateStore" may sit at the top (as the README shows it) or under "proxy" like every setting.
  const proxyIn =
    obj.stateStore !== undefined && typeof obj.proxy === 'object' && obj.proxy !== null
      ? { ...obj.proxy, stateStore: obj.stateStore }
      : obj.stateStore !== undefined && obj.proxy === undefined
        ? { stateStore: obj.stateStore }
        : obj.proxy;
  const proxy = withCliDefaults(normalizeConfig(proxyIn, `${file}: proxy`), proxyIn);
  if (obj.teamSecret !== undefined && typeof obj.teamSecret !== 'string')
    throw new ProxyError('invalid_config', 400, `Config file ${file}: "teamSecret" must be a string.`);
  const providers = asArray(obj.providers, file, 'providers').map((p, i) => {
    try {
      return validateProviderSpec(p);
    } catch (err) {
      throw new ProxyError('invalid_config', 400, `${file}: providers[${i}]: ${(err as Error).message}`);
    }
  });
  const catalogue = new ProviderCatalogue(providers);
  const keys = asArray(obj.keys, file, 'keys').map((k, i) => keyEntry(k, `${file}: keys[${i}]`));
  if (obj.apiKeys !== undefined) {
    const imported = importKeys(JSON.stringify({ apiKeys: obj.apiKeys }), { fileName: 'config.json', catalogue });
    const invalid = imported.skipped.find((s) => s.invalid);
    if (invalid) throw new ProxyError('invalid_config', 400, `${file}: ${invalid.reason}.`);
    keys.push(...imported.keys);
  }
  return { proxy, providers, keys, teamSecret: obj.teamSecret as string | undefined };
}

/**
 * Where the CLI's defaults differ from the editor's: a terminal's Ctrl+C or a service manager's
 * SIGTERM should let a typical completion finish (30 s), where a closing window cannot wait.
 */
export const CLI_SHUTDOWN_GRACE_MS = 30_000;

function withCliDefaults(proxy: ProxyConfig, raw: unknown): ProxyConfig {
  const set = typeof raw === 'object' && raw !== null && 'shutdownGraceMs' in raw;
  return set ? proxy : { ...proxy, shutdownGraceMs: CLI_SHUTDOWN_GRACE_MS };
}

function asArray(v: unknown, file: string, field: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ProxyError('invalid_config', 400, `Config file ${file}: "${field}" must be a list.`);
  return v;
}

/** The fields of a `keys[]` entry. */
const KEY_FIELDS = [
  'provider',
  'key',
  'label',
  'models',
  'weight',
  'baseUrl',
  'account',
  'credentialCommand',
  'credentialTtlSeconds',
];

/** An entry's "key": the text, checked by the one key validator; none beside a credential command. */
function checkKeyText(key: unknown, byCommand: boolean, where: string): void {
  if (byCommand) {
    if (key !== undefined)
      throw new ProxyError('invalid_config', 400, `${where}: give either "key" or "credentialCommand", not both.`);
    return;
  }
  if (typeof key !== 'string' || key.trim() === '') {
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "key" must be the key text, e.g. "sk-…", or use "credentialCommand": ["program", "arg", …].`,
    );
  }
  const problem = keyProblem(key.trim());
  if (problem) throw new ProxyError('invalid_config', 400, `${where}: ${problem}.`);
}

function keyEntry(v: unknown, where: string): KeyInput {
  if (typeof v !== 'object' || v === null)
    throw new ProxyError(
      'invalid_config',
      400,
      `${where} must be an object like {"provider": "openai", "key": "sk-…"}.`,
    );
  const e = v as Record<string, unknown>;
  const odd = Object.keys(e).find((f) => !KEY_FIELDS.includes(f));
  if (odd !== undefined) throw new ProxyError('invalid_config', 400, `${where}: ${unknownField(odd, KEY_FIELDS)}.`);
  const credentialCommand = credentialCommandOf(e, where);
  checkKeyText(e.key, credentialCommand !== undefined, where);
  if (typeof e.provider !== 'string')
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "provider" must name a provider id such as "openai" or "anthropic".`,
    );
  if (e.models !== undefined && !(Array.isArray(e.models) && e.models.every((m) => typeof m === 'string'))) {
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "models" must be a list of model ids (use "others" for the rest).`,
    );
  }
  if (e.weight !== undefined && !(typeof e.weight === 'number' && e.weight > 0)) {
    throw new ProxyError('invalid_config', 400, `${where}: "weight" must be a positive number.`);
  }
  for (const f of ['label', 'baseUrl', 'account'] as const) {
    if (e[f] !== undefined && typeof e[f] !== 'string')
      throw new ProxyError('invalid_config', 400, `${where}: "${f}" must be a string.`);
  }
  if (typeof e.account === 'string' && !e.account.trim()) {
    throw new ProxyError(
      'invalid_config',
      400,
      `${where}: "account" must be a name such as "work" (keys of one account share its limits), or left out.`,
    );
  }
  return {
    providerId: e.provider,
    secret: typeof e.key === 'string' ? e.key.trim() : '',
    credentialCommand,
    label: e.label as string | undefined,
    models: e.models as string[] | undefined,
    weight: e.weight as number | undefined,
    // Validated here, at load: "not a url" would start fine and then fail every request with a 502.
    baseUrl: e.baseUrl === undefined ? undefined : normalizeBaseUrl(e.baseUrl, `${where}: "baseUrl"`),
    account: typeof e.account === 'string' ? normalizeAccount(e.account) : undefined,
  };
}
