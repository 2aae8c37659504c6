// Proves the suite really runs inside a VS Code extension host with the extension under test loaded
// (placeholder until the extension's own integration tests land next to it).
import * as assert from 'assert';
import * as vscode from 'vscode';

suite('extension host smoke', () => {
  test('runs in a real extension host', () => {
    assert.strictEqual(typeof vscode.version, 'string');
    assert.match(vscode.version, /^\d+\.\d+\.\d+/);
  });

  test('the KeyRelay extension is loaded', () => {
    const ext = vscode.extensions.getExtension('keyrelay.keyrelay');
    assert.ok(ext, 'extension keyrelay.keyrelay is not loaded');
    assert.strictEqual(ext.packageJSON.name, 'keyrelay');
  });
});
