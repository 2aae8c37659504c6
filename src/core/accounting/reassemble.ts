/**
 * A streamed answer put back together for the request log: the final text, the reasoning text,
 * the tool calls with their whole arguments, usage and why it stopped. Reads OpenAI chat chunks
 * (Gemini's and every OpenAI-compatible provider's too), Responses API events and Anthropic
 * Messages events; anything else is counted and skipped.
 */
export interface ReassembledStream {
  text: string;
  reasoning?: string;
  toolCalls: ToolCall[];
  usage?: unknown;
  finishReason?: string;
  /** Events read (keep-alive comments and `[DONE]` not counted). */
  events: number;
}

export interface ToolCall {
  id?: string;
  name?: string;
  /** The arguments as the model wrote them (JSON text), all deltas joined. */
  arguments: string;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Reassembles an SSE body (`text/event-stream`) into its final message. */
export function reassembleStream(sse: string): ReassembledStream {
  const out = new Builder();
  for (const block of sse.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (!data || data === '[DONE]') continue;
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      continue; // a cut tail (size cap) or a provider's own non-JSON line
    }
    if (typeof event !== 'object' || event === null) continue;
    out.events++;
    out.read(event as Json);
  }
  return out.result();
}

class Builder {
  events = 0;
  private text = '';
  private reasoning = '';
  private readonly calls = new Map<string, ToolCall>();
  private usage: unknown;
  private finish: string | undefined;

  read(e: Json): void {
    if (Array.isArray(e.choices)) this.chatChunk(e);
    else if (typeof e.type === 'string' && e.type.startsWith('response.')) this.responsesEvent(e);
    else if (typeof e.type === 'string') this.anthropicEvent(e);
  }

  result(): ReassembledStream {
    return {
      text: this.text,
      reasoning: this.reasoning || undefined,
      toolCalls: [...this.calls.values()],
      usage: this.usage,
      finishReason: this.finish,
      events: this.events,
    };
  }

  private call(key: string): ToolCall {
    let c = this.calls.get(key);
    if (!c) this.calls.set(key, (c = { arguments: '' }));
    return c;
  }

  /** OpenAI `chat.completion.chunk`: the first choice's deltas. */
  private chatChunk(e: Json): void {
    if (e.usage) this.usage = e.usage;
    for (const choice of e.choices as Json[]) {
      if ((choice.index ?? 0) !== 0) continue;
      const d: Json = choice.delta ?? {};
      if (typeof d.content === 'string') this.text += d.content;
      const thought = d.reasoning_content ?? d.reasoning;
      if (typeof thought === 'string') this.reasoning += thought;
      for (const t of Array.isArray(d.tool_calls) ? (d.tool_calls as Json[]) : []) {
        const c = this.call(`c${t.index ?? 0}`);
        if (t.id) c.id = t.id;
        if (t.function?.name) c.name = t.function.name;
        if (typeof t.function?.arguments === 'string') c.arguments += t.function.arguments;
      }
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
  }

  /** Responses API events. */
  private responsesEvent(e: Json): void {
    switch (e.type) {
      case 'response.output_text.delta':
        this.text += e.delta ?? '';
        return;
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        this.reasoning += e.delta ?? '';
        return;
      case 'response.output_item.added':
        if (e.item?.type === 'function_call') {
          const c = this.call(`r${e.output_index}`);
          c.id = e.item.call_id;
          c.name = e.item.name;
        }
        return;
      case 'response.function_call_arguments.delta':
        this.call(`r${e.output_index}`).arguments += e.delta ?? '';
        return;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        this.usage = e.response?.usage;
        this.finish = e.response?.status;
        return;
      default:
    }
  }

  /** Anthropic Messages events. */
  private anthropicEvent(e: Json): void {
    switch (e.type) {
      case 'message_start':
        this.usage = { ...e.message?.usage };
        return;
      case 'content_block_start':
        if (e.content_block?.type === 'tool_use') {
          const c = this.call(`a${e.index}`);
          c.id = e.content_block.id;
          c.name = e.content_block.name;
        }
        return;
      case 'content_block_delta': {
        const d: Json = e.delta ?? {};
        if (d.type === 'text_delta') this.text += d.text ?? '';
        else if (d.type === 'thinking_delta') this.reasoning += d.thinking ?? '';
        else if (d.type === 'input_json_delta') this.call(`a${e.index}`).arguments += d.partial_json ?? '';
        return;
      }
      case 'message_delta':
        if (e.usage) this.usage = { ...(this.usage as Json | undefined), ...e.usage };
        if (e.delta?.stop_reason) this.finish = e.delta.stop_reason;
        return;
      default:
    }
  }
}
