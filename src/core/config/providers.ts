import type { ApiShape, AuthStyle, ProviderSpec, TestRequest } from '../types';
import { ProxyError } from '../errors';
import { unknownField } from './nearest';

/** The cheapest authenticated request most OpenAI-compatible APIs answer. */
const LIST_MODELS: TestRequest = { method: 'GET', path: '/models' };

function preset(p: Omit<ProviderSpec, 'testRequest'> & { testRequest?: TestRequest }): ProviderSpec {
  // A preset knows whether it serves /fim/completions; a custom one (no base URL) is left to try.
  const hasFim = p.hasFim ?? (p.baseUrl ? false : undefined);
  return Object.freeze({
    ...p,
    hasFim,
    testRequest: p.testRequest ?? LIST_MODELS,
    envNames: Object.freeze([...p.envNames]) as string[],
  });
}

/**
 * Built-in providers (DESIGN §2). Base URLs include the version segment, so a request path such as
 * `/chat/completions` is simply appended. `custom` has no base URL: its keys carry their own.
 */
export const PRESETS: readonly ProviderSpec[] = Object.freeze([
  preset({
    id: 'openai',
    name: 'OpenAI',
    shape: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    auth: 'bearer',
    keyPrefix: 'sk-',
    envNames: ['OPENAI'],
  }),
  // Anthropic lists models at GET /v1/models; it needs a key, so it tests the key for free.
  preset({
    id: 'anthropic',
    name: 'Anthropic',
    shape: 'anthropic',
    baseUrl: 'https://api.anthropic.com/v1',
    auth: 'x-api-key',
    keyPrefix: 'sk-ant-',
    envNames: ['ANTHROPIC'],
  }),
  // OpenRouter's /models is public, so it would pass any key; /key needs a valid one.
  preset({
    id: 'openrouter',
    name: 'OpenRouter',
    shape: 'openai',
    baseUrl: 'https://openrouter.ai/api/v1',
    auth: 'bearer',
    keyPrefix: 'sk-or-',
    envNames: ['OPENROUTER'],
    testRequest: { method: 'GET', path: '/key' },
  }),
  preset({
    id: 'gemini',
    name: 'Google Gemini',
    shape: 'openai',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai',
    auth: 'bearer',
    keyPrefix: 'AIza',
    envNames: ['GEMINI', 'GOOGLE'],
  }),
  preset({
    id: 'groq',
    name: 'Groq',
    shape: 'openai',
    baseUrl: 'https://api.groq.com/openai/v1',
    auth: 'bearer',
    keyPrefix: 'gsk_',
    envNames: ['GROQ'],
  }),
  preset({
    id: 'mistral',
    name: 'Mistral',
    shape: 'openai',
    baseUrl: 'https://api.mistral.ai/v1',
    auth: 'bearer',
    envNames: ['MISTRAL'],
    hasFim: true,
  }),
  // DeepSeek keys also start with `sk-`; detection leaves them to OpenAI unless the user says otherwise.
  preset({
    id: 'deepseek',
    name: 'DeepSeek',
    shape: 'openai',
    baseUrl: 'https://api.deepseek.com/v1',
    auth: 'bearer',
    envNames: ['DEEPSEEK'],
  }),
  preset({
    id: 'xai',
    name: 'xAI',
    shape: 'openai',
    baseUrl: 'https://api.x.ai/v1',
    auth: 'bearer',
    keyPrefix: 'xai-',
    envNames: ['XAI'],
  }),
  preset({
    id: 'together',
    name: 'Together AI',
    shape: 'openai',
    baseUrl: 'https://api.together.xyz/v1',
    auth: 'bearer',
    envNames: ['TOGETHER'],
  }),
  preset({
    id: 'fireworks',
    name: 'Fireworks AI',
    shape: 'openai',
    baseUrl: 'https://api.fireworks.ai/inference/v1',
    auth: 'bearer',
    keyPrefix: 'fw_',
    envNames: ['FIREWORKS'],
  }),
  preset({
    id: 'cerebras',
    name: 'Cerebras',
    shape: 'openai',
    baseUrl: 'https://api.cerebras.ai/v1',
    auth: 'bearer',
    keyPrefix: 'csk-',
    envNames: ['CEREBRAS'],
  }),
  preset({
    id: 'custom',
    name: 'Custom (OpenAI-compatible)',
    shape: 'openai',
    baseUrl: '',
    auth: 'bearer',
    envNames: [],
  }),
]);

