import { isStoreUrl } from './storeUrl';
import { ProxyError } from '../errors';
import { DEFAULT_CONFIG, REASONING_LEVELS, STRATEGIES } from '../types';
import type { ProxyConfig, ReasoningLevel, StrategyName } from '../types';
import { unknownField } from './nearest';

/**
 * How a source shows a number: the CLI config speaks milliseconds and bytes, VS Code settings
 * seconds and MiB. `factor` base units make one shown unit.
 */
export interface Unit {
  factor: number;
  name: string;
}

interface Rule {
  test(v: unknown): boolean;
  /** What the value must be, in the source's unit. */
  words(unit?: Unit): string;
}

const MS: Unit = { factor: 1, name: 'milliseconds' };
const BYTES: Unit = { factor: 1, name: 'bytes' };
const show = (n: number, u: Unit): string => String(Math.round((n / u.factor) * 1000) / 1000);
const int = (min: number, max: number, base?: Unit, extra = ''): Rule => ({
  test: (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
  words: (u = base ?? { factor: 1, name: '' }) =>
    `${u.name ? `${u.name} ` : 'an integer '}from ${show(min, u)} to ${show(max, u)}${extra}`.trim(),
});
const bool: Rule = { test: (v) => typeof v === 'boolean', words: () => 'true or false' };
const isLevel = (v: unknown): boolean => REASONING_LEVELS.includes(v as ReasoningLevel);
const isPattern = (p: string): boolean => p.trim().length > 0 && p.length <= 200;

/** The rule for each ProxyConfig field. */
const RULES: { [K in keyof ProxyConfig]: Rule } = {
  host: { test: (v) => typeof v === 'string' && v.trim().length > 0, words: () => 'a host name or IP address' },
  port: int(0, 65535, undefined, ' (0 picks a free port)'),
  strategy: { test: (v) => STRATEGIES.includes(v as StrategyName), words: () => `one of ${STRATEGIES.join(', ')}` },
  cooldownStepsMs: {
    test: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 86_400_000),
    words: (u = MS) => `a non-empty list of ${u.name}, each from 0 to ${show(86_400_000, u)}`,
  },
  // Under a second, a rate-limited key would be tried again almost at once.
  maxCooldownMs: int(1000, 7 * 86_400_000, MS),
  degradedAfter: int(1, 1000),
  connectTimeoutMs: int(100, 600_000, MS),
  headersTimeoutMs: int(100, 3_600_000, MS),
  idleTimeoutMs: int(100, 3_600_000, MS),
  bodyTimeoutMs: int(100, 3_600_000, MS),
  clientHeadersTimeoutMs: int(100, 600_000, MS),
  ipv4Only: bool,
  maxAttempts: int(0, 100_000, undefined, ' (0 = every candidate key)'),
  maxWaitMs: int(0, 600_000, MS, ' (0 = answer 429 at once)'),
  maxConcurrentPerKey: int(0, 10_000, undefined, ' (0 = unlimited)'),
  maxConcurrentPerKeyModel: int(0, 10_000, undefined, ' (0 = unlimited)'),
  maxBodyBytes: int(1024, 1024 * 1024 * 1024, BYTES),
  // At least a minute: a test request per key more often would be traffic of its own.
  retestIntervalMs: {
    test: (v) => v === 0 || (Number.isInteger(v) && (v as number) >= 60_000 && (v as number) <= 7 * 86_400_000),
    words: (u = MS) => `0 (off) or ${u.name} from ${show(60_000, u)} to ${show(7 * 86_400_000, u)}`,
  },
  passthrough: bool,
  allowedOrigins: {
    test: (v) => Array.isArray(v) && v.every((o) => typeof o === 'string' && /^https?:\/\/[^/\s]+\/?$/i.test(o)),
    words: () => 'a list of origins like "http://localhost:3000"',
  },
  allowedHosts: {
    test: (v) => Array.isArray(v) && v.every((h) => typeof h === 'string' && /^[a-z0-9.:[\]-]+$/i.test(h)),
    words: () => 'a list of host names or addresses like "mybox.lan" or "192.168.1.5" (no port)',
  },
  discardOnQuota: bool,
  requestLogDir: { test: (v) => typeof v === 'string', words: () => 'a directory path, or "" for off' },
  requestLogMaxEntryBytes: int(4096, 64 * 1024 * 1024, BYTES),
  requestLogMaxFileBytes: int(64 * 1024, 1024 * 1024 * 1024, BYTES),
  requestLogMaxAgeMs: int(3_600_000, 365 * 86_400_000, MS),
  dailyResetHour: int(-1, 23, undefined, ' (-1 = never)'),
  shutdownGraceMs: int(0, 600_000, MS),
  metricsWithoutToken: bool,
  credentialTimeoutMs: int(100, 600_000, MS),
  allowKeyLease: bool,
  reasoning: {
    test: (v) =>
      isLevel(v) ||
      (typeof v === 'object' &&
        v !== null &&
        !Array.isArray(v) &&
        Object.entries(v).every(([p, l]) => isPattern(p) && isLevel(l))),
    words: () =>
      `one of ${REASONING_LEVELS.join(', ')}, or an object of model patterns to levels like {"claude-*": "high", "*": "auto"}`,
  },
  nonReasoningModels: {
    test: (v) => Array.isArray(v) && v.every((p) => typeof p === 'string' && isPattern(p)),
    words: () => 'a list of model patterns like "gpt-4o*"',
  },
  stateStore: {
    test: (v) => typeof v === 'string' && (v.trim() === '' || isStoreUrl(v)),
    words: () => 'a URL such as "redis://127.0.0.1:6379/0" (rediss:// for TLS, ?pool=name), or "" for off',
  },
};

