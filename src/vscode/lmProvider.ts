import * as vscode from 'vscode';
import type { ProviderCatalogue } from '../core/config/providers';
import type { ChatModel, ChatModelCatalog } from '../core/lm/chatModels';
import { runChat } from '../core/lm/chatRun';
import { LmError } from '../core/lm/lmError';
import type { LmStreamEvent } from '../core/lm/messages';
import { modelLimits } from '../core/lm/modelLimits';
import { estimateMessageTokens, estimateTokens } from '../core/lm/tokens';
import type { LmTransport } from '../core/lm/transport';
import type { Logger } from '../core/types';
import { toLmMessage, toLmTools } from './lmMessages';

/** The vendor of KeyRelay's models (package.json `languageModelChatProviders`). */
export const LM_VENDOR = 'keyrelay';

export interface ChatProviderDeps {
  models: ChatModelCatalog;
  catalogue: ProviderCatalogue;
  /** How this window reaches a pool right now (its own, or the leader's). */
  transport(): LmTransport;
  log: Logger;
}

/**
 * KeyRelay's key pool as a Language Model Chat Provider: every model the keys can serve, in the
 * chat model picker and for any extension through `vscode.lm`. A thin adapter: the model list,
 * the request shapes and the streams are core/lm's.
 */
export class KeyRelayChatProvider implements vscode.LanguageModelChatProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeLanguageModelChatInformation = this.changed.event;
  private readonly subscription: { dispose(): void };

  constructor(private readonly deps: ChatProviderDeps) {
    this.subscription = deps.models.onDidChange(() => this.changed.fire());
  }

  async provideLanguageModelChatInformation(
    options: vscode.PrepareLanguageModelChatModelOptions,
  ): Promise<vscode.LanguageModelChatInformation[]> {
    // Silent (startup) asks wait less for providers' model lists; a change event follows them.
    const models = await this.deps.models.resolve(options.silent ? 2_000 : 5_000);
    return models.map(info);
  }

  async provideLanguageModelChatResponse(
    model: vscode.LanguageModelChatInformation,
    messages: readonly vscode.LanguageModelChatRequestMessage[],
    options: vscode.ProvideLanguageModelChatResponseOptions,
    progress: vscode.Progress<vscode.LanguageModelResponsePart>,
    token: vscode.CancellationToken,
  ): Promise<void> {
    const chat = this.chatModel(model.id);
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    if (token.isCancellationRequested) ac.abort();
    try {
      await runChat({
        transport: this.deps.transport(),
        model: chat,
        request: {
          model: chat.model,
          messages: messages.map(toLmMessage),
          tools: toLmTools(options.tools),
          toolMode: options.toolMode === vscode.LanguageModelChatToolMode.Required ? 'required' : 'auto',
          maxOutputTokens: chat.limits.maxOutputTokens,
          imageInput: chat.limits.imageInput,
          modelOptions: options.modelOptions,
        },
        signal: ac.signal,
        onEvent: (e) => report(e, progress),
      });
    } catch (err) {
      throw this.editorError(err, chat);
    } finally {
      sub.dispose();
    }
  }

  async provideTokenCount(
    _model: vscode.LanguageModelChatInformation,
    text: string | vscode.LanguageModelChatRequestMessage,
  ): Promise<number> {
    return typeof text === 'string' ? estimateTokens(text) : estimateMessageTokens(toLmMessage(text));
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  /** The model behind an id; one that left the list (its keys were removed) is still tried, and told why. */
  private chatModel(id: string): ChatModel {
    const known = this.deps.models.list().find((m) => m.id === id);
    if (known) return known;
    const slash = id.indexOf('/');
    const provider = this.deps.catalogue.get(id.slice(0, slash));
    if (slash < 0 || !provider) {
      throw vscode.LanguageModelError.NotFound(`KeyRelay has no model "${id}". Pick one of KeyRelay's models again.`);
    }
    const model = id.slice(slash + 1);
    return {
      id,
      providerId: provider.id,
      providerName: provider.name,
      shape: provider.shape,
      model,
      limits: modelLimits(model),
    };
  }

  /** LmErrors as the API's errors; the message (which says what to do) is kept. */
  private editorError(err: unknown, chat: ChatModel): Error {
    if (!(err instanceof LmError)) return err instanceof Error ? err : new Error(String(err));
    if (err.kind === 'cancelled') return new vscode.CancellationError();
    this.deps.log.warn(`Chat model ${chat.id}: ${err.message}`);
    switch (err.kind) {
      case 'no-keys':
        return vscode.LanguageModelError.NotFound(err.message);
      case 'cooling':
      case 'unusable':
        return vscode.LanguageModelError.Blocked(err.message);
      default:
        return new vscode.LanguageModelError(err.message);
    }
  }
}

function info(m: ChatModel): vscode.LanguageModelChatInformation {
  const { limits } = m;
  return {
    id: m.id,
    name: m.model,
    family: m.model,
    version: m.model,
    detail: `${m.providerName} · KeyRelay`,
    tooltip: `${m.model} from ${m.providerName}, through KeyRelay's key pool.${limits.known ? '' : ' Its limits are unknown to KeyRelay: a safe default is used.'}`,
    maxInputTokens: limits.maxInputTokens,
    maxOutputTokens: limits.maxOutputTokens,
    capabilities: { toolCalling: limits.toolCalling, imageInput: limits.imageInput },
  };
}

function report(e: LmStreamEvent, progress: vscode.Progress<vscode.LanguageModelResponsePart>): void {
  if (e.kind === 'text') progress.report(new vscode.LanguageModelTextPart(e.text));
  else if (e.kind === 'toolCall') progress.report(new vscode.LanguageModelToolCallPart(e.callId, e.name, e.input));
  // Usage is counted by the proxy's own statistics.
}

/** Registers the provider under KeyRelay's vendor; both go into the extension's subscriptions. */
export function registerChatProvider(deps: ChatProviderDeps): vscode.Disposable[] {
  const provider = new KeyRelayChatProvider(deps);
  return [provider, vscode.lm.registerLanguageModelChatProvider(LM_VENDOR, provider)];
}
