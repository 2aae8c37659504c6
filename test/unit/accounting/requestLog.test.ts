import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reassembleStream } from '../../../src/core/accounting/reassemble';
import { entryDocument, logFiles, readRecentEntries, RequestLog } from '../../../src/core/accounting/requestLog';
import type { RequestLogEntry } from '../../../src/core/accounting/requestLog';
import { BodyCapture } from '../../../src/core/proxy/bodyCapture';
import { SecretRedactor } from '../../../src/core/redact';

const sse = (events: unknown[], named = false): string =>
  events
    .map((e) => `${named ? `event: ${(e as { type: string }).type}\n` : ''}data: ${JSON.stringify(e)}\n\n`)
    .join('') + (named ? '' : 'data: [DONE]\n\n');

suite('reassembleStream', () => {
  test('OpenAI chat chunks: text, reasoning, tool calls by index with their arguments joined, usage', () => {
    const s = reassembleStream(
      sse([
        { choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] },
        { choices: [{ index: 0, delta: { content: 'lo', reasoning_content: 'thinking…' } }] },
        {
          choices: [
            {
              index: 0,
              delta: { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'get_weather', arguments: '{"ci' } }] },
            },
          ],
        },
        { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] } }] },
        { choices: [{ index: 1, delta: { content: 'another choice' } }] },
        { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
        { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } },
      ]) + ': keep-alive\n\ndata: {cut',
    );
    assert.equal(s.text, 'Hello');
    assert.equal(s.reasoning, 'thinking…');
    assert.deepEqual(s.toolCalls, [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }]);
    assert.equal(s.finishReason, 'tool_calls');
    assert.deepEqual(s.usage, { prompt_tokens: 3, completion_tokens: 4 });
    assert.equal(s.events, 7);
  });

  test('Responses API events: output text, function call arguments, usage from response.completed', () => {
    const s = reassembleStream(
      sse(
        [
          { type: 'response.created', response: {} },
          { type: 'response.output_text.delta', delta: 'Hi ' },
          { type: 'response.output_text.delta', delta: 'there' },
          { type: 'response.reasoning_summary_text.delta', delta: 'why' },
          {
            type: 'response.output_item.added',
            output_index: 1,
            item: { type: 'function_call', call_id: 'c9', name: 'f' },
          },
          { type: 'response.function_call_arguments.delta', output_index: 1, delta: '{"a":' },
          { type: 'response.function_call_arguments.delta', output_index: 1, delta: '1}' },
          {
            type: 'response.completed',
            response: { status: 'completed', usage: { input_tokens: 5, output_tokens: 6 } },
          },
        ],
        true,
      ),
    );
    assert.equal(s.text, 'Hi there');
    assert.equal(s.reasoning, 'why');
    assert.deepEqual(s.toolCalls, [{ id: 'c9', name: 'f', arguments: '{"a":1}' }]);
    assert.deepEqual(s.usage, { input_tokens: 5, output_tokens: 6 });
    assert.equal(s.finishReason, 'completed');
  });

  test('Anthropic events: text and thinking deltas, tool_use input joined, usage merged, stop reason', () => {
    const s = reassembleStream(
      sse(
        [
          { type: 'message_start', message: { usage: { input_tokens: 7, output_tokens: 1 } } },
          { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } },
          { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Sure' } },
          { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'tu_1', name: 'calc' } },
          { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"x"' } },
          { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: ':2}' } },
          { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } },
          { type: 'message_stop' },
        ],
        true,
      ),
    );
    assert.equal(s.text, 'Sure');
    assert.equal(s.reasoning, 'hmm');
    assert.deepEqual(s.toolCalls, [{ id: 'tu_1', name: 'calc', arguments: '{"x":2}' }]);
    assert.deepEqual(s.usage, { input_tokens: 7, output_tokens: 9 });
    assert.equal(s.finishReason, 'tool_use');
  });
});

