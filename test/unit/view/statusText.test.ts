import * as assert from 'node:assert/strict';
import { costWords, keyCostLine, notUsableLines, renderStatus } from '../../../src/core/view/statusText';
import type { ViewModel } from '../../../src/core/view/viewModel';
import { row } from '../fakes/keyRows';

const NOW = 1_700_000_000_000;

function vm(over: Partial<ViewModel> = {}): ViewModel {
  return {
    at: NOW,
    role: 'leader',
    endpoint: 'http://127.0.0.1:8787',
    port: 8787,
    keys: [],
    requestsToday: 0,
    cost: { costUsd: null, unpricedAttempts: 0 },
    ...over,
  };
}

suite('status bar text', () => {
  test('a key cooling for one model is not fully usable: 2/3 in warning colour, and the tooltip says which', () => {
    const keys = [
      row({ id: 'a', label: 'openai-1' }),
      row({ id: 'b', label: 'openai-2', masked: 'sk-…2222', modelCooldowns: { 'gpt-4o': NOW + 12_000 } }),
      row({ id: 'c', label: 'openai-3' }),
    ];
    const r = renderStatus(vm({ keys, requestsToday: 7 }));
    assert.equal(r.text, '$(key) KeyRelay 2/3 · 7');
    assert.equal(r.level, 'warning');
    assert.deepEqual(notUsableLines(vm({ keys })), ['openai-2 sk-…2222: gpt-4o 12s']);
  });

  test('all fine, nothing usable, no keys, and the proxy off', () => {
    assert.equal(renderStatus(vm({ keys: [row()] })).level, 'ok');
    assert.equal(renderStatus(vm({ keys: [row({ state: 'invalid' })] })).level, 'error');
    assert.deepEqual(renderStatus(vm()), {
      text: '$(key) KeyRelay 0/0',
      level: 'ok',
      summary: 'KeyRelay: 0 of 0 keys usable, 0 requests today',
    });
    const off = renderStatus(vm({ role: 'conflict', port: 8787 }));
    assert.equal(off.level, 'error');
    assert.match(off.summary, /port 8787 is taken/);
    assert.match(renderStatus(vm({ role: 'follower', keys: [row()] })).summary, /served by another window/);
  });

  test('the tooltip lists key-wide states too, and stops after a few lines', () => {
    const keys = Array.from({ length: 12 }, (_, i) =>
      row({ id: `k${i}`, label: `k${i}`, masked: `sk-…${i}`, state: 'cooling', coolingUntil: NOW + 30_000 }),
    );
    const lines = notUsableLines(vm({ keys }));
    assert.equal(lines.length, 9);
    assert.equal(lines[0], 'k0 sk-…0: cooling 30s');
    assert.equal(lines[8], '…and 4 more');
  });

  test('a key over its budget is not usable, and the tooltip says when it is back', () => {
    const over = { until: NOW + 2 * 3_600_000, reason: 'over budget: the key spent $5.00 of $5.00 today (UTC)' };
    const keys = [row({ id: 'a', label: 'work', overBudget: over }), row({ id: 'b', label: 'home' })];
    assert.equal(renderStatus(vm({ keys })).text, '$(key) KeyRelay 1/2 · 0');
    assert.deepEqual(notUsableLines(vm({ keys })), ['work sk-…1111: over budget, back in 2h']);
    const later = vm({ keys, at: over.until });
    assert.deepEqual(notUsableLines(later), [], 'its period ended: usable again');
  });

  test('cost in words: known, unknown, and partly unknown; nothing before any tokens', () => {
    assert.equal(costWords({ costUsd: 0.0123, unpricedAttempts: 0 }), '$0.0123');
    assert.equal(
      costWords({ costUsd: null, unpricedAttempts: 1 }),
      'unknown (1 request of unknown cost: no price for the model)',
    );
    assert.equal(costWords({ costUsd: 2, unpricedAttempts: 3 }), '$2.00 (+3 requests of unknown cost)');
    assert.equal(costWords({ costUsd: null, unpricedAttempts: 0 }), '');
    assert.equal(keyCostLine(row({ costUsd: 0.5, priced: 2 })), 'Cost: $0.5000');
    assert.equal(
      keyCostLine(row({ unpriced: 2 })),
      'Cost: unknown (2 requests of unknown cost: no price for the model)',
    );
    assert.equal(keyCostLine(row()), '');
  });
});
