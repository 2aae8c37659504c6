import type { ApiShape } from '../types';
import { LmError } from './lmError';
import type { LmStreamEvent } from './messages';
import type { SseEvent } from './sse';

/** Turns one API's stream events into text, complete tool calls and usage. */
export interface StreamReader {
  /** Events for one SSE event; throws LmError for an error event. */
  push(e: SseEvent): LmStreamEvent[];
  /** Whatever the stream left pending when it ended (tool calls without a finish). */
  finish(): LmStreamEvent[];
}

export function streamReader(shape: ApiShape, providerName: string): StreamReader {
  return shape === 'anthropic' ? new AnthropicStreamReader(providerName) : new OpenAIStreamReader(providerName);
}

/** The fields KeyRelay reads of an OpenAI chat-completions chunk (all optional: servers differ). */
interface OpenAIChunk {
  error?: { message?: unknown; type?: unknown };
  choices?: Array<{ delta?: { content?: unknown; tool_calls?: OpenAIToolCallDelta[] }; finish_reason?: unknown }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

interface OpenAIToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** The fields KeyRelay reads of an Anthropic stream event. */
interface AnthropicEvent {
  type?: string;
  index?: number;
  error?: { message?: unknown; type?: unknown };
  message?: { usage?: { input_tokens?: number; output_tokens?: number } };
  content_block?: { type?: string; id?: unknown; name?: unknown; text?: unknown; input?: unknown };
  delta?: { type?: string; text?: unknown; partial_json?: unknown };
  usage?: { output_tokens?: number };
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

/** A tool call's accumulated arguments as the object VS Code hands to the tool. */
function parseArgs(call: PendingCall, providerName: string): LmStreamEvent {
  let input: unknown;
  try {
    input = JSON.parse(call.args.trim() || '{}');
  } catch (err) {
    throw new LmError(
      'upstream',
      `${providerName} sent arguments for tool "${call.name}" that are not valid JSON. Try the request again, or pick another model.`,
      { cause: err },
    );
  }
  const object = typeof input === 'object' && input !== null && !Array.isArray(input) ? input : { value: input };
  return { kind: 'toolCall', callId: call.id, name: call.name, input: object };
}

function parseData<T>(e: SseEvent, providerName: string): T {
  try {
    return JSON.parse(e.data) as T;
  } catch (err) {
    throw new LmError('upstream', `${providerName} sent a stream event that is not JSON. Try the request again.`, {
      cause: err,
    });
  }
}

/** An error event in either shape as an LmError with the provider's own words. */
function streamError(error: { message?: unknown; type?: unknown } | undefined, providerName: string): LmError {
  const msg = typeof error?.message === 'string' ? error.message : 'an unknown error';
  const type = typeof error?.type === 'string' ? ` (${error.type})` : '';
  return new LmError('upstream', `${providerName} failed mid-answer${type}: ${msg}. Try the request again.`);
}

/**
 * OpenAI chat-completions chunks: `choices[0].delta.content` is text; `delta.tool_calls` arrive
 * in pieces keyed by `index` (id and name first, then argument fragments) and are complete at
 * `finish_reason` or `[DONE]`; the last chunk carries `usage` when it was asked for.
 */
class OpenAIStreamReader implements StreamReader {
  private calls = new Map<number, PendingCall>();

  constructor(private readonly providerName: string) {}

  push(e: SseEvent): LmStreamEvent[] {
    if (e.data === '[DONE]') return this.flush();
    const json = parseData<OpenAIChunk>(e, this.providerName);
    if (json.error) throw streamError(json.error, this.providerName);
    const out: LmStreamEvent[] = [];
    const choice = Array.isArray(json.choices) ? json.choices[0] : undefined;
    const delta = choice?.delta;
    if (typeof delta?.content === 'string' && delta.content) out.push({ kind: 'text', text: delta.content });
    if (Array.isArray(delta?.tool_calls)) for (const tc of delta.tool_calls) this.collect(tc);
    if (choice?.finish_reason) out.push(...this.flush());
    if (json.usage) {
      out.push({ kind: 'usage', inputTokens: json.usage.prompt_tokens, outputTokens: json.usage.completion_tokens });
    }
    return out;
  }

