import * as assert from 'node:assert/strict';
import { UsageScanner } from '../../../src/core/accounting/usage';
import { findTopLevelString } from '../../../src/core/proxy/bodyFields';

/** Real-shaped bodies, as the providers send them. */
const OPENAI_JSON = `{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4.1-2025-04-14",
  "choices": [
    {
      "index": 0,
      "message": { "role": "assistant", "content": "Report: \\"prompt_tokens\\": 5000 was the old count.", "refusal": null, "annotations": [] },
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": { "cached_tokens": 4, "audio_tokens": 0 },
    "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
  },
  "service_tier": "default"
}`;

const ANTHROPIC_JSON =
  '{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",' +
  '"content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,' +
  '"usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":200,"output_tokens":6,"service_tier":"standard"}}';

const OPENAI_SSE = [
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}\n\n',
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"The field \\"completion_tokens\\":777 is"},"finish_reason":null}],"usage":null}\n\n',
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n',
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n',
  'data: [DONE]\n\n',
].join('');

const ANTHROPIC_SSE = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
  'event: ping\ndata: {"type": "ping"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"{\\"output_tokens\\": 31337}"}}\n\n',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join('');

const RESPONSES_SSE = [
  'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-5","output":[],"usage":null}}\n\n',
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Say \\"input_tokens\\":999"}\n\n',
  'event: response.completed\ndata: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","model":"gpt-5","output":[],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}}}\n\n',
].join('');

/** Name, body, input, output, cache-read and cache-write tokens. */
type Case = [string, string, number, number, number, number | undefined];
const CASES: Case[] = [
  ['OpenAI JSON', OPENAI_JSON, 19, 10, 4, undefined],
  ['Anthropic JSON', ANTHROPIC_JSON, 12, 6, 200, 100],
  ['OpenAI SSE with include_usage', OPENAI_SSE, 9, 12, 0, undefined],
  ['Anthropic SSE', ANTHROPIC_SSE, 25, 15, 0, 0],
  ['Responses SSE', RESPONSES_SSE, 36, 87, 0, undefined],
];

function scan(chunks: Buffer[]): [number | undefined, number | undefined] {
  return scanAll(chunks).slice(0, 2) as [number | undefined, number | undefined];
}

function scanAll(chunks: Buffer[]): Array<number | undefined> {
  const s = new UsageScanner();
  for (const c of chunks) s.feed(c);
  return [s.inputTokens, s.outputTokens, s.cachedTokens, s.cacheWriteTokens];
}

