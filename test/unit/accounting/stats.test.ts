import * as assert from 'node:assert/strict';
import { Stats } from '../../../src/core/accounting/stats';
import type { RequestRecord } from '../../../src/core/accounting/stats';

/** Local wall-clock times, so the tests hold in any time zone. */
const at = (d: number, h: number, m = 0) => new Date(2025, 0, d, h, m).getTime();

function fake(t0: number) {
  const c = { t: t0, now: () => c.t };
  return c;
}

const ok = (keyId: string | undefined, extra: Partial<RequestRecord> = {}): RequestRecord => ({
  keyId,
  providerId: 'openai',
  model: 'gpt-4o',
  endpoint: '/chat/completions',
  ok: true,
  status: 200,
  latencyMs: 100,
  ttfbMs: 40,
  inputTokens: 10,
  outputTokens: 5,
  ...extra,
});

suite('stats: Stats', () => {
  const all: Stats[] = [];
  const make = (...a: ConstructorParameters<typeof Stats>) => {
    const s = new Stats(...a);
    all.push(s);
    return s;
  };
  teardown(() => {
    for (const s of all.splice(0)) s.dispose();
  });

  test('counts per key, key × model, endpoint and total', () => {
    const clock = fake(at(15, 12));
    const s = make(clock);
    s.record(ok('k1'));
    clock.t += 1000;
    s.record(ok('k1', { model: 'gpt-4o-mini', ttfbMs: undefined, inputTokens: undefined }));
    s.record(ok('k2', { ok: false, failure: 'rate-limit', status: 429, outputTokens: 0 }));
    s.record(ok('k2', { ok: false, status: 503 })); // no class given: classified from the status
    s.record(ok(undefined, { endpoint: '/models?x=1' })); // passthrough: no key
    const k1 = s.forKey('k1')!;
    assert.deepEqual(k1, {
      requests: 2,
      successes: 2,
      failures: {},
      inputTokens: 10,
      outputTokens: 10,
      latencyMsTotal: 200,
      ttfbMsTotal: 40,
      costUsd: 0,
      priced: 0,
      unpriced: 2,
      ttfbCount: 1,
      lastUsed: clock.t,
    });
    const snap = s.snapshot();
    assert.equal(snap.total.requests, 5);
    assert.deepEqual(snap.byKey.k2.failures, { 'rate-limit': 1, server: 1 });
    assert.deepEqual(Object.keys(snap.byKeyModel.k1).sort(), ['gpt-4o', 'gpt-4o-mini']);
    assert.equal(snap.byEndpoint['/chat/completions'].requests, 4);
    assert.equal(snap.byEndpoint['/models'].requests, 1);
    assert.deepEqual({ ...snap.today.byKey }, { k1: 2, k2: 2 });
    assert.equal(s.requestsToday('k1'), 2);
    assert.equal(s.requestsToday(), 5);
    assert.equal(s.forKey('nope'), undefined);
    // Snapshots are copies.
    snap.byKey.k1.requests = 99;
    assert.equal(s.forKey('k1')!.requests, 2);
  });

  test('dailyResetHour H: the day rolls at H:00 local time', () => {
    const clock = fake(at(15, 3));
    const s = make(clock, { dailyResetHour: 4 });
    assert.equal(s.snapshot().today.day, '2025-01-14'); // 03:00 belongs to yesterday's day
    s.record(ok('k1'));
    clock.t = at(15, 3, 59);
    s.record(ok('k1'));
    assert.equal(s.requestsToday('k1'), 2);
    clock.t = at(15, 4);
    assert.equal(s.requestsToday('k1'), 0);
    assert.equal(s.snapshot().today.day, '2025-01-15');
    s.record(ok('k1'));
    clock.t = at(16, 3);
    assert.equal(s.requestsToday('k1'), 1);
    clock.t = at(18, 9); // days skipped entirely
    assert.equal(s.requestsToday('k1'), 0);
    assert.equal(s.snapshot().today.day, '2025-01-18');
    // Totals never reset with the day.
    assert.equal(s.forKey('k1')!.requests, 3);
  });

  test('onDidRollDay fires once when a new day begins, with its label', () => {
    const clock = fake(at(15, 23));
    const s = make(clock, { dailyResetHour: 0 });
    const days: string[] = [];
    s.onDidRollDay((d) => days.push(d));
    s.record(ok('k1'));
    assert.deepEqual(days, []);
    clock.t = at(16, 0, 1);
    s.record(ok('k1'));
    s.record(ok('k1'));
    assert.deepEqual(days, ['2025-01-16']);
  });

  test('dailyResetHour 0 = midnight; -1 = never, the first day stays', () => {
    const clock = fake(at(15, 23, 59));
    const midnight = make(clock, { dailyResetHour: 0 });
    const never = make(clock);
    midnight.record(ok('k'));
    never.record(ok('k'));
    clock.t = at(16, 0, 0);
    assert.equal(midnight.requestsToday('k'), 0);
    clock.t = at(20, 12);
    assert.equal(never.requestsToday('k'), 1);
    assert.equal(never.snapshot().today.day, '2025-01-15');
    // Switching -1 → 0 on a later day starts a new day.
    never.setDailyResetHour(0);
    assert.equal(never.requestsToday('k'), 0);
    assert.equal(never.snapshot().today.day, '2025-01-20');
  });

  test('toJSON / fromJSON round trip, with the day carried only while it is current', () => {
    const clock = fake(at(15, 12));
    const s = make(clock, { dailyResetHour: 0 });
    s.record(ok('k1'));
    s.record(ok('k1', { model: 'gpt-4o-mini' }));
    s.record(ok('k1', { model: 'o3' }));
    s.record(ok('k2', { ok: false, failure: 'auth', status: 401 }));
    const json = JSON.parse(JSON.stringify(s.toJSON()));
    assert.equal(json.version, 1);
    assert.deepEqual(Object.keys(json.byKeyModel.k1), ['gpt-4o', 'gpt-4o-mini', 'o3']);
    assert.deepEqual(json.byKey.k2.failures, { auth: 1 });
    const back = Stats.fromJSON(clock, json, { dailyResetHour: 0 });
    all.push(back);
    assert.deepEqual(JSON.parse(JSON.stringify(back.toJSON())), json);
    assert.deepEqual(back.snapshot(), s.snapshot());
    back.record(ok('k1', { model: 'o3' }));
    assert.equal(back.snapshot().byKeyModel.k1.o3.requests, 2);
    clock.t = at(16, 12);
    const nextDay = Stats.fromJSON(clock, json, { dailyResetHour: 0 });
    all.push(nextDay);
    assert.equal(nextDay.requestsToday('k1'), 0);
    assert.equal(nextDay.forKey('k1')!.requests, 3);
    // Unreadable input: fresh stats, no throw.
    for (const bad of [undefined, null, 'x', { version: 99 }, { version: 1, byKey: 'garbage', total: 5 }]) {
      const f = Stats.fromJSON(clock, bad);
      all.push(f);
      assert.equal(f.snapshot().total.requests, 0);
    }
  });

  test('load() replaces every counter with saved ones; unreadable input changes nothing', () => {
    const clock = fake(at(15, 12));
    const saved = make(clock);
    saved.record(ok('k1'));
    saved.record(ok('k2', { ok: false, failure: 'rate-limit', status: 429 }));
    const s = make(clock);
    s.record(ok('mine'));
    assert.equal(s.load({ version: 999 }), false);
    assert.equal(s.forKey('mine')!.requests, 1);
    assert.equal(s.load(JSON.parse(JSON.stringify(saved.toJSON()))), true);
    assert.equal(s.forKey('mine'), undefined);
    assert.equal(s.requestsToday('mine'), 0);
    assert.deepEqual(s.snapshot(), saved.snapshot());
    // A hand-edited file: a "today" count for a key with no counters is kept as a count only.
    const edited = JSON.parse(JSON.stringify(saved.toJSON()));
    edited.today.byKey.k9 = 4;
    assert.equal(s.load(edited), true);
    assert.equal(s.requestsToday('k9'), 4);
    assert.equal(s.forKey('k9'), undefined);
    assert.equal(s.snapshot().byKey.k9, undefined);
    assert.equal(s.requestsToday(), 6);
  });

  test('stores ids only, caps client-chosen names, survives __proto__', () => {
    const clock = fake(at(15, 12));
    const s = make(clock);
    const secret = 'sk-test-abcdefghijklmnopqrstuvwxyz0123';
    for (let i = 0; i < 250; i++) s.record(ok('k1', { model: `m-${i}` }));
    s.record(ok('__proto__', { model: '__proto__' }));
    const text = JSON.stringify(s.toJSON());
    assert.ok(!text.includes(secret));
    const snap = s.snapshot();
    assert.equal(Object.keys(snap.byKeyModel.k1).length, 201); // 200 + "(other)"
    assert.equal(snap.byKeyModel.k1['(other)'].requests, 50);
    s.record(ok('k1', { model: 'm-0' }));
    s.record(ok('k1', { model: 'm-199' }));
    s.record(ok('k1', { model: 'm-200' }));
    const after = s.snapshot().byKeyModel.k1;
    assert.deepEqual([after['m-0'].requests, after['m-199'].requests, after['(other)'].requests], [2, 2, 51]);
    assert.equal(snap.byKey['__proto__'].requests, 1);
  });

  test("a key's first model shares its counters until another model, or none, comes: every count stays exact", () => {
    const s = make(fake(at(15, 12)));
    const models = (id: string) =>
      Object.fromEntries(Object.entries(s.snapshot().byKeyModel[id] ?? {}).map(([m, c]) => [m, c.requests]));
    s.recordAttempt(ok('k', { model: 'a', costUsd: 0.5 }));
    s.recordAttempt(ok('k', { model: 'a', ok: false, status: 429 }));
    assert.deepEqual(models('k'), { a: 2 });
    s.recordAttempt(ok('k', { model: 'b', ok: false, status: 503 }));
    s.recordAttempt(ok('k', { model: 'a' }));
    assert.deepEqual(models('k'), { a: 3, b: 1 });
    const snap = s.snapshot();
    assert.equal(snap.byKey.k.requests, 4);
    assert.deepEqual(snap.byKeyModel.k.a.failures, { 'rate-limit': 1 });
    assert.deepEqual(snap.byKeyModel.k.b.failures, { server: 1 });
    assert.equal(snap.byKeyModel.k.a.costUsd, 0.5);
    // An attempt without a model splits the first model off too; one before any model keeps it apart.
    s.recordAttempt(ok('j'));
    s.recordAttempt(ok('j', { model: undefined }));
    s.recordAttempt(ok('j'));
    s.recordAttempt(ok('m', { model: undefined }));
    s.recordAttempt(ok('m'));
    assert.deepEqual([models('j'), models('m')], [{ 'gpt-4o': 2 }, { 'gpt-4o': 1 }]);
    assert.deepEqual([s.forKey('j')?.requests, s.forKey('m')?.requests], [3, 2]);
    // Saved and loaded, the shared record comes back as two equal ones, and counting goes on.
    const back = Stats.fromJSON(s.clock, JSON.parse(JSON.stringify(s.toJSON())));
    all.push(back);
    assert.deepEqual(back.snapshot(), s.snapshot());
    back.recordAttempt(ok('k', { model: 'a' }));
    assert.deepEqual([back.snapshot().byKeyModel.k.a.requests, back.forKey('k')?.requests], [4, 5]);
  });

  test('the per-key spend record and the last key counted stay right across reset and load', () => {
    const clock = fake(at(15, 12));
    const s = make(clock);
    s.recordAttempt(ok('k', { costUsd: 0.25 }));
    s.recordAttempt(ok('k', { costUsd: 0.25 }));
    assert.equal(s.spend.spent('k', clock.t).dayUsd, 0.5);
    s.reset(); // counters go, money spent stays spent
    s.recordAttempt(ok('k', { costUsd: 0.25 }));
    assert.equal(s.spend.spent('k', clock.t).dayUsd, 0.75);
    assert.equal(s.load(JSON.parse(JSON.stringify(s.toJSON()))), true);
    s.recordAttempt(ok('k', { costUsd: 0.25 }));
    assert.equal(s.spend.spent('k', clock.t).dayUsd, 1);
    // The attempt and then its request, with a reset in between: the request counts in the new counters.
    s.recordAttempt(ok('k'));
    s.reset();
    s.recordRequest(ok('k'));
    assert.deepEqual([s.requestsToday('k'), s.keySummary('k').today, s.forKey('k')], [1, 1, undefined]);
  });

  test("a held record counts the attempt without a lookup, and is never used once stale or another's", () => {
    const clock = fake(at(15, 12));
    const s = make(clock);
    const other = make(clock);
    const holder = { counters: undefined as unknown };
    s.recordAttempt(ok('k'), clock.t, holder);
    assert.notEqual(holder.counters, undefined);
    s.recordAttempt(ok('k'), clock.t, holder);
    assert.equal(s.forKey('k')?.requests, 2);
    other.recordAttempt(ok('k'), clock.t, holder); // another Stats: its own record, taken over by the holder
    assert.deepEqual([s.forKey('k')?.requests, other.forKey('k')?.requests], [2, 1]);
    s.recordAttempt(ok('k'), clock.t, holder);
    assert.deepEqual([s.forKey('k')?.requests, other.forKey('k')?.requests], [3, 1]);
    s.reset(); // the held record is dropped with every other: the next count makes a new one
    s.recordAttempt(ok('k'), clock.t, holder);
    assert.equal(s.forKey('k')?.requests, 1);
    assert.equal(s.load(JSON.parse(JSON.stringify(s.toJSON()))), true);
    s.recordAttempt(ok('k'), clock.t, holder);
    assert.equal(s.forKey('k')?.requests, 2);
  });

  test('reset zeroes everything', () => {
    const clock = fake(at(15, 12));
    const s = make(clock);
    s.record(ok('k1'));
    clock.t += 5000;
    s.reset();
    const snap = s.snapshot();
    assert.equal(snap.total.requests, 0);
    assert.equal(snap.since, clock.t);
    assert.equal(s.requestsToday(), 0);
  });

  test('onDidChange fires at most once per 250 ms and dispose stops it', async () => {
    // A second Stats armed after the first is the yardstick: Node runs timers of one duration in
    // the order they were set, so when its change fires, the first one's window has ended too.
    const window = async (): Promise<void> => {
      const yardstick = make(fake(at(15, 12)));
      const ended = new Promise<void>((resolve) => yardstick.onDidChange(() => resolve()));
      yardstick.record(ok('k1'));
      await ended;
      yardstick.dispose();
    };
    const s = make(fake(at(15, 12)));
    let fires = 0;
    s.onDidChange(() => fires++);
    for (let i = 0; i < 1000; i++) s.record(ok('k1'));
    assert.equal(fires, 0, 'nothing fires while the window is open');
    await window();
    assert.equal(fires, 1, 'one fire for the 1,000 records of one window');
    s.record(ok('k1'));
    s.dispose();
    await window();
    assert.equal(fires, 1, 'a disposed Stats does not fire');
  });

  test('200k records over 10k keys all count', () => {
    const s = make(fake(at(15, 12)));
    const ids = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
    for (let i = 0; i < 200_000; i++) s.record(ok(ids[i % ids.length]));
    assert.equal(s.requestsToday(), 200_000);
  });
});
