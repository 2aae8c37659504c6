import * as assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as pause } from 'node:timers/promises';
import OpenAI from 'openai';
import { request } from 'undici';
import type { PoolKey } from '../../src/core/types';
import { startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/**
 * A token helper as users write them: counts its runs, prints JSON {token, expiresIn}, and records
 * each token it issued with its expiry in a file the fake upstream checks, so the upstream refuses
 * a token the moment it expires, as a real identity provider's API would.
 */
const SCRIPT = `
const fs = require('fs'), path = require('path');
const dir = process.argv[2];
const mode = fs.readFileSync(path.join(dir, 'mode'), 'utf8').trim();
const n = (fs.existsSync(path.join(dir, 'runs')) ? +fs.readFileSync(path.join(dir, 'runs'), 'utf8') : 0) + 1;
fs.writeFileSync(path.join(dir, 'runs'), String(n));
const token = 'tok-' + n + '-' + require('crypto').randomBytes(12).toString('hex');
if (mode === 'fail') { console.log(token); console.error('error: ' + token); process.exit(1); }
const life = +fs.readFileSync(path.join(dir, 'life'), 'utf8');
const startedAt = Math.round(performance.timeOrigin);
fs.appendFileSync(path.join(dir, 'issued'), JSON.stringify({ token, startedAt, expiresAt: Date.now() + life * 1000 }) + '\\n');
console.log(JSON.stringify({ token, expiresIn: life }));
`;

suite('credential commands through the proxy', function () {
  this.timeout(20_000);
  let h: Harness;
  let dir: string;
  const revoked = new Set<string>();
  let refusals = 0;
  let rejectAll = false;

  const issued = (): Array<{ token: string; startedAt: number; expiresAt: number }> => {
    let text = '';
    try {
      text = readFileSync(join(dir, 'issued'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { token: string; startedAt: number; expiresAt: number });
  };
  const runs = (): number => {
    try {
      return Number(readFileSync(join(dir, 'runs'), 'utf8'));
    } catch {
      return 0;
    }
  };
  const accept = (key: string): boolean => {
    const t = issued().find((x) => x.token === key);
    const ok = !rejectAll && t !== undefined && Date.now() < t.expiresAt && !revoked.has(key);
    if (!ok) refusals++;
    return ok;
  };

  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kr-cred-'));
    writeFileSync(join(dir, 'token-helper.js'), SCRIPT);
    writeFileSync(join(dir, 'mode'), 'ok');
    writeFileSync(join(dir, 'life'), '2');
    revoked.clear();
    refusals = 0;
    rejectAll = false;
    h = await startHarness({ keys: {}, fake: { accept } });
    const key: PoolKey = {
      id: 'cmd-1',
      providerId: 'openai',
      label: 'work',
      masked: 'cmd:node',
      addedAt: 0,
      secret: '',
      credentialCommand: { argv: [process.execPath, join(dir, 'token-helper.js'), dir] },
    };
    h.pool.setKeys([key]);
  });
  teardown(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (): OpenAI => new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
  const ask = (c: OpenAI) =>
    c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

  /** Every log line, the status document and `bodies` must be free of every token issued. */
  async function assertNoTokens(bodies: string[] = []): Promise<void> {
    const status = await request(`${h.endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const texts = [...h.log.lines, await status.body.text(), ...bodies];
    for (const { token } of issued()) {
      for (const t of texts)
        assert.ok(!t.includes(token), `a token (${token.slice(0, 6)}…) leaked into: ${t.slice(0, 200)}`);
    }
  }

  test('a token valid for 2 s is refreshed before it expires under steady traffic', async () => {
    const c = client();
    const started = Date.now();
    let served = 0;
    // Steady traffic for three token lifetimes: a request every 100 ms.
    while (Date.now() - started < 6_000) {
      const r = await ask(c);
      assert.equal(r.object, 'chat.completion');
      served++;
      await pause(100);
    }
    assert.equal(refusals, 0, 'no request reached upstream with an expired token');
    assert.ok(runs() >= 3, `the command ran ${runs()} times in 6 s of 2 s tokens`);
    // Refreshed in the background, well ahead of time: a refresh only when a request finds the token
    // about to expire would start the next run within the last ~170 ms of the old token's life.
    // (When the run starts, the process's time origin, not when it prints: a loaded machine and
    // coverage make node start slowly.)
    const list = issued();
    for (let i = 1; i < list.length; i++) {
      const ahead = list[i - 1].expiresAt - list[i].startedAt;
      assert.ok(ahead > 250, `the run for token ${i + 1} started only ${ahead} ms before token ${i} expired`);
    }
    assert.ok(served > 20);
    assert.equal(h.pool.health('cmd-1')?.state, 'active');
    await assertNoTokens();
  });

  test('a 401 runs the command once more and retries; the client never sees it', async () => {
    const c = client();
    await ask(c);
    assert.equal(runs(), 1);
    revoked.add(issued()[0].token); // the provider revoked it early
    const r = await ask(c);
    assert.equal(r.object, 'chat.completion');
    assert.equal(runs(), 2);
    assert.equal(refusals, 1);
    assert.equal(h.pool.health('cmd-1')?.state, 'active');
    await assertNoTokens();
  });

  test('refused again after the re-run: the key is invalid, and no token is in any answer', async () => {
    const c = client();
    await ask(c);
    rejectAll = true;
    const err = await ask(c).then(
      () => assert.fail('expected a 401'),
      (e: InstanceType<typeof OpenAI.APIError>) => e,
    );
    assert.equal(err.status, 401);
    assert.equal(runs(), 2, 'one re-run, not a loop');
    assert.equal(h.pool.health('cmd-1')?.state, 'invalid');
    await assertNoTokens([JSON.stringify(err.error), err.message]);
  });

  test('a failing command: a clear 502 naming the key, invalid once it keeps failing', async () => {
    writeFileSync(join(dir, 'mode'), 'fail');
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(`${h.endpoint}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
      });
      const body = await res.body.text();
      answers.push(body);
      if (i < 2) {
        assert.equal(res.statusCode, 502);
        assert.match(body, /credential command of key \\"work\\" exited with code 1/);
        assert.match(body, /credential_failed/);
      } else {
        // The third failure in a row made the key invalid: the pool's own answer says so.
        assert.equal(res.statusCode, 401);
        assert.match(body, /keys_unusable/);
      }
    }
    const health = h.pool.health('cmd-1');
    assert.equal(health?.state, 'invalid');
    assert.match(health?.lastError ?? '', /credential command of key "work" exited with code 1/);
    assert.equal(h.fake.requests.length, 0, 'nothing went upstream without a token');
    // The script printed its tokens to stdout and stderr before failing: neither may show up.
    const printed = Array.from({ length: 3 }, (_, i) => `tok-${i + 1}-`);
    for (const t of [...h.log.lines, ...answers]) for (const p of printed) assert.ok(!t.includes(p), t);
    appendFileSync(join(dir, 'issued'), '');
    await assertNoTokens(answers);
  });
});

suite('key management endpoints without a key manager (VS Code)', () => {
  test('answer 404 naming where keys are managed instead; the token is still required', async () => {
    const h = await startHarness();
    try {
      const auth = { authorization: `Bearer ${TOKEN}` };
      const add = await request(`${h.endpoint}/keyrelay/keys`, { method: 'POST', headers: auth, body: '{}' });
      assert.equal(add.statusCode, 404);
      assert.match(await add.body.text(), /managed over HTTP only by the headless CLI/);
      const del = await request(`${h.endpoint}/keyrelay/keys/openai-1`, { method: 'DELETE' });
      assert.equal(del.statusCode, 401);
      await del.body.dump();
      assert.ok(h.pool.get('openai-1'), 'nothing was removed');
    } finally {
      await h.close();
    }
  });
});
