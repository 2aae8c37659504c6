import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError } from '../errors';
import type { ApiShape, ModelResponse, ProviderSpec } from '../types';
import { readBody } from './body';
import { DeltaReader, errorMessageOf, textOfJson } from './fanOutText';
import { forwardInProcess } from './inProcess';
import type { ForwardDeps, Trace } from './requestContext';
import { isConfiguredProvider } from './router';

/** At most this many models per fan-out, so one call cannot burn the whole pool. */
const MAX_MODELS = 16;

/** What a fan-out needs from the server: the forwarder's own parts, and the body limit. */
export interface FanOutOptions {
  deps: ForwardDeps;
  maxBodyBytes: number;
}

export type { ModelResponse } from '../types';

interface Message {
  role: string;
  content: string;
}

/** A fan-out request, checked. */
export interface FanOutInput {
  prompt: string;
  messages: Message[];
  models: string[];
  stream: boolean;
  randomKey: boolean;
  maxTokens?: number;
}

/** The whole answer. */
export interface FanOutSummary {
  prompt: string;
  total_duration: number;
  total_models: number;
  successful: number;
  failed: number;
  key_rotation: string;
  responses: ModelResponse[];
}

/** What happens during a fan-out: a text chunk of one model, or one model's finished answer. */
export type FanOutEvent =
  | { event: 'delta'; data: { model: string; index: number; delta: string } }
  | { event: 'result'; data: ModelResponse & { index: number } };

/** Hears every event of a fan-out as it happens (the SSE stream, the Compare Models panel). */
type Emit = (e: FanOutEvent) => void;

/**
 * `POST /keyrelay/run`: one prompt to several models in parallel, each through the proxy's own
 * forwarder, so each model call takes its own key by the pool's rotation (or a random one), fails
 * over per model, and is counted like any request. One model failing never fails the others; the
 * client going away aborts them all. With `"stream": true` every text chunk is an SSE event
 * tagged with its model, then one `result` event per model and a final `done` with the summary.
 */
export async function runFanOut(req: IncomingMessage, res: ServerResponse, opts: FanOutOptions): Promise<void> {
  const raw = await readBody(req, opts.maxBodyBytes, 30_000);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ProxyError('invalid_json', 400, `The body is not JSON. ${USAGE}.`);
  }
  const input = parseFanOutInput(json);
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClose);
  let emit: Emit | undefined;
  if (input.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    emit = (e) => void res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  }
  const summary = await runModels(opts.deps, input, abort.signal, emit);
  res.off('close', onClose);
  if (res.destroyed) return;
  if (emit) res.end(`event: done\ndata: ${JSON.stringify(summary)}\n\n`);
  else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(summary));
}

/** Runs every model of `input` in parallel; resolves with the summary once all are done. Never throws. */
export async function runModels(
  deps: ForwardDeps,
  input: FanOutInput,
  signal: AbortSignal,
  emit?: Emit,
): Promise<FanOutSummary> {
  const t0 = deps.clock.now();
  const responses = await Promise.all(
    input.models.map((model, index) => callModel(deps, { model, index, input, t0, signal, emit })),
  );
  const successful = responses.filter((r) => r.error === null).length;
  return {
    prompt: input.prompt,
    total_duration: deps.clock.now() - t0,
    total_models: responses.length,
    successful,
    failed: responses.length - successful,
    key_rotation: input.randomKey ? 'random' : deps.pool.strategy,
    responses,
  };
}

const USAGE =
  'Send {"prompt": "…" (or "messages": [{"role", "content"}]), "models": ["gpt-4o", "anthropic/claude-sonnet-4-6"], "stream"?: true, "random_key"?: true}';

/** Checks a fan-out request (the endpoint's JSON body, or the panel's message); 400 names what to send. */
export function parseFanOutInput(json: unknown): FanOutInput {
  const input = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const { prompt, messages, models } = input;
  if (
    !Array.isArray(models) ||
    models.length === 0 ||
    models.length > MAX_MODELS ||
    !models.every((m) => typeof m === 'string' && m.length > 0)
  ) {
    throw new ProxyError('invalid_json', 400, `"models" must list 1 to ${MAX_MODELS} model ids. ${USAGE}.`);
  }
  const list = messagesOf(prompt, messages);
  if (!list) throw new ProxyError('invalid_json', 400, `Give a non-empty "prompt" or "messages". ${USAGE}.`);
  const maxTokens = input.max_tokens;
  return {
    prompt: typeof prompt === 'string' ? prompt : list.map((m) => m.content).join('\n'),
    messages: list,
    models: models as string[],
    stream: input.stream === true,
    randomKey: input.random_key === true,
    maxTokens: Number.isInteger(maxTokens) && (maxTokens as number) > 0 ? (maxTokens as number) : undefined,
  };
}

function messagesOf(prompt: unknown, messages: unknown): Message[] | undefined {
  if (typeof prompt === 'string' && prompt.trim() !== '') return [{ role: 'user', content: prompt }];
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const ok = messages.every(
    (m: { role?: unknown; content?: unknown }) =>
      typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string',
  );
  return ok ? (messages as Message[]).map((m) => ({ role: m.role, content: m.content })) : undefined;
}

interface Call {
  model: string;
  index: number;
  input: FanOutInput;
  t0: number;
  signal: AbortSignal;
  emit?: Emit;
}

