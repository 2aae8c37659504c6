import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeysFileManager } from '../../../src/cli/keysFile';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { ProxyError } from '../../../src/core/errors';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { DEFAULT_CONFIG, nullLogger, systemClock } from '../../../src/core/types';

const KEY_A = 'sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa1111';
const KEY_B = 'sk-ant-api03-bbbbbbbbbbbbbbbbbbbbbb2222';

suite('keys file manager (POST/PATCH/DELETE /keyrelay/keys)', () => {
  let dir: string;
  let pool: KeyPool;
  const catalogue = new ProviderCatalogue();
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-keysfile-'));
    pool = new KeyPool({ clock: systemClock, ...DEFAULT_CONFIG, cooldownStepsMs: [...DEFAULT_CONFIG.cooldownStepsMs] });
  });
  teardown(() => {
    pool.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const refused = (fn: () => unknown, status: number, re: RegExp): void =>
    assert.throws(fn, (e: Error) => e instanceof ProxyError && e.status === status && re.test(e.message));

  test('add (provider from the prefix), update, remove: the pool and the 0600 file follow', () => {
    const file = join(dir, 'keys.json');
    const m = new KeysFileManager(file, pool, catalogue, systemClock, nullLogger);
    const [a, b] = m.add([{ key: KEY_A, label: 'work' }, { key: KEY_B }]);
    assert.deepEqual([a.providerId, a.label, b.providerId], ['openai', 'work', 'anthropic']);
    assert.ok(!JSON.stringify([a, b]).includes(KEY_A), 'answers are masked');
    assert.equal(pool.get(a.id)?.secret, KEY_A);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    refused(() => m.add({ key: KEY_A }), 409, /already in KeyRelay/);
    refused(() => m.add({ key: 'no' }), 400, /No key was added/);
    assert.equal(m.update(a.id, { label: 'team', models: ['gpt-4o'] }).label, 'team');
    assert.deepEqual(pool.get(a.id)?.models, ['gpt-4o']);
    refused(() => m.update(a.id, { key: KEY_B }), 400, /Cannot change "key"/);
    refused(() => m.update(a.id, []), 400, /JSON object/);
    m.remove(b.id);
    assert.equal(pool.get(b.id), undefined);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ key: string; label: string }> };
    assert.deepEqual(
      saved.keys.map((k) => [k.key, k.label]),
      [[KEY_A, 'team']],
    );
    refused(() => m.remove('nope'), 404, /No key with id "nope"/);
  });

  test('keys from elsewhere, no keys file, or a file in another format: refused with the fix', () => {
    pool.setKeys([{ id: 'env-1', providerId: 'openai', label: 'env', masked: 'sk-…1111', addedAt: 0, secret: KEY_A }]);
    refused(
      () => new KeysFileManager(undefined, pool, catalogue, systemClock, nullLogger).add({ key: KEY_B }),
      409,
      /Start it with --keys-file FILE/,
    );
    const env = join(dir, 'keys.env');
    writeFileSync(env, `OPENAI_API_KEY=${KEY_A}\n`);
    const m = new KeysFileManager(env, pool, catalogue, systemClock, nullLogger);
    refused(() => m.add({ key: KEY_B }), 409, /not a KeyRelay JSON keys file/);
    assert.equal(readFileSync(env, 'utf8'), `OPENAI_API_KEY=${KEY_A}\n`, 'never rewritten');
    const json = new KeysFileManager(join(dir, 'new.json'), pool, catalogue, systemClock, nullLogger);
    refused(() => json.remove('env-1'), 409, /comes from the environment or the config file/);
  });
});
