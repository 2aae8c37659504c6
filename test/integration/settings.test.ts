// Settings apply live, without a reload: the rotation strategy reaches the pool, a port change
// moves the server.
import * as assert from 'node:assert';
import type { TestInternals } from '../../src/vscode/testHook';
import {
  answers,
  freePort,
  getApi,
  httpRequest,
  leading,
  moveToFreePort,
  setSetting,
  stubPrompts,
} from './extensionHelpers';
import { until } from '../fakes/waits';
import { Setting } from '../../src/vscode/ids';

suite('KeyRelay settings', () => {
  let api: TestInternals;
  const restores: Array<() => Promise<void>> = [];

  suiteSetup(async () => {
    api = await getApi();
    restores.push((await moveToFreePort(api)).restore);
  });

  suiteTeardown(async () => {
    for (const r of restores.reverse()) await r();
  });

  test('changing keyRelay.rotation.strategy changes the pool strategy', async () => {
    assert.notStrictEqual(api.pool.snapshot().strategy, 'least-used');
    const uses = (s: string) =>
      until(api.pool.onDidChange, () => api.pool.snapshot().strategy === s, `the pool to use ${s}`);
    restores.push(await setSetting(Setting.strategy, 'least-used'));
    await uses('least-used');
    restores.push(await setSetting(Setting.strategy, 'round-robin'));
    await uses('round-robin');
  });

  test('changing keyRelay.proxy.port moves the server', async () => {
    const oldPort = api.controller.state.port!;
    const port = await freePort();
    restores.push(await setSetting(Setting.port, port));
    await leading(api, port);
    const health = await httpRequest(port, 'GET', '/keyrelay/health');
    assert.strictEqual(health.status, 200);
    assert.strictEqual(JSON.parse(health.body).keyrelay, true);
    await assert.rejects(httpRequest(oldPort, 'GET', '/keyrelay/health'), /ECONNREFUSED/, 'the old port is free');
    assert.match(api.statusText(), /^\$\(key\) KeyRelay/);
  });

  test('Stop and Start Proxy turn the status bar off and on', async () => {
    const { executeCommand } = (await import('vscode')).commands;
    await executeCommand('keyRelay.stopProxy');
    api.hub.refresh();
    assert.strictEqual(api.statusText(), '$(key) KeyRelay off');
    await executeCommand('keyRelay.startProxy');
    await leading(api);
    assert.notStrictEqual(api.hub.refresh() && api.statusText(), '$(key) KeyRelay off');
  });

  test('Set Reasoning Level writes the global level and keeps the per-model patterns', async () => {
    const { executeCommand } = (await import('vscode')).commands;
    restores.push(await setSetting(Setting.reasoning, { 'claude-*': 'max' }));
    await until(api.config.onDidChange, () => typeof api.config.current.proxy.reasoning === 'object', 'patterns read');
    let offered: string[] = [];
    const stub = stubPrompts(api, {
      quickPick: answers((items: Array<{ label: string; level: string }>) => {
        offered = items.map((i) => i.label);
        return items.find((i) => i.level === 'high');
      }),
    });
    try {
      await executeCommand('keyRelay.setReasoningLevel');
    } finally {
      stub.restore();
    }
    assert.deepStrictEqual(offered, ['off', '$(check) auto', 'low', 'medium', 'high', 'max']);
    const want = { 'claude-*': 'max', '*': 'high' };
    await until(
      api.config.onDidChange,
      () => JSON.stringify(api.config.current.proxy.reasoning) === JSON.stringify(want),
      'the new level read back from the settings',
    );
    assert.deepStrictEqual(api.config.current.problems, []);
  });
});
