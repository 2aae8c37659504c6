import { base64, dataAsText, extraOptions, IMAGE_LEFT_OUT, isImage } from './messages';
import type { LmChatRequest, LmDataPart, LmMessage, LmTextPart, LmToolResultPart } from './messages';

/** One OpenAI chat-completions message (the subset KeyRelay sends). */
export type OpenAIMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | OpenAIContentPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export type OpenAIContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * A streaming `/chat/completions` body: system, user and assistant turns; the assistant's tool
 * calls as `tool_calls`; each tool result as a `role: "tool"` message right after them (as the
 * API requires) and images as `image_url` data URLs when the model takes them.
 */
export function toOpenAIChat(req: LmChatRequest): Record<string, unknown> {
  const messages = req.messages.flatMap((m) => convertMessage(m, req.imageInput));
  const body: Record<string, unknown> = {
    ...extraOptions(req),
    model: req.model,
    messages,
    stream: true,
    // Usage in the stream lets the proxy count tokens for this request too.
    stream_options: { include_usage: true },
  };
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        description: t.description,
        parameters: t.inputSchema ?? { type: 'object', properties: {} },
      },
    }));
    if (req.toolMode === 'required') body.tool_choice = 'required';
  }
  return body;
}

function convertMessage(m: LmMessage, imageInput: boolean): OpenAIMessage[] {
  if (m.role === 'system') return [{ role: 'system', content: textOf(m) }];
  if (m.role === 'assistant') {
    const calls: OpenAIToolCall[] = [];
    for (const p of m.parts) {
      if (p.kind === 'toolCall') {
        calls.push({
          id: p.callId,
          type: 'function',
          function: { name: p.name, arguments: JSON.stringify(p.input ?? {}) },
        });
      }
    }
    const text = textOf(m);
    return [
      {
        role: 'assistant',
        content: text || (calls.length ? null : ''),
        ...(calls.length ? { tool_calls: calls } : {}),
      },
    ];
  }
  return convertUser(m, imageInput);
}

/** Tool results first (they must follow the assistant's tool_calls), then the user's own content. */
function convertUser(m: LmMessage, imageInput: boolean): OpenAIMessage[] {
  const out: OpenAIMessage[] = [];
  const content: OpenAIContentPart[] = [];
  for (const p of m.parts) {
    if (p.kind === 'toolResult') {
      out.push({ role: 'tool', tool_call_id: p.callId, content: toolResultText(p, imageInput) });
      // A tool message holds text only: its images follow in a user message.
      if (imageInput)
        for (const c of p.content) if (c.kind === 'data' && isImage(c)) content.push(...imagePart(c, true));
    } else if (p.kind === 'text') {
      if (p.text) content.push({ type: 'text', text: p.text });
    } else if (p.kind === 'data') {
      content.push(...(isImage(p) ? imagePart(p, imageInput) : [{ type: 'text' as const, text: dataAsText(p) }]));
    }
  }
  if (content.length > 0) {
    const onlyText = content.every((c) => c.type === 'text');
    out.push({
      role: 'user',
      content: onlyText ? content.map((c) => (c as { text: string }).text).join('\n') : content,
    });
  } else if (out.length === 0) {
    out.push({ role: 'user', content: '' });
  }
  return out;
}

function imagePart(p: LmDataPart, imageInput: boolean): OpenAIContentPart[] {
  if (!imageInput) return [{ type: 'text', text: IMAGE_LEFT_OUT }];
  return [{ type: 'image_url', image_url: { url: `data:${p.mimeType};base64,${base64(p)}` } }];
}

/** A tool result as the text of a tool message; images are noted here and sent after. */
function toolResultText(p: LmToolResultPart, imageInput: boolean): string {
  const pieces = p.content.map((c) =>
    c.kind === 'text' ? c.text : !isImage(c) ? dataAsText(c) : imageInput ? '[image attached below]' : IMAGE_LEFT_OUT,
  );
  return pieces.join('\n');
}

function textOf(m: LmMessage): string {
  return m.parts
    .filter((p): p is LmTextPart => p.kind === 'text')
    .map((p) => p.text)
    .join('');
}
