// "KeyRelay: Compare Models" in the real extension host: the command opens the panel, and a run
// sends one prompt to two models through the window's forwarder against the fake upstream, each
// model with its own key; a model whose keys are all invalid fails alone, with a clear message.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { COMPARE_VIEW_TYPE } from '../../src/vscode/comparePanel';
import { Command } from '../../src/vscode/ids';
import { until } from '../fakes/waits';
import type { TestInternals } from '../../src/vscode/testHook';
import { FakeUpstream } from '../fakes/upstreamServer';
import { getApi, setSetting } from './extensionHelpers';

const OA = ['sk-cmp-openai-aaaaaaaaaaaaaaaa1111', 'sk-cmp-openai-bbbbbbbbbbbbbbbb2222'];
const AN = ['sk-ant-cmp-cccccccccccccccccccc3333'];

suite('KeyRelay Compare Models', () => {
  let api: TestInternals;
  let fake: FakeUpstream;
  const cleanups: Array<() => unknown> = [];
  const keyIds: string[] = [];

  suiteSetup(async () => {
    api = await getApi();
    fake = await FakeUpstream.start({ chunks: 4 });
    cleanups.push(() => fake.close());
    cleanups.push(
      await setSetting('providers', [
        { id: 'itcmp', name: 'Compare OpenAI', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer' },
        {
          id: 'itcmpant',
          name: 'Compare Anthropic',
          shape: 'anthropic',
          baseUrl: fake.anthropicBase,
          auth: 'x-api-key',
        },
      ]),
    );
    for (const [providerId, secrets] of [
      ['itcmp', OA],
      ['itcmpant', AN],
    ] as const) {
      for (const secret of secrets)
        keyIds.push((await api.vault.add({ providerId, secret, label: `cmp-${providerId}` })).id);
    }
  });

  suiteTeardown(async () => {
    for (const id of keyIds) await api.vault.remove(id);
    for (const c of cleanups.reverse()) await c();
  });

  test('the command opens one panel; a run over two models fills both, each with its own key', async () => {
    await vscode.commands.executeCommand(Command.compareModels);
    assert.ok(api.compare.isOpen, 'the panel is open');
    const panels = () =>
      vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith(COMPARE_VIEW_TYPE));
    await until(vscode.window.tabGroups.onDidChangeTabs, () => panels().length === 1, 'the Compare Models tab');
    await vscode.commands.executeCommand(Command.compareModels);
    assert.strictEqual(panels().length, 1, 'a second call reveals the same panel');
    const s = await api.compare.run('Say hello', ['itcmp/gpt-4o', 'itcmp/gpt-4o-mini']);
    assert.strictEqual(s.successful, 2);
    for (const r of s.responses) {
      assert.strictEqual(r.output, 'Hello from the fake');
      assert.strictEqual(r.provider, 'itcmp');
      assert.ok(r.ttft !== null && r.duration >= r.ttft);
    }
    assert.notStrictEqual(s.responses[0].key, s.responses[1].key, 'two keys of the pool');
    const text = JSON.stringify(s);
    for (const k of [...OA, ...AN]) assert.ok(!text.includes(k), 'no whole key in the results');
  });

  test('one model with only invalid keys fails alone and says what to do', async () => {
    fake.setKeyBehaviour(AN[0], { kind: 'status', status: 401 });
    const s = await api.compare.run('Say hello', ['itcmp/gpt-4o', 'itcmpant/claude-sonnet-4-6']);
    assert.strictEqual(s.successful, 1);
    assert.strictEqual(s.failed, 1);
    const failed = s.responses[1];
    assert.strictEqual(failed.status, 401);
    assert.match(failed.error ?? '', /No usable Compare Anthropic key in KeyRelay.*Add Key/);
    assert.strictEqual(api.compare.lastSummary, s);
  });
});
