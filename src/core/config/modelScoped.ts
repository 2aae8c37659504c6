/**
 * Model-scoped key variables as the older pool managers write them (`GPT_4_KEYS=a,b`,
 * `CLAUDE_3_OPUS_KEYS=…`): the stem names the model the keys are limited to.
 */

/** Model families and their providers, for model-scoped variables (`CLAUDE_3_OPUS_KEYS`). */
const MODEL_FAMILIES: ReadonlyArray<[RegExp, string]> = [
  [/^(gpt|o\d|chatgpt|text-embedding)/, 'openai'],
  [/^claude/, 'anthropic'],
  [/^gemini/, 'gemini'],
  [/^(mistral|codestral|magistral|devstral)/, 'mistral'],
  [/^deepseek/, 'deepseek'],
  [/^grok/, 'xai'],
];

/** `GPT_4O_MINI` → model `gpt-4o-mini` of openai; undefined when the stem names no model family. */
export function modelScoped(stem: string): { model: string; providerId: string } | undefined {
  const model = stem.toLowerCase().replace(/_/g, '-');
  const family = MODEL_FAMILIES.find(([re]) => re.test(model));
  return family ? { model, providerId: family[1] } : undefined;
}
