import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { undici } from './undiciLoader';
import { readBody } from './body';
import { ProxyError } from '../errors';
import type { KeyPool } from '../pool/keyPool';
import type { ProviderCatalogue } from '../config/providers';
import type { ApiShape } from '../types';

/** At most this many models per fan-out, so one call cannot burn the whole pool. */
const MAX_MODELS = 16;

/**
 * `POST /keyrelay/run` (DESIGN §1): one prompt to several models in parallel, each through the
 * proxy itself so it gets the same key rotation. Body: `{ "prompt", "models": [...], "max_tokens"? }`.
 */
export async function runFanOut(req: IncomingMessage, res: ServerResponse, opts: FanOutOptions): Promise<void> {
  const input = parseInput(await readBody(req, opts.maxBodyBytes, 30_000));
  const results = await Promise.all(input.models.map((model) => callModel(model, input, opts)));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
}

/** What a fan-out needs from the server. */
export interface FanOutOptions {
  endpoint: string;
  token: string;
  dispatcher: Dispatcher;
  catalogue: ProviderCatalogue;
  pool: KeyPool;
  maxBodyBytes: number;
}

interface FanOutInput {
  prompt: string;
  models: string[];
  maxTokens: number;
}

function parseInput(raw: Buffer): FanOutInput {
  let input: { prompt?: unknown; models?: unknown; max_tokens?: unknown };
  try {
    input = JSON.parse(raw.toString('utf8')) as typeof input;
  } catch {
    throw new ProxyError(
      'invalid_json',
      400,
      'The body must be JSON like {"prompt": "…", "models": ["gpt-4o", "anthropic/claude-sonnet-4"]}.',
    );
  }
  const { prompt, models } = input;
  if (
    typeof prompt !== 'string' ||
    !Array.isArray(models) ||
    models.length === 0 ||
    models.length > MAX_MODELS ||
    !models.every((m) => typeof m === 'string')
  ) {
    throw new ProxyError('invalid_json', 400, `Send {"prompt": string, "models": [1–${MAX_MODELS} model ids]}.`);
  }
  return {
    prompt,
    models: models as string[],
    maxTokens: typeof input.max_tokens === 'number' ? input.max_tokens : 512,
  };
}

/** One model's answer, through the proxy itself so it gets the same key rotation. */
async function callModel(model: string, input: FanOutInput, opts: FanOutOptions) {
  const started = Date.now();
  try {
    const shape = shapeOf(model, opts.catalogue, opts.pool);
    const path = shape === 'anthropic' ? '/v1/messages' : '/v1/chat/completions';
    const r = await undici().request(`${opts.endpoint}${path}`, {
      dispatcher: opts.dispatcher,
      method: 'POST',
      headers: {
        authorization: `Bearer ${opts.token}`,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({ model, max_tokens: input.maxTokens, messages: [{ role: 'user', content: input.prompt }] }),
    });
    const json = (await r.body.json()) as Record<string, unknown>;
    const error = r.statusCode >= 400 ? json : undefined;
    return { model, status: r.statusCode, ms: Date.now() - started, output: textOf(json), error };
  } catch (err) {
    return { model, status: 0, ms: Date.now() - started, output: '', error: (err as Error).message };
  }
}

/** Which API a model is spoken to in: its provider prefix's shape, else Claude models → Anthropic. */
function shapeOf(model: string, catalogue: ProviderCatalogue, pool: KeyPool): ApiShape {
  const prefix = catalogue.get(model.split('/', 1)[0]);
  if (prefix && model.includes('/')) return prefix.shape;
  const anthropicWithKeys = pool.providerIds().some((id) => catalogue.get(id)?.shape === 'anthropic');
  return model.startsWith('claude') && anthropicWithKeys ? 'anthropic' : 'openai';
}

/** The answer text in either API shape. */
function textOf(json: Record<string, unknown>): string {
  const choices = json.choices as Array<{ message?: { content?: string } }> | undefined;
  if (choices?.[0]?.message?.content) return choices[0].message.content;
  const content = json.content as Array<{ type: string; text?: string }> | undefined;
  return (
    content
      ?.filter((c) => c.type === 'text')
      .map((c) => c.text ?? '')
      .join('') ?? ''
  );
}
