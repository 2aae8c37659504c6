import * as assert from 'node:assert/strict';
import { KeyPool } from '../../../src/core/pool/keyPool';
import type { PoolOptions } from '../../../src/core/pool/keyPool';
import type { KeyRecord, Outcome, PoolKey, Transition } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';
import { until } from '../../fakes/waits';

const STEPS = [10_000, 30_000, 60_000];
const MAX = 600_000;

/** A fake key that looks like a real one; only its masked form may ever be shown. */
function fakeKey(id: string, extra: Partial<PoolKey> = {}): PoolKey {
  const secret = `sk-test-${id}-${'Zq8vLm3Np7Rt'.repeat(3)}${id.length}`;
  return { id, providerId: 'openai', label: id, masked: `sk-…${secret.slice(-4)}`, addedAt: 1, secret, ...extra };
}

function makePool(clock: FakeClock, o: Partial<PoolOptions> = {}): KeyPool {
  return new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: STEPS,
    maxCooldownMs: MAX,
    degradedAfter: 3,
    discardOnQuota: true,
    ...o,
  });
}

const rl = (retryAfterMs?: number): Outcome => ({
  kind: 'rate-limited',
  status: 429,
  retryAfterMs,
  reason: 'Rate limit reached',
  errorType: 'rate_limit_error',
});
const ok: Outcome = { kind: 'success', ttfbMs: 100 };
const e5: Outcome = { kind: 'server-error', status: 503, reason: 'overloaded' };

function pickId(pool: KeyPool, model?: string, exclude?: string[]): string | undefined {
  const r = pool.pick({ providerId: 'openai', model, exclude: exclude && new Set(exclude) });
  return r.kind === 'key' ? r.key.id : undefined;
}

