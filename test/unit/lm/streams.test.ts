import * as assert from 'node:assert/strict';
import { LmError } from '../../../src/core/lm/lmError';
import type { LmStreamEvent } from '../../../src/core/lm/messages';
import { SseParser } from '../../../src/core/lm/sse';
import type { SseEvent } from '../../../src/core/lm/sse';
import { streamReader } from '../../../src/core/lm/streamReaders';
import { anthropicShape } from '../../fakes/upstreamAnthropic';
import { openaiShape } from '../../fakes/upstreamOpenAI';
import type { FakeCall, ShapeReply } from '../../fakes/upstreamServer';

const TOOL = {
  name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
};

/** The SSE bytes the fake upstream would send for a call (the same generator the proxy tests use). */
function fakeStream(shape: 'openai' | 'anthropic', body: Record<string, any>): string {
  const call: FakeCall = {
    method: 'POST',
    path: shape === 'openai' ? '/v1/chat/completions' : '/v1/messages',
    body: { stream: true, ...body },
    model: 'm',
    key: 'k',
    stream: true,
    deltas: ['Hello', ' from', ' the'],
    inputTokens: 12,
    models: { openai: [], anthropic: [] },
  };
  const reply = (shape === 'openai' ? openaiShape : anthropicShape).handle(call) as Extract<
    ShapeReply,
    { type: 'sse' }
  >;
  return reply.events.join('');
}

/** Feeds `bytes` cut into `size`-byte pieces through parser and reader; returns every event. */
function read(shape: 'openai' | 'anthropic', bytes: Buffer, size: number): LmStreamEvent[] {
  const parser = new SseParser();
  const reader = streamReader(shape, 'Prov');
  const out: LmStreamEvent[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    for (const e of parser.feed(bytes.subarray(i, i + size))) out.push(...reader.push(e));
  }
  for (const e of parser.end()) out.push(...reader.push(e));
  out.push(...reader.finish());
  return out;
}

const textOf = (events: LmStreamEvent[]) => events.map((e) => (e.kind === 'text' ? e.text : '')).join('');

suite('lm: server-sent events', () => {
  test('events, comments, multi-line data, CRLF and CR line ends, whatever the chunking', () => {
    const raw = ': keep-alive\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata:x\r\rdata: é€😀\n\nevent: only-name\n\n';
    const bytes = Buffer.from(raw);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const p = new SseParser();
      const got: SseEvent[] = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...p.feed(bytes.subarray(i, i + size)));
      got.push(...p.end());
      assert.deepEqual(
        got,
        [
          { event: 'a', data: '1\n2' },
          { event: undefined, data: 'x' },
          { event: undefined, data: 'é€😀' },
        ],
        `chunks of ${size}`,
      );
    }
  });

  test('a last event without its blank line is delivered at the end', () => {
    const p = new SseParser();
    assert.deepEqual(p.feed(Buffer.from('data: tail')), []);
    assert.deepEqual(p.end(), [{ event: undefined, data: 'tail' }]);
  });
});

