import * as assert from 'node:assert/strict';
import { cloneCounters, copyCounters, emptyCounters } from '../../../src/core/accounting/counters';
import { KeyRows, ROW_FIELDS } from '../../../src/core/accounting/keyRows';

suite('stats: KeyRows', () => {
  test('each row is its own counters, kept through the table growing; saved and copied as plain counters', () => {
    const t = new KeyRows();
    const rows = Array.from({ length: 300 }, () => t.add()); // past the first table of 64 rows
    rows.forEach((c, i) => {
      c.requests = i;
      c.costUsd = i / 1000;
      c.lastUsedSec = i + 7;
    });
    t.count(rows[5].row, { providerId: 'p', endpoint: '/x', ok: true, status: 200, latencyMs: 12, inputTokens: 3 }, 99);
    assert.deepEqual(
      rows.map((c) => [c.requests, c.costUsd]).slice(0, 6),
      [0, 1, 2, 3, 4, 6].map((n, i) => [n, i / 1000]),
    );
    assert.deepEqual([rows[299].requests, rows[299].lastUsedSec], [299, 306]);
    const c = rows[5];
    assert.deepEqual([c.successes, c.inputTokens, c.unpriced, c.latencyMsTotal, c.lastUsedSec], [1, 3, 1, 12, 99]);
    c.failures = { 'rate-limit': 2 };
    const plain = JSON.parse(JSON.stringify(c)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(plain).sort(), [...ROW_FIELDS, 'failures'].sort());
    assert.deepEqual(plain, { ...copyCounters(c), failures: { 'rate-limit': 2 } });
    const copy = copyCounters(c);
    copy.requests++;
    copy.failures!['rate-limit'] = 9;
    assert.deepEqual([c.requests, c.failures['rate-limit']], [6, 2]); // the copy shares nothing
    assert.deepEqual(cloneCounters(c), { ...cloneCounters(copyCounters(c)) });
    assert.equal(cloneCounters(emptyCounters()).lastUsed, undefined);
  });
});