suite('KeyPool', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let transitions: Array<{ key: KeyRecord; transition: Transition }>;
  let changes: number;
  setup(() => {
    clock = new FakeClock();
    pool = makePool(clock);
    transitions = [];
    changes = 0;
    pool.onDidTransition((t) => transitions.push(t));
    pool.onDidChange(() => changes++);
  });
  teardown(() => pool.dispose());

  test('random: true picks uniformly among usable, not excluded keys, whatever the strategy', () => {
    let next = 0;
    const draws = [0.9, 0.1, 0.6, 0.99, 0.2];
    const p = makePool(clock, { random: () => draws[next++ % draws.length] });
    p.setKeys([fakeKey('a'), fakeKey('b'), fakeKey('c')]);
    p.report('b', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = p.pick({ providerId: 'openai', random: true, exclude: i === 3 ? new Set(['c']) : undefined });
      picks.push(r.kind === 'key' ? r.key.id : r.kind);
    }
    // Reservoir sampling over a and c (b is invalid): the 2nd usable key replaces the 1st when its draw × 2 < 1.
    assert.ok(picks.every((id) => id === 'a' || id === 'c'));
    assert.ok(picks.slice(0, 3).includes('c') && picks.slice(0, 3).includes('a'), `both usable keys come up: ${picks}`);
    assert.equal(picks[3], 'a', 'an excluded key is never drawn');
    p.dispose();
  });

  test('added keys are active and picked', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    assert.equal(pool.health('a')?.state, 'active');
    assert.deepEqual([pickId(pool), pickId(pool), pickId(pool)], ['a', 'b', 'a']);
    assert.equal(pool.hasKeys('openai'), true);
    assert.equal(pool.hasKeys('anthropic'), false);
    assert.deepEqual(pool.providerIds(), ['openai']);
  });

  test('429 with a model cools key × model only; the key still serves other models', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', 'gpt-4o', rl());
    const h = pool.health('a');
    assert.equal(h?.state, 'active');
    assert.deepEqual(h?.modelCooldowns, { 'gpt-4o': clock.t + 10_000 });
    for (let i = 0; i < 4; i++) assert.equal(pickId(pool, 'gpt-4o'), 'b');
    const others = new Set([pickId(pool, 'gpt-4o-mini'), pickId(pool, 'gpt-4o-mini')]);
    assert.deepEqual([...others].sort(), ['a', 'b']);
    const t = transitions[0].transition;
    assert.deepEqual(t, {
      at: clock.t,
      from: 'active',
      to: 'cooling',
      reason: t.reason,
      status: 429,
      errorType: 'rate_limit_error',
      model: 'gpt-4o',
    });
    assert.match(t.reason, /rate limited for gpt-4o \(429\): Rate limit reached/);
    clock.advance(10_000);
    assert.deepEqual(pool.health('a')?.modelCooldowns, {});
    assert.equal(transitions.at(-1)?.transition.to, 'active');
    assert.equal(transitions.at(-1)?.transition.model, 'gpt-4o');
  });

  test('429 without a model cools the key for every model', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', undefined, rl());
    assert.equal(pool.health('a')?.state, 'cooling');
    assert.equal(pool.health('a')?.coolingUntil, clock.t + 10_000);
    for (const m of [undefined, 'x', 'y']) assert.equal(pickId(pool, m), 'b');
  });

  test('retry-after is honoured and capped at maxCooldownMs', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', undefined, rl(4_321));
    assert.equal(pool.health('a')?.coolingUntil, clock.t + 4_321);
    assert.equal(pool.health('a')?.backoffLevel, 0, 'an explicit reset time does not escalate');
    pool.report('b', undefined, rl(10 * MAX));
    assert.equal(pool.health('b')?.coolingUntil, clock.t + MAX);
    clock.advance(4_320);
    assert.equal(pool.health('a')?.state, 'cooling');
    clock.advance(1);
    assert.equal(pool.health('a')?.state, 'active');
    assert.equal(pool.health('a')?.history.at(-1)?.reason, 'cooldown ended');
  });

  test('backoff escalates per step, stays at the last step, and a success resets it', () => {
    pool.setKeys([fakeKey('a')]);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) {
      pool.report('a', undefined, rl());
      const h = pool.health('a');
      got.push((h?.coolingUntil ?? 0) - clock.t);
      clock.advance(got[i]);
      assert.equal(pool.health('a')?.state, 'active');
    }
    assert.deepEqual(got, [10_000, 30_000, 60_000, 60_000, 60_000]);
    pool.report('a', undefined, ok);
    assert.equal(pool.health('a')?.backoffLevel, 0);
    pool.report('a', 'm', rl());
    assert.equal(pool.health('a')?.modelCooldowns.m, clock.t + 10_000);
  });

  test('escalating step is capped at maxCooldownMs', () => {
    pool.setOptions({ cooldownStepsMs: [MAX * 2] });
    pool.setKeys([fakeKey('a')]);
    pool.report('a', undefined, rl());
    assert.equal(pool.health('a')?.coolingUntil, clock.t + MAX);
  });

  test('every candidate cooling → cooling with the soonest remaining time', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b'), fakeKey('c')]);
    pool.report('a', 'm', rl(50_000));
    pool.report('b', undefined, rl(20_000));
    pool.report('c', 'm', rl(30_000));
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: 20_000,
      count: 3,
    });
    clock.advance(19_999);
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), { kind: 'cooling', retryAfterMs: 1, count: 3 });
    clock.advance(1);
    assert.equal(pickId(pool, 'm'), 'b');
    // Round-robin is provider-wide: another model continues the round after b.
    assert.equal(pickId(pool, 'other'), 'c');
    assert.equal(pickId(pool, 'other'), 'a');
  });

  test('escalation is per key and model: a 429 for one model does not lengthen the next for another', () => {
    pool.setKeys([fakeKey('a')]);
    pool.report('a', 'm', rl());
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: STEPS[0],
      count: 1,
    });
    clock.advance(STEPS[0]);
    pool.report('a', 'm', rl());
    pool.report('a', 'n', rl());
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: STEPS[1],
      count: 1,
    });
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'n' }), {
      kind: 'cooling',
      retryAfterMs: STEPS[0],
      count: 1,
    });
    // A success for m resets only m's escalation.
    clock.advance(STEPS[1]);
    pool.report('a', 'm', ok);
    pool.report('a', 'm', rl());
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: STEPS[0],
      count: 1,
    });
  });

  test('keys of one account share its limits: a 429 cools every key of it for that model, one escalation', () => {
    pool.setKeys([
      fakeKey('a1', { account: 'team' }),
      fakeKey('a2', { account: 'team' }),
      fakeKey('b', { account: 'other' }),
    ]);
    pool.report('a1', 'm', rl());
    assert.equal(pool.health('a2')?.modelCooldowns.m, STEPS[0] + clock.now());
    assert.match(pool.health('a2')?.history.at(-1)?.reason ?? '', /account "team" hit its limit on a1/);
    assert.deepEqual([pickId(pool, 'm'), pickId(pool, 'm')], ['b', 'b'], 'the other account serves meanwhile');
    assert.equal(pickId(pool, 'x', ['b']) !== undefined, true, 'other models are not touched');
    clock.advance(STEPS[0]);
    // The second 429, on the sibling, escalates the account's shared level.
    pool.report('a2', 'm', rl());
    assert.equal(pool.health('a1')?.modelCooldowns.m, STEPS[1] + clock.now());
    // Invalid stays per key.
    pool.report('b', 'm', { kind: 'invalid', status: 401, reason: 'bad key' });
    pool.report('a1', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    assert.equal(pool.health('a2')?.state, 'active');
  });

  test("another instance's cooldown is adopted at its exact end, and account mates end together, on a clock that ticks per read", () => {
    // A real clock moves between two reads; this one moves 1 ms at every read.
    const ticking = { t: clock.t, now: (): number => ++ticking.t };
    const p = makePool(clock, { clock: ticking });
    try {
      p.setKeys([fakeKey('a'), fakeKey('a1', { account: 'team' }), fakeKey('a2', { account: 'team' })]);
      const end = ticking.t + 20_000;
      p.adoptCooldown('a', 'm', end, 2, 'another KeyRelay: 429');
      assert.equal(p.health('a')?.modelCooldowns.m, end);
      assert.equal(p.backoffLevel('a', 'm'), 2);
      p.adoptCooldown('a', undefined, ticking.t + 10 * MAX, 1, 'another KeyRelay: 429');
      assert.ok((p.health('a')?.coolingUntil ?? 0) - ticking.t <= MAX, 'capped at maxCooldownMs');
      p.report('a1', 'm', rl());
      assert.equal(p.health('a1')?.modelCooldowns.m, p.health('a2')?.modelCooldowns.m);
    } finally {
      p.dispose();
    }
  });

  test('key-wide and model cooldowns together: usable after the later one', () => {
    pool.setKeys([fakeKey('a')]);
    pool.report('a', 'm', rl(30_000));
    pool.report('a', undefined, rl(10_000));
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: 30_000,
      count: 1,
    });
    clock.advance(10_000);
    assert.equal(pickId(pool, 'x'), 'a');
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), {
      kind: 'cooling',
      retryAfterMs: 20_000,
      count: 1,
    });
  });

  test('401/403 → invalid until restore or a passing test', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', 'm', {
      kind: 'invalid',
      status: 401,
      reason: 'Incorrect API key provided',
      errorType: 'invalid_api_key',
    });
    pool.report('b', undefined, { kind: 'invalid', status: 403, reason: 'forbidden' });
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'm' }), { kind: 'unusable', invalid: 2, discarded: 0 });
    clock.advance(10 * MAX);
    assert.equal(pool.health('a')?.state, 'invalid', 'invalid never ends by time');
    pool.markTested('a', false, 'still 401');
    assert.equal(pool.health('a')?.state, 'invalid');
    assert.equal(pool.health('a')?.lastError, 'still 401');
    pool.markTested('a', true, 'GET /models 200');
    pool.restore('b');
    assert.equal(pool.health('a')?.state, 'active');
    assert.equal(pool.health('a')?.history.at(-1)?.reason, 'test passed: GET /models 200');
    assert.equal(pool.health('b')?.history.at(-1)?.reason, 'restored by user');
    assert.equal(pool.health('a')?.history[0].status, 401);
    assert.equal(pool.health('a')?.history[0].errorType, 'invalid_api_key');
  });

  test('402/quota → discarded (only restore brings it back); discardOnQuota=false → long cooldown', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', 'm', { kind: 'exhausted', status: 402, reason: 'insufficient credit' });
    assert.equal(pool.health('a')?.state, 'discarded');
    pool.discard('b');
    assert.equal(pool.health('b')?.history.at(-1)?.reason, 'discarded by user');
    assert.deepEqual(pool.pick({ providerId: 'openai' }), { kind: 'unusable', invalid: 0, discarded: 2 });
    pool.markTested('a', true, 'ok');
    assert.equal(pool.health('a')?.state, 'discarded', 'a test call says nothing about credit');
    pool.restore('a');
    assert.equal(pool.health('a')?.state, 'active');

    pool.setOptions({ discardOnQuota: false });
    pool.report('a', 'm', { kind: 'exhausted', status: 429, reason: 'quota exceeded' });
    assert.equal(pool.health('a')?.state, 'cooling');
    assert.equal(pool.health('a')?.coolingUntil, clock.t + MAX);
    clock.advance(MAX);
    assert.equal(pool.health('a')?.state, 'active');
  });

  test('degradedAfter consecutive server errors → key-wide cooling; a success in between resets the count', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', 'm', e5);
    pool.report('a', 'm', e5);
    pool.report('a', 'm', ok);
    pool.report('a', 'm', e5);
    pool.report('a', 'm', e5);
    assert.equal(pool.health('a')?.state, 'active');
    assert.equal(pool.health('a')?.consecutiveFailures, 2);
    pool.report('a', 'm', e5);
    const h = pool.health('a');
    assert.equal(h?.state, 'cooling');
    assert.equal(h?.coolingUntil, clock.t + 10_000);
    assert.match(h?.history.at(-1)?.reason ?? '', /^degraded after 3 failures/);
    assert.equal(h?.history.at(-1)?.status, 503);
    assert.equal(pickId(pool, 'other'), 'b');
  });

  test('invalid/discarded keys are not moved to cooling by later 429s', () => {
    pool.setKeys([fakeKey('a')]);
    pool.discard('a', 'user said so');
    pool.report('a', undefined, rl());
    pool.report('a', undefined, { kind: 'invalid', status: 401, reason: 'x' });
    assert.equal(pool.health('a')?.state, 'discarded');
    assert.equal(pool.health('a')?.history.length, 1);
  });

  test('every transition fires onDidTransition and onDidChange; successes do not', () => {
    pool.setKeys([fakeKey('a')]);
    const base = changes;
    pool.report('a', undefined, ok);
    pool.begin('a');
    pool.end('a');
    assert.equal(changes, base);
    pool.report('a', undefined, rl());
    clock.advance(10_000);
    pool.pick({ providerId: 'openai' });
    assert.deepEqual(
      transitions.map((t) => [t.key.id, t.transition.from, t.transition.to]),
      [
        ['a', 'active', 'cooling'],
        ['a', 'cooling', 'active'],
      ],
    );
    assert.equal(changes, base + 2);
    assert.equal('secret' in transitions[0].key, false);
  });

  test('history keeps the newest 20, newest last', () => {
    pool.setKeys([fakeKey('a')]);
    for (let i = 0; i < 15; i++) {
      pool.report('a', undefined, rl(1000));
      clock.advance(1000);
      pool.health('a');
    }
    const h = pool.health('a')?.history ?? [];
    assert.equal(h.length, 20);
    assert.equal(h.at(-1)?.reason, 'cooldown ended');
    assert.ok(h.every((t, i) => i === 0 || t.at >= h[i - 1].at));
  });

  test('model allow-lists: listed models, no list = all, `others` = models nobody lists', () => {
    pool.setKeys([
      fakeKey('listed', { models: ['gpt-4o'] }),
      fakeKey('catch', { models: ['others'] }),
      fakeKey('mini', { models: ['gpt-4o-mini', 'others'] }),
    ]);
    const seen = (m?: string) => new Set(Array.from({ length: 6 }, () => pickId(pool, m)));
    assert.deepEqual([...seen('gpt-4o')].sort(), ['listed']);
    assert.deepEqual([...seen('gpt-4o-mini')].sort(), ['mini']);
    assert.deepEqual([...seen('o3')].sort(), ['catch', 'mini']);
    assert.deepEqual(pool.modelsFor('openai').sort(), ['gpt-4o', 'gpt-4o-mini']);
    // A key that lists o3 takes o3 away from the `others` keys.
    pool.upsert(fakeKey('o3', { models: ['o3'] }));
    assert.deepEqual([...seen('o3')].sort(), ['o3']);
    pool.upsert(fakeKey('all'));
    assert.deepEqual([...seen('o3')].sort(), ['all', 'o3']);
    pool.remove('o3');
    assert.deepEqual([...seen('o3')].sort(), ['all', 'catch', 'mini']);
    assert.deepEqual(pool.modelsFor('openai').sort(), ['gpt-4o', 'gpt-4o-mini']);
  });

  test('no keys for the provider or the model → none', () => {
    assert.deepEqual(pool.pick({ providerId: 'openai' }), { kind: 'none' });
    pool.setKeys([fakeKey('a', { models: ['gpt-4o'] })]);
    assert.deepEqual(pool.pick({ providerId: 'openai', model: 'claude' }), { kind: 'none' });
    assert.deepEqual(pool.pick({ providerId: 'anthropic' }), { kind: 'none' });
    assert.equal(pickId(pool), 'a', 'a request naming no model may use any key');
  });

  test('setKeys keeps health for ids that remain; remove/upsert/list/get', () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    pool.report('a', undefined, { kind: 'invalid', status: 401, reason: 'x' });
    pool.setKeys([fakeKey('a', { label: 'renamed' }), fakeKey('c')]);
    assert.equal(pool.health('a')?.state, 'invalid');
    assert.equal(pool.get('a')?.label, 'renamed');
    assert.equal(pool.get('b'), undefined);
    assert.deepEqual(
      pool.list().map((k) => k.id),
      ['a', 'c'],
    );
    assert.equal(pool.remove('c'), true);
    assert.equal(pool.remove('c'), false);
    assert.deepEqual(pool.pick({ providerId: 'openai' }), { kind: 'unusable', invalid: 1, discarded: 0 });
    pool.remove('a');
    assert.equal(pool.hasKeys('openai'), false);
    assert.deepEqual(pool.providerIds(), []);
  });

  test("pick's handle reaches the key without its id: through a record change, and by id once the key was removed", () => {
    pool.setKeys([fakeKey('a'), fakeKey('b')]);
    const first = pool.pick({ providerId: 'openai' });
    assert.equal(first.kind, 'key');
    if (first.kind !== 'key') return;
    assert.equal(first.handle.key, first.key);
    const id = first.key.id;
    pool.begin(first.handle);
    assert.equal(pool.health(id)?.inFlight, 1);
    pool.upsert(fakeKey(id, { label: 'renamed' })); // the record changes, the key stays: same health
    pool.setKeys([fakeKey('a', { label: 'again' }), fakeKey('b')]);
    pool.end(first.handle);
    assert.equal(pool.health(id)?.inFlight, 0);
    pool.report(first.handle, undefined, { kind: 'invalid', status: 401, reason: 'x' });
    assert.equal(pool.health(id)?.state, 'invalid');
    // Removed, then added again: a late report through the old handle lands where the id would.
    const other = pool.pick({ providerId: 'openai' });
    assert.equal(other.kind, 'key');
    if (other.kind !== 'key') return;
    pool.remove(other.key.id);
    pool.report(other.handle, undefined, { kind: 'invalid', status: 401, reason: 'y' });
    pool.upsert(fakeKey(other.key.id));
    assert.equal(pool.health(other.key.id)?.state, 'active');
    pool.report(other.handle, undefined, { kind: 'invalid', status: 401, reason: 'z' });
    assert.equal(pool.health(other.key.id)?.state, 'invalid');
    pool.setKeys([]);
    pool.report(other.handle, undefined, ok); // a key gone from the pool: nothing to report to, no throw
    assert.equal(pool.health(other.key.id), undefined);
  });

  test('a key text in a reason is replaced by its masked form', () => {
    const k = fakeKey('a');
    pool.setKeys([k]);
    pool.report('a', undefined, { kind: 'invalid', status: 401, reason: `Incorrect API key provided: ${k.secret}` });
    const text = JSON.stringify(pool.snapshot());
    assert.ok(!text.includes(k.secret));
    assert.ok(text.includes(k.masked));
  });

  test('snapshot is JSON-safe and holds no secret', () => {
    const keys = ['a', 'b', 'c'].map((id) =>
      fakeKey(id, { models: ['gpt-4o', 'others'], weight: 2, baseUrl: 'http://127.0.0.1:9/v1' }),
    );
    pool.setKeys(keys);
    pool.report('a', 'gpt-4o', rl());
    pool.report('b', undefined, { kind: 'invalid', status: 401, reason: 'no' });
    pool.begin('c');
    const snap = pool.snapshot();
    const text = JSON.stringify(snap);
    for (const k of keys) assert.ok(!text.includes(k.secret) && !text.includes(k.secret.slice(8, 30)));
    assert.deepEqual(JSON.parse(text), snap);
    assert.equal(snap.strategy, 'round-robin');
    assert.equal(snap.keys.length, 3);
    assert.equal(snap.keys[0].health.modelCooldowns['gpt-4o'], clock.t + 10_000);
    assert.equal(snap.keys[2].health.inFlight, 1);
    assert.equal(snap.keys[2].health.uses, 1);
    assert.ok(!('secret' in snap.keys[0]));
  });

  test('exportHealth/importHealth round-trip; cooldowns that passed meanwhile come back active', () => {
    pool.setKeys(['a', 'b', 'c', 'd'].map((id) => fakeKey(id)));
    pool.report('a', undefined, rl(5_000));
    pool.report('b', 'm', rl(60_000));
    pool.report('c', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    pool.report('d', undefined, rl());
    pool.begin('d');
    const saved = JSON.parse(JSON.stringify(pool.exportHealth()));

    clock.advance(10_000);
    const next = makePool(clock);
    try {
      next.importHealth(saved); // before the keys exist: kept until they arrive
      next.setKeys(['a', 'b', 'c', 'd'].map((id) => fakeKey(id)));
      assert.equal(next.health('a')?.state, 'active');
      assert.equal(next.health('a')?.history.at(-1)?.reason, 'cooldown ended');
      assert.deepEqual(next.health('b')?.modelCooldowns, { m: clock.t + 50_000 });
      assert.equal(next.health('c')?.state, 'invalid');
      assert.equal(next.health('c')?.lastError, 'bad key');
      assert.equal(next.health('d')?.backoffLevel, 1);
      assert.equal(next.health('d')?.uses, 1);
      assert.equal(next.health('d')?.inFlight, 0);
      // b cools for m, c is invalid: cooling wins because it ends by itself.
      assert.deepEqual(next.pick({ providerId: 'openai', model: 'm', exclude: new Set(['a', 'd']) }), {
        kind: 'cooling',
        retryAfterMs: 50_000,
        count: 1,
      });
    } finally {
      next.dispose();
    }
  });

  test('importHealth ignores malformed records', () => {
    pool.setKeys([fakeKey('a')]);
    pool.importHealth({ a: { state: 'weird' as never }, zz: { state: 'active' } });
    assert.equal(pool.health('a')?.state, 'active');
    pool.importHealth({ a: { state: 'cooling' } });
    assert.equal(pool.health('a')?.state, 'active', 'cooling without an end time cannot end: active');
  });

  test("one unref'd timer tells listeners when the soonest cooldown ends; dispose stops it", async () => {
    const real = new KeyPool({
      clock: { now: () => Date.now() },
      strategy: 'round-robin',
      cooldownStepsMs: STEPS,
      maxCooldownMs: MAX,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    try {
      real.setKeys([fakeKey('a')]);
      let t: Transition | undefined;
      real.onDidTransition((e) => (t = e.transition));
      real.report('a', undefined, rl(30));
      await until(real.onDidTransition, () => t?.to === 'active', 'the 30 ms cooldown to end', 2000);
      assert.equal(t?.reason, 'cooldown ended');
      real.report('a', undefined, rl(60_000));
    } finally {
      real.dispose();
    }
    assert.equal((real as unknown as { machine: { timer?: unknown } }).machine.timer, undefined);
  });
});
