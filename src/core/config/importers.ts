import type { ProviderSpec } from '../types';
import type { ProviderCatalogue } from './providers';
import { isPresetId, normalizeBaseUrl } from './providers';
import { jsonSyntaxProblem } from '../errors';
import { maskKey } from '../redact';

/** One key as an importer, a config file or the Add Key command describes it. */
export interface ImportedKey {
  providerId: string;
  secret: string;
  label?: string;
  models?: string[];
  baseUrl?: string;
  weight?: number;
  /** Keys of one account share its limits (DESIGN §4). */
  account?: string;
}

/** What an import found. `duplicates` are masked; `skipped` reasons never hold key text. */
export interface ImportResult {
  keys: ImportedKey[];
  duplicates: string[];
  skipped: Array<{ line: number; reason: string }>;
}

/**
 * What makes two keys the same key: provider and text. One gateway key (OpenRouter, LiteLLM,
 * one-api) may serve under `openai` and `anthropic` at once, and those are two keys.
 */
export function keyIdentity(providerId: string, secret: string): string {
  return `${providerId}\u0000${secret}`;
}

/** Where the text came from and how to attribute keys that do not say their provider. */
export interface ImportOptions {
  fileName?: string;
  catalogue: ProviderCatalogue;
  /** Provider for keys whose variable name and prefix do not tell (a custom one also beats prefixes). */
  defaultProvider?: string;
  /** Keys already stored, as `keyIdentity(provider, secret)`: importing one again is a duplicate. */
  existing?: Iterable<string>;
}

/** Prefixes many vendors share (`sk-`: OpenAI, DeepSeek, Moonshot…): the user's choice beats them. */
const GENERIC_PREFIXES = new Set(['sk-']);
const KEY_CHARS = /^[A-Za-z0-9_\-.+/=~]+$/;
const ENV_LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
const ENV_LIST = /^(.+?)_(?:API_)?KEYS$/;
const ENV_ONE = /^(.+?)_(?:API_)?KEY(?:_(\d+))?$/;
/** Endpoint paths people paste as "url"; the base is what precedes them. */
const ENDPOINT_SUFFIX = /\/(?:chat\/completions|completions|messages|responses|embeddings)\/?$/;

/** A token that can be a key. `strict` (for tokens among other words) also wants ≥ 16 chars and a digit. */
function looksLikeKey(t: string, strict: boolean): boolean {
  return KEY_CHARS.test(t) && t.length >= (strict ? 16 : 8) && (!strict || /\d/.test(t));
}

