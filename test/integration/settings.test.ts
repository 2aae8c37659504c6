// Settings apply live, without a reload: the rotation strategy reaches the pool, a port change
// moves the server.
import * as assert from 'node:assert';
import type { TestInternals } from '../../src/vscode/testHook';
import { freePort, getApi, httpRequest, leading, moveToFreePort, setSetting } from './extensionHelpers';
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
});
