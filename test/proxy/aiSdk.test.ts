import * as assert from 'node:assert/strict';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import type { LanguageModel } from 'ai';
import { z } from 'zod';
import { firstAttemptOfEachRequestLimited } from '../fakes/rateLimitRules';
import { assertNoKeys, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

// Issue 10's "Done when" for the Vercel AI SDK (`ai` with `@ai-sdk/openai` and `@ai-sdk/anthropic`),
// in-process: three keys per provider, a provider that answers 429 (retry-after 5 s) to the first
// attempt of every request, the SDK's own retries off. generateText and streamText each run a tool
// round trip (the fake calls the tool, the SDK runs it and sends the result, the fake answers in
// words): every call succeeds and no 429 reaches the SDK. One proxy for the whole suite, so the
// cooldowns pile up as in a working session and the wait for a freeing key is on the path.

const RUNS_PER_CASE = 2;

suite('the Vercel AI SDK through KeyRelay: every first attempt answered 429', function () {
  // Each request may wait up to the 5 s retry-after for a key; 12 runs of two requests stay far below.
  this.timeout(180_000);
  let h: Harness;
  let limiter: ReturnType<typeof firstAttemptOfEachRequestLimited>;
  let toolCalls = 0;
  const tools = {
    read_file: tool({
      description: 'Read a file',
      inputSchema: z.object({ path: z.string() }),
      execute: async ({ path }) => {
        toolCalls++;
        return `contents of ${path}`;
      },
    }),
  };

  suiteSetup(async () => {
    h = await startHarness();
    limiter = firstAttemptOfEachRequestLimited(5);
    h.fake.setRequestRule(limiter.rule);
  });
  suiteTeardown(async () => {
    await h?.close();
  });

  const openai = (): ReturnType<typeof createOpenAI> => createOpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN });
  const anthropic = (): ReturnType<typeof createAnthropic> =>
    createAnthropic({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN });
  const models: [string, () => LanguageModel][] = [
    ['OpenAI Responses', () => openai()('gpt-4o')],
    ['OpenAI chat', () => openai().chat('gpt-4o-mini')],
    ['Anthropic', () => anthropic()('claude-sonnet-4-6')],
  ];

  for (const [name, model] of models) {
    test(`${name}: generateText with a tool, ${RUNS_PER_CASE} runs, no 429 reaches the SDK`, async () => {
      const before = snapshot();
      for (let i = 1; i <= RUNS_PER_CASE; i++) {
        const r = await generateText({
          model: model(),
          prompt: `Read README.md (${name}, generate, run ${i})`,
          tools,
          stopWhen: stepCountIs(2),
          maxRetries: 0,
        });
        assert.equal(r.steps.length, 2, 'a tool call, then an answer in words');
        assert.equal(r.steps[0].toolCalls[0]?.toolName, 'read_file');
        assert.match(r.text, /Hello from the fake upstream/);
      }
      assertAllServed(before, 2 * RUNS_PER_CASE, false);
    });

    test(`${name}: streamText with a tool, ${RUNS_PER_CASE} runs, no 429 reaches the SDK`, async () => {
      const before = snapshot();
      for (let i = 1; i <= RUNS_PER_CASE; i++) {
        const errors: unknown[] = [];
        const r = streamText({
          model: model(),
          prompt: `Read README.md (${name}, stream, run ${i})`,
          tools,
          stopWhen: stepCountIs(2),
          maxRetries: 0,
          onError: ({ error }) => void errors.push(error),
        });
        let streamed = '';
        for await (const piece of r.textStream) streamed += piece;
        assert.deepEqual(errors, [], 'the stream reported an error');
        assert.equal((await r.steps).length, 2, 'a tool call, then an answer in words');
        assert.match(streamed, /Hello from the fake upstream/);
      }
      assertAllServed(before, 2 * RUNS_PER_CASE, true);
    });
  }

  interface Before {
    requests: number;
    successes: number;
    limited: number;
    toolCalls: number;
    seen: number;
  }
  function snapshot(): Before {
    const { requests, successes } = h.stats.totals().total;
    return { requests, successes, limited: limiter.limited(), toolCalls, seen: h.fake.requests.length };
  }

  /** Every client request since `before` was a success at KeyRelay, and the provider limited each one. */
  function assertAllServed(before: Before, n: number, streamed: boolean): void {
    const t = h.stats.totals().total;
    assert.equal(t.requests - before.requests, n, 'client requests');
    assert.equal(t.successes - before.successes, n, 'every client request succeeded');
    assert.equal(limiter.limited() - before.limited, n, 'the provider answered 429 to the first attempt of each');
    assert.equal(toolCalls - before.toolCalls, RUNS_PER_CASE, 'the SDK ran the tool once per run');
    // Streaming or not, as the SDK call asked: every upstream attempt since `before` says so.
    const posts = h.fake.requests.slice(before.seen).filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => /"stream":\s*true/.test(r.body)),
      posts.map(() => streamed),
    );
    assertNoKeys(h.log.lines.join('\n'), 'proxy log');
  }
});
