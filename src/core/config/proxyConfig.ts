import { ProxyError } from '../errors';
import { DEFAULT_CONFIG, STRATEGIES } from '../types';
import type { ProxyConfig, StrategyName } from '../types';

type Check = (v: unknown) => boolean;
const isInt =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const isBool: Check = (v) => typeof v === 'boolean';
const isString: Check = (v) => typeof v === 'string';

/** The rule for each ProxyConfig field, with the words an error message uses for it. */
const RULES: { [K in keyof ProxyConfig]: [Check, string] } = {
  host: [(v) => typeof v === 'string' && v.length > 0, 'a host name or IP address'],
  port: [isInt(0, 65535), 'an integer from 0 (any free port) to 65535'],
  strategy: [(v) => STRATEGIES.includes(v as StrategyName), `one of ${STRATEGIES.join(', ')}`],
  cooldownStepsMs: [
    (v) => Array.isArray(v) && v.length > 0 && v.every(isInt(0, 86_400_000)),
    'a non-empty list of milliseconds',
  ],
  maxCooldownMs: [isInt(1000, 7 * 86_400_000), 'milliseconds, at least 1000'],
  degradedAfter: [isInt(1, 1000), 'an integer from 1 to 1000'],
  connectTimeoutMs: [isInt(100, 600_000), 'milliseconds from 100 to 600000'],
  headersTimeoutMs: [isInt(100, 3_600_000), 'milliseconds from 100 to 3600000'],
  idleTimeoutMs: [isInt(100, 3_600_000), 'milliseconds from 100 to 3600000'],
  bodyTimeoutMs: [isInt(100, 3_600_000), 'milliseconds from 100 to 3600000'],
  maxAttempts: [isInt(0, 100_000), 'an integer, 0 meaning every candidate key'],
  maxWaitMs: [isInt(0, 600_000), 'milliseconds from 0 to 600000'],
  maxBodyBytes: [isInt(1024, 1024 * 1024 * 1024), 'bytes from 1024 to 1 GiB'],
  passthrough: [isBool, 'true or false'],
  allowedOrigins: [(v) => Array.isArray(v) && v.every(isString), 'a list of origins like "https://example.com"'],
  discardOnQuota: [isBool, 'true or false'],
  requestLogDir: [isString, 'a directory path, or "" for off'],
  dailyResetHour: [isInt(-1, 23), 'an hour from 0 to 23, or -1 for never'],
  shutdownGraceMs: [isInt(0, 60_000), 'milliseconds from 0 to 60000'],
};

/**
 * Merges settings over the defaults, rejecting unknown or ill-typed fields with a message that
 * names the field, what it must be, and where it came from.
 */
export function normalizeConfig(input: unknown, source = 'config'): ProxyConfig {
  if (input === undefined || input === null)
    return { ...DEFAULT_CONFIG, cooldownStepsMs: [...DEFAULT_CONFIG.cooldownStepsMs], allowedOrigins: [] };
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ProxyError('invalid_config', 400, `${source}: "proxy" must be an object of settings.`);
  }
  const out: ProxyConfig = {
    ...DEFAULT_CONFIG,
    cooldownStepsMs: [...DEFAULT_CONFIG.cooldownStepsMs],
    allowedOrigins: [],
  };
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const rule = RULES[name as keyof ProxyConfig];
    if (!rule) {
      throw new ProxyError(
        'invalid_config',
        400,
        `${source}: unknown setting "${name}". Known settings: ${Object.keys(RULES).join(', ')}.`,
      );
    }
    if (!rule[0](value)) {
      throw new ProxyError(
        'invalid_config',
        400,
        `${source}: "${name}" must be ${rule[1]} (got ${JSON.stringify(value)}).`,
      );
    }
    (out as unknown as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** Whether moving from `a` to `b` needs the server to listen again. */
export function needsRestart(a: ProxyConfig, b: ProxyConfig): boolean {
  return a.port !== b.port || a.host !== b.host;
}