  finish(): LmStreamEvent[] {
    return this.flush();
  }

  private collect(tc: OpenAIToolCallDelta): void {
    // Some OpenAI-compatible servers leave out `index` when they send each call whole.
    const index = typeof tc.index === 'number' ? tc.index : tc.id ? this.calls.size : Math.max(0, this.calls.size - 1);
    let call = this.calls.get(index);
    if (!call) this.calls.set(index, (call = { id: '', name: '', args: '' }));
    if (tc.id) call.id = tc.id;
    if (tc.function?.name) call.name += tc.function.name;
    if (typeof tc.function?.arguments === 'string') call.args += tc.function.arguments;
  }

  private flush(): LmStreamEvent[] {
    const calls = [...this.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    this.calls.clear();
    return calls.map((c, i) => parseArgs({ ...c, id: c.id || `call_${i}` }, this.providerName));
  }
}

/**
 * Anthropic message events: `text_delta`s are text; a `tool_use` block's input arrives as
 * `input_json_delta` fragments and is complete at its `content_block_stop`; usage comes in
 * `message_start` (input) and `message_delta` (output); `error` ends the stream.
 */
class AnthropicStreamReader implements StreamReader {
  private readonly blocks = new Map<number, PendingCall & { input?: unknown }>();

  constructor(private readonly providerName: string) {}

  push(e: SseEvent): LmStreamEvent[] {
    const json = parseData<AnthropicEvent>(e, this.providerName);
    const index = json.index ?? 0;
    switch (json.type) {
      case 'error':
        throw streamError(json.error, this.providerName);
      case 'message_start': {
        const u = json.message?.usage;
        return u ? [{ kind: 'usage', inputTokens: u.input_tokens, outputTokens: u.output_tokens }] : [];
      }
      case 'content_block_start':
        return this.start(index, json.content_block);
      case 'content_block_delta':
        return this.delta(index, json.delta);
      case 'content_block_stop':
        return this.stop(index);
      case 'message_delta':
        return json.usage ? [{ kind: 'usage', outputTokens: json.usage.output_tokens }] : [];
      default:
        return []; // ping, message_stop, and event types added later
    }
  }

  finish(): LmStreamEvent[] {
    const out = [...this.blocks.keys()].flatMap((i) => this.stop(i));
    this.blocks.clear();
    return out;
  }

  private start(index: number, block: AnthropicEvent['content_block']): LmStreamEvent[] {
    if (block?.type === 'tool_use') {
      this.blocks.set(index, {
        id: String(block.id ?? ''),
        name: String(block.name ?? ''),
        args: '',
        input: block.input,
      });
      return [];
    }
    return block?.type === 'text' && block.text ? [{ kind: 'text', text: String(block.text) }] : [];
  }

  private delta(index: number, delta: AnthropicEvent['delta']): LmStreamEvent[] {
    if (delta?.type === 'text_delta' && typeof delta.text === 'string' && delta.text) {
      return [{ kind: 'text', text: delta.text }];
    }
    const block = this.blocks.get(index);
    if (block && delta?.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
      block.args += delta.partial_json;
    }
    return []; // thinking and signature deltas are the model's own notes
  }

  private stop(index: number): LmStreamEvent[] {
    const block = this.blocks.get(index);
    if (!block) return [];
    this.blocks.delete(index);
    // A block may carry its whole input at the start and no deltas.
    const whole = typeof block.input === 'object' && block.input !== null && Object.keys(block.input).length > 0;
    const args = block.args || (whole ? JSON.stringify(block.input) : '');
    return [parseArgs({ ...block, args }, this.providerName)];
  }
}
