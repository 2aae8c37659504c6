// Keys whose token comes from a command, in the editor: added through the real command with stubbed
// prompts, saved to user settings, served by the proxy; a workspace's settings cannot define one.
import * as assert from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { FakeUpstream } from '../fakes/upstreamServer';
import { until } from '../fakes/waits';
import type { TestInternals } from '../../src/vscode/testHook';
import { Setting, SETTINGS_SECTION } from '../../src/vscode/ids';
import { answers, getApi, httpRequest, moveToFreePort, setSetting, stubPrompts } from './extensionHelpers';

const TOKEN_TEXT = 'tok-host-0123456789abcdefghijklmn';

suite('KeyRelay credential commands', () => {
  let api: TestInternals;
  let fake: FakeUpstream;
  let port: number;
  let dir: string;
  const cleanups: Array<() => unknown> = [];

  suiteSetup(async () => {
    api = await getApi();
    fake = await FakeUpstream.start();
    cleanups.push(() => fake.close());
    dir = mkdtempSync(join(tmpdir(), 'kr-host-cred-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'helper.js'), `console.log(JSON.stringify({ token: '${TOKEN_TEXT}', expiresIn: 3600 }));`);
    const provider = { id: 'itcmd', name: 'ItCmd', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer' };
    cleanups.push(await setSetting(Setting.providers, [provider]));
    cleanups.push(await setSetting(Setting.credentialCommands, undefined));
    const moved = await moveToFreePort(api);
    port = moved.port;
    cleanups.push(moved.restore);
  });

  suiteTeardown(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  const commandKeys = () => api.pool.list().filter((k) => k.credentialCommand);

  test('Add Key from a Command runs it once, saves it to user settings, and the proxy serves with its token', async () => {
    const stub = stubPrompts(api, {
      quickPick: answers((items: Array<{ provider?: { id: string } }>) =>
        items.find((i) => i.provider?.id === 'itcmd'),
      ),
      input: answers((o: vscode.InputBoxOptions) => {
        assert.ok(o.validateInput?.('node "unclosed'), 'an unclosed quote is refused in the box');
        return `"${process.execPath}" "${join(dir, 'helper.js')}"`;
      }, 'it-cmd'),
      info: async () => undefined,
    });
    try {
      await vscode.commands.executeCommand('keyRelay.addKeyFromCommand');
    } finally {
      stub.restore();
    }
    const saved = vscode.workspace.getConfiguration(SETTINGS_SECTION).inspect(Setting.credentialCommands);
    assert.deepStrictEqual(saved?.globalValue, [
      { provider: 'itcmd', credentialCommand: [process.execPath, join(dir, 'helper.js')], label: 'it-cmd' },
    ]);
    await until(api.pool.onDidChange, () => commandKeys().length === 1, 'the command key in the pool');
    assert.strictEqual(commandKeys()[0].label, 'it-cmd');
    const res = await httpRequest(
      port,
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${api.vault.accessToken}` },
      JSON.stringify({ model: 'itcmd/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.strictEqual(res.status, 200, res.body);
    const chats = fake.requests.filter((r) => r.path.endsWith('/chat/completions'));
    assert.deepStrictEqual(
      chats.map((r) => r.key),
      [TOKEN_TEXT],
      'the upstream got the token the command printed',
    );
    assert.ok(!JSON.stringify(api.hub.refresh()).includes(TOKEN_TEXT), 'the views never hold the token');
  });

  test("a workspace's settings cannot define a credential command: refused, and the user is told", async () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(folder, 'the host tests run with a workspace folder');
    const before = commandKeys().length;
    mkdirSync(join(folder, '.vscode'), { recursive: true });
    const file = join(folder, '.vscode', 'settings.json');
    const refused = () =>
      api.config.current.problems.some((p) =>
        /set in this workspace's settings, and KeyRelay ignores it there/.test(p),
      );
    const evil = [{ provider: 'itcmd', credentialCommand: [process.execPath, '-e', 'console.log("pwned-token")'] }];
    writeFileSync(file, JSON.stringify({ 'keyRelay.credentialCommands': evil }));
    cleanups.push(() => rmSync(file, { force: true }));
    await until(api.config.onDidChange, refused, 'the workspace value refused and reported', 10_000);
    assert.strictEqual(commandKeys().length, before, 'no key from the workspace command');
    assert.ok(!fake.requests.some((r) => r.key === 'pwned-token'));
  });
});
