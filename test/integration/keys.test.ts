// Keys through the real commands: added with stubbed prompts, stored in SecretStorage, shown in the
// tree and the status bar, used by the proxy for a real HTTP request, discarded and restored.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { FakeUpstream } from '../fakes/upstreamServer';
import type { TestInternals } from '../../src/vscode/testHook';
import { answers, getApi, httpRequest, moveToFreePort, setSetting, stubPrompts } from './extensionHelpers';
import { readRecentEntries } from '../../src/core/accounting/requestLog';
import { Setting } from '../../src/vscode/ids';
import { until } from '../fakes/waits';

const SECRET = 'sk-test-integration-0123456789abcdefWXYZ';

suite('KeyRelay keys', () => {
  let api: TestInternals;
  let fake: FakeUpstream;
  let port: number;
  const cleanups: Array<() => unknown> = [];

  suiteSetup(async () => {
    api = await getApi();
    fake = await FakeUpstream.start();
    cleanups.push(() => fake.close());
    const moved = await moveToFreePort(api);
    port = moved.port;
    cleanups.push(moved.restore);
  });

  suiteTeardown(async () => {
    for (const id of api.vault
      .index()
      .filter((r) => r.label.startsWith('it-'))
      .map((r) => r.id))
      await api.vault.remove(id);
    for (const c of cleanups.reverse()) await c();
  });

  test('Add Key stores the key in SecretStorage and shows it masked in the tree', async () => {
    const asked: string[] = [];
    const said: string[] = [];
    const stub = stubPrompts(api, {
      quickPick: answers(
        (items: Array<{ provider?: { id: string } }>) => items.find((i) => i.provider?.id === 'custom'),
        (items: Array<{ label: string }>) => items.find((i) => i.label === 'Skip'),
      ),
      input: answers(
        (o: vscode.InputBoxOptions) => {
          asked.push(String(o.title));
          return fake.openaiBase;
        },
        (o: vscode.InputBoxOptions) => {
          asked.push(String(o.title));
          assert.strictEqual(o.password, true, 'the key box must be a password box');
          assert.ok(o.validateInput?.('has space') && o.validateInput?.(''), 'blank or spaced keys must be refused');
          return SECRET;
        },
        (o: vscode.InputBoxOptions) => {
          asked.push(String(o.title));
          return 'it-first';
        },
      ),
      info: async (m: string) => {
        said.push(m);
        return undefined;
      },
    });
    try {
      await vscode.commands.executeCommand('keyRelay.addKey');
    } finally {
      stub.restore();
    }
    assert.strictEqual(asked.length, 3, `prompts seen: ${asked.join(' | ')}`);
    const rec = api.vault.index().find((r) => r.label === 'it-first');
    // The command swallows its own errors (it shows them): say what the user would have seen.
    assert.ok(
      rec,
      `the key is in the index (prompts: ${asked.join(' | ')}; messages: ${said.join(' | ') || 'none'}; index: ${api.vault
        .index()
        .map((r) => r.label)
        .join(', ')})`,
    );
    assert.strictEqual(rec.providerId, 'custom');
    assert.ok(!JSON.stringify(api.vault.index()).includes(SECRET), 'the index never holds the secret');

    // Proof that SecretStorage (not only memory) holds it: reload the pool from storage.
    api.pool.remove(rec.id);
    assert.strictEqual(api.pool.get(rec.id), undefined);
    await api.vault.load();
    assert.strictEqual(api.pool.get(rec.id)?.secret, SECRET);

    api.hub.refresh();
    const row = api.treeItems().find((i) => i.id === rec.id);
    assert.ok(row, 'the key is in the tree');
    assert.strictEqual(row.contextValue, 'key:active');
    assert.match(row.description, /^sk-…WXYZ · 0 today$/);
    assert.ok(!JSON.stringify(api.treeItems()).includes(SECRET));
    assert.match(api.statusText(), /^\$\(key\) KeyRelay 1\/1 · \d+$/);
  });

  test('a request with the access token is served upstream with the pool key', async () => {
    const before = fake.requests.length;
    const res = await httpRequest(
      port,
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${api.vault.accessToken}` },
      JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.strictEqual(res.status, 200, res.body);
    assert.strictEqual(fake.requests.length, before + 1);
    assert.strictEqual(fake.requests.at(-1)!.key, SECRET);
    assert.ok(
      !JSON.stringify(fake.requests.at(-1)!.headers).includes(api.vault.accessToken),
      'the token never goes upstream',
    );
    // Counters tell their listeners within 250 ms of a change (Stats' throttle).
    await until(
      api.stats.onDidChange,
      () => /KeyRelay 1\/1 · [1-9]\d*$/.test(api.hub.refresh() && api.statusText()),
      'the request to count in the status bar',
      10_000,
    );
    // gpt-4o has a price: the status bar's tooltip and the key's tree tooltip show what it cost.
    // (Markdown escapes the dot.)
    assert.match(api.statusTooltip(), /Cost since start: \$0\\?\.\d+/);
    const keyNodes = api.keysView.getChildren().flatMap((p) => api.keysView.getChildren(p));
    const node = keyNodes.flatMap((n) => (n.kind === 'key' ? [n] : api.keysView.getChildren(n)))[0];
    const tip = api.keysView.resolveTreeItem(new vscode.TreeItem('key'), node).tooltip as vscode.MarkdownString;
    assert.match(tip.value, /Cost: \$0\\?\.\d+/);
    const wrong = await httpRequest(
      port,
      'POST',
      '/v1/chat/completions',
      { authorization: 'Bearer kr-wrong' },
      '{"model":"gpt-4o"}',
    );
    assert.strictEqual(wrong.status, 401);
  });

  test('Open Request Log lists the logged request and opens it as JSON, without the key', async () => {
    const restore = await setSetting(Setting.logRequests, true);
    try {
      await until(api.config.onDidChange, () => api.kit.current.requestLogDir !== '', 'the request log to turn on');
      const dir = api.kit.current.requestLogDir;
      const res = await httpRequest(
        port,
        'POST',
        '/v1/chat/completions',
        { authorization: `Bearer ${api.vault.accessToken}` },
        JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'log me' }] }),
      );
      assert.strictEqual(res.status, 200, res.body);
      // The entry reaches the file through a write stream; nothing fires when it lands, so poll (bounded).
      const logged = () => readRecentEntries(dir, 1).some((e) => JSON.stringify(e.doc).includes('log me'));
      for (let i = 0; i < 100 && !logged(); i++) await new Promise((r) => setTimeout(r, 50));
      let offered: string[] = [];
      const stub = stubPrompts(api, {
        quickPick: answers((items: Array<{ label: string; description: string }>) => {
          offered = items.map((i) => `${i.label} ${i.description}`);
          return items[0];
        }),
      });
      try {
        await vscode.commands.executeCommand('keyRelay.openRequestLog');
      } finally {
        stub.restore();
      }
      assert.match(offered[0] ?? '', /^POST \/v1\/chat\/completions 200 · gpt-4o · \d+ ms$/);
      const text = vscode.window.activeTextEditor?.document.getText() ?? '';
      const doc = JSON.parse(text);
      assert.strictEqual(doc.request.body.messages[0].content, 'log me');
      assert.strictEqual(doc.response.status, 200);
      assert.match(doc.key, /sk-…WXYZ/);
      assert.ok(!text.includes(SECRET) && !text.includes(api.vault.accessToken), 'no key or token in the document');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      await restore();
    }
  });

  test('Discard and Restore change the tree item and the status bar', async () => {
    const rec = api.vault.index().find((r) => r.label === 'it-first')!;
    await vscode.commands.executeCommand('keyRelay.discardKey', rec.id);
    let row = api.treeItems().find((i) => i.id === rec.id)!;
    assert.strictEqual(row.contextValue, 'key:discarded');
    assert.strictEqual(row.icon, 'circle-slash');
    assert.match(api.statusText(), /KeyRelay 0\/1 · \d+/);

    const res = await httpRequest(
      port,
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${api.vault.accessToken}` },
      '{"model":"gpt-4o"}',
    );
    assert.notStrictEqual(res.status, 200, 'a discarded key is never used');

    // From the tree the argument is the node; the command also takes that shape.
    await vscode.commands.executeCommand('keyRelay.restoreKey', { kind: 'key', row: { id: rec.id } });
    row = api.treeItems().find((i) => i.id === rec.id)!;
    assert.strictEqual(row.contextValue, 'key:active');
    assert.strictEqual(row.icon, 'pass');
    assert.match(api.statusText(), /KeyRelay 1\/1 · \d+/);
  });

  test('Discard from the palette asks which key with a quick pick', async () => {
    const rec = api.vault.index().find((r) => r.label === 'it-first')!;
    let offered: string[] = [];
    const stub = stubPrompts(api, {
      quickPick: answers((items: Array<{ id: string; label: string }>) => {
        offered = items.map((i) => i.label);
        return items.find((i) => i.id === rec.id);
      }),
    });
    try {
      await vscode.commands.executeCommand('keyRelay.discardKey');
    } finally {
      stub.restore();
    }
    assert.ok(offered.includes('it-first'));
    assert.strictEqual(api.pool.health(rec.id)?.state, 'discarded');
    api.pool.restore(rec.id);
  });

  test('Test Key and Test All Keys ask the provider, set the state, and say so without the key', async () => {
    const secrets = { ok: 'sk-test-keytest-okokokokokok3333', bad: 'sk-test-keytest-badbadbadbad4444' };
    const good = await api.vault.add({
      providerId: 'custom',
      secret: secrets.ok,
      label: 'it-test-ok',
      baseUrl: fake.openaiBase,
    });
    const bad = await api.vault.add({
      providerId: 'custom',
      secret: secrets.bad,
      label: 'it-test-bad',
      baseUrl: fake.openaiBase,
    });
    // New keys make the chat-model catalogue list the provider's models through the proxy (with
    // one of these keys): let that finish first, so the fake's requests below are the tests' alone.
    await api.chatModels.resolve();
    fake.setKeyBehaviour(secrets.bad, { kind: 'status', status: 401 });
    const said: string[] = [];
    const stub = stubPrompts(api, {
      info: async (m: string) => {
        said.push(m);
        return undefined;
      },
    });
    try {
      const before = fake.requests.length;
      assert.strictEqual(await vscode.commands.executeCommand('keyRelay.testKey', bad.id), false);
      assert.deepStrictEqual(
        fake.requests.slice(before).map((r) => [r.method, r.path, r.key]),
        [['GET', '/v1/models', secrets.bad]],
        'one cheap test request, with that key',
      );
      assert.strictEqual(api.pool.health(bad.id)?.state, 'invalid');
      const row = api.treeItems().find((i) => i.id === bad.id);
      assert.strictEqual(row?.contextValue, 'key:invalid');
      assert.deepStrictEqual(said, [`it-test-bad (${bad.masked}): failed, see the tree tooltip or the log.`]);

      const total = api.pool.list().length;
      await vscode.commands.executeCommand('keyRelay.testAllKeys');
      assert.strictEqual(said.at(-1), `${total - 1} of ${total} keys work.`);
      assert.strictEqual(api.pool.health(good.id)?.state, 'active');

      fake.setKeyBehaviour(secrets.bad, { kind: 'ok' });
      assert.strictEqual(
        await vscode.commands.executeCommand('keyRelay.testKey', { kind: 'key', row: { id: bad.id } }),
        true,
      );
      assert.strictEqual(api.pool.health(bad.id)?.state, 'active', 'a passing test brings an invalid key back');
      assert.strictEqual(said.at(-1), `it-test-bad (${bad.masked}): works.`);
    } finally {
      stub.restore();
      await api.vault.remove(good.id);
      await api.vault.remove(bad.id);
    }
    const shown = JSON.stringify([said, api.treeItems(), api.statusTooltip()]);
    for (const secret of Object.values(secrets))
      assert.ok(!shown.includes(secret), 'no key text in what the user sees');
  });

  test('Set Key Account groups keys of one account in the tree, and takes them out again', async () => {
    const a = await api.vault.add({
      providerId: 'custom',
      secret: 'sk-test-account-aaaaaaaaaaaa1111',
      label: 'it-acc-a',
      baseUrl: fake.openaiBase,
    });
    const b = await api.vault.add({
      providerId: 'custom',
      secret: 'sk-test-account-bbbbbbbbbbbb2222',
      label: 'it-acc-b',
      baseUrl: fake.openaiBase,
    });
    const offered: string[][] = [];
    const stub = stubPrompts(api, {
      quickPick: answers(
        (items: Array<{ label: string }>) => {
          offered.push(items.map((i) => i.label));
          return items.find((i) => i.label.includes('New account'));
        },
        (items: Array<{ label: string }>) => {
          offered.push(items.map((i) => i.label));
          return items.find((i) => i.label === 'work team');
        },
        (items: Array<{ label: string }>) => {
          offered.push(items.map((i) => i.label));
          return items.find((i) => i.label.includes('No account'));
        },
      ),
      input: answers((o: vscode.InputBoxOptions) => {
        assert.ok(o.validateInput?.('   '), 'a blank name is refused');
        return '  work   team ';
      }),
    });
    try {
      await vscode.commands.executeCommand('keyRelay.setKeyAccount', a.id);
      await vscode.commands.executeCommand('keyRelay.setKeyAccount', { kind: 'key', row: { id: b.id } });
      assert.strictEqual(
        api.vault.index().find((r) => r.id === b.id)?.account,
        'work team',
        'the second key joined the existing account',
      );
      assert.ok(offered[1].includes('work team'), `existing accounts are offered: ${offered[1].join(', ')}`);
      api.hub.refresh();
      const outline = api.treeOutline().join('\n');
      assert.match(
        outline,
        /\n {2}work team · 2 keys share this account's limits\n {4}it-acc-a · [^\n]*\n {4}it-acc-b · /,
        outline,
      );
      assert.strictEqual(api.pool.get(a.id)?.account, 'work team', 'the pool (and so the status JSON) knows it too');
      await vscode.commands.executeCommand('keyRelay.setKeyAccount', a.id);
    } finally {
      stub.restore();
    }
    assert.strictEqual(
      api.vault.index().find((r) => r.id === a.id)?.account,
      undefined,
      '"No account" takes the key out',
    );
    assert.ok(offered[2].some((l) => l.includes('No account')));
    api.hub.refresh();
    const after = api.treeOutline().join('\n');
    assert.match(after, /\n {2}work team · 1 key in this account\n {4}it-acc-b · /, after);
    assert.match(after, /\n {2}it-acc-a · /, after);
    // Kept across a reload from storage.
    await api.vault.load();
    assert.strictEqual(api.pool.get(b.id)?.account, 'work team');
    await api.vault.remove(a.id);
    await api.vault.remove(b.id);
  });

  test('Remove Key asks first and deletes the key everywhere', async () => {
    const rec = api.vault.index().find((r) => r.label === 'it-first')!;
    const stub = stubPrompts(api, { confirm: answers(undefined, 'Remove') });
    try {
      await vscode.commands.executeCommand('keyRelay.removeKey', rec.id);
      assert.ok(api.pool.get(rec.id), 'cancelled: the key stays');
      await vscode.commands.executeCommand('keyRelay.removeKey', rec.id);
    } finally {
      stub.restore();
    }
    assert.strictEqual(api.pool.get(rec.id), undefined);
    assert.ok(!api.vault.index().some((r) => r.id === rec.id));
    await api.vault.load();
    assert.strictEqual(api.pool.get(rec.id), undefined, 'the secret is gone from SecretStorage too');
    assert.ok(!api.treeItems().some((i) => i.id === rec.id));
  });
});
