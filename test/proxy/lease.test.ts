import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { FakeUpstream } from '../fakes/upstreamServer';
import { endpointOf, start } from './cliProcess';
import type { Run } from './cliProcess';
import { assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

interface Leased {
  lease: string;
  keyId: string;
  key: string;
  masked: string;
  header: string;
  baseUrl: string;
  expiresAt: string;
}

/** `GET /keyrelay/lease` and `POST /keyrelay/lease/<id>` on a real proxy in front of the fake upstream. */
suite('key lease', () => {
  let h: Harness;

  teardown(async () => {
    await h?.close();
  });

  async function lease(query = 'provider=openai&model=gpt-4o', headers: Record<string, string> = auth) {
    const r = await request(`${h.endpoint}/keyrelay/lease?${query}`, { headers });
    return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as Leased & ErrorBody };
  }

  async function report(id: string, body: unknown) {
    const r = await request(`${h.endpoint}/keyrelay/lease/${id}`, {
      method: 'POST',
      headers: auth,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return {
      status: r.statusCode,
      body: (await r.body.json()) as { state?: string; coolingUntil?: string } & ErrorBody,
    };
  }

  test('off by default: 403 naming the setting; without the token 401 either way', async () => {
    h = await startHarness();
    const off = await lease();
    assert.equal(off.status, 403);
    assert.equal(off.body.error.code, 'key_lease_off');
    assert.match(off.body.error.message, /keyRelay\.allowKeyLease/);
    assert.equal((await report('0123', { outcome: 'ok' })).status, 403);
    h.proxy.updateConfig({ ...h.config, allowKeyLease: true });
    const anon = await lease('provider=openai', {});
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 'unauthorized');
    const wrong = await lease('provider=openai', { authorization: `Bearer ${OPENAI_KEYS[0]}` });
    assert.equal(wrong.status, 401, "a provider key is not KeyRelay's token");
  });

  test('a lease reported rate_limited (retryAfter 2) is skipped by the proxy and by the next lease', async () => {
    h = await startHarness({ keys: { openai: OPENAI_KEYS.slice(0, 2) }, config: { allowKeyLease: true } });
    const first = await lease();
    assert.equal(first.status, 200);
    assert.ok(OPENAI_KEYS.includes(first.body.key), 'the secret itself');
    assert.equal(first.body.header, 'authorization');
    assert.equal(first.body.baseUrl, h.fake.openaiBase);
    assert.ok(Date.parse(first.body.expiresAt) > Date.now());
    assert.equal(first.headers['cache-control'], 'no-store');
    const reported = await report(first.body.lease, { outcome: 'rate_limited', retryAfter: 2 });
    assert.equal(reported.status, 200);
    const until = Date.parse(reported.body.coolingUntil!);
    assert.ok(
      until - Date.now() <= 2000 && until > Date.now(),
      `cools for its retry-after: ${reported.body.coolingUntil}`,
    );
    assert.equal(h.pool.health(first.body.keyId)!.modelCooldowns['gpt-4o'], until, 'for the leased model');

    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const other = OPENAI_KEYS.slice(0, 2).find((k) => k !== first.body.key)!;
    assert.deepEqual(h.fake.countsByKey(), { [other]: 3 }, 'the proxy skips the cooling key');
    const next = await lease();
    assert.equal(next.body.key, other, 'so does the next lease');
    assert.equal((await report(first.body.lease, { outcome: 'ok' })).status, 404, 'a lease ends with its report');
    assertNoKeys(h.log.lines.join('\n'), 'the log');
    const taken = h.log.lines.filter((l) => l.includes(`Key lease ${first.body.lease}`));
    assert.equal(taken.length, 2, taken.join('\n'));
    assert.ok(taken[0].includes(first.body.masked), 'logged with the masked key');
  });

  test('invalid marks the key invalid; with none left the lease answers as the proxy would', async () => {
    h = await startHarness({ keys: { openai: OPENAI_KEYS.slice(0, 1) }, config: { allowKeyLease: true } });
    const a = await lease();
    assert.equal((await report(a.body.lease, { outcome: 'invalid' })).body.state, 'invalid');
    assert.equal(h.pool.health(a.body.keyId)!.state, 'invalid');
    const none = await lease();
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'keys_unusable');
    h.pool.restore(a.body.keyId);
    const b = await lease();
    await report(b.body.lease, { outcome: 'rate_limited', retryAfter: 30 });
    const cooling = await lease();
    assert.equal(cooling.status, 429);
    assert.equal(cooling.body.error.code, 'all_keys_cooling');
    assert.equal(cooling.body.error.type, 'keyrelay_all_keys_cooling', 'the shape the proxy answers with');
    assert.equal(cooling.headers['retry-after'], '30');
  });

  test('a bad report is 400 and keeps the lease open; unknown ids and providers name the fix', async () => {
    h = await startHarness({ config: { allowKeyLease: true } });
    const a = await lease();
    const bad = await report(a.body.lease, { outcome: 'maybe' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /"ok" \| "rate_limited" \| "invalid" \| "failed"/);
    assert.equal((await report(a.body.lease, { outcome: 'rate_limited', retryAfter: -1 })).status, 400);
    assert.equal((await report(a.body.lease, 'not json')).status, 400);
    assert.equal((await report(a.body.lease, { outcome: 'failed' })).status, 200, 'still open after bad reports');
    const unknown = await report('feedface', { outcome: 'ok' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /Take a new one with GET \/keyrelay\/lease\?provider=/);
    const noProvider = await lease('model=gpt-4o');
    assert.equal(noProvider.status, 400);
    assert.match(noProvider.body.error.message, /Send \?provider= .*openai/);
  });

  test("with maxConcurrentPerKey a lease holds one of its key's slots until it is reported", async () => {
    h = await startHarness({
      keys: { openai: OPENAI_KEYS.slice(0, 1) },
      config: { allowKeyLease: true, maxConcurrentPerKey: 1, maxWaitMs: 300 },
    });
    const a = await lease();
    const busy = await request(`${h.endpoint}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(busy.statusCode, 429);
    assert.match(await busy.body.text(), /all_keys_busy/);
    assert.equal(h.fake.requests.length, 0, 'the leased key carried nothing more');
    await report(a.body.lease, { outcome: 'ok' });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(h.fake.requests.length, 1, 'the report gave the slot back');
  });
});

interface ErrorBody {
  error: { code: string; type: string; message: string };
}

/** The same through `keyrelay serve`, as a user runs it: what its log says, and that it holds no key. */
suite('key lease through the headless CLI', () => {
  let dir: string;
  let fake: FakeUpstream;
  const runs: Run[] = [];
  const CLI_TOKEN = 'kr-cli-token-lease-0123456789';
  const auth = { authorization: `Bearer ${CLI_TOKEN}`, 'content-type': 'application/json' };

  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-lease-'));
    fake = await FakeUpstream.start();
  });
  teardown(async () => {
    for (const r of runs.splice(0))
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(proxy: Record<string, unknown>): Promise<{ run: Run; endpoint: string }> {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        proxy: { port: 0, ...proxy },
        providers: [{ id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${fake.url}/v1`, auth: 'bearer' }],
        keys: OPENAI_KEYS.slice(0, 2).map((key) => ({ provider: 'mock', key })),
      }),
    );
    const run = start(['serve', '--config', file, '--data-dir', join(dir, 'data'), '--token', CLI_TOKEN]);
    runs.push(run);
    return { run, endpoint: await endpointOf(run) };
  }

  async function call(url: string, init: { method?: 'POST'; body?: unknown; headers?: Record<string, string> } = {}) {
    const r = await request(url, {
      method: init.method ?? 'GET',
      headers: init.headers ?? auth,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: r.statusCode, body: (await r.body.json()) as Leased & ErrorBody & { state?: string } };
  }

  test("off: 403 in the CLI's words; on: rate_limited is skipped, invalid sticks, the log has masked keys only", async () => {
    const off = await serve({});
    const refused = await call(`${off.endpoint}/keyrelay/lease?provider=mock`);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /"allowKeyLease" in the --config file's "proxy" object/);
    off.run.child.kill('SIGINT');
    assert.equal(await off.run.exited, 0);

    const { run, endpoint } = await serve({ allowKeyLease: true });
    const url = `${endpoint}/keyrelay/lease?provider=mock&model=gpt-4o`;
    assert.equal((await call(url, { headers: {} })).status, 401);
    const first = await call(url);
    assert.equal(first.status, 200);
    const limited = await call(`${endpoint}/keyrelay/lease/${first.body.lease}`, {
      method: 'POST',
      body: { outcome: 'rate_limited', retryAfter: 2 },
    });
    assert.equal(limited.status, 200);
    const sdk = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: CLI_TOKEN, maxRetries: 0 });
    for (let i = 0; i < 2; i++)
      await sdk.chat.completions.create({ model: 'mock/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const other = OPENAI_KEYS.slice(0, 2).find((k) => k !== first.body.key)!;
    assert.deepEqual(fake.countsByKey(), { [other]: 2 }, 'the proxy skipped the key the lease reported');
    const second = await call(url);
    assert.equal(second.body.key, other, 'and so did the next lease');
    const invalid = await call(`${endpoint}/keyrelay/lease/${second.body.lease}`, {
      method: 'POST',
      body: { outcome: 'invalid' },
    });
    assert.equal(invalid.body.state, 'invalid');
    const status = (await (await request(`${endpoint}/keyrelay/status`, { headers: auth })).body.json()) as {
      keys: Array<{ id: string; state: string }>;
    };
    assert.equal(status.keys.find((k) => k.id === second.body.keyId)?.state, 'invalid');

    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0);
    const output = run.stdout + run.stderr;
    assertNoKeys(output, 'the CLI output');
    for (const leased of [first.body, second.body])
      assert.match(output, new RegExp(`Key lease ${leased.lease}: \\S+ \\(${leased.masked.replace('…', '.')}\\)`));
  });
});
