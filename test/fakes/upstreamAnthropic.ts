import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FakeCall, ShapeHandler, ShapeReply } from './upstreamServer';
import { sampleArgs, split } from './upstreamOpenAI';

// The Anthropic half of the fake upstream: messages (JSON and the real SSE sequence), count_tokens, models.

const id = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;
const ev = (type: string, obj: Record<string, unknown>): string =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...obj })}\n\n`;

interface Tool {
  name: string;
  input: string;
}

/** The tool the fake "decides" to use: the forced one (`tool_choice: {type:'tool', name}`), else the first. */
function pickTool(body: Record<string, any>): Tool | undefined {
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  if (!tools.length || body.tool_choice?.type === 'none') return undefined;
  // After a tool_result the model answers in words.
  const last = Array.isArray(body.messages) ? body.messages.at(-1) : undefined;
  if (Array.isArray(last?.content) && last.content.some((b: any) => b?.type === 'tool_result')) return undefined;
  const t = tools.find((x) => x?.name === body.tool_choice?.name) ?? tools[0];
  return { name: String(t?.name ?? 'tool'), input: sampleArgs(t?.input_schema) };
}

function messages(call: FakeCall): ShapeReply {
  const tool = pickTool(call.body);
  const msgId = id('msg_');
  const toolId = id('toolu_');
  // With tools, Claude typically says one short sentence, then emits the tool_use block.
  const textDeltas = tool ? ["I'll use the tool."] : call.deltas;
  const argPieces = tool ? split(tool.input, call.deltas.length) : [];
  const outTokens = textDeltas.length + argPieces.length;
  const usage = {
    input_tokens: call.inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: 'standard',
  };
  const stop = tool ? 'tool_use' : 'end_turn';
  const head = { id: msgId, type: 'message', role: 'assistant', model: call.model };
  if (!call.stream) {
    const content: unknown[] = [{ type: 'text', text: textDeltas.join('') }];
    if (tool) content.push({ type: 'tool_use', id: toolId, name: tool.name, input: JSON.parse(tool.input) });
    return {
      type: 'json',
      body: { ...head, content, stop_reason: stop, stop_sequence: null, usage: { ...usage, output_tokens: outTokens } },
    };
  }
  const events = [
    ev('message_start', {
      message: { ...head, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
  ];
  for (const text of textDeltas)
    events.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }));
  events.push(ev('content_block_stop', { index: 0 }));
  if (tool) {
    events.push(
      ev('content_block_start', {
        index: 1,
        content_block: { type: 'tool_use', id: toolId, name: tool.name, input: {} },
      }),
    );
    for (const partial_json of argPieces)
      events.push(ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json } }));
    events.push(ev('content_block_stop', { index: 1 }));
  }
  events.push(
    ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: outTokens } }),
  );
  events.push(ev('message_stop', {}));
  return { type: 'sse', events };
}

const ERRORS: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'Invalid request.'],
  401: ['authentication_error', 'invalid x-api-key'],
  402: [
    'billing_error',
    'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  ],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found.'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'This request would exceed the rate limit for your organization. Please try again later.'],
  500: ['api_error', 'Internal server error'],
  503: ['api_error', 'Service unavailable'],
  504: ['timeout_error', 'Request timed out'],
  529: ['overloaded_error', 'Overloaded'],
};

const errorBody = (type: string, message: string, requestId?: string): string =>
  JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId ?? id('req_') });

/** Anthropic request handling: `x-api-key` (or Bearer) auth and a mandatory `anthropic-version`. */
export const anthropicShape: ShapeHandler = {
  keyOf(req: IncomingMessage): string {
    // x-api-key is the documented header; newer SDKs send the key as a Bearer token, which the API takes too.
    const k = req.headers['x-api-key'];
    if (typeof k === 'string' && k) return k.trim();
    return /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1].trim() ?? '';
  },
  precheck(req: IncomingMessage, key: string): ShapeReply | undefined {
    if (!key)
      return {
        type: 'json',
        status: 401,
        body: JSON.parse(errorBody('authentication_error', 'x-api-key header is required')),
      };
    if (req.headers['anthropic-version'] === undefined) {
      return {
        type: 'json',
        status: 400,
        body: JSON.parse(errorBody('invalid_request_error', 'anthropic-version: header is required')),
      };
    }
    return undefined;
  },
  handle(call: FakeCall): ShapeReply | undefined {
    switch (`${call.method} ${call.path}`) {
      case 'POST /v1/messages':
        return messages(call);
      case 'POST /v1/messages/count_tokens':
        return { type: 'json', body: { input_tokens: call.inputTokens } };
      case 'GET /v1/models': {
        const data = call.models.anthropic.map((m) => ({
          type: 'model',
          id: m,
          display_name: m,
          created_at: '2025-09-29T00:00:00Z',
        }));
        return {
          type: 'json',
          body: { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null },
        };
      }
      default:
        return undefined;
    }
  },
  error(status: number, _key: string, message?: string) {
    const [type, msg] = ERRORS[status] ?? [
      status >= 500 ? 'api_error' : 'invalid_request_error',
      `Upstream error ${status}.`,
    ];
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 429) {
      Object.assign(headers, {
        'retry-after': '1',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': new Date(Date.now() + 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      });
    }
    if (status === 529 || status === 429) headers['x-should-retry'] = 'true';
    return { headers, body: errorBody(type, message ?? msg) };
  },
  streamError(): string {
    return `event: error\ndata: ${errorBody('overloaded_error', 'Overloaded')}\n\n`;
  },
  headers(requestId: string): Record<string, string> {
    return {
      'request-id': requestId,
      'anthropic-organization-id': '00000000-0000-4000-8000-000000000000',
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      'anthropic-ratelimit-tokens-limit': '400000',
      'anthropic-ratelimit-tokens-remaining': '399000',
    };
  },
};
