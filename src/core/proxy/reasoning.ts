import type { ProviderSpec, ProxyConfig, ReasoningLevel, ReasoningSetting } from '../types';

/**
 * Reasoning levels (`keyRelay.reasoning`, CLI `proxy.reasoning`): one setting that each API shape
 * spells its own way. OpenAI chat and Gemini's OpenAI-compatible endpoint take `reasoning_effort`,
 * the Responses API `reasoning.effort`, Anthropic Messages `thinking.budget_tokens`.
 */

/** Thinking budget per level on Anthropic Messages (its minimum is 1024). */
export const ANTHROPIC_BUDGETS: Readonly<Record<'low' | 'medium' | 'high' | 'max', number>> = {
  low: 2048,
  medium: 8192,
  high: 16384,
  max: 24576,
};

/** Room left for the answer when `max_tokens` has to be raised above the thinking budget. */
export const ANSWER_ROOM = 4096;

/** Where a request goes: what decides the field and its values. */
export interface ReasoningTarget {
  /** The routed provider: its id and API shape. */
  provider: Pick<ProviderSpec, 'id' | 'shape'>;
  /** The path below `/v1` (`/chat/completions`, `/responses`, `/messages`). */
  rest: string;
  /** The model as it goes upstream (prefix stripped). */
  model: string | undefined;
}

/**
 * The level that applies to `model`: a plain setting applies to every model; in an object the
 * exact id wins, then the longest matching pattern; a model no pattern matches gets `auto`.
 */
export function levelFor(setting: ReasoningSetting, model: string, providerId: string): ReasoningLevel {
  if (typeof setting === 'string') return setting;
  let best: ReasoningLevel = 'auto';
  let bestScore = -1;
  for (const [pattern, level] of Object.entries(setting)) {
    if (!matchesModel(pattern, model, providerId)) continue;
    const score = pattern.includes('*') ? pattern.replace(/\*/g, '').length : Number.MAX_SAFE_INTEGER;
    if (score > bestScore) {
      best = level;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Whether a pattern (`*` = any run of characters, case-insensitive) matches the model as sent
 * upstream, as `provider/model`, or its last segment (`openai/gpt-4o` on OpenRouter → `gpt-4o`).
 */
export function matchesModel(pattern: string, model: string, providerId: string): boolean {
  const re = globToRegExp(pattern);
  const tail = model.slice(model.lastIndexOf('/') + 1);
  return re.test(model) || re.test(`${providerId}/${model}`) || re.test(tail);
}

const compiled = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    // Patterns come from settings: a handful, so the cache stays small.
    if (compiled.size < 1000) compiled.set(pattern, re);
  }
  return re;
}

/**
 * The body with the reasoning level applied, or the very same Buffer when no level applies: the
 * level is `auto`, the model is listed as non-reasoning, the endpoint takes no reasoning field,
 * or the body is not a JSON object. Only a body that changes is parsed and written again.
 */
export function applyReasoning(body: Buffer, target: ReasoningTarget, cfg: ProxyConfig): Buffer {
  const { model } = target;
  if (cfg.reasoning === 'auto' || model === undefined || body.length === 0) return body;
  const providerId = target.provider.id;
  const level = levelFor(cfg.reasoning, model, providerId);
  if (level === 'auto') return body;
  if (cfg.nonReasoningModels.some((p) => matchesModel(p, model, providerId))) return body;
  const rewrite = rewriterFor(target);
  if (!rewrite) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body; // upstream says what is wrong with it; no penalty to the key
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return body;
  rewrite(parsed as Record<string, unknown>, level);
  return Buffer.from(JSON.stringify(parsed), 'utf8');
}

type Rewriter = (b: Record<string, unknown>, level: Exclude<ReasoningLevel, 'auto'>) => void;

function rewriterFor(t: ReasoningTarget): Rewriter | undefined {
  const path = t.rest.split('?', 1)[0].replace(/\/+$/, '');
  if (t.provider.shape === 'anthropic') return path === '/messages' ? anthropicThinking : undefined;
  if (path === '/chat/completions') return t.provider.id === 'gemini' ? geminiEffort : openaiEffort;
  if (path === '/responses') return responsesEffort;
  return undefined;
}

/**
 * OpenAI's efforts: `max` is `high`, the most every reasoning model takes. `off` is the least the
 * model accepts: `minimal` on GPT-5, `none` on GPT-5.1 and later (which dropped `minimal`), `low`
 * on the o-series and other providers' models, which cannot think less (a value a model refuses
 * would turn into a 400).
 */
function openaiLevel(level: Exclude<ReasoningLevel, 'auto'>, model: string): string {
  if (level === 'max') return 'high';
  if (level !== 'off') return level;
  const tail = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  if (/^gpt-5(?:-|$)/.test(tail)) return 'minimal';
  if (/^gpt-5\.\d/.test(tail) || /^gpt-[6-9]/.test(tail)) return 'none';
  return 'low';
}

const openaiEffort: Rewriter = (b, level) => {
  b.reasoning_effort = openaiLevel(level, String(b.model ?? ''));
};

/** Gemini's OpenAI-compatible endpoint turns thinking off with `none`. */
const geminiEffort: Rewriter = (b, level) => {
  b.reasoning_effort = level === 'off' ? 'none' : level === 'max' ? 'high' : level;
};

const responsesEffort: Rewriter = (b, level) => {
  const own = b.reasoning;
  const rest = typeof own === 'object' && own !== null && !Array.isArray(own) ? own : {};
  b.reasoning = { ...rest, effort: openaiLevel(level, String(b.model ?? '')) };
};

/**
 * Anthropic: `thinking: { type: "enabled", budget_tokens }`; `max_tokens` must exceed the budget,
 * and thinking refuses a changed `temperature`, `top_k`, or `top_p` below 0.95, so those go.
 * `off` removes the client's thinking block (no thinking is Anthropic's default).
 */
const anthropicThinking: Rewriter = (b, level) => {
  if (level === 'off') {
    delete b.thinking;
    return;
  }
  const budget = ANTHROPIC_BUDGETS[level];
  b.thinking = { type: 'enabled', budget_tokens: budget };
  if (typeof b.max_tokens !== 'number' || b.max_tokens <= budget) b.max_tokens = budget + ANSWER_ROOM;
  if (b.temperature !== undefined && b.temperature !== 1) delete b.temperature;
  delete b.top_k;
  if (typeof b.top_p === 'number' && b.top_p < 0.95) delete b.top_p;
};

/**
 * The setting after "Set Reasoning Level" picked `level` for every model: a plain level replaces
 * a plain one; in an object of patterns it becomes the `"*"` entry, so the per-model ones stay.
 */
export function withGlobalLevel(setting: ReasoningSetting, level: ReasoningLevel): ReasoningSetting {
  return typeof setting === 'string' ? level : { ...setting, '*': level };
}

/** The level "Set Reasoning Level" shows as current: the plain one, or the object's `"*"` entry. */
export function globalLevel(setting: ReasoningSetting): ReasoningLevel {
  return typeof setting === 'string' ? setting : (setting['*'] ?? 'auto');
}
