/**
 * VS Code's `keyRelay.*` settings mapped onto the core's ProxyConfig with the same rules the CLI's
 * config file obeys (proxyConfig.ts): one validator, two spellings. A bad value keeps its default
 * and comes back as a problem that names the setting the user must fix, in its own unit.
 */
import { join } from 'node:path';
import type { ProviderSpec, ProxyConfig } from '../types';
import { defaultConfig, settingProblem } from './proxyConfig';
import type { Unit } from './proxyConfig';
import { validateProviderSpec } from './providers';

/** Reads one setting below `keyRelay.` (VS Code's WorkspaceConfiguration.get). */
export type SettingReader = (name: string) => unknown;

/** The extension's settings, checked. */
export interface EditorSettings {
  proxy: ProxyConfig;
  autoStart: boolean;
  /** The custom providers that passed validation. */
  providers: ProviderSpec[];
  /** One line per setting that was refused (its default is used meanwhile). */
  problems: string[];
}

const SECONDS: Unit = { factor: 1000, name: 'seconds' };
const MIB: Unit = { factor: 1024 * 1024, name: 'MiB' };
const MINUTES: Unit = { factor: 60_000, name: 'minutes' };

/** Setting (below `keyRelay.`) → ProxyConfig field, and the unit the setting speaks. */
const MAP: ReadonlyArray<[setting: string, field: keyof ProxyConfig, unit?: Unit]> = [
  ['proxy.host', 'host'],
  ['proxy.port', 'port'],
  ['proxy.ipv4Only', 'ipv4Only'],
  ['proxy.allowedOrigins', 'allowedOrigins'],
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
  ['retry.maxAttempts', 'maxAttempts'],
  ['retry.maxWaitSeconds', 'maxWaitMs', SECONDS],
  ['stats.dailyResetHour', 'dailyResetHour'],
  ['metrics.allowWithoutToken', 'metricsWithoutToken'],
  ['stateStore', 'stateStore'],
];

/** A number in the setting's unit to the core's: seconds → ms, MiB → bytes; anything else as is. */
function toBase(value: unknown, unit: Unit | undefined): unknown {
  if (!unit) return value;
  const scale = (v: unknown): unknown =>
    typeof v === 'number' && Number.isFinite(v) ? Math.round(v * unit.factor) : v;
  return Array.isArray(value) ? value.map(scale) : scale(value);
}

/** Reads and checks every setting; `storageDir` is where request logs go when they are on. */
export function readEditorSettings(get: SettingReader, storageDir: string): EditorSettings {
  const proxy = defaultConfig();
  const problems: string[] = [];
  for (const [setting, field, unit] of MAP) {
    const raw = get(setting);
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
  return { proxy, autoStart: get('proxy.autoStart') !== false, providers, problems };
}