suite('lm: OpenAI stream reader', () => {
  test('text deltas and usage, byte by byte or whole', () => {
    const bytes = Buffer.from(fakeStream('openai', { stream_options: { include_usage: true } }));
    for (const size of [1, 5, bytes.length]) {
      const events = read('openai', bytes, size);
      assert.equal(textOf(events), 'Hello from the');
      assert.deepEqual(events.at(-1), { kind: 'usage', inputTokens: 12, outputTokens: 3 });
    }
  });

  test('streamed tool-call arguments join into one complete call at finish_reason', () => {
    const events = read(
      'openai',
      Buffer.from(fakeStream('openai', { tools: [{ type: 'function', function: TOOL }] })),
      9,
    );
    const calls = events.filter((e) => e.kind === 'toolCall');
    assert.equal(calls.length, 1);
    assert.deepEqual(
      { ...calls[0], callId: 'x' },
      { kind: 'toolCall', callId: 'x', name: 'get_weather', input: { city: 'fake', days: 1 } },
    );
    assert.match((calls[0] as { callId: string }).callId, /^call_/);
  });

  test('parallel calls by index, calls without index, a call pending at the end, empty arguments', () => {
    const reader = streamReader('openai', 'Prov');
    const data = (o: unknown) => ({ data: JSON.stringify(o) });
    const tc = (tool_calls: unknown[]) => data({ choices: [{ delta: { tool_calls } }] });
    assert.deepEqual(reader.push(tc([{ index: 1, id: 'b', function: { name: 'two', arguments: '{"n":' } }])), []);
    reader.push(tc([{ index: 0, id: 'a', function: { name: 'one', arguments: '' } }]));
    reader.push(tc([{ index: 1, function: { arguments: '2}' } }]));
    const out = reader.push({ data: '[DONE]' });
    assert.deepEqual(out, [
      { kind: 'toolCall', callId: 'a', name: 'one', input: {} },
      { kind: 'toolCall', callId: 'b', name: 'two', input: { n: 2 } },
    ]);
    reader.push(tc([{ id: 'w', function: { name: 'whole', arguments: '[1]' } }]));
    assert.deepEqual(reader.finish(), [{ kind: 'toolCall', callId: 'w', name: 'whole', input: { value: [1] } }]);
  });

  test('an error event, bad JSON and unparsable arguments become LmErrors that say so', () => {
    const reader = streamReader('openai', 'Prov');
    assert.throws(
      () => reader.push({ data: '{"error":{"message":"overloaded","type":"server_error"}}' }),
      (e: unknown) =>
        e instanceof LmError &&
        e.kind === 'upstream' &&
        /Prov failed mid-answer \(server_error\): overloaded/.test(e.message),
    );
    assert.throws(() => reader.push({ data: '{nope' }), /not JSON/);
    reader.push({
      data: JSON.stringify({
        choices: [{ delta: { tool_calls: [{ index: 0, id: 'a', function: { name: 't', arguments: '{"a"' } }] } }],
      }),
    });
    assert.throws(() => reader.finish(), /arguments for tool "t" that are not valid JSON/);
  });
});

suite('lm: Anthropic stream reader', () => {
  test('text deltas, input tokens at the start and output tokens at the end', () => {
    const events = read('anthropic', Buffer.from(fakeStream('anthropic', {})), 4);
    assert.equal(textOf(events), 'Hello from the');
    assert.deepEqual(events[0], { kind: 'usage', inputTokens: 12, outputTokens: 1 });
    assert.deepEqual(events.at(-1), { kind: 'usage', outputTokens: 3 });
  });

  test('input_json_delta fragments join into the tool call at content_block_stop', () => {
    const stream = fakeStream('anthropic', { tools: [{ name: TOOL.name, input_schema: TOOL.parameters }] });
    const events = read('anthropic', Buffer.from(stream), 13);
    assert.equal(textOf(events), "I'll use the tool.");
    const call = events.find((e) => e.kind === 'toolCall') as Extract<LmStreamEvent, { kind: 'toolCall' }>;
    assert.equal(call.name, 'get_weather');
    assert.match(call.callId, /^toolu_/);
    assert.deepEqual(call.input, { city: 'fake', days: 1 });
  });

  test('a block with its whole input and no deltas; a block left open; an error event; unknown events', () => {
    const reader = streamReader('anthropic', 'Anthropic');
    const ev = (o: unknown) => ({ data: JSON.stringify(o) });
    reader.push(
      ev({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 't1', name: 'n', input: { a: 1 } },
      }),
    );
    assert.deepEqual(reader.push(ev({ type: 'content_block_stop', index: 0 })), [
      { kind: 'toolCall', callId: 't1', name: 'n', input: { a: 1 } },
    ]);
    reader.push(
      ev({
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 't2', name: 'm', input: {} },
      }),
    );
    assert.deepEqual(
      reader.push(ev({ type: 'content_block_delta', index: 1, delta: { type: 'thinking_delta', thinking: 'hm' } })),
      [],
    );
    assert.deepEqual(reader.push(ev({ type: 'ping' })), []);
    assert.deepEqual(
      reader.push(ev({ type: 'content_block_start', index: 2, content_block: { type: 'text', text: 'hi' } })),
      [{ kind: 'text', text: 'hi' }],
    );
    assert.deepEqual(reader.finish(), [{ kind: 'toolCall', callId: 't2', name: 'm', input: {} }]);
    assert.throws(
      () => reader.push(ev({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })),
      /Anthropic failed mid-answer \(overloaded_error\): Overloaded/,
    );
  });
});
