import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FakeCall, ShapeHandler, ShapeReply } from './upstreamServer';

// The OpenAI half of the fake upstream: chat/completions, completions, fim, embeddings, responses, models.

const id = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;
const now = (): number => Math.floor(Date.now() / 1000);
const data = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`;
const named = (event: string, obj: unknown): string => `event: ${event}\ndata: ${JSON.stringify(obj)}\n\n`;

/** Sample arguments for a JSON-schema'd tool, so SDKs get valid, schema-shaped JSON. */
export function sampleArgs(schema: any): string {
  const props: Record<string, any> = schema?.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    out[k] =
      v?.type === 'number' || v?.type === 'integer'
        ? 1
        : v?.type === 'boolean'
          ? true
          : Array.isArray(v?.enum)
            ? v.enum[0]
            : 'fake';
  }
  return JSON.stringify(out);
}

/** Splits `s` into `n` non-empty pieces (fewer if `s` is short): the streamed tool arguments. */
export function split(s: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(s.length / Math.max(1, n)));
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

interface Tool {
  name: string;
  args: string;
}

/** The tool the fake "decides" to call: the forced one, else the first. Chat and Responses tool shapes differ. */
function pickTool(body: Record<string, any>): Tool | undefined {
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  if (!tools.length || body.tool_choice === 'none') return undefined;
  // After a tool's result (chat: a `tool` message; Responses: a function_call_output) the model answers in words.
  const last = Array.isArray(body.messages)
    ? body.messages.at(-1)
    : Array.isArray(body.input)
      ? body.input.at(-1)
      : undefined;
  if (last?.role === 'tool' || last?.type === 'function_call_output') return undefined;
  const fn = (t: any): { name: string; parameters?: unknown } => t?.function ?? t;
  const forced = body.tool_choice?.function?.name ?? body.tool_choice?.name;
  const t = fn(tools.find((x) => fn(x)?.name === forced) ?? tools[0]);
  return { name: String(t?.name ?? 'tool'), args: sampleArgs(t?.parameters) };
}

function usage(call: FakeCall, out: number): Record<string, unknown> {
  return {
    prompt_tokens: call.inputTokens,
    completion_tokens: out,
    total_tokens: call.inputTokens + out,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function chat(call: FakeCall, allowTools: boolean): ShapeReply {
  const base = {
    id: id('chatcmpl-'),
    created: now(),
    model: call.model,
    system_fingerprint: 'fp_fake',
    service_tier: 'default',
  };
  const tool = allowTools ? pickTool(call.body) : undefined;
  const text = call.deltas.join('');
  const callId = id('call_');
  const out = tool ? split(tool.args, call.deltas.length).length : call.deltas.length;
  if (!call.stream) {
    const message = tool
      ? {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: [{ id: callId, type: 'function', function: { name: tool.name, arguments: tool.args } }],
        }
      : { role: 'assistant', content: text, refusal: null, annotations: [] };
    return {
      type: 'json',
      body: {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message, logprobs: null, finish_reason: tool ? 'tool_calls' : 'stop' }],
        usage: usage(call, out),
      },
    };
  }
  const withUsage = call.body.stream_options?.include_usage === true;
  const chunk = (delta: unknown, finish: string | null = null): string =>
    data({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    });
  const events: string[] = [];
  if (tool) {
    events.push(
      chunk({
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: tool.name, arguments: '' } }],
      }),
    );
    for (const piece of split(tool.args, call.deltas.length))
      events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
  } else {
    events.push(chunk({ role: 'assistant', content: '', refusal: null }));
    for (const d of call.deltas) events.push(chunk({ content: d }));
  }
  events.push(chunk({}, tool ? 'tool_calls' : 'stop'));
  if (withUsage) events.push(data({ ...base, object: 'chat.completion.chunk', choices: [], usage: usage(call, out) }));
  events.push('data: [DONE]\n\n');
  return { type: 'sse', events };
}

function completion(call: FakeCall): ShapeReply {
  const base = {
    id: id('cmpl-'),
    object: 'text_completion',
    created: now(),
    model: call.model,
    system_fingerprint: 'fp_fake',
  };
  const u = {
    prompt_tokens: call.inputTokens,
    completion_tokens: call.deltas.length,
    total_tokens: call.inputTokens + call.deltas.length,
  };
  const choice = (text: string, finish: string | null): unknown => [
    { text, index: 0, logprobs: null, finish_reason: finish },
  ];
  if (!call.stream) return { type: 'json', body: { ...base, choices: choice(call.deltas.join(''), 'stop'), usage: u } };
  const events = call.deltas.map((d) => data({ ...base, choices: choice(d, null) }));
  events.push(data({ ...base, choices: choice('', 'stop') }));
  if (call.body.stream_options?.include_usage === true) events.push(data({ ...base, choices: [], usage: u }));
  events.push('data: [DONE]\n\n');
  return { type: 'sse', events };
}

function embeddings(call: FakeCall): ShapeReply {
  const inputs: unknown[] = Array.isArray(call.body.input) ? call.body.input : [call.body.input];
  const vec = (i: number): number[] => Array.from({ length: 8 }, (_, j) => ((i + 1) * (j + 1)) / 64);
  // The openai SDK asks for base64 by default and decodes little-endian float32.
  const enc = (v: number[]): unknown =>
    call.body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
  return {
    type: 'json',
    body: {
      object: 'list',
      model: call.model,
      usage: { prompt_tokens: call.inputTokens, total_tokens: call.inputTokens },
      data: inputs.map((_, i) => ({ object: 'embedding', index: i, embedding: enc(vec(i)) })),
    },
  };
}

function responses(call: FakeCall): ShapeReply {
  const tool = pickTool(call.body);
  const pieces = tool ? split(tool.args, call.deltas.length) : call.deltas;
  const u = {
    input_tokens: call.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: pieces.length,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: call.inputTokens + pieces.length,
  };
  const itemId = id(tool ? 'fc_' : 'msg_');
  const text = call.deltas.join('');
  const part = (t: string): unknown => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
  const item = (done: boolean): Record<string, unknown> =>
    tool
      ? {
          type: 'function_call',
          id: itemId,
          call_id: id('call_'),
          name: tool.name,
          arguments: done ? tool.args : '',
          status: done ? 'completed' : 'in_progress',
        }
      : {
          type: 'message',
          id: itemId,
          status: done ? 'completed' : 'in_progress',
          role: 'assistant',
          content: done ? [part(text)] : [],
        };
  const finalItem = item(true);
  const resp = (status: string, done: boolean): Record<string, unknown> => ({
    id: id('resp_'),
    object: 'response',
    created_at: now(),
    status,
    model: call.model,
    error: null,
    incomplete_details: null,
    instructions: call.body.instructions ?? null,
    metadata: call.body.metadata ?? {},
    parallel_tool_calls: true,
    previous_response_id: call.body.previous_response_id ?? null,
    temperature: 1,
    top_p: 1,
    tool_choice: call.body.tool_choice ?? 'auto',
    tools: call.body.tools ?? [],
    output: done ? [finalItem] : [],
    usage: done ? u : null,
  });
  if (!call.stream) return { type: 'json', body: resp('completed', true) };
  let seq = 0;
  const ev = (type: string, extra: Record<string, unknown>): string =>
    named(type, { type, sequence_number: seq++, ...extra });
  const at = { item_id: itemId, output_index: 0 };
  const started = resp('in_progress', false);
  const events = [
    ev('response.created', { response: started }),
    ev('response.in_progress', { response: started }),
    ev('response.output_item.added', { output_index: 0, item: item(false) }),
  ];
  if (tool) {
    for (const p of pieces) events.push(ev('response.function_call_arguments.delta', { ...at, delta: p }));
    events.push(ev('response.function_call_arguments.done', { ...at, arguments: tool.args }));
  } else {
    events.push(ev('response.content_part.added', { ...at, content_index: 0, part: part('') }));
    for (const d of pieces)
      events.push(ev('response.output_text.delta', { ...at, content_index: 0, delta: d, logprobs: [] }));
    events.push(ev('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] }));
    events.push(ev('response.content_part.done', { ...at, content_index: 0, part: part(text) }));
  }
  events.push(ev('response.output_item.done', { output_index: 0, item: finalItem }));
  events.push(ev('response.completed', { response: { ...resp('completed', true), id: started.id } }));
  return { type: 'sse', events };
}

const ERRORS: Record<number, [string, string, string | null]> = {
  400: ['Invalid request.', 'invalid_request_error', null],
  401: [
    'Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys.',
    'invalid_request_error',
    'invalid_api_key',
  ],
  402: [
    'You exceeded your current quota, please check your plan and billing details.',
    'insufficient_quota',
    'insufficient_quota',
  ],
  403: ['You are not allowed to sample from this model.', 'invalid_request_error', 'permission_denied'],
  404: ['The model does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found'],
  429: ['Rate limit reached for requests. Please try again in 1s.', 'requests', 'rate_limit_exceeded'],
  500: ['The server had an error while processing your request. Sorry about that!', 'server_error', null],
  503: ['The engine is currently overloaded, please try again later.', 'server_error', 'service_unavailable'],
};

/** Real OpenAI echoes a masked key in 401s: keeps the proxy's redaction honest. */
const masked = (key: string): string =>
  key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}` : '***';

