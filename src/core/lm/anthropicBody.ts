import { base64, dataAsText, extraOptions, IMAGE_LEFT_OUT, isImage } from './messages';
import type { LmChatRequest, LmDataPart, LmMessage, LmPart } from './messages';

/** One Anthropic content block (the subset KeyRelay sends). */
export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content?: AnthropicBlock[] };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

/**
 * A streaming `/v1/messages` body: system messages joined into `system`, tool calls as
 * `tool_use` blocks, tool results as `tool_result` blocks at the head of the next user turn,
 * images as base64 `image` blocks. Empty text blocks (which the API refuses) are left out and
 * consecutive turns of one role are merged.
 */
export function toAnthropicMessages(req: LmChatRequest): Record<string, unknown> {
  const system = req.messages
    .filter((m) => m.role === 'system')
    .map((m) => m.parts.map((p) => (p.kind === 'text' ? p.text : '')).join(''))
    .filter(Boolean)
    .join('\n\n');
  const messages: AnthropicMessage[] = [];
  for (const m of req.messages) {
    if (m.role === 'system') continue;
    const content = blocksOf(m, req.imageInput);
    if (content.length === 0) continue;
    const last = messages.at(-1);
    if (last && last.role === m.role) last.content.push(...content);
    else messages.push({ role: m.role, content });
  }
  const body: Record<string, unknown> = {
    ...extraOptions(req),
    model: req.model,
    max_tokens: typeof req.modelOptions?.max_tokens === 'number' ? req.modelOptions.max_tokens : req.maxOutputTokens,
    messages,
    stream: true,
  };
  if (system) body.system = system;
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.inputSchema ?? { type: 'object', properties: {} },
    }));
    if (req.toolMode === 'required') body.tool_choice = { type: 'any' };
  }
  return body;
}

/** A message's blocks; a user turn's tool results come first, as the API expects. */
function blocksOf(m: LmMessage, imageInput: boolean): AnthropicBlock[] {
  const results: AnthropicBlock[] = [];
  const rest: AnthropicBlock[] = [];
  for (const p of m.parts) {
    if (p.kind === 'toolResult') {
      const content = p.content.flatMap((c) => contentBlock(c, imageInput));
      results.push({ type: 'tool_result', tool_use_id: p.callId, ...(content.length ? { content } : {}) });
    } else {
      rest.push(...partBlocks(p, m.role, imageInput));
    }
  }
  return [...results, ...rest];
}

function partBlocks(p: Exclude<LmPart, { kind: 'toolResult' }>, role: LmMessage['role'], imageInput: boolean) {
  if (p.kind === 'toolCall') {
    // Only the assistant calls tools; a stray call elsewhere is dropped rather than refused upstream.
    return role === 'assistant'
      ? [{ type: 'tool_use' as const, id: p.callId, name: p.name, input: p.input ?? {} }]
      : [];
  }
  return contentBlock(p, imageInput);
}

function contentBlock(p: { kind: 'text'; text: string } | LmDataPart, imageInput: boolean): AnthropicBlock[] {
  if (p.kind === 'text') return p.text ? [{ type: 'text', text: p.text }] : [];
  if (!isImage(p)) return [{ type: 'text', text: dataAsText(p) }];
  if (!imageInput) return [{ type: 'text', text: IMAGE_LEFT_OUT }];
  return [{ type: 'image', source: { type: 'base64', media_type: p.mimeType.toLowerCase(), data: base64(p) } }];
}
