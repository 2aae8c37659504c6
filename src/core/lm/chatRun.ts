import type { InProcessResponse } from '../proxy/inProcess';
import { toAnthropicMessages } from './anthropicBody';
import type { ChatModel } from './chatModels';
import { LmError } from './lmError';
import type { LmErrorKind } from './lmError';
import type { LmChatRequest, LmStreamEvent } from './messages';
import { toOpenAIChat } from './openaiBody';
import { SseParser } from './sse';
import { streamReader } from './streamReaders';
import type { LmTransport } from './transport';

/** One chat request to one model: what to send, where, and who hears the answer. */
export interface ChatRun {
  transport: LmTransport;
  model: ChatModel;
  request: LmChatRequest;
  signal?: AbortSignal;
  /** Each piece of the answer as it arrives. */
  onEvent(e: LmStreamEvent): void;
}

/** KeyRelay's own refusals (the `x-keyrelay-error` header) and what they mean for the editor. */
const OWN_KINDS: Record<string, LmErrorKind> = {
  no_keys: 'no-keys',
  all_keys_cooling: 'cooling',
  keys_unusable: 'unusable',
  budget_exceeded: 'unusable',
};

/**
 * Sends a chat to a KeyRelay model and streams the answer: OpenAI-shaped providers get a
 * streaming `/chat/completions`, Anthropic-shaped ones a streaming `/v1/messages`. Resolves when
 * the answer is complete; rejects with an LmError whose message says what to do.
 */
export async function runChat(run: ChatRun): Promise<void> {
  const { model, signal } = run;
  const anthropic = model.shape === 'anthropic';
  let res: InProcessResponse;
  try {
    res = await run.transport({
      shape: model.shape,
      method: 'POST',
      path: anthropic ? '/messages' : '/chat/completions',
      providerId: model.providerId,
      body: anthropic ? toAnthropicMessages(run.request) : toOpenAIChat(run.request),
      signal,
    });
  } catch (err) {
    throw failure(err, run);
  }
  if (res.status >= 300) throw await refusal(res, model);
  if (!(res.headers['content-type'] ?? '').includes('event-stream')) return wholeAnswer(res, run);
  const parser = new SseParser();
  const reader = streamReader(model.shape, model.providerName);
  try {
    for await (const chunk of res.body) {
      for (const e of parser.feed(chunk)) for (const ev of reader.push(e)) run.onEvent(ev);
    }
    for (const e of parser.end()) for (const ev of reader.push(e)) run.onEvent(ev);
    for (const ev of reader.finish()) run.onEvent(ev);
  } catch (err) {
    throw failure(err, run);
  }
  if (signal?.aborted) throw cancelled();
}

function cancelled(): LmError {
  return new LmError('cancelled', 'The request was cancelled.');
}

/** A transport or stream failure as an LmError (cancellation wins over what it caused). */
function failure(err: unknown, run: ChatRun): LmError {
  if (run.signal?.aborted) return cancelled();
  if (err instanceof LmError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new LmError(
    'upstream',
    `The request to ${run.model.providerName} failed: ${msg}. Try again; "KeyRelay: Show Log" has the details.`,
    { cause: err },
  );
}

/**
 * A server that ignored `stream: true` and answered with one JSON message: its content is
 * replayed through the stream reader as the events a stream would have carried.
 */
async function wholeAnswer(res: InProcessResponse, run: ChatRun): Promise<void> {
  const reader = streamReader(run.model.shape, run.model.providerName);
  let json: { choices?: Array<{ message?: Record<string, unknown> }>; content?: unknown[]; usage?: unknown };
  try {
    json = JSON.parse((await readAll(res)).toString('utf8')) as typeof json;
  } catch (err) {
    throw failure(err, run);
  }
  const events =
    run.model.shape === 'anthropic'
      ? (json.content ?? []).flatMap((block, index) => [
          { type: 'content_block_start', index, content_block: block },
          { type: 'content_block_stop', index },
        ])
      : [{ choices: [{ delta: json.choices?.[0]?.message ?? {}, finish_reason: 'stop' }], usage: json.usage }];
  for (const e of events) for (const ev of reader.push({ data: JSON.stringify(e) })) run.onEvent(ev);
}

async function readAll(res: InProcessResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c);
  return Buffer.concat(chunks);
}

/** An answer that is not a stream: KeyRelay's own refusal, or the provider's, in words that say what to do. */
async function refusal(res: InProcessResponse, model: ChatModel): Promise<LmError> {
  const text = (await readAll(res)).toString('utf8');
  const said = messageOf(text);
  const own = res.headers['x-keyrelay-error'];
  if (own) return new LmError(OWN_KINDS[own] ?? 'upstream', said ?? `KeyRelay could not send the request (${own}).`);
  const status = res.status;
  const name = model.providerName;
  const quoted = said ? `: ${said}` : '';
  if (status === 429) {
    return new LmError(
      'cooling',
      `${name} rate-limited every key KeyRelay tried (HTTP 429)${quoted}. Wait a moment, or add keys with "KeyRelay: Add Key".`,
    );
  }
  if (status === 401 || status === 402 || status === 403) {
    return new LmError(
      'unusable',
      `${name} refused KeyRelay's keys (HTTP ${status})${quoted}. Check them with "KeyRelay: Test Key", or add working ones with "KeyRelay: Add Key".`,
    );
  }
  if (status >= 500) {
    return new LmError('upstream', `${name} is failing (HTTP ${status})${quoted}. Try again in a moment.`);
  }
  const hint =
    status === 404
      ? ` Check that ${name} serves "${model.model}"; the setting keyRelay.chatModels chooses which models are offered.`
      : status === 413
        ? ' Start a new chat or send less context.'
        : '';
  return new LmError('rejected', `${name} refused the request (HTTP ${status})${quoted}.${hint}`);
}

/** The message inside an error body of either shape, if there is one. */
function messageOf(text: string): string | undefined {
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    return typeof m === 'string' && m ? m : undefined;
  } catch {
    const t = text.trim();
    return t ? t.slice(0, 300) : undefined;
  }
}
