/**
 * VS Code's `keyRelay.*` settings mapped onto the core's ProxyConfig with the same rules the CLI's
 * config file obeys (proxyConfig.ts): one validator, two spellings. A bad value keeps its default
 * and comes back as a problem that names the setting the user must fix, in its own unit.
 */
import { join } from 'node:path';
import type { PoolKey, ProviderSpec, ProxyConfig } from '../types';
import { commandKeyId, commandMask, credentialCommandOf } from './credentialSpec';
import { defaultConfig, settingProblem } from './proxyConfig';
import type { Unit } from './proxyConfig';
import { ProviderCatalogue, validateProviderSpec } from './providers';

/** Reads one setting below `keyRelay.` (VS Code's WorkspaceConfiguration.get). */
export type SettingReader = (name: string) => unknown;

/**
 * Reads a machine setting: its user (global) value only, and whether a workspace or folder tried
 * to set it (VS Code's `inspect()`): a workspace must never choose a command KeyRelay runs.
 */
export type MachineSettingReader = (name: string) => { user: unknown; fromWorkspace: boolean };

/** The setting (below `keyRelay.`) that holds keys whose secret comes from a command. */
export const CREDENTIAL_COMMANDS_SETTING = 'credentialCommands';

/** The extension's settings, checked. */
export interface EditorSettings {
  proxy: ProxyConfig;
  autoStart: boolean;
  /** The custom providers that passed validation. */
  providers: ProviderSpec[];
  /** Keys from `keyRelay.credentialCommands` in the user's settings (never a workspace's). */
  commandKeys: PoolKey[];
  /** One line per setting that was refused (its default is used meanwhile). */
  problems: string[];
}

const SECONDS: Unit = { factor: 1000, name: 'seconds' };
const MIB: Unit = { factor: 1024 * 1024, name: 'MiB' };
const MINUTES: Unit = { factor: 60_000, name: 'minutes' };
const KIB: Unit = { factor: 1024, name: 'KiB' };
const DAYS: Unit = { factor: 86_400_000, name: 'days' };

/** Setting (below `keyRelay.`) → ProxyConfig field, and the unit the setting speaks. */
export const SETTING_FIELDS: ReadonlyArray<[setting: string, field: keyof ProxyConfig, unit?: Unit]> = [
  ['proxy.host', 'host'],
  ['proxy.port', 'port'],
  ['proxy.ipv4Only', 'ipv4Only'],
  ['proxy.allowedOrigins', 'allowedOrigins'],
  ['proxy.allowedHosts', 'allowedHosts'],
  ['proxy.passthrough', 'passthrough'],
  ['proxy.maxBodyMB', 'maxBodyBytes', MIB],
  ['rotation.strategy', 'strategy'],
  ['rotation.cooldownSeconds', 'cooldownStepsMs', SECONDS],
  ['rotation.maxCooldownSeconds', 'maxCooldownMs', SECONDS],
  ['rotation.degradedAfter', 'degradedAfter'],
  ['rotation.discardOnQuota', 'discardOnQuota'],
  ['rotation.retestIntervalMinutes', 'retestIntervalMs', MINUTES],
  ['timeouts.connectSeconds', 'connectTimeoutMs', SECONDS],
  ['timeouts.headersSeconds', 'headersTimeoutMs', SECONDS],
  ['timeouts.idleSeconds', 'idleTimeoutMs', SECONDS],
  ['timeouts.clientHeadersSeconds', 'clientHeadersTimeoutMs', SECONDS],
  ['timeouts.clientBodySeconds', 'bodyTimeoutMs', SECONDS],
  ['timeouts.credentialCommandSeconds', 'credentialTimeoutMs', SECONDS],
  ['retry.maxAttempts', 'maxAttempts'],
  ['retry.maxWaitSeconds', 'maxWaitMs', SECONDS],
  ['rotation.maxConcurrentPerKey', 'maxConcurrentPerKey'],
  ['rotation.maxConcurrentPerKeyModel', 'maxConcurrentPerKeyModel'],
  ['stats.dailyResetHour', 'dailyResetHour'],
  ['metrics.allowWithoutToken', 'metricsWithoutToken'],
  ['allowKeyLease', 'allowKeyLease'],
  ['logging.maxEntryKB', 'requestLogMaxEntryBytes', KIB],
  ['logging.maxFileMB', 'requestLogMaxFileBytes', MIB],
  ['logging.keepDays', 'requestLogMaxAgeMs', DAYS],
  ['reasoning', 'reasoning'],
  ['nonReasoningModels', 'nonReasoningModels'],
  ['stateStore', 'stateStore'],
];