suite('usage: UsageScanner', () => {
  for (const [name, text, inTok, outTok, cached, written] of CASES) {
    test(`${name}: whole, split at every byte, and in 1-byte chunks`, () => {
      const buf = Buffer.from(text);
      const all = [inTok, outTok, cached, written];
      assert.deepEqual(scanAll([buf]), all);
      for (let i = 1; i < buf.length; i++) {
        assert.deepEqual(scanAll([buf.subarray(0, i), buf.subarray(i)]), all, `split at ${i}`);
      }
      const bytes: Buffer[] = [];
      for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
      assert.deepEqual(scan(bytes), [inTok, outTok]);
      // Odd sized chunks, three-way splits around the usage block.
      for (const size of [3, 7, 31, 32, 33, 64]) {
        const parts: Buffer[] = [];
        for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
        assert.deepEqual(scan(parts), [inTok, outTok], `chunks of ${size}`);
      }
    });
  }

  test('nothing reported: both undefined; null usage ignored', () => {
    assert.deepEqual(scan([Buffer.from('{"usage":null,"text":"input_tokens"}')]), [undefined, undefined]);
    assert.deepEqual(scan([Buffer.from('{"usage":{"input_tokens":null,"output_tokens":4}}')]), [undefined, 4]);
    assert.deepEqual(scan([Buffer.alloc(0)]), [undefined, undefined]);
  });

  test('chunks long enough for the native search find the same fields as short ones', () => {
    // A decoy inside a string, then the real usage, with 600 bytes of padding around them.
    const pad = 'x'.repeat(600);
    const text = `{"text":"${pad} \\"prompt_tokens\\": 99","usage":{"prompt_tokens":7,"completion_tokens":8},"note":"${pad}"}`;
    const buf = Buffer.from(text);
    assert.deepEqual(scan([buf]), [7, 8]);
    const at = text.indexOf('"usage"');
    for (let i = at - 40; i < at + 70; i++)
      assert.deepEqual(scan([buf.subarray(0, i), buf.subarray(i)]), [7, 8], `split at ${i}`);
    // A short chunk after a long one: the tail is kept across both paths.
    assert.deepEqual(scan([buf.subarray(0, at + 20), buf.subarray(at + 20, at + 25), buf.subarray(at + 25)]), [7, 8]);
  });

  test('near misses of `_tokens"` before the real fields are skipped, at every chunk size', () => {
    // Partial and overlapping suffixes exercise the skip search (chunks below the native-search size).
    const text =
      '{"a":"_token\\"","_tokens":1,"x_tokens":2,"kens\\"":3,"__tokens_tokens":4,"t_tokens_":5,' +
      '"usage":{"prompt_tokens":11,"completion_tokens":12}}';
    const buf = Buffer.from(text);
    for (let size = 1; size <= buf.length; size++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
      assert.deepEqual(scan(parts), [11, 12], `chunks of ${size}`);
    }
  });

  test('a 4 MB stream still finds the final usage', () => {
    const filler = Buffer.from('data: {"choices":[{"delta":{"content":"' + 'x'.repeat(4000) + '"}}]}\n\n');
    const s = new UsageScanner();
    for (let i = 0; i < 1000; i++) s.feed(filler);
    s.feed(Buffer.from('data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'));
    assert.deepEqual([s.inputTokens, s.outputTokens], [1, 2]);
  });

  test("a long Anthropic stream: message_start's input at the head, message_delta's output at the tail", () => {
    const events = ANTHROPIC_SSE.split('\n\n').filter(Boolean);
    const delta =
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"' +
      'y'.repeat(200) +
      '"}}\n\n';
    for (const size of [64, 1000, 9000]) {
      const text = `${events[0]}\n\n${delta.repeat(500)}${events.slice(1).join('\n\n')}\n\n`;
      const buf = Buffer.from(text);
      const parts: Buffer[] = [];
      for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
      assert.deepEqual(scan(parts), [25, 15], `chunks of ${size}`);
    }
  });

  test('a Responses stream whose completed event echoes 30 KB of tools before its usage', () => {
    const tools = JSON.stringify(
      Array.from({ length: 100 }, (_, i) => ({ type: 'function', name: `tool_${i}`, description: 'z'.repeat(280) })),
    );
    const completed = `event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[],"tools":${tools},"usage":{"input_tokens":36,"output_tokens":87,"total_tokens":123},"user":null,"metadata":{}}}\n\n`;
    const deltas =
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hello"}\n\n'.repeat(2000);
    const buf = Buffer.from(deltas + completed);
    for (const size of [512, 4096, 65536]) {
      const parts: Buffer[] = [];
      for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
      assert.deepEqual(scan(parts), [36, 87], `chunks of ${size}`);
    }
  });
});

