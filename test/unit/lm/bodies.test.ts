import * as assert from 'node:assert/strict';
import { toAnthropicMessages } from '../../../src/core/lm/anthropicBody';
import { IMAGE_LEFT_OUT } from '../../../src/core/lm/messages';
import type { LmChatRequest, LmMessage } from '../../../src/core/lm/messages';
import { toOpenAIChat } from '../../../src/core/lm/openaiBody';

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
const text = (t: string) => ({ kind: 'text' as const, text: t });

/** A tool round trip with an image: system, ask, call, result (text + image), a follow-up. */
const conversation: LmMessage[] = [
  { role: 'system', parts: [text('Be brief.')] },
  { role: 'user', parts: [text('What is the weather in Paris?'), { kind: 'data', mimeType: 'image/png', data: PNG }] },
  {
    role: 'assistant',
    parts: [
      text('Let me look.'),
      { kind: 'toolCall', callId: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
    ],
  },
  {
    role: 'user',
    parts: [
      text('and hurry'),
      {
        kind: 'toolResult',
        callId: 'call_1',
        content: [text('18 °C, sunny'), { kind: 'data', mimeType: 'image/jpeg', data: PNG }],
      },
    ],
  },
];

const request = (over: Partial<LmChatRequest> = {}): LmChatRequest => ({
  model: 'm',
  messages: conversation,
  tools: [
    {
      name: 'get_weather',
      description: 'Weather by city',
      inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
    },
  ],
  maxOutputTokens: 1000,
  imageInput: true,
  ...over,
});

suite('lm: OpenAI chat-completions bodies', () => {
  test('system, user with an image, assistant tool_calls, then the tool message before the user text', () => {
    const body = toOpenAIChat(request());
    assert.equal(body.model, 'm');
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is the weather in Paris?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw==' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18 °C, sunny\n[image attached below]' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'and hurry' },
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,iVBORw==' } },
        ],
      },
    ]);
    assert.deepEqual(body.tools, [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather by city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ]);
    assert.equal(body.tool_choice, undefined, 'auto is the API default');
  });

  test('a model without vision gets a note instead of each image; required tool mode; reserved options stay', () => {
    const body = toOpenAIChat(
      request({
        imageInput: false,
        toolMode: 'required',
        modelOptions: { temperature: 0.2, model: 'evil', stream: false },
      }),
    );
    const msgs = body.messages as Array<{ role: string; content: unknown }>;
    assert.equal(msgs[1].content, `What is the weather in Paris?\n${IMAGE_LEFT_OUT}`);
    assert.equal(msgs[3].content, `18 °C, sunny\n${IMAGE_LEFT_OUT}`);
    assert.equal(msgs[4].content, 'and hurry');
    assert.equal(body.tool_choice, 'required');
    assert.equal(body.temperature, 0.2);
    assert.equal(body.model, 'm');
    assert.equal(body.stream, true);
  });

  test('an assistant turn of only tool calls has null content; a tool-only user turn adds no user message', () => {
    const body = toOpenAIChat({
      model: 'm',
      maxOutputTokens: 10,
      imageInput: true,
      messages: [
        { role: 'assistant', parts: [{ kind: 'toolCall', callId: 'c', name: 't', input: {} }] },
        {
          role: 'user',
          parts: [
            {
              kind: 'toolResult',
              callId: 'c',
              content: [{ kind: 'data', mimeType: 'application/json', data: Buffer.from('{"a":1}') }],
            },
          ],
        },
        { role: 'user', parts: [{ kind: 'data', mimeType: 'application/zip', data: new Uint8Array(3) }] },
      ],
    });
    assert.deepEqual(body.messages, [
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c', type: 'function', function: { name: 't', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c', content: '{"a":1}' },
      { role: 'user', content: '[application/zip data of 3 bytes left out]' },
    ]);
    assert.equal(body.tools, undefined);
  });
});

suite('lm: Anthropic messages bodies', () => {
  test('system apart; tool_use in the assistant turn; tool_result first in the user turn; base64 images', () => {
    const body = toAnthropicMessages(request());
    assert.equal(body.system, 'Be brief.');
    assert.equal(body.max_tokens, 1000);
    assert.equal(body.stream, true);
    const img = (media_type: string) => ({ type: 'image', source: { type: 'base64', media_type, data: 'iVBORw==' } });
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris?' }, img('image/png')] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'call_1',
            content: [{ type: 'text', text: '18 °C, sunny' }, img('image/jpeg')],
          },
          { type: 'text', text: 'and hurry' },
        ],
      },
    ]);
    assert.deepEqual(body.tools, [
      {
        name: 'get_weather',
        description: 'Weather by city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ]);
  });

  test('empty text is dropped, same-role turns merge, required → any, max_tokens from modelOptions', () => {
    const body = toAnthropicMessages({
      model: 'claude',
      maxOutputTokens: 4096,
      imageInput: false,
      toolMode: 'required',
      tools: [{ name: 't', description: 'd' }],
      modelOptions: { max_tokens: 99, temperature: 0 },
      messages: [
        { role: 'user', parts: [text('a')] },
        { role: 'user', parts: [text(''), { kind: 'data', mimeType: 'image/png', data: PNG }] },
        { role: 'assistant', parts: [text('')] },
        {
          role: 'user',
          parts: [
            { kind: 'toolResult', callId: 'x', content: [] },
            { kind: 'toolCall', callId: 'y', name: 'n', input: {} },
          ],
        },
      ],
    });
    assert.equal(body.max_tokens, 99);
    assert.equal(body.temperature, 0);
    assert.equal(body.system, undefined);
    assert.deepEqual(body.tool_choice, { type: 'any' });
    assert.deepEqual(body.tools, [{ name: 't', description: 'd', input_schema: { type: 'object', properties: {} } }]);
    assert.deepEqual(body.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: IMAGE_LEFT_OUT },
          { type: 'tool_result', tool_use_id: 'x' },
        ],
      },
    ]);
  });
});
