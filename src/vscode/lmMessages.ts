import * as vscode from 'vscode';
import type { LmDataPart, LmMessage, LmPart, LmTextPart, LmTool } from '../core/lm/messages';

/**
 * VS Code's chat messages as the core's LmMessage. Parts are told apart with instanceof (they
 * are the extension host's own classes), with a structural check for tool and data parts.
 * Parts the core has no use for (thinking, prompt-cache markers) are left out.
 */
export function toLmMessage(m: vscode.LanguageModelChatRequestMessage): LmMessage {
  const role =
    m.role === vscode.LanguageModelChatMessageRole.User
      ? 'user'
      : m.role === vscode.LanguageModelChatMessageRole.Assistant
        ? 'assistant'
        : 'system'; // 3: the System role VS Code's own chat sends
  return { role, parts: m.content.flatMap(toLmPart) };
}

function toLmPart(p: unknown): LmPart[] {
  if (p instanceof vscode.LanguageModelTextPart) return [{ kind: 'text', text: p.value }];
  if (p instanceof vscode.LanguageModelToolCallPart || isToolCall(p)) {
    return [{ kind: 'toolCall', callId: p.callId, name: p.name, input: p.input }];
  }
  if (p instanceof vscode.LanguageModelToolResultPart || isToolResult(p)) {
    return [{ kind: 'toolResult', callId: p.callId, content: p.content.flatMap(toResultContent) }];
  }
  const data = toData(p);
  return data ? [data] : [];
}

/** What a tool result holds: text, data, or prompt-tsx JSON (sent as its text). */
function toResultContent(c: unknown): Array<LmTextPart | LmDataPart> {
  if (c instanceof vscode.LanguageModelTextPart) return [{ kind: 'text', text: c.value }];
  if (c instanceof vscode.LanguageModelPromptTsxPart) return [{ kind: 'text', text: JSON.stringify(c.value) }];
  const data = toData(c);
  if (data) return [data];
  const value = (c as { value?: unknown } | undefined)?.value;
  return typeof value === 'string' ? [{ kind: 'text', text: value }] : [];
}

/** A data part with a real MIME type; markers such as `cache_control` are not content. */
function toData(p: unknown): LmDataPart | undefined {
  const d = p as { mimeType?: unknown; data?: unknown } | undefined;
  if (!(p instanceof vscode.LanguageModelDataPart) && !(d && d.data instanceof Uint8Array)) return undefined;
  const mimeType = typeof d?.mimeType === 'string' ? d.mimeType : '';
  return mimeType.includes('/') ? { kind: 'data', mimeType, data: d!.data as Uint8Array } : undefined;
}

function isToolCall(p: unknown): p is vscode.LanguageModelToolCallPart {
  const c = p as Partial<vscode.LanguageModelToolCallPart> | undefined;
  return typeof c?.callId === 'string' && typeof c.name === 'string' && 'input' in c;
}

function isToolResult(p: unknown): p is vscode.LanguageModelToolResultPart {
  const r = p as Partial<vscode.LanguageModelToolResultPart> | undefined;
  return typeof r?.callId === 'string' && Array.isArray(r.content);
}

/** The request's tools in the core's shape. */
export function toLmTools(tools: readonly vscode.LanguageModelChatTool[] | undefined): LmTool[] {
  return (tools ?? []).map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
}