/**
 * Settings read from the user's settings only (a machine setting): a workspace must never turn on
 * what hands a key's secret out (`allowKeyLease`), whatever the editor does with the setting's scope.
 */
const MACHINE_ONLY: ReadonlySet<string> = new Set(['allowKeyLease']);

/** A number in the setting's unit to the core's: seconds → ms, MiB → bytes; anything else as is. */
function toBase(value: unknown, unit: Unit | undefined): unknown {
  if (!unit) return value;
  const scale = (v: unknown): unknown =>
    typeof v === 'number' && Number.isFinite(v) ? Math.round(v * unit.factor) : v;
  return Array.isArray(value) ? value.map(scale) : scale(value);
}

/** Reads and checks every setting; `storageDir` is where request logs go when they are on. */
export function readEditorSettings(
  get: SettingReader,
  storageDir: string,
  machine: MachineSettingReader = () => ({ user: undefined, fromWorkspace: false }),
): EditorSettings {
  const proxy = defaultConfig();
  const problems: string[] = [];
  for (const [setting, field, unit] of SETTING_FIELDS) {
    const raw = MACHINE_ONLY.has(setting) ? userValue(setting, machine(setting), problems) : get(setting);
    if (raw === undefined || raw === null) continue;
    const value = toBase(raw, unit);
    const problem = settingProblem(field, value, `keyRelay.${setting}`, unit);
    if (problem) problems.push(problem);
    else (proxy as unknown as Record<string, unknown>)[field] = field === 'host' ? (value as string).trim() : value;
  }
  if (get('logging.requests') === true) proxy.requestLogDir = join(storageDir, 'requests');
  const providers: ProviderSpec[] = [];
  const rawProviders = get('providers');
  (Array.isArray(rawProviders) ? rawProviders : []).forEach((x, i) => {
    try {
      providers.push(validateProviderSpec(x));
    } catch (err) {
      problems.push(`"keyRelay.providers[${i}]": ${(err as Error).message}`);
    }
  });
  const commandKeys = readCommandKeys(machine(CREDENTIAL_COMMANDS_SETTING), new ProviderCatalogue(providers), problems);
  return { proxy, autoStart: get('proxy.autoStart') !== false, providers, commandKeys, problems };
}

/** A machine setting's user value; a value from a workspace is ignored, and said so. */
function userValue(setting: string, read: { user: unknown; fromWorkspace: boolean }, problems: string[]): unknown {
  if (read.fromWorkspace) {
    problems.push(
      `"keyRelay.${setting}" is set in this workspace's settings, and KeyRelay ignores it there: only your user settings may turn it on.`,
    );
  }
  return read.user;
}

/**
 * `keyRelay.credentialCommands` from the user's settings, as pool keys; a value from a workspace
 * is refused whole and said so. A bad entry is left out with a problem naming it.
 */
function readCommandKeys(
  setting: { user: unknown; fromWorkspace: boolean },
  catalogue: ProviderCatalogue,
  problems: string[],
): PoolKey[] {
  const name = `keyRelay.${CREDENTIAL_COMMANDS_SETTING}`;
  if (setting.fromWorkspace) {
    problems.push(
      `"${name}" is set in this workspace's settings, and KeyRelay ignores it there: a workspace must never choose a command to run on your machine. Put it in your user settings, or use "KeyRelay: Add Key from a Command".`,
    );
  }
  const keys: PoolKey[] = [];
  if (setting.user === undefined || setting.user === null) return keys;
  if (!Array.isArray(setting.user)) {
    problems.push(`"${name}" must be a list of {"provider", "credentialCommand": [program, args…], "label"}.`);
    return keys;
  }
  setting.user.forEach((raw, i) => {
    const where = `"${name}[${i}]"`;
    try {
      const e = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const provider = typeof e.provider === 'string' ? catalogue.get(e.provider) : undefined;
      if (!provider) throw new Error(`${where}: "provider" must name a provider id such as "openai".`);
      const cmd = credentialCommandOf(e, where);
      if (!cmd) throw new Error(`${where}: "credentialCommand" is missing.`);
      const models = Array.isArray(e.models) ? e.models.filter((m): m is string => typeof m === 'string') : [];
      keys.push({
        id: commandKeyId(provider.id, cmd.argv),
        providerId: provider.id,
        label: typeof e.label === 'string' && e.label.trim() ? e.label.trim() : commandMask(cmd.argv),
        masked: commandMask(cmd.argv),
        addedAt: 0,
        secret: '',
        credentialCommand: cmd,
        ...(models.length ? { models } : {}),
        ...(typeof e.account === 'string' && e.account.trim() ? { account: e.account.trim() } : {}),
      });
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  return keys;
}
