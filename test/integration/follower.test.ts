// A window that follows another (DESIGN §7): Test Key and Reset Statistics act on the serving
// window's pool and counters, which every window shows, not on this window's own copy.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { Stats } from '../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../src/core/config/providers';
import { KeyPool } from '../../src/core/pool/keyPool';
import { ProxyServer } from '../../src/core/proxy/proxyServer';
import { DEFAULT_CONFIG, nullLogger, systemClock } from '../../src/core/types';
import type { TestInternals } from '../../src/vscode/testHook';
import { FakeUpstream } from '../fakes/upstreamServer';
import { answers, followOn, freePort, getApi, httpRequest, leading, stubPrompts } from './extensionHelpers';

const SECRET = 'sk-test-follower-window-eeeeeeee7777';

suite('KeyRelay in a following window', () => {
  let api: TestInternals;
  let fake: FakeUpstream;

  suiteSetup(async () => {
    api = await getApi();
    fake = await FakeUpstream.start();
  });
  suiteTeardown(async () => {
    for (const k of api.pool.list()) if (k.secret === SECRET) await api.vault.remove(k.id);
    await fake.close();
  });

  test("Test Key and Reset Statistics act on the serving window's pool and counters", async () => {
    await api.vault.add({ providerId: 'openai', secret: SECRET, label: 'follower-test', baseUrl: fake.openaiBase });
    const key = api.pool.list().find((k) => k.secret === SECRET)!;
    // The serving window: its own pool holds the same key (SecretStorage is shared), its own counters.
    const pool = new KeyPool({ clock: systemClock, ...DEFAULT_CONFIG });
    pool.setKeys([{ ...key }]);
    const stats = new Stats(systemClock);
    const ownPort = api.controller.state.port;
    const port = await freePort();
    const leader = new ProxyServer({
      config: { ...DEFAULT_CONFIG, port },
      pool,
      stats,
      catalogue: new ProviderCatalogue(),
      logger: nullLogger,
      clock: systemClock,
      accessToken: api.vault.accessToken,
      version: 'it-leader',
    });
    await leader.start();
    let unfollow: (() => Promise<void>) | undefined;
    const said: string[] = [];
    const stub = stubPrompts(api, {
      info: async (m: string) => {
        said.push(m);
        return undefined;
      },
      confirm: answers('Reset'),
    });
    try {
      unfollow = await followOn(api, port);
      fake.setKeyBehaviour(SECRET, { kind: 'status', status: 401 });
      assert.strictEqual(await vscode.commands.executeCommand('keyRelay.testKey', key.id), false);
      assert.strictEqual(pool.health(key.id)!.state, 'invalid', "the serving window's key failed its test");
      assert.strictEqual(api.pool.health(key.id)!.state, 'active', "this window's copy is not the one tested");
      fake.setKeyBehaviour(SECRET, { kind: 'ok' });
      assert.strictEqual(await vscode.commands.executeCommand('keyRelay.testKey', key.id), true);
      assert.strictEqual(pool.health(key.id)!.state, 'active', 'a passing test brought it back where it serves');
      assert.ok(!said.join('\n').includes(SECRET));

      const r = await httpRequest(
        port,
        'POST',
        '/v1/chat/completions',
        { authorization: `Bearer ${api.vault.accessToken}` },
        JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.strictEqual(r.status, 200);
      assert.strictEqual(stats.snapshot().total.requests, 1);
      await vscode.commands.executeCommand('keyRelay.resetStats');
      assert.strictEqual(stats.snapshot().total.requests, 0, "the serving window's counters were reset");
    } finally {
      stub.restore();
      await unfollow?.();
      await leader.stop(0);
      leader.dispose();
      pool.dispose();
      stats.dispose();
      // The suites after this one expect this window to serve again, on its own port (if the
      // setting's change arrives after this start, it restarts the proxy there).
      void api.controller.start();
      await leading(api, ownPort);
    }
  });
});
