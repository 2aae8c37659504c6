import * as assert from 'node:assert/strict';
import { costLines, renderStatus } from '../../../src/core/accounting/statusTable';
import type { StatusDoc } from '../../../src/core/accounting/statusTable';

const AT = Date.UTC(2026, 11, 6, 22);

function doc(over: Partial<StatusDoc> = {}): StatusDoc {
  return {
    version: '1.0.0',
    endpoint: 'http://127.0.0.1:8787',
    strategy: 'round-robin',
    at: AT,
    providers: [{ id: 'openai', name: 'OpenAI', keys: 2, usable: 1 }],
    keys: [],
    ...over,
  };
}

suite('keyrelay status table: cost and budgets', () => {
  test('a key over budget says when it is back and why; each key shows its cost or that it is unknown', () => {
    const lines = renderStatus(
      doc({
        keys: [
          {
            providerId: 'openai',
            label: 'work',
            masked: 'sk-…1111',
            state: 'active',
            overBudget: {
              until: Date.UTC(2026, 11, 7),
              reason: 'over budget: the key spent $5.00 of $5.00 today (UTC)',
            },
            requestsToday: 9,
            stats: { requests: 9, successes: 9, costUsd: 5, priced: 9, unpriced: 0 },
          },
          {
            providerId: 'openai',
            label: 'home',
            masked: 'sk-…2222',
            state: 'active',
            requestsToday: 1,
            stats: { requests: 1, successes: 1, costUsd: 0, priced: 0, unpriced: 1 },
          },
        ],
      }),
    );
    assert.match(lines[0], / · 1\/2 keys usable · /);
    const text = lines.join('\n');
    assert.match(
      text,
      /^ {2}work +sk-…1111 +over budget, back in 2h +9 today +100% ok +\$5\.00 +over budget: the key spent \$5\.00 of \$5\.00 today \(UTC\)$/m,
    );
    assert.match(text, /^ {2}home +sk-…2222 +active +1 today +100% ok +cost unknown$/m);
  });

  test('the cost lines: total with the table date, per model (at most eight), per day; none before any tokens', () => {
    const byModel = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `m${i}`,
        { costUsd: i === 9 ? null : 0.01, unpricedAttempts: i === 9 ? 2 : 0, inputTokens: 1, outputTokens: 1 },
      ]),
    );
    const lines = costLines({
      pricesAsOf: '2025-11-01',
      costUsd: 0.09,
      unpricedAttempts: 2,
      byModel,
      byDay: [
        { day: '2026-12-05', costUsd: null, requests: 3 },
        { day: '2026-12-06', costUsd: 0.09, requests: 9 },
      ],
    });
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^Cost: \$0\.0900 \+ 2 unknown since start \(prices as of 2025-11-01\) · m0 \$0\.0100 · .* · m7 \$0\.0100 · \+2 models$/,
    );
    assert.equal(lines[1], 'Cost per day: 2026-12-06 $0.0900');
    assert.deepEqual(
      costLines({ pricesAsOf: '2025-11-01', costUsd: null, unpricedAttempts: 0, byModel: {}, byDay: [] }),
      [],
    );
  });
});
