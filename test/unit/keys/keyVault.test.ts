// Two windows share SecretStorage and globalState; `secrets.onDidChange` fires in both. Simulated
// with one in-memory store (a working fake, as in microsoft/vscode's testSecretStorage.ts) seen by
// two KeyVaults with their own pools.
import * as assert from 'node:assert';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { nullLogger, systemClock } from '../../../src/core/types';
import { KeyVault } from '../../../src/core/keys/keyVault';
import type { ValueStore } from '../../../src/core/keys/keyVault';
import { SharedSecrets } from '../fakes/sharedSecrets';
import { until } from '../../fakes/waits';

class SharedMemento implements ValueStore {
  private readonly data = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.data.keys()];
  }
  get<T>(key: string, fallback?: T): T {
    return (this.data.has(key) ? structuredClone(this.data.get(key)) : fallback) as T;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
}

const SECRET = 'sk-test-vault-0000000000000000ABCD';

suite('KeyRelay SecretStorage sync across windows', () => {
  const disposables: Array<{ dispose(): void }> = [];
  teardown(() => {
    for (const d of disposables.splice(0).reverse()) d.dispose();
  });

  function window(secrets: SharedSecrets, memento: SharedMemento) {
    const pool = new KeyPool({
      clock: systemClock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    const vault = new KeyVault(secrets.view(), memento, pool, nullLogger, () => 'sk-');
    disposables.push(pool, vault);
    return { pool, vault };
  }

  test('a key added, renamed or removed in one window reaches the other; the token is shared', async () => {
    const secrets = new SharedSecrets();
    const memento = new SharedMemento();
    const a = window(secrets, memento);
    const b = window(secrets, memento);
    await a.vault.load();
    await b.vault.load();
    assert.match(a.vault.accessToken, /^kr-[A-Za-z0-9_-]{32}$/);
    assert.strictEqual(b.vault.accessToken, a.vault.accessToken, 'one token for every window');

    const rec = await a.vault.add({ providerId: 'openai', secret: ` ${SECRET} `, label: '' });
    assert.strictEqual(rec.masked, 'sk-…ABCD');
    assert.strictEqual(rec.label, 'openai-1', 'an unlabelled key is named after its provider');
    assert.strictEqual(secrets.data.get(`keyRelay.key.${rec.id}`), SECRET, 'one secret per key, trimmed');
    assert.ok(!JSON.stringify(memento.get('keyRelay.keyIndex')).includes(SECRET), 'the index holds no secret');
    await until(b.pool.onDidChange, () => b.pool.get(rec.id)?.secret === SECRET, 'the other window to load the key');

    await a.vault.rename(rec.id, 'work');
    await until(
      b.pool.onDidChange,
      () => b.pool.get(rec.id)?.label === 'work',
      'the other window to see the new label',
    );

    await a.vault.remove(rec.id);
    await until(b.pool.onDidChange, () => b.pool.get(rec.id) === undefined, 'the other window to drop the key');
    assert.strictEqual(secrets.data.size, 1, 'only the access token is left');
  });

  test('a missing secret is skipped at load with the rest loaded', async () => {
    const secrets = new SharedSecrets();
    const memento = new SharedMemento();
    const a = window(secrets, memento);
    await a.vault.load();
    const kept = await a.vault.add({ providerId: 'openai', secret: SECRET });
    const lost = await a.vault.add({ providerId: 'openai', secret: 'sk-test-vault-lost-000000000000LOST' });
    secrets.data.delete(`keyRelay.key.${lost.id}`);
    const b = window(secrets, memento);
    await b.vault.load();
    assert.deepStrictEqual(
      b.pool.list().map((k) => k.id),
      [kept.id],
    );
  });
});