const PRESET_IDS: ReadonlySet<string> = new Set(PRESETS.map((p) => p.id));

/** Whether `id` names a built-in preset (a custom entry may still override it). */
export function isPresetId(id: string): boolean {
  return PRESET_IDS.has(id);
}

/**
 * Presets plus the user's custom providers. A custom entry with a preset's id replaces that preset
 * (pointing `openai` at a gateway, say) and keeps its place in the list.
 */
export class ProviderCatalogue {
  private byId = new Map<string, ProviderSpec>();
  private ordered: ProviderSpec[] = [];
  private customIds = new Set<string>();
  /** Prefix-bearing providers, longest prefix first, so `sk-ant-` wins over `sk-`. */
  private byPrefix: ProviderSpec[] = [];

  constructor(custom: ProviderSpec[] = []) {
    this.set(custom);
  }

  /** The provider with this id, if any. */
  get(id: string): ProviderSpec | undefined {
    return this.byId.get(id);
  }

  /** Every provider: presets in their fixed order, then custom entries. */
  list(): ProviderSpec[] {
    return this.ordered.slice();
  }
  /** The providers in order, not copied: the same array until `set` (read it, never change it). */
  providers(): readonly ProviderSpec[] {
    return this.ordered;
  }

  /** Whether `id` was given by the user rather than built in. */
  isCustom(id: string): boolean {
    return this.customIds.has(id);
  }

  /** Replaces the custom providers. */
  set(custom: ProviderSpec[]): void {
    const overrides = new Map(custom.map((c) => [c.id, c] as const));
    this.ordered = PRESETS.map((p) => overrides.get(p.id) ?? p);
    for (const c of custom) if (!PRESET_IDS.has(c.id)) this.ordered.push(c);
    this.byId = new Map(this.ordered.map((p) => [p.id, p] as const));
    this.customIds = new Set(custom.map((c) => c.id));
    this.byPrefix = this.ordered.filter((p) => p.keyPrefix).sort((a, b) => b.keyPrefix!.length - a.keyPrefix!.length);
  }

  /**
   * The provider a request of `shape` goes to when nothing else decides: the first of that shape
   * with keys, else the `openai` / `anthropic` entry (fallback mode forwards the client's credential).
   */
  defaultFor(shape: ApiShape, withKeys: (id: string) => boolean): ProviderSpec | undefined {
    for (const p of this.ordered) if (p.shape === shape && withKeys(p.id)) return p;
    const fallback = this.byId.get(shape === 'anthropic' ? 'anthropic' : 'openai');
    return fallback?.shape === shape ? fallback : undefined;
  }

  /** The provider whose key prefix the secret starts with, longest prefix first. */
  detect(secret: string): ProviderSpec | undefined {
    for (const p of this.byPrefix) if (secret.startsWith(p.keyPrefix!)) return p;
    return undefined;
  }
}

const SHAPES: readonly ApiShape[] = ['openai', 'anthropic'];
const AUTHS: readonly AuthStyle[] = ['bearer', 'x-api-key', 'x-goog-api-key'];
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** The fields a provider entry may have: an unknown one (`baseURL`) is a typo, not something to ignore. */
const PROVIDER_FIELDS = [
  ...['id', 'name', 'shape', 'baseUrl', 'auth', 'testRequest'],
  ...['models', 'envNames', 'keyPrefix', 'hasFim'],
];

function invalid(msg: string): never {
  throw new ProxyError('invalid_config', 400, msg);
}

/**
 * Checks a base URL and returns it without trailing slashes; `what` names the field in the message.
 * Throws ProxyError('invalid_config') naming the problem and the fix.
 */
