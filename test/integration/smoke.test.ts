// Proves the suite really runs inside a VS Code extension host with the extension under test
// loaded, and that what every other extension can read of KeyRelay holds no secret.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { KeyRelayApi } from '../../src/vscode/publicApi';
import { EXTENSION_ID, getApi } from './extensionHelpers';

const SECRET = 'sk-test-exports-0000000000000000SMOK';

suite('extension host smoke', () => {
  test('runs in a real extension host', () => {
    assert.strictEqual(typeof vscode.version, 'string');
    assert.match(vscode.version, /^\d+\.\d+\.\d+/);
  });

  test('the KeyRelay extension is loaded', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'extension keyrelay.keyrelay is not loaded');
    assert.strictEqual(ext.packageJSON.name, 'keyrelay');
  });

  test("it was loaded through its own V8 code cache entry, which saves the bundle's cache in global storage", async () => {
    const internals = await getApi();
    const dir = path.join(internals.globalStorage, 'code-cache');
    const saved = (): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.v8cache')) : []);
    // src/boot.ts saves it 5 s after activation; the suite may have started sooner.
    for (let i = 0; i < 150 && saved().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.strictEqual(saved().length, 1, `no code cache in ${dir}`);
    assert.match(saved()[0], /^main\.js\.[0-9a-f]{32}\./);
    assert.ok(fs.statSync(path.join(dir, saved()[0])).size > 10_000, 'an empty cache');
  });

  test('its exports are the small masked API: no pool, vault, token or key text', async () => {
    const internals = await getApi();
    const rec = await internals.vault.add({ providerId: 'openai', secret: SECRET, label: 'it-exports' });
    try {
      internals.hub.refresh();
      const exports = vscode.extensions.getExtension<KeyRelayApi>(EXTENSION_ID)!.exports;
      assert.deepStrictEqual(Object.keys(exports).sort(), ['apiVersion', 'endpoint', 'keys', 'onDidChange']);
      const seen = JSON.stringify({ endpoint: exports.endpoint(), keys: exports.keys() });
      assert.ok(
        exports.keys().some((k) => k.id === rec.id && k.masked === 'sk-…SMOK'),
        seen,
      );
      assert.ok(!seen.includes(SECRET), 'a key in the exports');
      assert.ok(!seen.includes(internals.vault.accessToken), 'the access token in the exports');
      assert.ok(Object.isFrozen(exports), 'another extension cannot swap the methods');
    } finally {
      await internals.vault.remove(rec.id);
    }
  });
});