/** One model's call, start to end; never throws (a failure is that model's `error`). */
async function callModel(deps: ForwardDeps, c: Call): Promise<ModelResponse> {
  const out: ModelResponse = {
    model: c.model,
    provider: null,
    key: null,
    key_label: null,
    output: '',
    status: 0,
    duration: 0,
    ttft: null,
    usage: null,
    cost: null,
    attempts: 0,
    error: null,
  };
  const trace: Trace = { attempts: 0 };
  try {
    const target = targetOf(c.model, deps);
    out.provider = target.provider.id;
    await send(deps, c, target, trace, out);
  } catch (err) {
    if (out.status === 0) out.status = err instanceof ProxyError ? err.status : 499;
    out.error = c.signal.aborted ? 'Cancelled: the client went away.' : (err as Error).message;
  }
  const key = trace.answeredBy ?? trace.key;
  out.key = key?.masked ?? null;
  out.key_label = key?.label ?? null;
  out.attempts = trace.attempts;
  const u = trace.usage;
  if (u && (u.inputTokens !== undefined || u.outputTokens !== undefined))
    out.usage = { input_tokens: u.inputTokens, output_tokens: u.outputTokens };
  if (trace.costUsd !== undefined && trace.answeredBy) out.cost = trace.costUsd;
  if (out.error !== null) out.error = deps.redactor.redact(out.error);
  out.duration = deps.clock.now() - c.t0;
  c.emit?.({ event: 'result', data: { ...out, index: c.index } });
  return out;
}

/** Sends one model's request through the forwarder and reads its streamed answer into `out`. */
async function send(deps: ForwardDeps, c: Call, target: Target, trace: Trace, out: ModelResponse): Promise<void> {
  const anthropic = target.provider.shape === 'anthropic';
  const r = await forwardInProcess(deps, {
    shape: target.provider.shape,
    method: 'POST',
    path: anthropic ? '/messages' : '/chat/completions',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(bodyFor(target, c.input))),
    providerId: target.provider.id,
    signal: c.signal,
    randomKey: c.input.randomKey,
    trace,
  });
  out.status = r.status;
  if (r.status >= 400) {
    const parts: Buffer[] = [];
    for await (const chunk of r.body) parts.push(chunk);
    await r.done;
    throw new Error(errorMessageOf(Buffer.concat(parts).toString('utf8'), r.status));
  }
  if (!String(r.headers['content-type'] ?? '').includes('event-stream')) {
    // A provider that ignored "stream": the whole answer as JSON, one delta.
    const parts: Buffer[] = [];
    for await (const chunk of r.body) parts.push(chunk);
    await r.done;
    out.output = textOfJson(Buffer.concat(parts).toString('utf8'));
    out.ttft = deps.clock.now() - c.t0;
    c.emit?.({ event: 'delta', data: { model: c.model, index: c.index, delta: out.output } });
    return;
  }
  const reader = new DeltaReader(target.provider.shape);
  for await (const chunk of r.body) {
    for (const delta of reader.push(chunk)) {
      out.ttft ??= deps.clock.now() - c.t0;
      out.output += delta;
      c.emit?.({ event: 'delta', data: { model: c.model, index: c.index, delta } });
    }
  }
  await r.done;
}

interface Target {
  provider: ProviderSpec;
  /** The model id the provider gets (a `provider/` prefix stripped). */
  model: string;
}

/**
 * Which provider answers a model id: `provider/model` when the prefix is a configured provider,
 * else a provider whose keys list the id, else the default provider of the likely API shape
 * (Claude models to an Anthropic-shape provider with keys, the rest to an OpenAI-shape one).
 */
function targetOf(spec: string, deps: ForwardDeps): Target {
  const { catalogue, pool } = deps;
  const slash = spec.indexOf('/');
  if (slash > 0 && slash < spec.length - 1 && isConfiguredProvider(spec.slice(0, slash), catalogue, pool)) {
    return { provider: catalogue.get(spec.slice(0, slash))!, model: spec.slice(slash + 1) };
  }
  for (const p of catalogue.list()) {
    if (pool.hasKeys(p.id) && pool.listsModel(p.id, spec)) return { provider: p, model: spec };
  }
  const hasKeys = (id: string): boolean => pool.hasKeys(id);
  // The shape's first provider with keys (`defaultFor` falls back to the preset, keys or not). A
  // `claude-*` model tries the Anthropic shape first, then the OpenAI shape's (OpenRouter and the
  // like take Claude models too).
  const keyed = (shape: ApiShape): ProviderSpec | undefined => {
    const p = catalogue.defaultFor(shape, hasKeys);
    return p && hasKeys(p.id) ? p : undefined;
  };
  const provider = (spec.startsWith('claude') ? keyed('anthropic') : undefined) ?? keyed('openai');
  if (!provider) {
    throw new ProxyError(
      'no_keys',
      503,
      `No provider with keys in KeyRelay serves model "${spec}". Add a key with "KeyRelay: Add Key", or name the provider ("openai/${spec}").`,
    );
  }
  return { provider, model: spec };
}

/** The request body for one model, always streamed upstream so time to first token is measured. */
function bodyFor(target: Target, input: FanOutInput): Record<string, unknown> {
  if (target.provider.shape === 'anthropic') {
    const system = input.messages.filter((m) => m.role === 'system').map((m) => m.content);
    return {
      model: target.model,
      max_tokens: input.maxTokens ?? 1024,
      stream: true,
      ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
      messages: input.messages.filter((m) => m.role !== 'system'),
    };
  }
  return {
    model: target.model,
    stream: true,
    // Usage in a stream comes only when asked for; OpenAI's own API knows the option.
    ...(target.provider.id === 'openai' ? { stream_options: { include_usage: true } } : {}),
    ...(input.maxTokens !== undefined ? { max_tokens: input.maxTokens } : {}),
    messages: input.messages,
  };
}