export function normalizeBaseUrl(raw: unknown, what = 'baseUrl'): string {
  if (typeof raw !== 'string' || raw.trim() === '')
    invalid(`${what} is missing: give the provider's API root, e.g. "https://api.example.com/v1".`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return invalid(`${what} is not a URL: write it as "https://host/v1".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(`${what} must start with http:// or https://.`);
  if (url.search || url.hash || raw.includes('?'))
    invalid(`${what} must not have a query string or #fragment: put only the API root, e.g. "https://host/v1".`);
  // Credentials in a URL end up in logs and status output; keys belong in the key store.
  if (url.username || url.password)
    invalid(`${what} must not contain user:password@; add the credential as a key instead.`);
  return url.toString().replace(/\/+$/, '');
}

/**
 * Validates a custom provider from settings or a CLI config and fills defaults: `name` = id,
 * `auth` by shape (bearer / x-api-key), `testRequest` GET /models, `envNames` [ID in upper case].
 * Throws ProxyError('invalid_config', 400) with a message naming the field and the fix.
 */
export function validateProviderSpec(x: unknown): ProviderSpec {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    invalid('A provider must be an object like {"id": "myproxy", "shape": "openai", "baseUrl": "https://host/v1"}.');
  const o = withPresetFields(x as Record<string, unknown>);
  if (typeof o.id !== 'string' || !ID_RE.test(o.id)) {
    invalid(
      'Provider "id" must be lower-case letters, digits, ".", "_" or "-" (no "/", which separates provider and model), e.g. "myproxy".',
    );
  }
  const id = o.id;
  const where = `Provider "${id}":`;
  const odd = Object.keys(o).find((f) => !PROVIDER_FIELDS.includes(f));
  if (odd !== undefined) invalid(`${where} ${unknownField(odd, PROVIDER_FIELDS)}.`);
  if (o.name !== undefined && typeof o.name !== 'string') invalid(`${where} "name" must be a string.`);
  if (!SHAPES.includes(o.shape as ApiShape)) invalid(`${where} "shape" must be "openai" or "anthropic".`);
  const shape = o.shape as ApiShape;
  let baseUrl: string;
  try {
    baseUrl = normalizeBaseUrl(o.baseUrl);
  } catch (e) {
    return invalid(`${where} ${(e as Error).message}`);
  }
  if (o.auth !== undefined && !AUTHS.includes(o.auth as AuthStyle))
    invalid(`${where} "auth" must be one of ${AUTHS.map((a) => `"${a}"`).join(', ')}.`);
  const auth = (o.auth as AuthStyle | undefined) ?? (shape === 'anthropic' ? 'x-api-key' : 'bearer');
  const testRequest = o.testRequest === undefined ? LIST_MODELS : parseTestRequest(o.testRequest, where);
  const strings = (v: unknown, field: string): string[] | undefined => stringList(v, `${where} "${field}"`);
  const models = strings(o.models, 'models');
  const envNames = strings(o.envNames, 'envNames') ?? [id.toUpperCase().replace(/[^A-Z0-9]/g, '_')];
  if (o.keyPrefix !== undefined && (typeof o.keyPrefix !== 'string' || o.keyPrefix.length < 2))
    invalid(`${where} "keyPrefix" must be a string of at least 2 characters, e.g. "sk-".`);
  if (o.hasFim !== undefined && typeof o.hasFim !== 'boolean') invalid(`${where} "hasFim" must be true or false.`);
  return {
    id,
    name: (o.name as string | undefined) || id,
    shape,
    baseUrl,
    auth,
    testRequest,
    envNames,
    ...(models ? { models } : {}),
    ...(o.keyPrefix !== undefined ? { keyPrefix: o.keyPrefix as string } : {}),
    ...(o.hasFim !== undefined ? { hasFim: o.hasFim as boolean } : {}),
  };
}

/**
 * An entry that overrides a preset (same id) keeps the preset's fields it does not set: an
 * override of `openai`'s baseUrl alone dropped its key prefix, and a key-per-line file then loaded
 * nothing. A changed shape keeps only what does not depend on it (name, env names, key prefix).
 */
function withPresetFields(o: Record<string, unknown>): Record<string, unknown> {
  const preset = PRESETS.find((p) => p.id === o.id);
  if (!preset) return o;
  const { name, envNames, keyPrefix } = preset;
  const same = o.shape === undefined || o.shape === preset.shape;
  const inherited: Record<string, unknown> = same ? { ...preset } : { name, envNames, keyPrefix };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) inherited[k] = v;
  return inherited;
}

function parseTestRequest(x: unknown, where: string): TestRequest {
  const t = x as Record<string, unknown>;
  if (
    typeof t !== 'object' ||
    t === null ||
    (t.method !== 'GET' && t.method !== 'POST') ||
    typeof t.path !== 'string' ||
    !t.path.startsWith('/')
  ) {
    invalid(`${where} "testRequest" must look like {"method": "GET", "path": "/models"} (path starting with "/").`);
  }
  if (t.body !== undefined && typeof t.body !== 'string')
    invalid(`${where} "testRequest.body" must be a string (JSON text).`);
  return { method: t.method, path: t.path, ...(t.body !== undefined ? { body: t.body as string } : {}) };
}

function stringList(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length > 0))
    invalid(`${what} must be a list of non-empty strings.`);
  return [...v] as string[];
}
