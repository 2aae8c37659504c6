// One proxy across windows (DESIGN §7), simulated in one process: each "window" is a
// ProxyController with its own pool and ProxyServer on the same port. The real two-window case
// (two extension hosts) is covered by the host tests' multi-host run.
import * as assert from 'node:assert';
import * as http from 'node:http';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { ProxyServer } from '../../../src/core/proxy/proxyServer';
import { Stats } from '../../../src/core/accounting/stats';
import { DEFAULT_CONFIG, nullLogger, systemClock } from '../../../src/core/types';
import type { ProxyConfig } from '../../../src/core/types';
import { ProxyController } from '../../../src/core/windows/proxyController';
import { buildViewModel } from '../../../src/core/view/viewModel';
import { findFreePort as freePort } from '../../../src/core/windows/localHttp';
import { FakeUpstream } from '../../fakes/upstreamServer';
import { until } from '../../fakes/waits';

const TOKEN = 'kr-test-leader-token-000000000000';

function makeWindow(port: number, onConflict?: (p: number) => void) {
  const pool = new KeyPool({
    clock: systemClock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  const stats = new Stats(systemClock);
  const catalogue = new ProviderCatalogue();
  const config: ProxyConfig = { ...DEFAULT_CONFIG, port };
  const controller = new ProxyController({
    createServer: (c) =>
      new ProxyServer({
        config: c,
        pool,
        stats,
        catalogue,
        logger: nullLogger,
        clock: systemClock,
        accessToken: TOKEN,
        version: 'test',
      }),
    config: () => config,
    token: () => TOKEN,
    log: nullLogger,
    pollMs: 250,
    onConflict,
  });
  return {
    pool,
    stats,
    controller,
    dispose: () => {
      controller.dispose();
      pool.dispose();
      stats.dispose();
    },
  };
}

/** A key every window holds (it reaches each through SecretStorage). */
function sharedKey(tail: string) {
  return {
    id: 'k1',
    providerId: 'openai',
    label: 'shared-key',
    masked: `sk-…${tail}`,
    addedAt: 0,
    secret: `sk-test-shared-000000000000${tail}`,
  };
}

/** A serving window and a second one on the same fresh port, both holding `key`, both started. */
async function leaderAndFollower(key: Parameters<KeyPool['upsert']>[0], disposables: Array<{ dispose(): void }>) {
  const port = await freePort();
  const a = makeWindow(port);
  const b = makeWindow(port);
  disposables.push(a, b);
  a.pool.upsert(key);
  b.pool.upsert(key);
  await a.controller.start();
  await b.controller.start();
  return { a, b, port };
}

suite('KeyRelay leader and followers', () => {
  const disposables: Array<{ dispose(): void }> = [];
  teardown(() => {
    for (const d of disposables.splice(0).reverse()) d.dispose();
  });

  test('a second window on the same port follows, mirrors the leader, and takes over within 2 s', async () => {
    const port = await freePort();
    const a = makeWindow(port);
    const b = makeWindow(port);
    disposables.push(a, b);
    a.pool.upsert({
      id: 'k1',
      providerId: 'openai',
      label: 'leader-key',
      masked: 'sk-…AAAA',
      addedAt: 0,
      secret: 'sk-test-leader-000000000000AAAA',
    });

    assert.strictEqual((await a.controller.start()).role, 'leader');
    assert.strictEqual((await b.controller.start()).role, 'follower');
    assert.strictEqual(b.controller.state.endpoint, `http://127.0.0.1:${port}`);
    // The follower shows the leader's keys (read from /keyrelay/status), not its own empty pool.
    const mirrored = () => buildViewModel(b.pool, b.stats, b.controller.state, Date.now());
    await until(b.controller.onDidChange, () => mirrored().keys.length === 1, 'the follower to mirror the leader');
    const vm = mirrored();
    assert.strictEqual(vm.keys[0].label, 'leader-key');
    assert.ok(!JSON.stringify(b.controller.state.remote).includes('sk-test-leader'), 'status JSON never holds a key');

    const stoppedAt = Date.now();
    await a.controller.stop(0);
    await until(
      b.controller.onDidChange,
      () => b.controller.state.role === 'leader',
      'the follower to take over',
      2_500,
    );
    assert.ok(Date.now() - stoppedAt < 2_000, `took over after ${Date.now() - stoppedAt} ms`);
    const health = await new Promise<number>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/keyrelay/health', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    assert.strictEqual(health, 200);
  });

  test('a following window discards and restores a key through the leader', async () => {
    const { a, b } = await leaderAndFollower(sharedKey('BBBB'), disposables);
    assert.strictEqual(b.controller.state.role, 'follower');
    assert.strictEqual(await a.controller.actOnLeader('k1', 'discard'), undefined, 'the leader acts on its own pool');

    assert.strictEqual((await b.controller.actOnLeader('k1', 'discard'))?.state, 'discarded');
    assert.strictEqual(a.pool.health('k1')!.state, 'discarded', 'the serving pool changed');
    const remote = b.controller.state.remote as { keys: Array<{ id: string; state: string }> };
    assert.strictEqual(remote.keys.find((k) => k.id === 'k1')!.state, 'discarded', 'the follower mirrors it at once');
    await b.controller.actOnLeader('k1', 'restore');
    assert.strictEqual(a.pool.health('k1')!.state, 'active');
    await assert.rejects(b.controller.actOnLeader('nope', 'discard'), /refused.*404/);
  });

  test('an action asked while a following window restarts waits for the restart and goes to the leader', async () => {
    const { a, b } = await leaderAndFollower(sharedKey('CCCC'), disposables);
    // A restart (the port setting changed): for a moment the window is neither leader nor follower.
    const restarted = b.controller.start();
    await until(b.controller.onDidChange, () => b.controller.state.role === 'starting', 'the restart under way');
    const answer = await b.controller.actOnLeader('k1', 'discard');
    assert.strictEqual(answer?.state, 'discarded', 'the leader answered, not "act on your own pool"');
    assert.strictEqual(a.pool.health('k1')!.state, 'discarded');
    assert.strictEqual((await restarted).role, 'follower');
  });

  test('a following window tests a key and resets statistics on the serving window', async () => {
    const fake = await FakeUpstream.start();
    disposables.push({ dispose: () => void fake.close() });
    const secret = 'sk-test-follower-test-0000000CCCC';
    const key = {
      id: 'k1',
      providerId: 'openai',
      label: 'k',
      masked: 'sk-…CCCC',
      addedAt: 0,
      secret,
      baseUrl: fake.openaiBase,
    };
    const { a, b, port } = await leaderAndFollower(key, disposables);
    assert.strictEqual(b.controller.state.role, 'follower');
    assert.strictEqual(await a.controller.actOnLeader('k1', 'test'), undefined, 'the leader tests with its own pool');

    fake.setKeyBehaviour(secret, { kind: 'status', status: 401 });
    const failed = await b.controller.actOnLeader('k1', 'test');
    assert.strictEqual(failed?.ok, false);
    assert.strictEqual(a.pool.health('k1')!.state, 'invalid', "the serving window's key is invalid now");
    assert.ok(!JSON.stringify(failed).includes(secret));
    fake.setKeyBehaviour(secret, { kind: 'ok' });
    const passed = await b.controller.actOnLeader('k1', 'test');
    assert.strictEqual(passed?.ok, true);
    assert.strictEqual(passed?.state, 'active');
    assert.strictEqual(a.pool.health('k1')!.state, 'active', 'a passing test brings the serving key back');
    const remote = b.controller.state.remote as { keys: Array<{ id: string; state: string }> };
    assert.strictEqual(remote.keys.find((k) => k.id === 'k1')!.state, 'active', 'the follower shows it at once');

    const sent = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.strictEqual(sent.status, 200);
    await sent.arrayBuffer();
    assert.strictEqual(a.stats.totals().total.requests, 1);
    assert.strictEqual(await a.controller.resetStatsOnLeader(), false, 'the leader resets its own');
    assert.strictEqual(await b.controller.resetStatsOnLeader(), true);
    assert.strictEqual(a.stats.totals().total.requests, 0, "the serving window's counters are reset");
  });

  test('a port held by another program is a conflict, not a follower', async () => {
    const other = http.createServer((_req, res) => res.end('not keyrelay'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    disposables.push({
      dispose: () => {
        other.close();
        other.closeAllConnections();
      },
    });
    const port = (other.address() as { port: number }).port;
    let conflictPort: number | undefined;
    const w = makeWindow(port, (p) => {
      conflictPort = p;
    });
    disposables.push(w);
    const state = await w.controller.start();
    assert.strictEqual(state.role, 'conflict');
    assert.strictEqual(conflictPort, port);
    assert.match(String(state.error), new RegExp(`${port}`));
  });

  test('an impostor answering {"keyrelay":true} to everything never receives the token', async () => {
    // It says it is KeyRelay on every path, and records what a window sends it.
    const seen: string[] = [];
    const impostor = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keyrelay: true,
          version: '9',
          instanceId: 'evil',
          port: 0,
          proof: 'ab'.repeat(32),
          nonce: 'cd'.repeat(16),
        }),
      );
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    disposables.push({
      dispose: () => {
        impostor.close();
        impostor.closeAllConnections();
      },
    });
    const port = (impostor.address() as { port: number }).port;
    const w = makeWindow(port);
    disposables.push(w);
    const state = await w.controller.start();
    assert.notStrictEqual(state.role, 'follower', 'a program that cannot prove the token is not followed');
    assert.ok(
      seen.some((l) => l.includes('/keyrelay/challenge?nonce=')),
      'the window challenged it',
    );
    assert.ok(seen.length > 0 && seen.every((l) => !l.includes(TOKEN)), seen.join('\n'));
  });

  test('stop frees the port at once', async () => {
    const port = await freePort();
    const w = makeWindow(port);
    disposables.push(w);
    await w.controller.start();
    await w.controller.stop(0);
    const again = makeWindow(port);
    disposables.push(again);
    assert.strictEqual((await again.controller.start()).role, 'leader');
  });
});
