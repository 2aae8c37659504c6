/**
 * A chat conversation as the editor's language-model API hands it over, without VS Code types:
 * the VS Code adapter maps LanguageModelChatMessage and its parts to these, and the body builders
 * turn them into OpenAI or Anthropic requests.
 */

/** Who speaks. VS Code's API names user and assistant; its own chat also sends system messages. */
export type LmRole = 'system' | 'user' | 'assistant';

export interface LmTextPart {
  kind: 'text';
  text: string;
}

/** Bytes with a MIME type: an image, or JSON / text that a tool returned. */
export interface LmDataPart {
  kind: 'data';
  mimeType: string;
  data: Uint8Array;
}

/** The model asked for a tool (an assistant message's part). */
export interface LmToolCallPart {
  kind: 'toolCall';
  callId: string;
  name: string;
  input: unknown;
}

/** What a tool gave back (a user message's part), matched to its call by `callId`. */
export interface LmToolResultPart {
  kind: 'toolResult';
  callId: string;
  content: Array<LmTextPart | LmDataPart>;
}

export type LmPart = LmTextPart | LmDataPart | LmToolCallPart | LmToolResultPart;

export interface LmMessage {
  role: LmRole;
  parts: LmPart[];
}

/** A tool the model may call: a name, what it does, and a JSON schema of its input. */
export interface LmTool {
  name: string;
  description: string;
  inputSchema?: object;
}

/** One chat request to one model, before it takes an API's shape. */
export interface LmChatRequest {
  /** The model id as the provider knows it (no `provider/` prefix). */
  model: string;
  messages: LmMessage[];
  tools?: LmTool[];
  /** `required`: the model must call one of the tools. */
  toolMode?: 'auto' | 'required';
  /** The answer's token budget (Anthropic requires one). */
  maxOutputTokens: number;
  /** Whether the model takes images; if not, images become a short note in the text. */
  imageInput: boolean;
  /** Extra body fields the caller asked for (temperature, top_p …); the ones KeyRelay sets win. */
  modelOptions?: Record<string, unknown>;
}

/** What a streamed answer yields, in either API's shape. */
export type LmStreamEvent =
  | { kind: 'text'; text: string }
  /** A complete tool call: its streamed arguments already joined and parsed. */
  | { kind: 'toolCall'; callId: string; name: string; input: object }
  | { kind: 'usage'; inputTokens?: number; outputTokens?: number };

/** Image types every provider with vision accepts. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Whether a data part is an image a vision model takes. */
export function isImage(part: LmDataPart): boolean {
  return IMAGE_TYPES.has(part.mimeType.toLowerCase());
}

/**
 * A non-image data part as text: JSON and text parts are decoded; other binary data is named,
 * not sent (no provider takes arbitrary bytes in a chat message).
 */
export function dataAsText(part: LmDataPart): string {
  const type = part.mimeType.toLowerCase();
  if (type.startsWith('text/') || type.includes('json') || type.includes('xml')) {
    return Buffer.from(part.data).toString('utf8');
  }
  return `[${type} data of ${part.data.length} bytes left out]`;
}

/** The note that stands in for an image sent to a model without vision. */
export const IMAGE_LEFT_OUT = '[an image was left out: this model does not take images]';

/** Base64 of a data part, for an image block or a data: URL. */
export function base64(part: LmDataPart): string {
  return Buffer.from(part.data).toString('base64');
}

/** Fields KeyRelay sets in a body; modelOptions cannot override them. */
export const RESERVED_FIELDS = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'tools',
  'tool_choice',
  'system',
]);

/** The caller's modelOptions minus the fields KeyRelay sets itself. */
export function extraOptions(req: LmChatRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.modelOptions ?? {})) if (!RESERVED_FIELDS.has(k)) out[k] = v;
  return out;
}
