// Client wiring through the real VS Code UI plumbing (diff preview, modal confirm) into a temporary
// home directory: the user's files are never touched.
import * as assert from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { nullLogger } from '../../src/core/types';
import { ClientWiring } from '../../src/vscode/clientWiring';
import { Prompts } from '../../src/vscode/prompts';
import { answers } from './extensionHelpers';

class MemoryMemento implements vscode.Memento {
  private readonly data = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.data.keys()];
  }
  get<T>(key: string, fallback?: T): T {
    return (this.data.has(key) ? this.data.get(key) : fallback) as T;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, value);
  }
}

suite('KeyRelay client wiring', () => {
  let home: string;
  let endpoint = 'http://127.0.0.1:8787';
  const TOKEN = 'kr-wiring-test-token-0000';
  let wiring: ClientWiring;
  let prompts: Prompts;
  const diffs: string[] = [];

  setup(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'keyrelay-home-'));
    endpoint = 'http://127.0.0.1:8787';
    prompts = new Prompts();
    prompts.info = async () => undefined;
    wiring = new ClientWiring({
      prompts,
      memento: new MemoryMemento(),
      log: nullLogger,
      homeDir: () => home,
      target: () => ({ endpoint, token: TOKEN }),
    });
    diffs.length = 0;
  });

  teardown(async () => {
    wiring.dispose();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await fs.rm(home, { recursive: true, force: true });
  });

  test('Claude Code: shows a diff with the token masked, writes only after Write, keeps other keys', async () => {
    const file = path.join(home, '.claude', 'settings.json');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, '{ "model": "opus", "env": { "FOO": "1" } }\n');
    prompts.confirm = answers(async () => {
      const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs);
      const diff = tabs.find((t) => t.input instanceof vscode.TabInputTextDiff);
      assert.ok(diff, 'a diff editor is open before the question');
      const right = await vscode.workspace.openTextDocument((diff.input as vscode.TabInputTextDiff).modified);
      diffs.push(right.getText());
      return undefined;
    }, 'Write') as Prompts['confirm'];

    assert.strictEqual(await wiring.configure('claude'), undefined, 'cancelled: nothing written');
    assert.strictEqual(await fs.readFile(file, 'utf8'), '{ "model": "opus", "env": { "FOO": "1" } }\n');
    assert.match(diffs[0], /"ANTHROPIC_BASE_URL": "http:\/\/127\.0\.0\.1:8787"/);
    assert.ok(!diffs[0].includes(TOKEN), 'the preview masks the token');

    assert.strictEqual(await wiring.configure('claude'), file);
    const json = JSON.parse(await fs.readFile(file, 'utf8'));
    assert.deepStrictEqual(json, {
      model: 'opus',
      env: { FOO: '1', ANTHROPIC_BASE_URL: endpoint, ANTHROPIC_AUTH_TOKEN: TOKEN },
    });
  });

  test('Continue, Codex and Aider: written, then updated in place after a port change', async () => {
    const aider = path.join(home, '.aider.conf.yml');
    await fs.writeFile(aider, 'dark-mode: true\nmodel: sonnet\n');
    prompts.input = answers('gpt-4o', 'gpt-5', 'o3') as Prompts['input'];
    prompts.confirm = answers('Write', 'Write', 'Write') as Prompts['confirm'];
    await wiring.configure('continue');
    await wiring.configure('codex');
    assert.strictEqual(await wiring.configure('aider'), aider);
    const yaml = path.join(home, '.continue', 'config.yaml');
    const toml = path.join(home, '.codex', 'config.toml');
    assert.match(await fs.readFile(yaml, 'utf8'), /apiBase: "http:\/\/127\.0\.0\.1:8787\/v1"/);
    assert.match(await fs.readFile(toml, 'utf8'), /wire_api = "responses"/);
    const a1 = await fs.readFile(aider, 'utf8');
    assert.match(a1, /^openai-api-base: "http:\/\/127\.0\.0\.1:8787\/v1"$/m);
    assert.match(a1, /^model: "openai\/o3"$/m);
    assert.match(a1, /^dark-mode: true$/m);

    endpoint = 'http://127.0.0.1:9911';
    prompts.info = answers('Update') as Prompts['info'];
    await wiring.followPortChange();
    const y2 = await fs.readFile(yaml, 'utf8');
    const t2 = await fs.readFile(toml, 'utf8');
    assert.ok(y2.includes('http://127.0.0.1:9911/v1') && !y2.includes(':8787'), y2);
    assert.ok(t2.includes('http://127.0.0.1:9911/v1') && !t2.includes(':8787'), t2);
    assert.strictEqual(y2.match(/provider: openai/g)?.length, 1);
    assert.match(t2, /^model = "gpt-5"$/m, 'the model chosen earlier is kept');
    const a2 = await fs.readFile(aider, 'utf8');
    assert.ok(a2.includes('http://127.0.0.1:9911/v1') && !a2.includes(':8787'), a2);
    assert.match(a2, /^model: "openai\/o3"$/m);
  });

  test('asks to start the proxy first when it is off', async () => {
    const off = new ClientWiring({
      prompts,
      memento: new MemoryMemento(),
      log: nullLogger,
      homeDir: () => home,
      target: () => undefined,
    });
    try {
      await assert.rejects(off.configure('claude'), /Start Proxy/);
    } finally {
      off.dispose();
    }
  });

  test('a symlinked, world-readable settings file: written through the link, made 0600, the link kept', async () => {
    const real = path.join(home, 'dotfiles', 'claude-settings.json');
    await fs.mkdir(path.dirname(real), { recursive: true });
    await fs.writeFile(real, '{ "model": "opus" }\n', { mode: 0o644 });
    await fs.chmod(real, 0o644);
    const link = path.join(home, '.claude', 'settings.json');
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.symlink(real, link);
    const warnings: string[] = [];
    const logged = new ClientWiring({
      prompts,
      memento: new MemoryMemento(),
      log: { ...nullLogger, warn: (m: string) => warnings.push(m) },
      homeDir: () => home,
      target: () => ({ endpoint, token: TOKEN }),
    });
    try {
      prompts.confirm = answers('Write') as Prompts['confirm'];
      assert.strictEqual(await logged.configure('claude'), link);
      assert.ok((await fs.lstat(link)).isSymbolicLink(), 'the dotfile link is still a link');
      assert.match(await fs.readFile(real, 'utf8'), /ANTHROPIC_AUTH_TOKEN/);
      assert.strictEqual((await fs.stat(real)).mode & 0o777, 0o600, 'the file holding the token is private');
      assert.deepStrictEqual(await fs.readdir(path.dirname(real)), ['claude-settings.json'], 'no temp file left');
      assert.match(warnings.join('\n'), /mode 644/);
      assert.ok(!warnings.join('\n').includes(TOKEN));
    } finally {
      logged.dispose();
    }
  });
});
