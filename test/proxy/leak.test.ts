import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ALL_KEYS, ANTHROPIC_KEYS, assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** Resolves once `cond()` holds, checked now and whenever a file in `dir` changes; bounded by `timeoutMs`. */
function untilWritten(dir: string, cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, () => check());
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    function finish(err?: Error): void {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    }
    function check(): void {
      if (cond()) finish();
    }
    check();
  });
}

/**
 * No key is ever shown whole (DESIGN §6): every output a user or a log collector can see is
 * captured across success and failure paths and grepped for the fake keys and the token.
 */
suite('no key text in any output', () => {
  let h: Harness;
  let logDir: string;
  const outputs: string[] = [];

  setup(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'keyrelay-reqlog-'));
    // maxWaitMs 0: "every key cooling" is one of the answers checked, and it must come at once.
    h = await startHarness({ config: { requestLogDir: logDir, headersTimeoutMs: 400, maxWaitMs: 0 } });
  });
  teardown(async () => {
    await h.close();
    rmSync(logDir, { recursive: true, force: true });
    outputs.length = 0;
  });

  async function send(
    path: string,
    body: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
  ): Promise<void> {
    const r = await request(`${h.endpoint}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    });
    outputs.push(JSON.stringify(r.headers), await r.body.text());
  }

  test('success, every failure class, status, snapshot, log and request log are all clean', async () => {
    const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    const msg = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    await send('/v1/chat/completions', chat);
    await send('/v1/chat/completions', { ...chat, stream: true });
    await send('/v1/messages', { ...msg, stream: true }, { 'x-api-key': TOKEN });
    // Upstream error bodies that echo the key back (some providers do) must come out masked.
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], {
      kind: 'status',
      status: 401,
      body: JSON.stringify({
        error: { message: `Incorrect API key provided: ${OPENAI_KEYS[0]}`, type: 'invalid_request_error' },
      }),
    });
    h.fake.setKeyBehaviour(OPENAI_KEYS[1], {
      kind: 'status',
      status: 400,
      body: JSON.stringify({ error: { message: `bad request for ${OPENAI_KEYS[1]}`, type: 'invalid_request_error' } }),
    });
    h.fake.setKeyBehaviour(OPENAI_KEYS[2], { kind: 'status', status: 429, headers: { 'retry-after': '5' } });
    for (let i = 0; i < 4; i++) await send('/v1/chat/completions', chat);
    for (const k of ANTHROPIC_KEYS)
      h.fake.setKeyBehaviour(k, {
        kind: 'status',
        status: 400,
        body: JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: `bad request for ${k}` },
        }),
      });
    await send('/v1/messages', msg, { 'x-api-key': TOKEN });
    h.fake.setKeyBehaviour(ANTHROPIC_KEYS[0], { kind: 'stream-error-first' });
    h.fake.setKeyBehaviour(ANTHROPIC_KEYS[1], { kind: 'status', status: 402 });
    h.fake.setKeyBehaviour(ANTHROPIC_KEYS[2], { kind: 'stall-headers' });
    for (let i = 0; i < 3; i++) await send('/v1/messages', { ...msg, stream: true }, { 'x-api-key': TOKEN });
    await send('/v1/chat/completions', chat, {});
    await send('/v1/chat/completions', chat, { authorization: `Bearer ${OPENAI_KEYS[0]}` });

    const status = await request(`${h.endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    outputs.push(await status.body.text());
    outputs.push(JSON.stringify(h.pool.snapshot()), JSON.stringify(h.stats.snapshot()), h.log.lines.join('\n'));
    await h.proxy.stop(0);
    // One request-log line per forwarded request, written where the one trace line is.
    const forwarded = h.log.lines.filter((l) => l.startsWith('trace ')).length;
    assert.ok(forwarded >= 10, `${forwarded} requests forwarded`);
    h.proxy.dispose(); // ends the request log's stream; its last lines reach the file after this
    const lines = () => readdirSync(logDir).flatMap((f) => readFileSync(join(logDir, f), 'utf8').split('\n'));
    await untilWritten(logDir, () => lines().filter(Boolean).length >= forwarded, `${forwarded} request-log lines`);
    const files = readdirSync(logDir);
    assert.equal(files.length, 1, 'the request log was written');
    const logged = readFileSync(join(logDir, files[0]), 'utf8');
    assert.equal(logged.split('\n').filter(Boolean).length, forwarded, 'one line per request');
    assert.ok(logged.endsWith('\n'), 'the last line is whole');
    assert.match(logged, /"model":"gpt-4o"/);
    outputs.push(logged);

    const all = outputs.join('\n');
    assertNoKeys(all, 'captured outputs');
    // The captured text is not empty of the masked forms: the test would see a leak if there were one.
    assert.match(all, /sk-…1111|sk-…2222|…1111/);
    // An echoed key reads as the same masked form the key's views show.
    const shown = h.pool
      .list()
      .filter((k) => k.providerId === 'anthropic')
      .map((k) => `bad request for ${k.masked}`);
    assert.ok(
      shown.some((s) => all.includes(s)),
      `the 400 body names the key as one of: ${shown.join(', ')}`,
    );
    for (const k of ALL_KEYS) assert.ok(!all.includes(k.slice(-12)), 'not even a long tail of a key');
  });
});
