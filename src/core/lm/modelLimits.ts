/** What the editor is told about a model: how much it takes in and gives out, and what it can do. */
export interface ModelLimits {
  maxInputTokens: number;
  maxOutputTokens: number;
  toolCalling: boolean;
  imageInput: boolean;
  /** False: nothing is known of this model and the numbers are the safe default. */
  known: boolean;
}

type Row = [pattern: RegExp, input: number, output: number, tools: boolean, images: boolean];

/**
 * Known models, first match wins, matched against the model id's last `/` segment (OpenRouter
 * and Together ids carry an owner prefix). Input is what may be sent while leaving room for the
 * answer: the context window minus the output budget KeyRelay asks for (for Claude, input plus
 * `max_tokens` must fit the window). Numbers from the providers' model pages.
 */
const KNOWN: readonly Row[] = [
  [/^gpt-5/, 272_000, 128_000, true, true],
  [/^gpt-4\.1/, 1_014_808, 32_768, true, true],
  [/^(gpt-4o|chatgpt-4o)/, 111_616, 16_384, true, true],
  [/^gpt-4-turbo/, 123_904, 4_096, true, true],
  [/^gpt-oss/, 98_304, 32_768, true, false],
  [/^o(1|3|4)-mini/, 100_000, 100_000, true, false],
  [/^o(1|3|4)/, 100_000, 100_000, true, true],
  [/^claude-(opus|sonnet|haiku)-4|^claude-(opus|sonnet)-[1-9]|^claude-3-7-sonnet/, 168_000, 32_000, true, true],
  [/^claude-3(-5)?-(sonnet|haiku|opus)/, 191_808, 8_192, true, true],
  [/^gemini-(2|3)/, 983_040, 65_536, true, true],
  [/^gemini-1\.5/, 1_040_384, 8_192, true, true],
  [/^deepseek-reasoner/, 98_304, 32_768, false, false],
  [/^deepseek-(chat|v3)/, 122_880, 8_192, true, false],
  [/^grok-code/, 224_000, 32_000, true, false],
  [/^grok-4/, 224_000, 32_000, true, true],
  [/^grok-3/, 122_880, 8_192, true, false],
  [/^(meta-)?llama-4/, 98_304, 8_192, true, true],
  [/^(meta-)?llama-3\.[13]-(70|405)b/, 98_304, 32_768, true, false],
  [/^qwen3-coder|^qwen-3-coder/, 196_608, 65_536, true, false],
  [/^kimi-k2/, 114_688, 16_384, true, false],
  [/^(mistral-large|mistral-medium|magistral)/, 122_880, 8_192, true, false],
  [/^(codestral|devstral)/, 122_880, 8_192, true, false],
];

/** For a model nothing is known of: small enough that any chat model takes it, no claims. */
export const DEFAULT_LIMITS: Readonly<ModelLimits> = Object.freeze({
  maxInputTokens: 16_384,
  maxOutputTokens: 4_096,
  toolCalling: false,
  imageInput: false,
  known: false,
});

/** The limits and capabilities of `model`, from the table or the safe default. */
export function modelLimits(model: string): ModelLimits {
  const name = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  for (const [pattern, maxInputTokens, maxOutputTokens, toolCalling, imageInput] of KNOWN) {
    if (pattern.test(name)) return { maxInputTokens, maxOutputTokens, toolCalling, imageInput, known: true };
  }
  return { ...DEFAULT_LIMITS };
}

/**
 * The default of `keyRelay.chatModels`: a short list per provider of the models worth picking,
 * as `providerId/model` patterns (`*` matches anything). Wildcard-free entries double as the
 * provider's list when its `/models` cannot be read.
 */
export const DEFAULT_CHAT_MODELS: readonly string[] = Object.freeze([
  'openai/gpt-5',
  'openai/gpt-5-mini',
  'openai/gpt-4.1',
  'openai/gpt-4o',
  'openai/gpt-4o-mini',
  'openai/o3',
  'openai/o4-mini',
  'anthropic/claude-opus-4*',
  'anthropic/claude-sonnet-4*',
  'anthropic/claude-haiku-4*',
  'openrouter/anthropic/claude-sonnet-4*',
  'openrouter/openai/gpt-5',
  'openrouter/google/gemini-2.5-pro',
  'openrouter/qwen/qwen3-coder',
  'gemini/gemini-2.5-pro',
  'gemini/gemini-2.5-flash',
  'groq/llama-3.3-70b-versatile',
  'groq/openai/gpt-oss-120b',
  'mistral/mistral-large-latest',
  'mistral/devstral-medium-latest',
  'mistral/codestral-latest',
  'deepseek/deepseek-chat',
  'deepseek/deepseek-reasoner',
  'xai/grok-4*',
  'xai/grok-code-fast-1',
  'together/Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8',
  'together/meta-llama/Llama-3.3-70B-Instruct-Turbo',
  'fireworks/accounts/fireworks/models/qwen3-coder-480b-a35b-instruct',
  'cerebras/qwen-3-coder-480b',
  'cerebras/gpt-oss-120b',
  'custom/*',
]);

/** A matcher for `providerId/model` ids from glob patterns (`*` = any run, case-insensitive). */
export function modelMatcher(patterns: readonly string[]): (id: string) => boolean {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
        'i',
      ),
  );
  return (id) => res.some((re) => re.test(id));
}