/** The names of every setting, as the CLI's config file spells them. */
export const SETTING_NAMES = Object.keys(RULES) as Array<keyof ProxyConfig>;

/** Fresh defaults (the arrays copied, so no caller can change the shared ones). */
export function defaultConfig(): ProxyConfig {
  return {
    ...DEFAULT_CONFIG,
    cooldownStepsMs: [...DEFAULT_CONFIG.cooldownStepsMs],
    allowedOrigins: [],
    allowedHosts: [],
    nonReasoningModels: [...DEFAULT_CONFIG.nonReasoningModels],
  };
}

/**
 * What is wrong with one setting's value, or undefined when it is fine. `label` names it as the
 * source spells it (`proxy.maxWaitMs`, `keyRelay.retry.maxWaitSeconds`), `unit` how its numbers
 * read there. The one validator the CLI and the editor share.
 */
export function settingProblem(
  field: keyof ProxyConfig,
  value: unknown,
  label: string,
  unit?: Unit,
): string | undefined {
  const rule = RULES[field];
  return rule.test(value) ? undefined : `"${label}" must be ${rule.words(unit)} (got ${describe(value, unit)}).`;
}

/**
 * Merges settings over the defaults, rejecting unknown or ill-typed fields with a message that
 * names the field, what it must be, and where it came from (the CLI's config file).
 */
export function normalizeConfig(input: unknown, source = 'config'): ProxyConfig {
  if (input === undefined || input === null) return defaultConfig();
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ProxyError('invalid_config', 400, `${source}: "proxy" must be an object of settings.`);
  }
  const out = defaultConfig();
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (!(name in RULES))
      throw new ProxyError('invalid_config', 400, `${source}: ${unknownField(name, SETTING_NAMES)}.`);
    const problem = settingProblem(name as keyof ProxyConfig, value, name);
    if (problem) throw new ProxyError('invalid_config', 400, `${source}: ${problem}`);
    (out as unknown as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** Whether moving from `a` to `b` needs the server to listen again. */
export function needsRestart(a: ProxyConfig, b: ProxyConfig): boolean {
  return (
    a.port !== b.port ||
    a.host !== b.host ||
    a.ipv4Only !== b.ipv4Only ||
    a.clientHeadersTimeoutMs !== b.clientHeadersTimeoutMs
  );
}

/**
 * A rejected value in words, without echoing text: a string in a config file may be a key or the
 * token pasted into the wrong field. Numbers and booleans are shown; everything else by kind.
 */
function describe(value: unknown, unit?: Unit): string {
  if (typeof value === 'number') return unit ? show(value, unit) : String(value);
  if (typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return Array.isArray(value) ? 'a list' : `a${typeof value === 'object' ? 'n object' : ` ${typeof value}`}`;
}
