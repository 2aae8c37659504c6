import * as assert from 'node:assert/strict';
import { request } from 'undici';
import { OpenAI } from 'openai';
import { Anthropic } from '@anthropic-ai/sdk';
import { FakeUpstream } from '../fakes/upstreamServer';

// The fake must be faithful enough that the real SDKs parse it; these tests prove that, then the failures.
const KEY = 'sk-test-abcdefghijklmnop1234',
  KEY2 = 'sk-test-qrstuvwxyzABCDEF5678';
const ANT = 'sk-ant-api03-test-abcdefghij9876';
const WEATHER = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer' } },
  required: ['city'],
};

/** Splits an SSE body into its events: `{ event?, data }`. */
const sse = (text: string): Array<{ event?: string; data: string }> =>
  text
    .split('\n\n')
    .filter(Boolean)
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)?.[1], data: /^data: (.*)$/m.exec(b)?.[1] ?? '' }));
const post = (fake: FakeUpstream, path: string, body: unknown, headers: Record<string, string>, signal?: AbortSignal) =>
  request(`${fake.url}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    signal,
  });
const json = async (res: { body: { json(): Promise<unknown> } }): Promise<any> => res.body.json();
const bearer = (k: string): Record<string, string> => ({ authorization: `Bearer ${k}` });
const antHeaders = (k: string): Record<string, string> => ({ 'x-api-key': k, 'anthropic-version': '2023-06-01' });
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
const MSG = { model: 'claude-opus-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

suite('FakeUpstream', () => {
  let fake: FakeUpstream;
  setup(async () => {
    fake = await FakeUpstream.start({ keys: [KEY, KEY2, ANT] });
  });
  teardown(async () => {
    await fake.close();
  });

  suite('OpenAI shape over undici', () => {
    test('non-streaming chat echoes the model and carries usage and realistic headers', async () => {
      const res = await post(fake, '/v1/chat/completions', CHAT, bearer(KEY));
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      assert.match(String(res.headers['x-request-id']), /^req_/);
      assert.ok(res.headers['openai-processing-ms'] && res.headers['x-ratelimit-remaining-requests']);
      const body = await json(res);
      assert.equal(body.model, 'gpt-4o-mini');
      assert.equal(body.choices[0].finish_reason, 'stop');
      assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
      assert.deepEqual([fake.requests[0].key, fake.requests[0].model], [KEY, 'gpt-4o-mini']);
    });

    test('streaming chat sends one chunk per delta, a usage chunk when asked, then [DONE]', async () => {
      const res = await post(
        fake,
        '/v1/chat/completions',
        { ...CHAT, stream: true, stream_options: { include_usage: true } },
        { ...bearer(KEY), 'x-fake-chunks': '3' },
      );
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      const events = sse(await res.body.text());
      assert.equal(events.at(-1)?.data, '[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      assert.equal(chunks.filter((c) => c.choices[0]?.delta?.content).length, 3);
      assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
      assert.deepEqual(chunks.at(-1).choices, []);
      assert.equal(chunks.at(-1).usage.completion_tokens, 3);
    });

    test('missing and unknown keys get 401 in OpenAI shape', async () => {
      const none = await post(fake, '/v1/chat/completions', CHAT, {});
      assert.equal(none.statusCode, 401);
      assert.match((await json(none)).error.message, /didn't provide an API key/);
      const bad = await post(fake, '/v1/chat/completions', CHAT, bearer('sk-test-unknownkey000000'));
      const err = (await json(bad)).error;
      assert.deepEqual([bad.statusCode, err.code], [401, 'invalid_api_key']);
      assert.ok(!err.message.includes('sk-test-unknownkey000000'), 'the key is masked, as upstream does');
    });

    test('unknown path is 404, bad JSON is 400', async () => {
      const nf = await post(fake, '/v1/nope', {}, bearer(KEY));
      assert.deepEqual([nf.statusCode, (await json(nf)).error.type], [404, 'invalid_request_error']);
      const bad = await request(`${fake.url}/v1/chat/completions`, { method: 'POST', body: '{', headers: bearer(KEY) });
      assert.deepEqual([bad.statusCode, (await json(bad)).error.type], [400, 'invalid_request_error']);
    });

    test('fim and legacy completions answer in their shapes', async () => {
      const fim = await post(
        fake,
        '/v1/fim/completions',
        { model: 'codestral-latest', prompt: 'def f(', suffix: ')' },
        bearer(KEY),
      );
      assert.equal((await json(fim)).choices[0].message.role, 'assistant');
      const cmpl = await post(
        fake,
        '/v1/completions',
        { model: 'gpt-3.5-turbo-instruct', prompt: 'x', stream: true },
        bearer(KEY),
      );
      const events = sse(await cmpl.body.text());
      assert.deepEqual([events.at(-1)?.data, JSON.parse(events[0].data).object], ['[DONE]', 'text_completion']);
    });
  });

  suite('real openai SDK', () => {
    const client = (): OpenAI => new OpenAI({ apiKey: KEY, baseURL: fake.openaiBase, maxRetries: 0 });
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: WEATHER } }];

    test('chat: non-streaming, streaming with usage, and tools both ways', async () => {
      const c = client();
      const req = { ...CHAT, messages: [{ role: 'user' as const, content: 'hi' }] };
      assert.equal((await c.chat.completions.create(req)).choices[0].message.content, 'Hello from the fake upstream');
      const final = await c.chat.completions
        .stream({ ...req, stream_options: { include_usage: true } })
        .finalChatCompletion();
      assert.deepEqual(
        [final.choices[0].message.content, final.usage?.completion_tokens],
        ['Hello from the fake upstream', 5],
      );
      const nonStream = await c.chat.completions.create({ ...req, tools });
      assert.equal(nonStream.choices[0].finish_reason, 'tool_calls');
      const streamed = await c.chat.completions
        .stream({ ...req, tools, stream_options: { include_usage: true } })
        .finalChatCompletion();
      assert.equal(streamed.choices[0].finish_reason, 'tool_calls');
      const call = streamed.choices[0].message.tool_calls?.[0];
      assert.ok(call && call.type === 'function' && call.function.name === 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'fake', days: 1 });
      assert.ok(streamed.usage && streamed.usage.prompt_tokens > 0);
    });

    test('responses: non-streaming and streamed text and function call with usage', async () => {
      const c = client();
      const r = await c.responses.create({ model: 'gpt-5', input: 'hi' });
      assert.equal(r.output_text, 'Hello from the fake upstream');
      const s = await c.responses.stream({ model: 'gpt-5', input: 'hi' }).finalResponse();
      const msg = s.output[0];
      assert.equal(
        msg.type === 'message' && msg.content[0].type === 'output_text' && msg.content[0].text,
        'Hello from the fake upstream',
      );
      assert.equal(s.usage?.output_tokens, 5);
      const t = await c.responses
        .stream({
          model: 'gpt-5',
          input: 'hi',
          tools: [{ type: 'function', name: 'get_weather', parameters: WEATHER, strict: false }],
        })
        .finalResponse();
      const fc = t.output[0];
      assert.deepEqual(fc.type === 'function_call' && JSON.parse(fc.arguments), { city: 'fake', days: 1 });
    });

    test('embeddings (base64 by default) and models', async () => {
      const c = client();
      const e = await c.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] }); // SDK decodes base64
      assert.deepEqual([e.data.length, e.data[1].embedding.length], [2, 8]);
      assert.ok(Math.abs(e.data[0].embedding[7] - 8 / 64) < 1e-6);
      assert.ok((await c.models.list()).data.some((m) => m.id === 'gpt-4o'));
    });

    test('SDK errors: 429 is RateLimitError, stream-error-first and cut streams throw', async () => {
      const c = client();
      fake.setKeyBehaviour(KEY, { kind: 'status', status: 429 });
      await assert.rejects(
        c.chat.completions.create(CHAT as any),
        (e: any) => e instanceof OpenAI.RateLimitError && e.code === 'rate_limit_exceeded',
      );
      fake.setKeyBehaviour(KEY, { kind: 'stream-error-first' });
      await assert.rejects(
        c.chat.completions.stream(CHAT as any).finalChatCompletion(),
        (e: any) => e instanceof OpenAI.APIError,
      );
      fake.setKeyBehaviour(KEY, { kind: 'cut-mid-stream', afterChunks: 2 });
      await assert.rejects(c.chat.completions.stream(CHAT as any).finalChatCompletion());
    });
  });

  // This SDK version sends its apiKey as `Authorization: Bearer`; the real API accepts both.
  suite('Anthropic shape', () => {
    const client = (): Anthropic => new Anthropic({ apiKey: ANT, baseURL: fake.url, maxRetries: 0 });
    const tools = [{ name: 'get_weather', description: 'weather', input_schema: WEATHER as any }];

    test('SDK: non-streaming, streaming text with usage, streamed tool_use input', async () => {
      const c = client();
      const m = (await c.messages.create(MSG as any)) as any;
      assert.deepEqual([m.content[0].text, m.model], ['Hello from the fake upstream', 'claude-opus-4-6']);
      const s = await c.messages.stream(MSG as any).finalMessage();
      assert.equal((s.content[0] as any).text, 'Hello from the fake upstream');
      assert.ok(s.usage.input_tokens > 0 && s.usage.output_tokens === 5);
      const t = await c.messages.stream({ ...MSG, tools } as any).finalMessage();
      assert.equal(t.stop_reason, 'tool_use');
      assert.deepEqual((t.content.find((b) => b.type === 'tool_use') as any).input, { city: 'fake', days: 1 });
      assert.equal(fake.requests.at(-1)?.key, ANT);
      // count_tokens and the Anthropic-shaped model list
      assert.ok((await c.messages.countTokens({ model: MSG.model, messages: MSG.messages as any })).input_tokens > 0);
      assert.equal((await c.models.list()).data[0].type, 'model');
    });

    test('raw event sequence is the real one', async () => {
      const res = await post(
        fake,
        '/v1/messages',
        { ...MSG, stream: true },
        { ...antHeaders(ANT), 'x-fake-chunks': '2' },
      );
      assert.match(String(res.headers['request-id']), /^req_/);
      const names = sse(await res.body.text()).map((e) => e.event);
      assert.deepEqual(names, [
        'message_start',
        'content_block_start',
        'ping',
        'content_block_delta',
        'content_block_delta',
        'content_block_stop',
        'message_delta',
        'message_stop',
      ]);
    });

    test('anthropic-version is required (400); a missing or unknown key is 401', async () => {
      const noVersion = await post(fake, '/v1/messages', MSG, { 'x-api-key': ANT });
      assert.deepEqual([noVersion.statusCode, (await json(noVersion)).error.type], [400, 'invalid_request_error']);
      const noKey = await post(fake, '/v1/messages', MSG, { 'anthropic-version': '2023-06-01' });
      assert.deepEqual([noKey.statusCode, (await json(noKey)).error.message], [401, 'x-api-key header is required']);
      const unknown = await post(fake, '/v1/messages', MSG, antHeaders('sk-ant-api03-unknown-000000'));
      assert.deepEqual([unknown.statusCode, (await json(unknown)).error.type], [401, 'authentication_error']);
    });

    test('SDK: 429 / 529 / stream error event map to the SDK error classes', async () => {
      const c = client();
      fake.setKeyBehaviour(ANT, { kind: 'status', status: 429 });
      await assert.rejects(c.messages.create(MSG as any), (e: any) => e instanceof Anthropic.RateLimitError);
      fake.setKeyBehaviour(ANT, { kind: 'status', status: 529 });
      await assert.rejects(
        c.messages.create(MSG as any),
        (e: any) => e.status === 529 && e.error?.error?.type === 'overloaded_error',
      );
      fake.setKeyBehaviour(ANT, { kind: 'stream-error-first' });
      await assert.rejects(
        c.messages.stream(MSG as any).finalMessage(),
        (e: any) => e instanceof Anthropic.APIError && e.error?.error?.type === 'overloaded_error',
      );
    });
  });

  suite('behaviours', () => {
    test('status defaults: OpenAI 429 with retry-after, 402 insufficient_quota, Anthropic 429 with reset', async () => {
      fake.setKeyBehaviour(KEY, { kind: 'status', status: 429 });
      const r429 = await post(fake, '/v1/chat/completions', CHAT, bearer(KEY));
      assert.equal(r429.statusCode, 429);
      assert.equal(r429.headers['retry-after'], '1');
      assert.deepEqual((await json(r429)).error, {
        message: 'Rate limit reached for requests. Please try again in 1s.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      });
      fake.setKeyBehaviour(KEY, { kind: 'status', status: 402 });
      const r402 = await post(fake, '/v1/chat/completions', CHAT, bearer(KEY));
      assert.equal((await json(r402)).error.code, 'insufficient_quota');
      fake.setKeyBehaviour(ANT, { kind: 'status', status: 429 });
      const a429 = await post(fake, '/v1/messages', MSG, antHeaders(ANT));
      assert.ok(Date.parse(String(a429.headers['anthropic-ratelimit-requests-reset'])) > Date.now() - 1000);
      assert.equal((await json(a429)).error.type, 'rate_limit_error');
      fake.setKeyBehaviour(KEY, {
        kind: 'status',
        status: 503,
        headers: { 'retry-after-ms': '250' },
        body: 'upstream sad',
      });
      const custom = await post(fake, '/v1/embeddings', { model: 'e', input: 'x' }, bearer(KEY));
      assert.deepEqual(
        [custom.statusCode, custom.headers['retry-after-ms'], await custom.body.text()],
        [503, '250', 'upstream sad'],
      );
    });

    test('stream-error-first: OpenAI data error line, Anthropic error event', async () => {
      fake.setKeyBehaviour(KEY, { kind: 'stream-error-first' });
      const o = await post(fake, '/v1/chat/completions', { ...CHAT, stream: true }, bearer(KEY));
      assert.deepEqual([o.statusCode, JSON.parse(sse(await o.body.text())[0].data).error.type], [200, 'server_error']);
      fake.setKeyBehaviour(ANT, { kind: 'stream-error-first' });
      const a = await post(fake, '/v1/messages', { ...MSG, stream: true }, antHeaders(ANT));
      const first = sse(await a.body.text())[0];
      assert.deepEqual([first.event, JSON.parse(first.data).error.type], ['error', 'overloaded_error']);
    });

    test('cut-mid-stream delivers n events, then the connection ends without the final chunk', async () => {
      fake.setKeyBehaviour(KEY, { kind: 'cut-mid-stream', afterChunks: 2 });
      const res = await post(fake, '/v1/chat/completions', { ...CHAT, stream: true }, bearer(KEY));
      let got = '';
      await assert.rejects(
        (async () => {
          for await (const c of res.body) got += String(c);
        })(),
      );
      assert.equal(sse(got).length, 2);
      assert.equal(fake.requests[0].aborted, false, 'a cut we made is not a client abort');
    });

    test('stall-headers never answers; the client giving up is recorded as an abort', async () => {
      fake.setKeyBehaviour(KEY, { kind: 'stall-headers' });
      await assert.rejects(post(fake, '/v1/chat/completions', CHAT, bearer(KEY), AbortSignal.timeout(100)));
      const rec = await fake.waitForAbort(2000);
      assert.deepEqual([rec.key, rec.aborted], [KEY, true]);
    });

    test('stall-mid-stream keeps the socket open after n events; client abort is seen', async () => {
      fake.setKeyBehaviour(ANT, { kind: 'stall-mid-stream', afterChunks: 3 });
      const ac = new AbortController();
      const res = await post(fake, '/v1/messages', { ...MSG, stream: true }, antHeaders(ANT), ac.signal);
      let text = '';
      let threeArrived!: () => void;
      const arrived = new Promise<void>((resolve) => (threeArrived = resolve));
      const reading = (async () => {
        for await (const c of res.body) {
          text += String(c);
          if (sse(text).length >= 3) threeArrived();
        }
      })();
      await arrived;
      // The three events are all the fake wrote: nothing more is on its way, and the response is open.
      const rec = fake.requests[0];
      assert.deepEqual(
        [sse(text).length, rec.bytesOut, rec.ended, fake.openConnections],
        [3, Buffer.byteLength(text), false, 1],
      );
      ac.abort();
      await assert.rejects(reading);
      assert.equal((await fake.waitForAbort(2000)).path, '/v1/messages');
    });

    test('delay-headers answers late; redirect is a bare 302', async () => {
      fake.setKeyBehaviour(KEY, { kind: 'delay-headers', ms: 80 });
      const t0 = Date.now();
      await (await post(fake, '/v1/chat/completions', CHAT, bearer(KEY))).body.dump();
      assert.ok(Date.now() - t0 >= 70);
      fake.setKeyBehaviour(KEY, { kind: 'redirect', location: 'http://127.0.0.1:1/elsewhere' });
      const r = await post(fake, '/v1/chat/completions', CHAT, bearer(KEY));
      await r.body.dump();
      assert.deepEqual([r.statusCode, r.headers.location], [302, 'http://127.0.0.1:1/elsewhere']);
    });

    test('chunkDelayMs spaces events out: the first arrives well before the last', async () => {
      const res = await post(
        fake,
        '/v1/chat/completions',
        { ...CHAT, stream: true },
        { ...bearer(KEY), 'x-fake-chunk-delay-ms': '30', 'x-fake-chunks': '4' },
      );
      const t0 = Date.now(),
        times: number[] = [];
      for await (const _ of res.body) times.push(Date.now() - t0);
      assert.ok(times.length >= 3, `several writes arrived separately (${times.length})`);
      assert.ok(times.at(-1)! - times[0] >= 100, `spread ${times.at(-1)! - times[0]} ms`);
    });
  });

  suite('recording and lifecycle', () => {
    test('echoKey, countsByKey, reset, connection counts', async () => {
      fake.echoKey = true;
      const a = await post(fake, '/v1/chat/completions', CHAT, bearer(KEY2));
      assert.match((await json(a)).choices[0].message.content, new RegExp(`key=${KEY2}`));
      await (await post(fake, '/v1/chat/completions', CHAT, bearer(KEY))).body.dump();
      await (await post(fake, '/v1/chat/completions', CHAT, bearer(KEY))).body.dump();
      assert.deepEqual(fake.countsByKey(), { [KEY2]: 1, [KEY]: 2 });
      assert.ok(fake.connectionsOpened >= 1);
      fake.reset();
      assert.deepEqual([fake.requests.length, fake.echoKey], [0, true], 'reset forgets requests, not knobs');
    });

    test('an open-key server accepts any key; close() ends stalled sockets at once', async () => {
      const open = await FakeUpstream.start();
      try {
        open.setKeyBehaviour('sk-test-staller000000000', { kind: 'stall-headers' });
        const ok = await post(open, '/v1/chat/completions', CHAT, bearer('sk-test-anything00000000'));
        await ok.body.dump();
        assert.equal(ok.statusCode, 200);
        const pending = post(open, '/v1/chat/completions', CHAT, bearer('sk-test-staller000000000'));
        await open.waitForRequests(2);
        const t0 = Date.now();
        await open.close();
        await assert.rejects(pending);
        assert.ok(Date.now() - t0 < 500);
        assert.equal(open.requests[1].aborted, false, 'our own shutdown is not a client abort');
      } finally {
        await open.close().catch(() => undefined);
      }
    });

    test('handles 300 concurrent streams quickly', async () => {
      const t0 = Date.now();
      const all = Array.from({ length: 300 }, async (_, i) => {
        const res = await post(fake, '/v1/chat/completions', { ...CHAT, stream: true }, bearer(i % 2 ? KEY : KEY2));
        return sse(await res.body.text()).at(-1)?.data;
      });
      assert.ok((await Promise.all(all)).every((d) => d === '[DONE]'));
      assert.equal(fake.requests.length, 300);
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    });
  });
});
