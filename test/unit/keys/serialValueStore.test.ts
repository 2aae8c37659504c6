// globalState writes one at a time. VS Code's extension host loses a globalState write that
// overlaps another one of the same extension (serialValueStore.ts says how); the host tests
// flaked on it: a key removed, or put in an account, while key health was being saved came back.
// EchoingMemento replays that race deterministically.
import * as assert from 'node:assert';
import { Emitter } from '../../../src/core/events';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { nullLogger, systemClock } from '../../../src/core/types';
import { KeyVault, VaultKey } from '../../../src/core/keys/keyVault';
import type { ValueStore } from '../../../src/core/keys/keyVault';
import type { KeyRecord } from '../../../src/core/types';
import { SerialValueStore } from '../../../src/core/keys/serialValueStore';
import { EchoingMemento } from '../fakes/echoingMemento';
import { SharedSecrets } from '../fakes/sharedSecrets';
import { until } from '../../fakes/waits';

const HEALTH = 'keyRelay.health';

suite('keys: SerialValueStore', () => {
  const disposables: Array<{ dispose(): void }> = [];
  teardown(() => {
    for (const d of disposables.splice(0).reverse()) d.dispose();
  });

  /** One window over `memento` (raw, or the SerialValueStore the extension uses), with keys a and b. */
  async function window(memento: EchoingMemento, serial: boolean) {
    const state: ValueStore = serial ? new SerialValueStore(memento) : memento;
    const pool = new KeyPool({
      clock: systemClock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    const vault = new KeyVault(new SharedSecrets().view(), state, pool, nullLogger, () => 'sk-');
    disposables.push(pool, vault);
    await vault.load();
    const a = await vault.add({ providerId: 'openai', secret: 'sk-test-serial-aaaaaaaaaaaa1111', label: 'a' });
    const b = await vault.add({ providerId: 'openai', secret: 'sk-test-serial-bbbbbbbbbbbb2222', label: 'b' });
    /** Starts a health save and resolves once it has gone out to the workbench (its echo not yet back). */
    const healthSaveUnderWay = async (): Promise<{ saving: PromiseLike<void> }> => {
      const saves = memento.saves;
      const saving = state.update(HEALTH, { [a.id]: { state: 'active' } });
      await until(memento.onDidSend, () => memento.saves > saves, 'the health save to go out');
      return { saving }; // wrapped: an async function returning a promise would wait for it
    };
    const savedIndex = () => (memento.saved[VaultKey.index] as KeyRecord[]).map((r) => r.label);
    return { state, pool, vault, a, b, healthSaveUnderWay, savedIndex };
  }

  test('the fake replays the race: without one write at a time, the index write is lost', async () => {
    const memento = new EchoingMemento();
    const w = await window(memento, false);
    const { saving } = await w.healthSaveUnderWay();
    await w.vault.remove(w.a.id);
    await saving;
    // This is the bug the next tests guard against: remove() resolved, yet the key is back.
    assert.deepStrictEqual(
      w.vault.index().map((r) => r.label),
      ['a', 'b'],
    );
    assert.deepStrictEqual(w.savedIndex(), ['a', 'b']);
  });

  test('a key removed while health is being saved stays removed: index, saved copy and pool', async () => {
    const memento = new EchoingMemento();
    const w = await window(memento, true);
    const { saving } = await w.healthSaveUnderWay();
    await w.vault.remove(w.a.id);
    await saving;
    assert.deepStrictEqual(
      w.vault.index().map((r) => r.label),
      ['b'],
    );
    assert.deepStrictEqual(w.savedIndex(), ['b']);
    assert.strictEqual(w.pool.get(w.a.id), undefined);
    assert.ok(memento.saved[HEALTH], 'the health save is kept too');
  });

  test('a key put in an account while health is being saved keeps it, after its own secret event too', async () => {
    const memento = new EchoingMemento();
    const w = await window(memento, true);
    const seen: Array<string | undefined> = [];
    disposables.push(w.pool.onDidChange(() => seen.push(w.pool.get(w.a.id)?.account)));
    const { saving } = await w.healthSaveUnderWay();
    await w.vault.setAccount(w.a.id, 'work');
    // patch() puts it in the pool, then re-stores the secret; that event re-reads the index.
    await until(w.pool.onDidChange, () => seen.length >= 2, 'the secret event to refresh the pool');
    await saving;
    assert.deepStrictEqual(seen, ['work', 'work'], 'the pool never loses the account');
    assert.strictEqual(w.vault.index().find((r) => r.id === w.a.id)?.account, 'work');
    assert.strictEqual((memento.saved[VaultKey.index] as KeyRecord[])[0].account, 'work');
  });

  test('writes reach the store in call order, one at a time; reads see queued values', async () => {
    const started = new Emitter<void>();
    disposables.push(started);
    const done: Array<() => void> = [];
    const order: string[] = [];
    let [inFlight, most] = [0, 0];
    const store = new SerialValueStore({
      get: <T>(name: string) => (name === 'x' ? ('stored' as T) : undefined),
      update: (name: string, value: unknown) => {
        order.push(`${name}=${String(value)}`);
        most = Math.max(most, ++inFlight);
        const p = new Promise<void>((resolve) => done.push(() => (inFlight--, resolve())));
        started.fire();
        return p;
      },
    });
    const writes = [store.update('x', 1), store.update('y', 2), store.update('x', 3)];
    assert.deepStrictEqual([store.get('x'), store.get('y'), store.get('z')], [3, 2, undefined]);
    for (let i = 0; i < 3; i++) {
      await until(started.event, () => done.length > i, `write ${i + 1} to reach the store`);
      assert.strictEqual(done.length, i + 1, 'the next write waits until this one is done');
      done[i]();
    }
    await Promise.all(writes);
    assert.deepStrictEqual(order, ['x=1', 'y=2', 'x=3']);
    assert.strictEqual(most, 1);
    assert.strictEqual(store.get('x'), 'stored', 'once handed over, reads come from the store');
  });

  test('a failed write rejects its own caller only; the writes after it go on', async () => {
    const written: string[] = [];
    const store = new SerialValueStore({
      get: () => undefined,
      update: async (name: string) => {
        if (name === 'bad') throw new Error('disk full');
        written.push(name);
      },
    });
    const bad = store.update('bad', 1);
    const good = store.update('good', 2);
    await assert.rejects(bad, /disk full/);
    await good;
    assert.deepStrictEqual(written, ['good']);
    assert.strictEqual(store.get('bad'), undefined, 'a failed value is not shown as stored');
  });
});