function unquote(v: string): string {
  const q = v[0];
  if (q === '"' || q === "'") {
    const close = v.indexOf(q, 1);
    return close === -1 ? v.slice(1) : v.slice(1, close);
  }
  const hash = v.search(/\s#/); // inline comment after an unquoted value
  return (hash === -1 ? v : v.slice(0, hash)).trim();
}

class Collector {
  readonly result: ImportResult = { keys: [], duplicates: [], skipped: [] };
  private readonly seen: Set<string>;
  private readonly fallback?: ProviderSpec;

  constructor(
    private readonly opts: ImportOptions,
    private readonly declared: ReadonlySet<string> = new Set(),
  ) {
    this.seen = new Set(opts.existing ?? []);
    this.fallback = opts.defaultProvider ? opts.catalogue.get(opts.defaultProvider) : undefined;
  }

  skip(line: number, reason: string): void {
    this.result.skipped.push({ line, reason });
  }

  add(k: ImportedKey, prefix: string | undefined): void {
    const identity = keyIdentity(k.providerId, k.secret);
    if (this.seen.has(identity)) {
      this.result.duplicates.push(maskKey(k.secret, prefix));
      return;
    }
    this.seen.add(identity);
    this.result.keys.push(k);
  }

  /** A distinctive key prefix, else the user's default, else a generic prefix (`sk-` → OpenAI). */
  providerFor(secret: string): ProviderSpec | undefined {
    const detected = this.opts.catalogue.detect(secret);
    const userWins = this.fallback && this.opts.catalogue.isCustom(this.fallback.id);
    if (detected && !userWins && !GENERIC_PREFIXES.has(detected.keyPrefix!)) return detected;
    return this.fallback ?? detected;
  }

  /** Prefix detection alone: for secrets whose context claims nothing about the provider. */
  detect(secret: string): ProviderSpec | undefined {
    return this.opts.catalogue.detect(secret);
  }

  byId(id: string): ProviderSpec | undefined {
    return this.opts.catalogue.get(id) ?? (this.declared.has(id) ? ({ id } as ProviderSpec) : undefined);
  }

  byEnvStem(stem: string): ProviderSpec | undefined {
    const up = stem.toUpperCase();
    return this.opts.catalogue.list().find((p) => p.envNames.includes(up));
  }

  byHost(url: string): ProviderSpec | undefined {
    const host = new URL(url).host;
    return this.opts.catalogue.list().find((p) => p.baseUrl && new URL(p.baseUrl).host === host);
  }
}

/** Longest account name kept: it is a label in the tree, not a place for text. */
const MAX_ACCOUNT_LEN = 64;

/** An account name as stored: trimmed, inner whitespace collapsed, at most 64 characters. */
export function normalizeAccount(name: string): string {
  return name.trim().replace(/\s+/g, ' ').slice(0, MAX_ACCOUNT_LEN);
}

/**
 * Reads keys from pasted text or a file: lists split by `,` `;` newlines (or spaces), `.env`
 * (`OPENAI_API_KEY`, `OPENAI_API_KEY_1..N`, `GROQ_KEYS=a;b`, quotes, `export`, comments), one key
 * per line (`factory_keys.txt`), JSON `{ "apiKeys": [{ key, url, models }] }` and the CLI config's
 * `{ "keys": [{ provider, key, label, models, weight, baseUrl, account }] }` (or a plain JSON array).
 * Provider: the variable's stem or the entry's `provider`/`url` host; else a distinctive key prefix;
 * else `defaultProvider`. For JSON, `line` is the line holding the entry's key (1 when unknown).
 */
export function importKeys(text: string, opts: ImportOptions): ImportResult {
  const body = text.replace(/^\uFEFF/, '');
  const first = body.trimStart()[0];
  if (first === '{' || first === '[' || /\.json$/i.test(opts.fileName ?? '')) return importJson(body, opts);
  const c = new Collector(opts);
  body.split(/\r?\n|\r/).forEach((raw, i) => importLine(c, raw.trim(), i + 1));
  return c.result;
}

function importLine(c: Collector, line: string, n: number): void {
  if (line === '' || line.startsWith('#') || line.startsWith('//')) return;
  const env = ENV_LINE.exec(line);
  if (env) return importEnv(c, env[1], unquote(env[2].trim()), n);
  for (const piece of line.split(/[,;]/)) {
    const tokens = piece
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((t) => t.replace(/^["'`]+|["'`]+$/g, ''));
    const strict = tokens.length > 1;
    let bad = 0;
    for (const t of tokens) {
      if (looksLikeKey(t, strict)) addLoose(c, t, n);
      else bad++;
    }
    if (bad)
      c.skip(
        n,
        bad === 1
          ? 'text that is not an API key (too short or has characters keys never have)'
          : `${bad} words that are not API keys`,
      );
  }
}

function addLoose(c: Collector, secret: string, n: number, label?: string): void {
  const p = c.providerFor(secret);
  if (!p) return c.skip(n, 'cannot tell which provider this key is for: choose a provider when importing');
  c.add({ providerId: p.id, secret, ...(label ? { label } : {}) }, p.keyPrefix);
}

function importEnv(c: Collector, name: string, value: string, n: number): void {
  const list = ENV_LIST.exec(name);
  const one = list ? undefined : ENV_ONE.exec(name);
  if (!list && !one)
    return c.skip(n, `${name} is not an API key variable (expected NAME_API_KEY, NAME_API_KEY_1…, NAME_KEYS)`);
  const stem = (list ?? one)![1];
  const secrets = list ? value.split(/[,;\s]+/).filter(Boolean) : value ? [value] : [];
  if (secrets.length === 0) return c.skip(n, `${name} is empty`);
  const named = c.byEnvStem(stem);
  secrets.forEach((secret, i) => {
    const label = list && secrets.length > 1 ? `${name}_${i + 1}` : name;
    if (!looksLikeKey(secret, false)) return c.skip(n, `${label} does not look like an API key`);
    if (named) return c.add({ providerId: named.id, secret, label }, named.keyPrefix);
    // No provider uses that stem: only a distinctive prefix may decide (MOONSHOT_API_KEY=sk-… is not OpenAI's).
    const detected = c.detect(secret);
    if (!detected || GENERIC_PREFIXES.has(detected.keyPrefix!))
      return c.skip(
        n,
        `${name}: no provider is known as "${stem}"; rename it (e.g. OPENAI_API_KEY) or add a custom provider`,
      );
    c.add({ providerId: detected.id, secret, label }, detected.keyPrefix);
  });
}

function lineOf(text: string, needle: string): number {
  const at = needle ? text.indexOf(needle) : -1;
  if (at === -1) return 1;
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function importJson(text: string, opts: ImportOptions): ImportResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const { line } = jsonSyntaxProblem(err, text);
    const c = new Collector(opts);
    c.skip(line ?? 1, 'the JSON does not parse here: check quotes and commas');
    return c.result;
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const declared = new Set(
    Array.isArray(o.providers)
      ? o.providers.map((p) => (p as { id?: unknown })?.id).filter((id): id is string => typeof id === 'string')
      : [],
  );
  const c = new Collector(opts, declared);
  const lists: Array<[string, unknown[]]> = Array.isArray(doc) ? [['entries', doc]] : [];
  for (const f of ['apiKeys', 'keys'] as const) if (Array.isArray(o[f])) lists.push([f, o[f] as unknown[]]);
  if (lists.length === 0)
    c.skip(
      1,
      'the JSON has no "apiKeys" or "keys" list, e.g. {"apiKeys": [{"key": "…", "url": "…", "models": ["…"]}]}',
    );
  for (const [path, entries] of lists) entries.forEach((e, i) => importEntry(c, text, e, `${path}[${i}]`));
  return c.result;
}

function importEntry(c: Collector, text: string, e: unknown, where: string): void {
  if (typeof e === 'string') {
    const secret = e.trim();
    const n = lineOf(text, secret);
    return looksLikeKey(secret, false) ? addLoose(c, secret, n) : c.skip(n, `${where} does not look like an API key`);
  }
  if (typeof e !== 'object' || e === null) return c.skip(1, `${where} must be an object like {"key": "…"}`);
  const o = e as Record<string, unknown>;
  const raw = o.key ?? o.apiKey ?? o.api_key;
  const secret = typeof raw === 'string' ? raw.trim() : '';
  const n = lineOf(text, secret);
  if (!looksLikeKey(secret, false)) return c.skip(n, `${where}: "key" is missing or does not look like an API key`);
  const url = o.url ?? o.baseUrl ?? o.base_url;
  let baseUrl: string | undefined;
  if (url !== undefined) {
    try {
      baseUrl = normalizeBaseUrl(
        typeof url === 'string' ? url.trim().replace(ENDPOINT_SUFFIX, '') : url,
        `${where}: "url"`,
      );
    } catch (err) {
      return c.skip(n, (err as Error).message);
    }
  }
  let p: ProviderSpec | undefined;
  if (o.provider !== undefined) {
    p = typeof o.provider === 'string' ? c.byId(o.provider) : undefined;
    if (!p)
      return c.skip(
        n,
        `${where}: unknown provider ${JSON.stringify(String(o.provider)).slice(0, 80)}; use a preset id or declare it in "providers"`,
      );
  } else {
    p = (baseUrl && c.byHost(baseUrl)) || c.providerFor(secret) || (baseUrl ? c.byId('custom') : undefined);
    if (!p) return c.skip(n, `${where}: cannot tell the provider; add "provider" or "url"`);
  }
  if (p.id === 'custom' && !baseUrl)
    return c.skip(n, `${where}: a custom key needs "url" (the API root, e.g. https://host/v1)`);
  if (baseUrl && isPresetId(p.id) && baseUrl === p.baseUrl) baseUrl = undefined; // the preset's own URL
  const extra = entryExtras(o, where);
  if (typeof extra === 'string') return c.skip(n, extra);
  c.add({ providerId: p.id, secret, ...extra, ...(baseUrl ? { baseUrl } : {}) }, p.keyPrefix);
}

/** The optional fields of a JSON key entry, checked; a string is what is wrong with them. */
function entryExtras(
  o: Record<string, unknown>,
  where: string,
): Pick<ImportedKey, 'label' | 'account' | 'models' | 'weight'> | string {
  const { models, weight, account } = o;
  if (models !== undefined && !(Array.isArray(models) && models.every((m) => typeof m === 'string' && m))) {
    return `${where}: "models" must be a list of model ids`;
  }
  if (weight !== undefined && !(typeof weight === 'number' && Number.isFinite(weight) && weight > 0)) {
    return `${where}: "weight" must be a positive number`;
  }
  if (account !== undefined && !(typeof account === 'string' && account.trim())) {
    return `${where}: "account" must be a name, e.g. "work": keys of one account share its limits`;
  }
  const label = typeof o.label === 'string' ? o.label : typeof o.name === 'string' ? o.name : undefined;
  return {
    ...(label ? { label } : {}),
    ...(account ? { account: normalizeAccount(account as string) } : {}),
    ...(models ? { models: [...(models as string[])] } : {}),
    ...(weight !== undefined ? { weight: weight as number } : {}),
  };
}
