// Every command the extension contributes is registered, and ids.ts and package.json agree.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { Command, ContextKey, Setting, SETTINGS_SECTION, View } from '../../src/vscode/ids';
import { EXTENSION_ID, getApi } from './extensionHelpers';

suite('KeyRelay commands', () => {
  test('every contributed command is registered after activation', async () => {
    await getApi();
    const contributed: string[] = vscode.extensions
      .getExtension(EXTENSION_ID)!
      .packageJSON.contributes.commands.map((c: { command: string }) => c.command);
    assert.ok(contributed.length >= 20, `only ${contributed.length} commands contributed`);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepStrictEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  test('ids.ts and package.json name the same commands, each with the KeyRelay category', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    const contributed = new Map<string, { category?: string; icon?: string }>(
      pkg.contributes.commands.map((c: { command: string }) => [c.command, c]),
    );
    assert.deepStrictEqual([...contributed.keys()].sort(), Object.values(Command).sort());
    for (const [id, c] of contributed) {
      assert.strictEqual(c.category, 'KeyRelay', `${id} has no KeyRelay category`);
      assert.match(String(c.icon), /^\$\([a-z-]+\)$/, `${id} has no codicon`);
    }
  });

  test('ids.ts and package.json name the same views, context keys and settings', () => {
    const { contributes } = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.deepStrictEqual(
      contributes.viewsContainers.activitybar.map((c: { id: string }) => c.id),
      [View.container],
    );
    assert.deepStrictEqual(
      Object.entries(contributes.views).flatMap(([container, views]) =>
        (views as Array<{ id: string }>).map((v) => `${container}/${v.id}`),
      ),
      [`${View.container}/${View.keys}`],
    );
    // Every keyRelay.* name in a `when` clause is a view or a context key the extension sets, and
    // every context key it sets is used by some `when`.
    const whens: string[] = [
      ...Object.values<Array<{ when?: string }>>(contributes.menus).flat(),
      ...contributes.viewsWelcome,
    ].flatMap((m: { when?: string }) => (m.when ? [m.when] : []));
    const named = new Set(whens.flatMap((w) => w.match(/\bkeyRelay\.[A-Za-z.]+/g) ?? []));
    for (const v of Object.values(View)) named.delete(v);
    assert.deepStrictEqual([...named].sort(), Object.values(ContextKey).sort());
    assert.deepStrictEqual(
      Object.keys(contributes.configuration.properties).sort(),
      Object.values(Setting)
        .map((s) => `${SETTINGS_SECTION}.${s}`)
        .sort(),
    );
  });

  test('activation is on startup-finished and the view lives in its own container', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.deepStrictEqual(pkg.activationEvents, ['onStartupFinished']);
    assert.deepStrictEqual(pkg.extensionKind, ['workspace']);
    assert.strictEqual(pkg.contributes.views.keyRelay[0].id, 'keyRelay.keys');
    for (const [name, prop] of Object.entries<{ markdownDescription?: string; default?: unknown }>(
      pkg.contributes.configuration.properties,
    )) {
      assert.ok(prop.markdownDescription, `${name} has no markdownDescription`);
      assert.ok('default' in prop, `${name} has no default`);
    }
  });
});
