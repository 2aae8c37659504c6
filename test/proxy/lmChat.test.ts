import * as assert from 'node:assert/strict';
import { Agent } from 'undici';
import type { ChatModel } from '../../src/core/lm/chatModels';
import { runChat } from '../../src/core/lm/chatRun';
import { LmError } from '../../src/core/lm/lmError';
import type { LmChatRequest, LmMessage, LmStreamEvent } from '../../src/core/lm/messages';
import { modelLimits } from '../../src/core/lm/modelLimits';
import { fetchModelIds, inProcessTransport, leaderTransport, withFallback } from '../../src/core/lm/transport';
import type { LmTransport } from '../../src/core/lm/transport';
import { ForwardKit } from '../../src/core/proxy/forwardKit';
import { systemClock } from '../../src/core/types';
import { ANTHROPIC_KEYS, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const model = (providerId: 'openai' | 'anthropic', name: string): ChatModel => ({
  id: `${providerId}/${name}`,
  providerId,
  providerName: providerId === 'openai' ? 'OpenAI' : 'Anthropic',
  shape: providerId,
  model: name,
  limits: modelLimits(name),
});

const TOOLS = [
  {
    name: 'get_weather',
    description: 'Weather by city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
  },
];

const ask = (messages: LmMessage[], over: Partial<LmChatRequest> = {}): LmChatRequest => ({
  model: '',
  messages,
  tools: TOOLS,
  maxOutputTokens: 1024,
  imageInput: true,
  ...over,
});

/** Runs one chat and collects what it streamed. */
async function chat(transport: LmTransport, m: ChatModel, messages: LmMessage[], signal?: AbortSignal) {
  const events: LmStreamEvent[] = [];
  await runChat({
    transport,
    model: m,
    request: ask(messages, { model: m.model }),
    signal,
    onEvent: (e) => events.push(e),
  });
  return events;
}

const text = (events: LmStreamEvent[]) => events.map((e) => (e.kind === 'text' ? e.text : '')).join('');
const user = (t: string): LmMessage => ({ role: 'user', parts: [{ kind: 'text', text: t }] });

/** core/lm on the proxy's real path: the in-process transport, and the leader's HTTP proxy. */
suite('lm: chats through the pool', () => {
  let h: Harness;
  let kit: ForwardKit;
  let local: LmTransport;

  setup(async () => {
    // maxWaitMs 0: the "every key cooling" refusal is checked, not the wait (test/proxy/wait.test.ts).
    h = await startHarness({ config: { maxWaitMs: 0 } });
    kit = new ForwardKit({
      config: h.config,
      pool: h.pool,
      stats: h.stats,
      catalogue: h.catalogue,
      logger: h.log,
      clock: systemClock,
      accessToken: TOKEN,
    });
    local = inProcessTransport(kit.deps);
  });
  teardown(async () => {
    kit.dispose();
    await h.close();
  });

  for (const provider of ['openai', 'anthropic'] as const) {
    test(`${provider}: a tool call round trip (call → result → final answer), past a rate-limited key`, async () => {
      const keys = provider === 'openai' ? OPENAI_KEYS : ANTHROPIC_KEYS;
      h.fake.setKeyBehaviour(keys[0], { kind: 'status', status: 429 });
      const m = model(provider, provider === 'openai' ? 'gpt-4o' : 'claude-sonnet-4-6');
      const history: LmMessage[] = [user('Weather in Paris?')];
      const first = await chat(local, m, history);
      const call = first.find((e) => e.kind === 'toolCall');
      assert.ok(call && call.kind === 'toolCall', `a tool call came back: ${JSON.stringify(first)}`);
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(call.input, { city: 'fake' });
      history.push({
        role: 'assistant',
        parts: [{ kind: 'toolCall', callId: call.callId, name: call.name, input: call.input }],
      });
      history.push({
        role: 'user',
        parts: [{ kind: 'toolResult', callId: call.callId, content: [{ kind: 'text', text: '18 °C' }] }],
      });
      const second = await chat(local, m, history);
      assert.equal(text(second), 'Hello from the fake upstream');
      assert.ok(!second.some((e) => e.kind === 'toolCall'));
      const sent = JSON.parse(h.fake.requests.at(-1)!.body);
      const sentText = JSON.stringify(sent.messages);
      assert.ok(sentText.includes(call.callId) && sentText.includes('18 °C'), 'the result went back in the API shape');
      assert.equal(h.fake.requests[0].key, keys[0], 'the first attempt used the limited key');
      assert.notEqual(h.fake.requests[1].key, keys[0], 'and failed over before the first byte');
      assert.ok(
        second.some((e) => e.kind === 'usage'),
        'usage streamed',
      );
    });
  }

  test('the refusals say what to do: no key for the provider, every key cooling, a model the provider refuses', async () => {
    const noKeys = { ...model('openai', 'gpt-4o'), providerId: 'ghost' as 'openai', providerName: 'Ghost' };
    await assert.rejects(
      chat(local, noKeys, [user('hi')]),
      (e: unknown) => e instanceof LmError && e.kind === 'upstream',
    );
    for (const k of OPENAI_KEYS)
      h.fake.setKeyBehaviour(k, { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    await assert.rejects(chat(local, model('openai', 'gpt-4o'), [user('hi')]));
    await assert.rejects(
      chat(local, model('openai', 'gpt-4o'), [user('hi')]),
      (e: unknown) =>
        e instanceof LmError && e.kind === 'cooling' && /cooling down .* ready in (29|30) s/.test(e.message),
    );
    h.fake.setKeyBehaviour(ANTHROPIC_KEYS[0], { kind: 'status', status: 404 });
    await assert.rejects(
      chat(local, model('anthropic', 'claude-nope'), [user('hi')]),
      (e: unknown) => e instanceof LmError && e.kind === 'rejected' && /HTTP 404.*keyRelay\.chatModels/.test(e.message),
    );
    h.pool.setKeys(h.pool.list().filter((k) => k.providerId !== 'anthropic'));
    await assert.rejects(
      chat(local, model('anthropic', 'claude-sonnet-4-6'), [user('hi')]),
      (e: unknown) => e instanceof LmError && e.kind === 'no-keys' && /KeyRelay: Add Key/.test(e.message),
    );
  });

  test('cancelling mid-stream closes the upstream request and rejects as cancelled', async () => {
    h.fake.chunks = 40;
    h.fake.chunkDelayMs = 100;
    const ac = new AbortController();
    const events: LmStreamEvent[] = [];
    const run = runChat({
      transport: local,
      model: model('openai', 'gpt-4o'),
      request: ask([user('long please')], { model: 'gpt-4o', tools: [] }),
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        if (events.length === 1) ac.abort();
      },
    });
    await assert.rejects(run, (e: unknown) => e instanceof LmError && e.kind === 'cancelled');
    await h.fake.waitForAbort(1000);
  });

  test("through the leader's proxy: its pool serves the model as provider/model; cancel reaches upstream", async () => {
    const agent = new Agent();
    try {
      const leader = leaderTransport(
        () => ({ endpoint: h.endpoint, token: TOKEN }),
        () => agent,
      );
      const events = await chat(leader, model('anthropic', 'claude-sonnet-4-6'), [user('hi')]);
      assert.ok(events.some((e) => e.kind === 'toolCall'));
      assert.equal(h.fake.requests[0].model, 'claude-sonnet-4-6', "the prefix was the router's, not the upstream's");
      assert.equal(h.stats.snapshot().total.requests, 1, "counted by the leader's stats");
      h.fake.chunks = 40;
      h.fake.chunkDelayMs = 100;
      const ac = new AbortController();
      const run = runChat({
        transport: leader,
        model: model('openai', 'gpt-4o'),
        request: ask([user('long')], { model: 'gpt-4o', tools: [] }),
        signal: ac.signal,
        onEvent: () => ac.abort(),
      });
      await assert.rejects(run, (e: unknown) => e instanceof LmError && e.kind === 'cancelled');
      await h.fake.waitForAbort(1000);
    } finally {
      await agent.close();
    }
  });

  test("a leader that is gone (or none) falls back to this window's pool; other errors do not", async () => {
    const agent = new Agent();
    try {
      const gone = leaderTransport(
        () => ({ endpoint: 'http://127.0.0.1:9', token: TOKEN }),
        () => agent,
      );
      const events = await chat(withFallback(gone, local), model('openai', 'gpt-4o'), [user('hi')]);
      assert.ok(events.some((e) => e.kind === 'toolCall'));
      const none = leaderTransport(
        () => undefined,
        () => agent,
      );
      assert.ok((await chat(withFallback(none, local), model('openai', 'gpt-4o'), [user('hi')])).length > 0);
      const broken: LmTransport = () => Promise.reject(new Error('boom'));
      await assert.rejects(
        chat(withFallback(broken, local), model('openai', 'gpt-4o'), [user('hi')]),
        /The request to OpenAI failed: boom/,
      );
    } finally {
      await agent.close();
    }
  });

  test("a provider's model ids through the pool, in both shapes", async () => {
    const catalogue = kit.deps.catalogue;
    assert.deepEqual(await fetchModelIds(local, catalogue.get('openai')!), ['gpt-4o', 'gpt-4o-mini', 'gpt-5']);
    assert.deepEqual(await fetchModelIds(local, catalogue.get('anthropic')!), [
      'claude-opus-4-6',
      'claude-sonnet-4-6',
      'claude-haiku-4-5',
    ]);
    assert.equal(h.fake.requests.at(-1)!.path, '/v1/models');
    for (const k of OPENAI_KEYS) h.fake.setKeyBehaviour(k, { kind: 'status', status: 401 });
    await assert.rejects(fetchModelIds(local, catalogue.get('openai')!), /HTTP 40[12]/);
  });
});
