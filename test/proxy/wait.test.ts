import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { APIError } from 'openai';
import OpenAI from 'openai';
import { DEFAULT_CONFIG } from '../../src/core/types';
import type { Behaviour, RecordedRequest } from '../fakes/upstreamServer';
import { until } from '../fakes/waits';
import { ANTHROPIC_KEYS, assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const limited = (seconds: number): Behaviour => ({
  kind: 'status',
  status: 429,
  headers: { 'retry-after': String(seconds) },
});

/**
 * The provider of issue 10: the first attempt of every client request is answered 429. Client
 * requests are told apart by a run id the test puts in the prompt.
 */
function firstAttemptLimited(seconds: number): (r: RecordedRequest) => Behaviour | undefined {
  const seen = new Set<string>();
  return (r) => {
    const id = /run-\d+/.exec(r.body)?.[0];
    if (id === undefined || seen.has(id)) return undefined;
    seen.add(id);
    return limited(seconds);
  };
}

const tools = [
  {
    type: 'function' as const,
    function: {
      name: 'read_file',
      description: 'Read a file',
      parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
    },
  },
];
const anthropicTools = [
  {
    name: 'read_file',
    description: 'Read a file',
    input_schema: { type: 'object' as const, properties: { path: { type: 'string' } }, required: ['path'] },
  },
];

/** DESIGN §5.4 and issue 10.1: every key cooling, one frees in time → the request waits, then goes on. */
suite('all keys cooling: the wait for the first key that frees', () => {
  let h: Harness | undefined;
  teardown(async () => {
    await h?.close();
    h = undefined;
  });

  test('the default wait is 30 s, in the core and in the editor setting', () => {
    assert.equal(DEFAULT_CONFIG.maxWaitMs, 30_000);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
    assert.equal(pkg.contributes.configuration.properties['keyRelay.retry.maxWaitSeconds'].default, 30);
  });

  test('one key, 429 retry-after 2 then 200: the client gets 200 and the key is tried again after its cooldown', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxWaitMs: 5_000 } });
    let calls = 0;
    h.fake.setRequestRule(() => (++calls === 1 ? limited(2) : undefined));
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(r.choices[0].message.content);
    assert.equal(h.fake.requests.length, 2, 'the upstream sees the 429 and then the retry');
    const [first, second] = h.fake.requests;
    assert.equal(second.key, OPENAI_KEYS[0]);
    // The retry respects the key's cooldown: it is sent no sooner than the retry-after said.
    assert.ok(second.at - first.at >= 1_900, `retried after ${second.at - first.at} ms`);
    const t = h.stats.totals().total;
    assert.equal(t.requests, 1, 'one client request');
    assert.equal(t.successes, 1);
  });

  test('a cooldown longer than maxWaitMs: the clear 429 at once, no wait, one upstream call', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxWaitMs: 1_000 } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], limited(5));
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      (err: APIError) => {
        assert.equal(err.status, 429);
        assert.equal((err.error as { type?: string }).type, 'keyrelay_all_keys_cooling');
        assert.ok(Number(err.headers?.get('retry-after')) >= 4);
        return true;
      },
    );
    assert.equal(h.fake.requests.length, 1);
  });

  test('maxWaitMs 0 turns the wait off', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxWaitMs: 0 } });
    let calls = 0;
    h.fake.setRequestRule(() => (++calls === 1 ? limited(1) : undefined));
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      { status: 429 },
    );
    assert.equal(h.fake.requests.length, 1);
  });

  test('a client that disconnects while waiting ends the wait at once; nothing more goes upstream', async () => {
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] }, config: { maxWaitMs: 30_000 } });
    const harness = h;
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], limited(20));
    const ctl = new AbortController();
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const call = openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
      { signal: ctl.signal },
    );
    await h.fake.waitForRequests(1);
    ctl.abort();
    await assert.rejects(call);
    // The proxy records the request when it lets go of it: within a bound far below the 20 s wait.
    await until(
      harness.stats.onDidChange,
      () => harness.stats.totals().total.requests === 1,
      'the request ended',
      3_000,
    );
    assert.equal(h.stats.totals().total.failures.aborted, 1);
    assert.equal(h.fake.requests.length, 1);
  });

  test('three keys, the first attempt of every request 429 (retry-after 2 s): every SDK call succeeds, none sees a 429', async function () {
    this.timeout(60_000);
    h = await startHarness(); // default config: the default wait
    h.fake.setRequestRule(firstAttemptLimited(2));
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
    let run = 0;
    const calls: Array<() => Promise<unknown>> = [
      () => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `run-${++run}` }] }),
      async () => {
        const s = await openai.chat.completions.create({
          model: 'gpt-4o',
          stream: true,
          tools,
          messages: [{ role: 'user', content: `run-${++run}` }],
        });
        let chunks = 0;
        for await (const _ of s) chunks++;
        assert.ok(chunks > 0);
      },
      () =>
        anthropic.messages.create({
          model: 'claude-sonnet-4-6',
          max_tokens: 64,
          tools: anthropicTools,
          messages: [{ role: 'user', content: `run-${++run}` }],
        }),
      async () => {
        const s = anthropic.messages.stream({
          model: 'claude-sonnet-4-6',
          max_tokens: 64,
          messages: [{ role: 'user', content: `run-${++run}` }],
        });
        await s.finalMessage();
      },
    ];
    // Three clients at a time, three rounds over every kind of call: 36 requests.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < calls.length; i += 1) {
        await Promise.all([calls[i](), calls[(i + 1) % calls.length](), calls[(i + 2) % calls.length]()]);
      }
    }
    const t = h.stats.totals().total;
    assert.equal(t.requests, 36);
    assert.equal(t.successes, 36, 'every client request succeeded');
    assert.ok(h.fake.requests.length > 36, 'the first attempts were rate-limited');
    assertNoKeys(h.log.lines.join('\n'), 'the log');
    assert.ok(ANTHROPIC_KEYS.every((k) => h!.fake.countsByKey()[k] > 0));
  });
});