suite('RequestLog files', () => {
  const KEY = 'sk-test-zzzzzzzzzzzzzzzzzzzz9999';
  let dir: string;
  let redactor: SecretRedactor;
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-rl-'));
    redactor = new SecretRedactor();
    redactor.add(KEY, 'sk-…9999');
  });
  teardown(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (body: string, extra: Partial<RequestLogEntry> = {}): RequestLogEntry => ({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { authorization: `Bearer ${KEY}`, 'x-api-key': KEY, 'content-type': 'application/json' },
    body: Buffer.from(body),
    attempts: 1,
    status: 200,
    ms: 5,
    ...extra,
  });

  const closed = (log: RequestLog): Promise<void> => log.close();

  test('files are 0600 in a 0700 folder; credential headers dropped; keys in bodies masked', async () => {
    const sub = join(dir, 'requests');
    const log = new RequestLog(sub, redactor, { maxEntryBytes: 65536, maxFileBytes: 1 << 20, maxAgeMs: 86_400_000 });
    log.write(
      entry(JSON.stringify({ model: 'gpt-5', messages: [{ role: 'user', content: `my key is ${KEY}` }] })),
      Date.UTC(2026, 11, 6),
    );
    await closed(log);
    const [file] = readdirSync(sub);
    assert.equal(file, 'requests-2026-12-06.jsonl');
    if (process.platform !== 'win32') {
      assert.equal(statSync(join(sub, file)).mode & 0o777, 0o600);
      assert.equal(statSync(sub).mode & 0o777, 0o700);
    }
    const text = readFileSync(join(sub, file), 'utf8');
    assert.ok(!text.includes(KEY), 'no key text');
    const doc = JSON.parse(text);
    assert.deepEqual(doc.request.headers, { 'content-type': 'application/json' });
    assert.equal(doc.request.body.messages[0].content, 'my key is sk-…9999', 'a JSON body is logged as JSON');
  });

  test('an entry is cut to its size limit, and says so', () => {
    const big = 'x'.repeat(50_000);
    const doc = entryDocument(
      entry(JSON.stringify({ prompt: big }), {
        response: {
          status: 200,
          contentType: 'application/json',
          body: Buffer.from(JSON.stringify({ a: big })),
          truncated: false,
        },
      }),
      0,
      8192,
    );
    const text = JSON.stringify(doc);
    assert.ok(text.length < 10_000, `${text.length} chars`);
    assert.match(String((doc.request as { body: string }).body), /… \(cut: \d+ bytes in all\)$/);
  });

  test('rotated by size into -2, -3 … files; reading back is newest first across them', async () => {
    const log = new RequestLog(dir, redactor, { maxEntryBytes: 4096, maxFileBytes: 2000, maxAgeMs: 86_400_000 });
    const at = Date.UTC(2026, 11, 6, 12);
    for (let i = 0; i < 10; i++) log.write(entry(JSON.stringify({ n: i, pad: 'p'.repeat(400) })), at + i);
    await closed(log);
    const files = logFiles(dir).map((f) => f.name);
    assert.ok(files.length >= 3, files.join(', '));
    assert.equal(files.at(-1), 'requests-2026-12-06.jsonl');
    for (const f of readdirSync(dir)) assert.ok(statSync(join(dir, f)).size <= 2000, `${f} within the size limit`);
    const recent = readRecentEntries(dir, 4);
    assert.deepEqual(
      recent.map((e) => (e.doc.request as { body: { n: number } }).body.n),
      [9, 8, 7, 6],
    );
    // A new log on the same day goes on after the last part instead of writing into a full one.
    const again = new RequestLog(dir, redactor, { maxEntryBytes: 4096, maxFileBytes: 2000, maxAgeMs: 86_400_000 });
    again.write(entry(JSON.stringify({ n: 10, pad: 'p'.repeat(400) })), at + 20);
    await closed(again);
    assert.equal((readRecentEntries(dir, 1)[0].doc.request as { body: { n: number } }).body.n, 10);
    for (const f of readdirSync(dir)) assert.ok(statSync(join(dir, f)).size <= 2000, `${f} within the size limit`);
  });

  test('files older than the age limit are deleted when a day starts; others and foreign files stay', async () => {
    const now = Date.UTC(2026, 11, 6, 12);
    const old = join(dir, 'requests-2026-11-01.jsonl');
    const recent = join(dir, 'requests-2026-12-05.jsonl');
    const foreign = join(dir, 'notes.txt');
    for (const f of [old, recent, foreign]) writeFileSync(f, '{}\n');
    utimesSync(old, new Date(now - 30 * 86_400_000), new Date(now - 30 * 86_400_000));
    utimesSync(foreign, new Date(now - 30 * 86_400_000), new Date(now - 30 * 86_400_000));
    utimesSync(recent, new Date(now - 86_400_000), new Date(now - 86_400_000));
    const log = new RequestLog(dir, redactor, { maxEntryBytes: 4096, maxFileBytes: 1 << 20, maxAgeMs: 7 * 86_400_000 });
    log.write(entry('{}'), now);
    await closed(log);
    // The delete runs in the background; poll the folder (bounded: nothing else to await).
    for (let i = 0; i < 100 && readdirSync(dir).includes('requests-2026-11-01.jsonl'); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(readdirSync(dir).sort(), ['notes.txt', 'requests-2026-12-05.jsonl', 'requests-2026-12-06.jsonl']);
  });
});

suite('BodyCapture', () => {
  test('keeps bytes up to its cap, cutting the chunk that crosses it, and says it was cut', () => {
    const c = new BodyCapture(10);
    c.add(Buffer.from('abcdef'));
    assert.equal(c.truncated, false);
    c.add(Buffer.from('ghijkl'));
    c.add(Buffer.from('mn'));
    assert.equal(c.joined().toString(), 'abcdefghij');
    assert.equal(c.truncated, true);
  });
});
