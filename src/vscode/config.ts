import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_CONFIG, STRATEGIES } from '../core/types';
import type { ProxyConfig, StrategyName } from '../core/types';
import { Emitter, DisposableBase } from '../core/events';
import type { Event } from '../core/events';
import { Setting, SETTINGS_SECTION } from './ids';
import type { SettingName } from './ids';

/** Everything the extension reads from `keyRelay.*`, already in the core's units. */
export interface ExtensionConfig {
  proxy: ProxyConfig;
  autoStart: boolean;
  /** Raw custom provider entries; validated by the catalogue's owner. */
  providers: unknown[];
}

/** Settings whose change needs the server rebound (rust-analyzer's `requiresServerReloadOpts`). */
export const RESTART_SETTINGS: readonly (keyof ProxyConfig)[] = ['port', 'host'];

const seconds = (v: unknown, fallbackMs: number): number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : fallbackMs;

/** Maps the user's settings to the core's ProxyConfig; bad values fall back to the defaults. */
export function readConfig(
  globalStorageDir: string,
  cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION),
): ExtensionConfig {
  const get = <T>(key: SettingName): T | undefined => cfg.get<T>(key);
  const strategy = get<string>(Setting.strategy);
  const steps = get<unknown[]>(Setting.cooldownSeconds);
  const port = get<number>(Setting.port);
  const maxBodyMB = get<number>(Setting.maxBodyMB);
  const origins = get<unknown[]>(Setting.allowedOrigins);
  const resetHour = get<number>(Setting.dailyResetHour);
  const proxy: ProxyConfig = {
    ...DEFAULT_CONFIG,
    host: (get<string>(Setting.host) || DEFAULT_CONFIG.host).trim(),
    port: Number.isInteger(port) && port! >= 0 && port! <= 65535 ? port! : DEFAULT_CONFIG.port,
    strategy: STRATEGIES.includes(strategy as StrategyName) ? (strategy as StrategyName) : DEFAULT_CONFIG.strategy,
    cooldownStepsMs:
      Array.isArray(steps) && steps.length > 0 && steps.every((s) => typeof s === 'number' && s >= 0)
        ? (steps as number[]).map((s) => s * 1000)
        : [...DEFAULT_CONFIG.cooldownStepsMs],
    maxCooldownMs: seconds(get(Setting.maxCooldownSeconds), DEFAULT_CONFIG.maxCooldownMs),
    degradedAfter: Math.max(1, get<number>(Setting.degradedAfter) ?? DEFAULT_CONFIG.degradedAfter),
    discardOnQuota: get<boolean>(Setting.discardOnQuota) ?? DEFAULT_CONFIG.discardOnQuota,
    connectTimeoutMs: seconds(get(Setting.connectSeconds), DEFAULT_CONFIG.connectTimeoutMs),
    headersTimeoutMs: seconds(get(Setting.headersSeconds), DEFAULT_CONFIG.headersTimeoutMs),
    idleTimeoutMs: seconds(get(Setting.idleSeconds), DEFAULT_CONFIG.idleTimeoutMs),
    maxAttempts: Math.max(0, Math.floor(get<number>(Setting.maxAttempts) ?? 0)),
    maxWaitMs: seconds(get(Setting.maxWaitSeconds), DEFAULT_CONFIG.maxWaitMs),
    maxBodyBytes:
      typeof maxBodyMB === 'number' && maxBodyMB > 0
        ? Math.round(maxBodyMB * 1024 * 1024)
        : DEFAULT_CONFIG.maxBodyBytes,
    passthrough: get<boolean>(Setting.passthrough) ?? DEFAULT_CONFIG.passthrough,
    allowedOrigins: Array.isArray(origins) ? origins.filter((o): o is string => typeof o === 'string') : [],
    requestLogDir: get<boolean>(Setting.logRequests) ? path.join(globalStorageDir, 'requests') : '',
    dailyResetHour:
      Number.isInteger(resetHour) && resetHour! >= -1 && resetHour! <= 23 ? resetHour! : DEFAULT_CONFIG.dailyResetHour,
  };
  const providers = get<unknown[]>(Setting.providers);
  return {
    proxy,
    autoStart: get<boolean>(Setting.autoStart) ?? true,
    providers: Array.isArray(providers) ? providers : [],
  };
}

/** Which restart-relevant fields differ between two configs. */
export function needsRestart(a: ProxyConfig, b: ProxyConfig): boolean {
  return RESTART_SETTINGS.some((k) => a[k] !== b[k]);
}

/** Holds the current config and fires with (next, previous) when a `keyRelay.*` setting changes. */
export class ConfigWatcher extends DisposableBase {
  private readonly _onDidChange = this._register(new Emitter<{ next: ExtensionConfig; previous: ExtensionConfig }>());
  readonly onDidChange: Event<{ next: ExtensionConfig; previous: ExtensionConfig }> = this._onDidChange.event;
  private _current: ExtensionConfig;

  constructor(private readonly globalStorageDir: string) {
    super();
    this._current = readConfig(globalStorageDir);
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(SETTINGS_SECTION)) return;
        const previous = this._current;
        this._current = readConfig(this.globalStorageDir);
        this._onDidChange.fire({ next: this._current, previous });
      }),
    );
  }

  get current(): ExtensionConfig {
    return this._current;
  }
}
