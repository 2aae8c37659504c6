// Import Keys through the command: a pasted list and a .env file, duplicates reported masked.
import * as assert from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TestInternals } from '../../src/vscode/testHook';
import { answers, getApi, stubPrompts } from './extensionHelpers';

const A = 'sk-test-import-aaaaaaaaaaaaaaaa1111';
const B = 'sk-test-import-bbbbbbbbbbbbbbbb2222';
const C = 'sk-ant-api03-test-import-cccccccccccc3333';

suite('KeyRelay import', () => {
  let api: TestInternals;
  let before: Set<string>;
  let dir: string;

  suiteSetup(async () => {
    api = await getApi();
    before = new Set(api.vault.index().map((r) => r.id));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keyrelay-import-'));
  });

  suiteTeardown(async () => {
    for (const r of api.vault.index()) if (!before.has(r.id)) await api.vault.remove(r.id);
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('a pasted list is imported; a repeated key is reported masked, never in full', async () => {
    const messages: string[] = [];
    const stub = stubPrompts(api, {
      quickPick: answers(
        (items: Array<{ label: string }>) => items.find((i) => i.label === 'Paste keys'),
        (items: Array<{ label: string }>) => items[0] /* detect */,
      ),
      input: answers(`${A}; ${B},${A}`),
      info: async (m: string) => {
        messages.push(m);
        return undefined;
      },
    });
    try {
      assert.strictEqual(await vscode.commands.executeCommand('keyRelay.importKeys'), 2);
    } finally {
      stub.restore();
    }
    const secrets = api.pool.list().map((k) => k.secret);
    assert.ok(secrets.includes(A) && secrets.includes(B));
    assert.match(messages.join('\n'), /Imported 2 keys\. 1 already known: sk-…1111/);
    assert.ok(!messages.join('\n').includes(A));
    assert.ok(
      api
        .treeItems()
        .filter((i) => !before.has(i.id))
        .every((i) => i.providerId === 'openai'),
    );
  });

  test('a known key pasted for another provider is another key (a gateway key); for the same one, a duplicate', async () => {
    const importAs = async (provider: string): Promise<{ count: unknown; said: string }> => {
      const messages: string[] = [];
      const stub = stubPrompts(api, {
        quickPick: answers(
          (items: Array<{ label: string }>) => items.find((i) => i.label === 'Paste keys'),
          (items: Array<{ label: string }>) => items.find((i) => i.label === provider),
        ),
        input: answers(A),
        info: async (m: string) => {
          messages.push(m);
          return undefined;
        },
      });
      try {
        return { count: await vscode.commands.executeCommand('keyRelay.importKeys'), said: messages.join('\n') };
      } finally {
        stub.restore();
      }
    };
    const first = await importAs('OpenRouter');
    assert.strictEqual(first.count, 1, first.said);
    const holders = api.pool
      .list()
      .filter((k) => k.secret === A)
      .map((k) => k.providerId)
      .sort();
    assert.deepStrictEqual(holders, ['openai', 'openrouter']);
    const again = await importAs('OpenRouter');
    assert.strictEqual(again.count, 0);
    assert.match(again.said, /1 already known: sk-…1111/);
  });

  test('a .env file: provider from the variable name, known keys skipped', async () => {
    // A is known either from the previous test or from here (the test also runs alone under a grep).
    if (!api.pool.list().some((k) => k.secret === A)) await api.vault.add({ providerId: 'openai', secret: A });
    const file = path.join(dir, 'keys.env');
    await fs.writeFile(file, `# my keys\nexport ANTHROPIC_API_KEY="${C}"\nOPENAI_API_KEY_1=${A}\n`);
    const messages: string[] = [];
    const stub = stubPrompts(api, {
      quickPick: answers(
        (items: Array<{ label: string }>) => items.find((i) => i.label === 'From a file'),
        (items: Array<{ label: string }>) => items[0],
      ),
      openFile: answers(vscode.Uri.file(file)),
      info: async (m: string) => {
        messages.push(m);
        return undefined;
      },
    });
    try {
      assert.strictEqual(await vscode.commands.executeCommand('keyRelay.importKeys'), 1);
    } finally {
      stub.restore();
    }
    const c = api.pool.list().find((k) => k.secret === C);
    assert.strictEqual(c?.providerId, 'anthropic');
    assert.match(messages.join('\n'), /1 already known/);
  });
});
