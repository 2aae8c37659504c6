import * as assert from 'node:assert/strict';
import { SpendLedger, utcPeriod } from '../../../src/core/accounting/spend';

const at = (iso: string): number => Date.parse(iso);

suite('SpendLedger', () => {
  test('adds to the UTC day and month that contain the time; a new day or month starts at 0', () => {
    const l = new SpendLedger();
    let row = l.add('a', 0.25, at('2026-12-06T10:00:00Z'));
    row = l.add('a', 0.5, at('2026-12-06T23:59:59Z'), row);
    assert.deepEqual(l.spent('a', at('2026-12-06T12:00:00Z')), { dayUsd: 0.75, monthUsd: 0.75 });
    assert.deepEqual(l.spent('a', at('2026-12-07T00:00:00Z')), { dayUsd: 0, monthUsd: 0.75 }, 'the next day');
    l.add('a', 1, at('2026-12-07T08:00:00Z'), row);
    assert.deepEqual(l.spent('a', at('2026-12-07T09:00:00Z')), { dayUsd: 1, monthUsd: 1.75 });
    l.add('a', 2, at('2027-01-01T00:00:00Z'), row);
    assert.deepEqual(l.spent('a', at('2027-01-01T01:00:00Z')), { dayUsd: 2, monthUsd: 2 }, 'a new month');
    assert.deepEqual(l.spent('nobody', at('2027-01-01T01:00:00Z')), { dayUsd: 0, monthUsd: 0 });
  });

  test('nothing, a negative or a non-finite amount is not spend', () => {
    const l = new SpendLedger();
    for (const usd of [0, -1, NaN, Infinity]) assert.equal(l.add('a', usd, at('2026-12-06T10:00:00Z')), -1);
    assert.deepEqual(JSON.parse(JSON.stringify(l.toJSON())), {});
  });

  test('a row handed back for another key, or from before a load, is looked up again', () => {
    const l = new SpendLedger();
    const t = at('2026-12-06T10:00:00Z');
    const a = l.add('a', 1, t);
    const b = l.add('b', 2, t);
    assert.notEqual(a, b);
    l.add('b', 1, t, a); // a's row offered for b
    assert.deepEqual([l.spent('a', t).dayUsd, l.spent('b', t).dayUsd], [1, 3]);
    l.load({ b: { day: '2026-12-06', dayUsd: 5, month: '2026-12', monthUsd: 7 } });
    l.add('a', 1, t, a); // a's old row is b's now
    assert.deepEqual([l.spent('a', t).dayUsd, l.spent('b', t)], [1, { dayUsd: 5, monthUsd: 7 }]);
  });

  test('toJSON and load round-trip, with the periods as dates; unreadable entries are skipped', () => {
    const l = new SpendLedger();
    const t = at('2026-02-03T04:05:06Z');
    l.add('a', 0.125, t);
    l.add('__proto__', 1, t);
    const json = JSON.parse(JSON.stringify(l.toJSON()));
    assert.deepEqual(json.a, { day: '2026-02-03', dayUsd: 0.125, month: '2026-02', monthUsd: 0.125 });
    const back = new SpendLedger();
    back.load({
      ...json,
      bad: { day: 3, month: '2026-02' },
      odd: { day: 'yesterday', dayUsd: 9, month: '2026-02', monthUsd: -4 },
    });
    assert.deepEqual(back.spent('a', t), { dayUsd: 0.125, monthUsd: 0.125 });
    assert.deepEqual(back.spent('__proto__', t), { dayUsd: 1, monthUsd: 1 });
    assert.deepEqual(back.spent('bad', t), { dayUsd: 0, monthUsd: 0 });
    assert.deepEqual(
      back.spent('odd', t),
      { dayUsd: 0, monthUsd: 0 },
      'an unreadable day and a negative month count as 0',
    );
  });

  test('utcPeriod numbers the day and month as the ledger stores them', () => {
    const p = utcPeriod(at('2026-12-31T23:59:59Z'));
    assert.deepEqual([p.day, p.dayNo, p.month, p.monthNo], ['2026-12-31', 20261231, '2026-12', 202612]);
  });
});
