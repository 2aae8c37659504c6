import * as assert from 'node:assert/strict';
import { DeltaReader, errorMessageOf, textOfJson } from '../../../src/core/proxy/fanOutText';

suite('fan-out text reading', () => {
  test('OpenAI SSE deltas, an event split across chunks, [DONE] and non-text events ignored', () => {
    const r = new DeltaReader('openai');
    const ev = (content: string) => `data: ${JSON.stringify({ choices: [{ delta: { content } }] })}\n\n`;
    const whole =
      ev('Hel') + ev('lo') + 'data: {"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\n';
    const cut = 20;
    assert.deepEqual(r.push(Buffer.from(whole.slice(0, cut))), []);
    assert.deepEqual(r.push(Buffer.from(whole.slice(cut))), ['Hel', 'lo']);
  });

  test('Anthropic text_delta events only (not input_json or thinking), CRLF lines', () => {
    const r = new DeltaReader('anthropic');
    const lines = [
      'event: content_block_delta\r\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\r\n\r\n',
      'data: {"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}\n\n',
      'data: {"type":"message_delta","usage":{"output_tokens":3}}\n\ndata: not json\n\n',
    ];
    assert.deepEqual(r.push(Buffer.from(lines.join(''))), ['Hi']);
  });

  test('whole JSON answers in either shape, and error messages in either shape', () => {
    assert.equal(textOfJson('{"choices":[{"message":{"content":"pong"}}]}'), 'pong');
    assert.equal(
      textOfJson('{"content":[{"type":"text","text":"a"},{"type":"tool_use"},{"type":"text","text":"b"}]}'),
      'ab',
    );
    assert.equal(textOfJson('<html>'), '');
    assert.equal(errorMessageOf('{"error":{"message":"bad key"}}', 401), 'bad key');
    assert.equal(errorMessageOf('{"type":"error","error":{"type":"x","message":"overloaded"}}', 529), 'overloaded');
    assert.equal(errorMessageOf('{"error":"plain"}', 400), 'plain');
    assert.equal(errorMessageOf('Bad Gateway', 502), 'The provider answered HTTP 502: Bad Gateway.');
    assert.equal(errorMessageOf('', 503), 'The provider answered HTTP 503.');
  });
});
