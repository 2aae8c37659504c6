import * as assert from 'node:assert/strict';
import { notUsableLines, renderStatus } from '../../../src/core/view/statusText';
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
});
