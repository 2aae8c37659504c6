import * as assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { assertNoKeys, OPENAI_KEYS, ANTHROPIC_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** The real SDKs, pointed at the proxy, cannot tell it from the provider. */
suite('proxy with the real openai and Anthropic SDKs', () => {
  let h: Harness;
  let openai: OpenAI;
  let anthropic: Anthropic;

  setup(async () => {
    h = await startHarness();
    openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 });
  });
  teardown(async () => {
    await h.close();
  });

  test('chat completion, non-streaming: a pool key goes upstream, never the token', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.model, 'gpt-4o');
    assert.ok(r.choices[0].message.content);
    const seen = h.fake.requests.at(-1)!;
    assert.ok(OPENAI_KEYS.includes(seen.key), 'upstream saw a pool key');
    assert.equal(seen.headers.authorization, `Bearer ${seen.key}`);
    assert.ok(!JSON.stringify(seen.headers).includes(TOKEN), 'the access token never goes upstream');
    assert.equal(h.stats.snapshot().total.successes, 1);
    assert.ok(h.stats.snapshot().total.inputTokens > 0, 'usage counted from the JSON body');
  });

  test('chat completion, streaming with usage and tool calls: deltas arrive and usage is counted', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
      ],
    });
    let args = '';
    let name = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      if (tc?.function?.arguments) args += tc.function.arguments;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(name, 'get_weather');
    assert.doesNotThrow(() => JSON.parse(args), 'streamed tool-call arguments join into JSON');
    assert.ok(usage && usage.completion_tokens > 0);
    const s = h.stats.snapshot().total;
    assert.equal(s.outputTokens, usage!.completion_tokens, 'streamed usage counted');
  });

  test('responses API streaming passes event: lines through', async () => {
    const stream = await openai.responses.create({ model: 'gpt-5', input: 'hi', stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(types.includes('response.output_text.delta'));
  });

  test('embeddings and /models without the /v1 prefix', async () => {
    const e = await new OpenAI({ baseURL: h.endpoint, apiKey: TOKEN, maxRetries: 0 }).embeddings.create({
      model: 'text-embedding-3-small',
      input: 'x',
    });
    assert.ok(e.data[0].embedding.length > 0);
    const models = await openai.models.list();
    const ids = models.data.map((m) => m.id);
    assert.ok(ids.length > 0, 'the union of configured providers');
  });

  test('anthropic messages, non-streaming and streaming, and count_tokens', async () => {
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(m.type, 'message');
    const seen = h.fake.requests.at(-1)!;
    assert.ok(ANTHROPIC_KEYS.includes(seen.key));
    assert.equal(seen.headers['x-api-key'], seen.key);
    assert.equal(seen.headers.authorization, undefined, 'Anthropic gets x-api-key only');

    const stream = anthropic.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const final = await stream.finalMessage();
    assert.ok(text.length > 0);
    assert.ok(final.usage.output_tokens > 0);

    const count = await anthropic.messages.countTokens({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.ok(count.input_tokens > 0);
  });

  test('anthropic streaming with tools: input_json deltas pass through', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const final = await stream.finalMessage();
    const tool = final.content.find((c) => c.type === 'tool_use');
    assert.ok(tool && tool.type === 'tool_use' && tool.name === 'get_weather');
  });

  test('SSE bytes arrive unchanged, event lines included', async () => {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 20,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
    const direct = await request(`${h.fake.url}/v1/messages`, {
      method: 'POST',
      body,
      headers: { ...headers, 'x-api-key': ANTHROPIC_KEYS[0] },
    });
    const viaProxy = await request(`${h.endpoint}/v1/messages`, {
      method: 'POST',
      body,
      headers: { ...headers, 'x-api-key': TOKEN },
    });
    const [a, b] = await Promise.all([direct.body.text(), viaProxy.body.text()]);
    const norm = (s: string) => s.replace(/"(id|request_id)":"[^"]*"/g, '"$1":"X"');
    assert.equal(viaProxy.headers['content-type'], direct.headers['content-type']);
    assert.equal(norm(b), norm(a));
    assert.match(b, /^event: message_start\n/);
  });

  test('no key text in the status JSON or the logs after all this', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const status = await request(`${h.endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await status.body.text();
    assert.equal(status.statusCode, 200);
    assertNoKeys(text, 'status JSON');
    assertNoKeys(h.log.lines.join('\n'), 'log');
    const parsed = JSON.parse(text) as { keys: Array<{ masked: string }> };
    assert.equal(parsed.keys.length, 6);
    assert.match(parsed.keys[0].masked, /…/);
  });
});
