import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { readRecentEntries } from '../../src/core/accounting/requestLog';
import { assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

type Doc = Record<string, any>;

/** Resolves once the log folder holds `n` whole entries (a watch on the folder, bounded). */
function untilEntries(dir: string, n: number, timeoutMs = 5000): Promise<Doc[]> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, () => check());
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${n} request-log entries`)), timeoutMs);
    function finish(err?: Error, docs?: Doc[]): void {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve(docs!);
    }
    function check(): void {
      const entries = readRecentEntries(dir, n);
      if (entries.length >= n) finish(undefined, entries.map((e) => e.doc).reverse());
    }
    check();
  });
}

/** The full request log through the real SDKs: what a user debugging a client sees in it. */
suite('request log with bodies', () => {
  let h: Harness;
  let dir: string;

  setup(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-fullreqlog-'));
    // The fake streams the key it saw in the answer's text: the log must mask it there too.
    h = await startHarness({ config: { requestLogDir: dir }, fake: { echoKey: true } });
  });
  teardown(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('streams are reassembled into text, tool calls and usage; attempts and key labels listed; no secret', async () => {
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    // The first key is rate limited: the entry lists two attempts.
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    let text = '';
    let args = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      args += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
    }
    const message = await anthropic.messages
      .stream({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    const plain = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });

    const [chat, claude, json] = await untilEntries(dir, 3);
    /** What the client read, with each key the fake echoed in its masked form. */
    const masked = (t: string): string => h.pool.list().reduce((acc, k) => acc.replaceAll(k.secret, k.masked), t);
    // The stream, as the client read it, in one piece.
    assert.equal(chat.request.body.messages[0].content, 'weather?');
    assert.equal(chat.response.status, 200);
    assert.match(chat.response.contentType, /^text\/event-stream/);
    assert.equal(chat.response.stream.text, masked(text));
    assert.equal(chat.response.stream.toolCalls[0].name, 'get_weather');
    assert.equal(chat.response.stream.toolCalls[0].arguments, args);
    assert.ok(chat.response.stream.usage.completion_tokens > 0);
    assert.deepEqual(
      chat.tries.map((t: Doc) => [t.key, t.status, t.outcome]),
      [
        ['openai-1 (sk-…1111)', 429, 'rate-limited'],
        ['openai-2 (sk-…2222)', 200, 'success'],
      ],
    );
    assert.equal(chat.key, 'openai-2 (sk-…2222)');
    assert.equal(chat.attempts, 2);
    assert.ok(chat.ms >= chat.ttfbMs);

    const blocks = message.content.filter((c) => c.type === 'text').map((c) => (c.type === 'text' ? c.text : ''));
    assert.ok(claude.response.stream.text.length > 0);
    assert.notEqual(masked(blocks.join('')), blocks.join(''), 'the fake did echo a key: the masking is tested');
    assert.equal(claude.response.stream.text, masked(blocks.join('')), 'the same answer, key masked');
    assert.ok(claude.response.stream.usage.output_tokens > 0);
    assert.equal(json.response.body.choices[0].message.content, masked(plain.choices[0].message.content!));

    await h.proxy.stop(0);
    h.proxy.dispose();
    const files = readdirSync(dir);
    const all = files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    assertNoKeys(all, 'the request log');
    assert.ok(!all.includes(TOKEN.slice(-12)), 'not the token either');
    if (process.platform !== 'win32') for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
  });

  test('stop() returns with every answered request on disk: a process that exits next loses no line', async () => {
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    // Answers that come while stop() waits out its grace: their lines are written at its very end.
    for (const key of OPENAI_KEYS) h.fake.setKeyBehaviour(key, { kind: 'delay-headers', ms: 300 });
    const content = 'x'.repeat(20_000);
    const answers = Promise.all(
      Array.from({ length: 6 }, () =>
        openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
      ),
    );
    await h.fake.waitFor(() => h.fake.requests.length === 6, 'six requests upstream');
    // As the CLI does on SIGTERM: stop, then read (it would exit) without waiting for anything.
    await h.proxy.stop(5_000);
    const lines = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('')
      .split('\n')
      .filter(Boolean);
    assert.equal(lines.length, 6);
    for (const line of lines) assert.equal(JSON.parse(line).request.body.messages[0].content.length, 20_000);
    assert.equal((await answers).length, 6);
  });

  test("fallback mode: the client's own key answers, is logged as such and never appears", async () => {
    h.pool.setKeys(h.pool.list().filter((k) => k.providerId === 'openai'));
    const own = 'sk-ant-client-own-key-777777777777';
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: own, maxRetries: 0 });
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'mine' }],
    });
    assert.ok(JSON.stringify(m.content).includes(own), 'the fake echoed the key: the masking below is tested');
    const [entry] = await untilEntries(dir, 1);
    assert.deepEqual(
      entry.tries.map((t: Doc) => [t.key, t.status]),
      [["the client's own key", 200]],
    );
    assert.equal(entry.response.body.type, 'message');
    const all = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('');
    assert.ok(!all.includes(own), "the client's key is masked in its answer too");
  });

  test('a body KeyRelay rewrote (reasoning level, provider prefix) is logged as sent, next to the client one', async () => {
    h.proxy.updateConfig({ ...h.config, reasoning: 'high' });
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'openai/gpt-5', messages: [{ role: 'user', content: 'deep' }] });
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'as is' }] });
    const [rewritten, untouched] = await untilEntries(dir, 2);
    assert.equal(rewritten.request.body.model, 'openai/gpt-5');
    assert.equal(rewritten.request.body.reasoning_effort, undefined);
    assert.equal(rewritten.request.sentUpstream.model, 'gpt-5');
    assert.equal(rewritten.request.sentUpstream.reasoning_effort, 'high');
    assert.equal(untouched.request.sentUpstream, undefined, 'gpt-4o takes no reasoning field: sent as it came');
  });
});