/** OpenAI-compatible request handling. */
export const openaiShape: ShapeHandler = {
  keyOf(req: IncomingMessage): string {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return m ? m[1].trim() : '';
  },
  precheck() {
    return undefined;
  },
  handle(call: FakeCall): ShapeReply | undefined {
    const route = `${call.method} ${call.path}`;
    switch (route) {
      case 'POST /v1/chat/completions':
        return chat(call, true);
      case 'POST /v1/fim/completions':
        return chat(call, false);
      case 'POST /v1/completions':
        return completion(call);
      case 'POST /v1/embeddings':
        return embeddings(call);
      case 'POST /v1/responses':
        return responses(call);
      case 'GET /v1/models':
        return {
          type: 'json',
          body: {
            object: 'list',
            data: call.models.openai.map((m) => ({ id: m, object: 'model', created: 1715367049, owned_by: 'system' })),
          },
        };
      default:
        return undefined;
    }
  },
  error(status: number, key: string, message?: string) {
    const [msg, type, code] = ERRORS[status] ?? [
      `Upstream error ${status}.`,
      status >= 500 ? 'server_error' : 'invalid_request_error',
      null,
    ];
    const text =
      message ??
      (key || status !== 401
        ? msg.replace('{key}', masked(key))
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (status === 429)
      Object.assign(headers, {
        'retry-after': '1',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '1s',
      });
    return {
      headers,
      body: JSON.stringify({ error: { message: text, type, param: null, code: !key && status === 401 ? null : code } }),
    };
  },
  streamError(path: string): string {
    const error = {
      message: 'The server had an error while processing your request. Sorry about that!',
      type: 'server_error',
      param: null,
      code: 'server_error',
    };
    // The Responses API reports stream errors as a named event; chat/completions as a bare data line.
    return path === '/v1/responses'
      ? named('error', { type: 'error', sequence_number: 0, code: error.code, message: error.message, param: null })
      : data({ error });
  },
  headers(requestId: string): Record<string, string> {
    return {
      'x-request-id': requestId,
      'openai-processing-ms': '7',
      'openai-version': '2020-10-01',
      'openai-organization': 'fake-org',
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-reset-requests': '6ms',
      'x-ratelimit-limit-tokens': '2000000',
      'x-ratelimit-remaining-tokens': '1999000',
      'x-ratelimit-reset-tokens': '30ms',
    };
  },
};