suite('usage: findTopLevelString', () => {
  function check(body: string, key: string, want: string | undefined): void {
    const buf = Buffer.from(body);
    const r = findTopLevelString(buf, key);
    assert.equal(r?.value, want, body.slice(0, 80));
    if (r && want !== undefined && !body.slice(0, 400).includes('\\'))
      assert.equal(buf.toString('utf8', r.start, r.end), want);
  }

  test('simple and pretty-printed bodies', () => {
    check('{"model":"gpt-4o","messages":[]}', 'model', 'gpt-4o');
    check('{\n  "messages": [],\n  "model" :\t "claude-sonnet-4-5"\n}', 'model', 'claude-sonnet-4-5');
    check('  {"prompt_cache_key":"conv-42","model":"gpt-5"}', 'prompt_cache_key', 'conv-42');
  });

  test('nested "model" keys and "model" in message text are not taken', () => {
    const tools =
      '"tools":[{"type":"function","function":{"name":"pick","parameters":{"type":"object","properties":{"model":{"type":"string"}},"required":["model"]}}}]';
    const messages =
      '"messages":[{"role":"user","content":"set \\"model\\": \\"gpt-3\\" please"},{"role":"assistant","content":[{"type":"text","text":"model"}]}]';
    check(`{${tools},${messages},"model":"gpt-4o","stream":true}`, 'model', 'gpt-4o');
    check(`{"model":"first-wins",${tools}}`, 'model', 'first-wins');
    // Only nested: no top-level model at all.
    check(`{${tools},${messages}}`, 'model', undefined);
    check('{"metadata":{"model":"x"}}', 'model', undefined);
    // "model" as a value, then as a key.
    check('{"name":"model","kind":["model"],"model":"m-1"}', 'model', 'm-1');
  });

  test('byte offsets past multi-byte text; escaped values decoded', () => {
    const body = '{"messages":[{"content":"héllo 🙂 \\"}"}],"model":"gpt-4o"}';
    const buf = Buffer.from(body);
    const r = findTopLevelString(buf, 'model')!;
    assert.equal(r.value, 'gpt-4o');
    assert.equal(buf.toString('utf8', r.start, r.end), 'gpt-4o');
    assert.equal(buf[r.start - 1], 0x22);
    assert.equal(buf[r.end], 0x22);
    const esc = Buffer.from('{"model":"a\\"b\\u00e9\\\\"}');
    const e = findTopLevelString(esc, 'model')!;
    assert.equal(e.value, 'a"bé\\');
    assert.equal(esc.toString('utf8', e.start, e.end), 'a\\"b\\u00e9\\\\');
  });

  test('non-strings, arrays, broken JSON: undefined, never a throw', () => {
    check('{"model":42}', 'model', undefined);
    check('{"model":null}', 'model', undefined);
    check('[{"model":"x"}]', 'model', undefined);
    check('{"model":"unterminated', 'model', undefined);
    check('{"a":"b" "model":"x"}', 'model', undefined);
    check('', 'model', undefined);
    check('{"messages":[{"content":"no close"', 'model', undefined);
  });

  test('strings ending on either side of the short scan, escaped quotes across it: as JSON.parse reads them', () => {
    for (let n = 50; n <= 80; n++) {
      for (const at of [-1, 0, 30, 60, 62, 63, 64, 65]) {
        // A message text of n characters with an escaped quote at `at`, a model id as long, then the model.
        const text = 'x'.repeat(n).split('');
        if (at >= 0 && at < n) text[at] = '"';
        const model = `m-${'y'.repeat(n)}${at >= 0 ? '\\' : ''}`;
        const body = JSON.stringify({ messages: [{ role: 'user', content: text.join('') }], model });
        check(body, 'model', model);
        check(JSON.stringify({ [`${'k'.repeat(n)}"`]: 1, model }), 'model', model);
      }
    }
    // Large bodies take the native search: without the key it is refused by it, with it found.
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'z'.repeat(2000) }] });
    check(big, 'model', undefined);
    check(big.replace(/}$/, ',"model":"gpt-4o"}'), 'model', 'gpt-4o');
    // A backslash after the value (in later text) does not send a plain value through JSON.parse.
    const after = Buffer.from('{"model":"gpt-4o","messages":[{"content":"a\\nb"}]}');
    const r = findTopLevelString(after, 'model')!;
    assert.deepEqual([r.value, after.toString('utf8', r.start, r.end)], ['gpt-4o', 'gpt-4o']);
  });

  test('a 2 MB body with the model at the end is still found', () => {
    const msgs = Array.from(
      { length: 2000 },
      (_, i) => `{"role":"user","content":"${'lorem \\"ipsum\\" '.repeat(60)} ${i}"}`,
    ).join(',');
    const buf = Buffer.from(`{"messages":[${msgs}],"model":"gpt-4o"}`);
    for (let i = 0; i < 10; i++) assert.equal(findTopLevelString(buf, 'model')?.value, 'gpt-4o');
  });

  test('with `seen`, the same bytes give the same value, and every value reads as without it', () => {
    const seen: string[] = [];
    const read = (model: string) => {
      const buf = Buffer.from(JSON.stringify({ messages: [], model }));
      const plain = findTopLevelString(buf, 'model');
      const r = findTopLevelString(buf, 'model', seen);
      assert.deepEqual(r, plain, model);
      return r!.value;
    };
    const long = `m-${'x'.repeat(70)}`;
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'claude-sonnet-4-6', 'modèle-é', long, 'a"b\\c', '']) {
      assert.equal(read(model), model);
    }
    assert.deepEqual(
      seen,
      ['', 'claude-sonnet-4-6', 'gpt-4', 'gpt-4o-mini', 'gpt-4o'],
      'ASCII values up to 64 bytes, unescaped',
    );
    for (let i = 0; i < 20; i++) read(`model-${i}`);
    assert.equal(seen.length, 8, 'the newest eight are kept');
    assert.equal(read('model-19'), 'model-19');
    assert.equal(seen.length, 8, 'a value seen before is not added again');
  });
});
