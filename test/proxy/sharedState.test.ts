import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { RedisServer } from '../fakes/redisServer';
import { FakeUpstream } from '../fakes/upstreamServer';
import { endpointOf, start } from './cliProcess';
import type { Run } from './cliProcess';
import { assertNoKeys, OPENAI_KEYS } from './harness';

const TOKEN = 'kr-shared-test-token';
const MODEL = 'gpt-4o-mini';

interface StatusKey {
  id: string;
  label: string;
  state: string;
  modelCooldowns: Record<string, number>;
  budget?: { spent: { dayUsd: number }; over?: { until: number; reason: string } };
}
interface Status {
  keys: StatusKey[];
  shared?: { state: string; pool: string; store: string; usage: Record<string, Record<string, number>> };
}

/** Three `keyrelay serve` (dist/cli.js) on one pool, sharing state through a real redis-server (issue 18). */
suite('shared state through Redis: three CLI instances on one pool', function () {
  this.timeout(30_000);
  let dir: string;
  let fake: FakeUpstream;
  let redis: RedisServer;
  let runs: Run[] = [];
  let endpoints: string[] = [];

  setup(async function () {
    // The rotation test runs the pool with least-used; the others with the default round-robin.
    const strategy = /least-used/.test(this.currentTest?.title ?? '') ? 'least-used' : 'round-robin';
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-shared-'));
    fake = await FakeUpstream.start();
    redis = await RedisServer.start({ persist: true });
    const cfg = join(dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        proxy: { port: 0, strategy },
        stateStore: `${redis.url}?pool=team-a`,
        providers: [{ id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' }],
        keys: OPENAI_KEYS.map((key, i) => ({ provider: 'mock', key, label: `k${i}` })),
      }),
    );
    runs = ['a', 'b', 'c'].map((n) =>
      start(['serve', '--config', cfg, '--data-dir', join(dir, n), '--token', TOKEN], {
        KEYRELAY_TEAM_SECRET: 'team-secret-for-tests-0123456789',
      }),
    );
    endpoints = await Promise.all(runs.map((r) => endpointOf(r)));
    // Bounded poll: the connection is the CLI's own business, nothing to await from outside.
    await pollAll((s) => s.shared?.state === 'connected', 'every instance connected', 5_000);
  });
  teardown(async () => {
    for (const r of runs)
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await redis.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function status(i: number): Promise<Status> {
    const res = await request(`${endpoints[i]}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await res.body.text();
    assertNoKeys(text, 'status');
    return JSON.parse(text) as Status;
  }
  /** Polls every instance's status until `cond` holds on each (bounded by `ms`); the last statuses. */
  async function pollAll(cond: (s: Status) => boolean, what: string, ms: number, which = [0, 1, 2]) {
    const deadline = Date.now() + ms;
    for (;;) {
      const all = await Promise.all(which.map(status));
      if (all.every(cond)) return all;
      if (Date.now() > deadline)
        assert.fail(`${what}: not within ${ms} ms: ${JSON.stringify(all.map((s) => s.shared))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  const key = (s: Status, label: string) => s.keys.find((k) => k.label === label)!;
  const client = (i: number) => new OpenAI({ baseURL: `${endpoints[i]}/v1`, apiKey: TOKEN, maxRetries: 0 });
  const ask = (i: number) =>
    client(i).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });

  test('a 429 on A makes B and C skip that key for that model within 100 ms', async () => {
    // A minute's cooldown: the fake's own 1 s could end while B and C are being asked on a busy machine.
    const minute = { 'retry-after': '60', 'x-ratelimit-reset-requests': '60s' };
    fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 429, headers: minute });
    // Round-robin on A reaches k0 within three requests; each succeeds on another key.
    for (let n = 0; n < 3 && !(await status(0)).keys.some((k) => k.modelCooldowns[MODEL]); n++) await ask(0);
    const a = key(await status(0), 'k0');
    assert.ok(a.modelCooldowns[MODEL] > Date.now(), 'A cools k0 for the model');
    await pollAll((s) => (key(s, 'k0').modelCooldowns[MODEL] ?? 0) > 0, 'B and C cool k0', 100, [1, 2]);
    const before = fake.countsByKey()[OPENAI_KEYS[0]] ?? 0;
    for (let n = 0; n < 6; n++) await ask(1 + (n % 2));
    assert.equal(fake.countsByKey()[OPENAI_KEYS[0]] ?? 0, before, 'B and C never sent k0 upstream for the model');
  });

  test("least-used: requests through A and B end evenly spread over the pool's keys, not per instance", async () => {
    const sum = (s: Status) => Object.values(s.shared?.usage ?? {}).reduce((n, u) => n + (u.requests ?? 0), 0);
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < 4; n++) await ask(0);
      await pollAll((s) => sum(s) === 6 * round + 4, "B counts A's requests", 3_000, [1]);
      for (let n = 0; n < 2; n++) await ask(1);
      await pollAll((s) => sum(s) === 6 * round + 6, "A counts B's requests", 3_000, [0]);
    }
    // Each instance alone would have sent 5, 4 and 3 (both start with the same key).
    const counts = fake.countsByKey();
    assert.deepEqual(
      OPENAI_KEYS.map((k) => counts[k] ?? 0),
      [4, 4, 4],
    );
  });

  test('a key discarded on B is discarded on A and C; one restore restores it everywhere', async () => {
    const id = key(await status(1), 'k1').id;
    const act = (i: number, what: string) =>
      request(`${endpoints[i]}/keyrelay/keys/${id}/${what}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    assert.equal((await act(1, 'discard')).statusCode, 200);
    await pollAll((s) => key(s, 'k1').state === 'discarded', 'discarded everywhere', 2_000);
    assert.equal((await act(0, 'restore')).statusCode, 200);
    await pollAll((s) => key(s, 'k1').state === 'active', 'restored everywhere', 2_000);
  });

  test('budgets count across instances: spend on A and B pushes a key over its budget on C, which never used it', async () => {
    // A and B take turns on one pool-wide round-robin cursor: k0 serves some of their six requests.
    const answers = [];
    for (const i of [0, 0, 0, 1, 1, 1]) answers.push(await ask(i));
    const onK0 = fake.countsByKey()[OPENAI_KEYS[0]] ?? 0;
    assert.ok(onK0 >= 1 && onK0 < 6, `k0 served ${onK0} of the six`);
    // gpt-4o-mini: $0.15 in, $0.60 out per million tokens; every answer here has the same usage.
    const u = answers[0].usage!;
    const each = (u.prompt_tokens * 0.15 + u.completion_tokens * 0.6) / 1e6;
    assert.ok(each > 0 && answers.every((a) => a.usage!.prompt_tokens === u.prompt_tokens));
    // A budget that k0's spend crosses only with its last request: C, which sent nothing, must see all of it.
    const cfg = join(dir, 'config.json');
    const doc = JSON.parse(readFileSync(cfg, 'utf8'));
    doc.proxy.budgets = { keys: { k0: { dailyUsd: each * (onK0 - 0.5) } } };
    writeFileSync(cfg, JSON.stringify(doc));
    // Bounded poll: the CLIs reload their config and read the shared totals on their own timers.
    const seen = await pollAll((s) => key(s, 'k0').budget?.over !== undefined, 'k0 over budget everywhere', 5_000);
    assert.ok(Math.abs(key(seen[2], 'k0').budget!.spent.dayUsd - onK0 * each) < 1e-12, "C sees the pool's spend");
    assert.match(key(seen[2], 'k0').budget!.over!.reason, /^over budget: the key spent \$.* today \(UTC\)/);
    for (let n = 0; n < 6; n++) await ask(2);
    assert.equal(fake.countsByKey()[OPENAI_KEYS[0]], onK0, 'C never sent k0 upstream');
  });

  test('usage is counted across all three; stopping Redis mid-traffic loses no request, restarting reconciles', async () => {
    const sum = (s: Status) => Object.values(s.shared?.usage ?? {}).reduce((n, u) => n + (u.requests ?? 0), 0);
    for (let n = 0; n < 9; n++) await ask(n % 3);
    await pollAll((s) => sum(s) === 9, 'usage 9 on every instance', 3_000);
    const traffic = Promise.all(
      [0, 1, 2].map(async (i) => {
        for (let n = 0; n < 10; n++) await ask(i);
      }),
    );
    await redis.stop();
    await traffic; // every request answered: a failure would reject here
    const down = await pollAll((s) => s.shared?.state === 'down', 'down reported', 3_000);
    assert.ok(down.every((s) => s.keys.length === 3));
    // `keyrelay status` says so in one line: which store (no password), which pool, down.
    const cli = start(['status', '--port', new URL(endpoints[1]).port], { KEYRELAY_TOKEN: TOKEN });
    assert.equal(await cli.exited, 0, cli.stderr);
    assert.match(
      cli.stdout,
      /^Shared state: redis:\/\/127\.0\.0\.1:\d+\/0 · pool team-a · down, serving on local state/m,
    );
    for (let n = 0; n < 3; n++) await ask(n); // still served while the store is away
    await redis.start();
    await pollAll((s) => s.shared?.state === 'connected' && sum(s) === 9 + 30 + 3, 'counters reconciled', 5_000);
    assert.equal(runs.filter((r) => /unreachable/.test(r.stderr + r.stdout)).length, 3, 'each said so');
    for (const r of runs) assert.equal((r.stderr + r.stdout).match(/unreachable/g)?.length, 1, 'said once');
  });
});

suite('shared state: the CLI refuses a store it cannot use, in one line', () => {
  let dir: string;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-shared-bad-'));
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, stateStore, env, message] of [
    [
      'no team secret',
      'redis://127.0.0.1:1/0',
      {},
      /needs a team secret of at least 16 characters.*KEYRELAY_TEAM_SECRET/,
    ],
    ['a short team secret', 'redis://127.0.0.1:1/0', { KEYRELAY_TEAM_SECRET: 'short' }, /at least 16/],
    ['not a redis URL', 'http://127.0.0.1:6379', { KEYRELAY_TEAM_SECRET: 'x'.repeat(20) }, /stateStore.*redis:\/\/127/],
  ] as const) {
    test(`${what}: exit 2 and a message naming the fix`, async () => {
      const cfg = join(dir, 'config.json');
      writeFileSync(cfg, JSON.stringify({ proxy: { port: 0 }, stateStore }));
      const r = start(['serve', '--config', cfg, '--data-dir', join(dir, 'data')], env);
      assert.equal(await r.exited, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
