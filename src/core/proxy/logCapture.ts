import type { LoggedAttempt } from '../accounting/requestLog';
import type { Outcome, PoolKey } from '../types';
import type { Attempt, AttemptResult } from './attempt';
import { BodyCapture } from './bodyCapture';
import { headerRecord } from './headers';
import type { RequestContext } from './requestContext';

/**
 * A capture for one attempt when the request log is on: SSE is kept raw (several times the entry
 * limit: its framing is most of its bytes), so the reassembled text can fill the entry.
 */
export function captureFor(ctx: RequestContext): BodyCapture | undefined {
  if (!ctx.deps.requestLog()) return undefined;
  return new BodyCapture(ctx.cfg.requestLogMaxEntryBytes * 4);
}

/** Notes one attempt in the trace for the request log: whose key (its label and masked form), what came back, how long. */
export function noteAttempt(
  ctx: RequestContext,
  who: PoolKey | string,
  r: AttemptResult,
  outcome: Outcome | undefined,
  handler: Attempt,
): void {
  const capture = handler.capture;
  if (!capture) return;
  const { trace, deps, p } = ctx;
  const status = r.kind === 'failed' ? 0 : r.status;
  const entry: LoggedAttempt = {
    // Named here, not by the caller: without a capture, no string per attempt (nor a read of the key's record).
    key: typeof who === 'string' ? who : `${who.label} (${who.masked})`,
    status,
    outcome: outcome?.kind ?? (r.kind === 'failed' ? 'network' : r.kind === 'sent' ? 'sent' : 'client-error'),
    ms: deps.clock.now() - p.t0,
  };
  (trace.tries ??= []).push(entry);
  if (r.kind === 'sent') {
    trace.response = { status, contentType: handler.contentType, body: capture.joined(), truncated: capture.truncated };
  } else if (r.kind !== 'failed') {
    const type = headerRecord(r.headers)['content-type'] ?? '';
    trace.response = { status, contentType: String(type), body: r.body, truncated: false };
  }
}
