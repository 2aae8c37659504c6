/**
 * The fan-out's view of one model's answer: the text deltas of a streamed reply in either API
 * shape, and the message of an error body. No key text passes through here that the forwarder's
 * redactor has not already seen (error messages are redacted again by the caller).
 */
import type { ApiShape } from '../types';

/** Splits an SSE byte stream into text deltas; feed it chunks as they arrive. */
export class DeltaReader {
  private rest = '';

  constructor(private readonly shape: ApiShape) {}

  /** The text deltas completed by this chunk (events split across chunks are kept until whole). */
  push(chunk: Buffer): string[] {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    const out: string[] = [];
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (!line.startsWith('data:')) continue;
      const delta = this.deltaOf(line.slice(5).trim());
      if (delta) out.push(delta);
    }
    return out;
  }

  private deltaOf(data: string): string | undefined {
    if (data === '' || data === '[DONE]') return undefined;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (this.shape === 'anthropic') {
      const d = event.delta as { type?: string; text?: string } | undefined;
      return event.type === 'content_block_delta' && d?.type === 'text_delta' ? d.text : undefined;
    }
    const choices = event.choices as Array<{ delta?: { content?: unknown } }> | undefined;
    const content = choices?.[0]?.delta?.content;
    return typeof content === 'string' ? content : undefined;
  }
}

/** The message of an error body in either shape (KeyRelay's own included), or a short fallback. */
export function errorMessageOf(body: string, status: number): string {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const e = json.error;
    if (typeof e === 'string') return e;
    if (typeof e?.message === 'string') return e.message;
    if (typeof json.message === 'string') return json.message;
  } catch {
    // not JSON: fall through to the status
  }
  return `The provider answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}.`;
}

/** The answer text of a whole (not streamed) reply in either API shape; '' when there is none. */
export function textOfJson(body: string): string {
  let json: { choices?: Array<{ message?: { content?: unknown } }>; content?: Array<{ type?: string; text?: string }> };
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    return '';
  }
  const content = json.choices?.[0]?.message?.content;
  if (typeof content === 'string') return content;
  return (json.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('');
}
