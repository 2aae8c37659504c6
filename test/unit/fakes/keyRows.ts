import type { KeyRow } from '../../../src/core/view/keyRow';

/** A view row of an active, healthy key; tests override what they look at. */
export function row(over: Partial<KeyRow> = {}): KeyRow {
  return {
    id: 'k1',
    providerId: 'openai',
    label: 'openai-1',
    masked: 'sk-…1111',
    state: 'active',
    modelCooldowns: {},
    history: [],
    today: 3,
    requests: 3,
    successes: 3,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    priced: 0,
    unpriced: 0,
    ...over,
  };
}
