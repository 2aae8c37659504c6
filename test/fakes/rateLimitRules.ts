import type { Behaviour, RecordedRequest } from './upstreamServer';

/**
 * The provider of issue 10's "Done when": a 429 with `retry-after: seconds` to the first attempt of
 * every client request. A client request is told apart by its body: KeyRelay resends the same bytes
 * when it tries the next key, while two requests of a client differ (messages, ids, tool results).
 * Only POSTs count (model lists and HEAD probes carry no body to tell them apart). `limited` counts
 * the 429s given, so a test can prove the rule fired.
 */
export function firstAttemptOfEachRequestLimited(seconds: number): {
  rule: (r: RecordedRequest) => Behaviour | undefined;
  limited: () => number;
} {
  const seen = new Set<string>();
  return {
    rule: (r) => {
      if (r.method !== 'POST' || seen.has(r.body)) return undefined;
      seen.add(r.body);
      return { kind: 'status', status: 429, headers: { 'retry-after': String(seconds) } };
    },
    limited: () => seen.size,
  };
}
