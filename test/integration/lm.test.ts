// KeyRelay's pool as a Language Model Chat Provider, used as any extension would: through
// vscode.lm.selectChatModels / sendRequest in the real extension host, against the fake upstream.
// The proxy's HTTP server is stopped for this suite: chat requests go through the core in process.
import * as assert from 'node:assert';
import * as vscode from 'vscode';
import { Stats } from '../../src/core/accounting/stats';
import { ProviderCatalogue, validateProviderSpec } from '../../src/core/config/providers';
import { KeyPool } from '../../src/core/pool/keyPool';
import { ProxyServer } from '../../src/core/proxy/proxyServer';
import { DEFAULT_CONFIG, nullLogger, systemClock } from '../../src/core/types';
import type { TestInternals } from '../../src/vscode/testHook';
import { FakeUpstream } from '../fakes/upstreamServer';
import { followOn, freePort, getApi, setSetting } from './extensionHelpers';

const OA = ['sk-lm-openai-aaaaaaaaaaaaaaaa1111', 'sk-lm-openai-bbbbbbbbbbbbbbbb2222'];
const AN = ['sk-ant-lm-cccccccccccccccccccc3333', 'sk-ant-lm-dddddddddddddddddddd4444'];
const TOOLS: vscode.LanguageModelChatTool[] = [
  {
    name: 'get_weather',
    description: 'The weather in a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

/** Every part of a response, in order. */
async function collect(res: vscode.LanguageModelChatResponse): Promise<unknown[]> {
  const parts: unknown[] = [];
  for await (const p of res.stream) parts.push(p);
  return parts;
}

const textOf = (parts: unknown[]) =>
  parts.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : '')).join('');

/** The chat requests the fake saw (model lists may be read in between). */
const chats = (fake: FakeUpstream) => fake.requests.filter((r) => r.method === 'POST');

/**
 * Resolves with `probe()`'s first truthy answer, asking now and after each change of the chat
 * models (vscode.lm.onDidChangeChatModels): the test waits for the list itself, not for time.
 */
function whenModels<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.dispose();
      if (err) reject(err);
      else resolve(value as T);
    };
    const check = () =>
      probe().then(
        (v) => v && finish(undefined, v),
        (e: Error) => finish(e),
      );
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const sub = vscode.lm.onDidChangeChatModels(() => void check());
    void check();
  });
}

function model(id: string): Promise<vscode.LanguageModelChat> {
  return whenModels(
    async () => (await vscode.lm.selectChatModels({ vendor: 'keyrelay', id }))[0],
    `the chat model ${id}`,
  );
}

suite('KeyRelay chat models (vscode.lm)', () => {
  let api: TestInternals;
  let fake: FakeUpstream;
  const cleanups: Array<() => unknown> = [];
  const keyIds: string[] = [];

  suiteSetup(async () => {
    api = await getApi();
    fake = await FakeUpstream.start();
    cleanups.push(() => fake.close());
    // No listening server: the models must work in process.
    await api.controller.stop(0);
    cleanups.push(() => api.controller.start());
    cleanups.push(
      await setSetting('providers', [
        { id: 'itoai', name: 'IT OpenAI', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer' },
        { id: 'itant', name: 'IT Anthropic', shape: 'anthropic', baseUrl: fake.anthropicBase, auth: 'x-api-key' },
        { id: 'itx', name: 'IT Extra', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer' },
      ]),
      await setSetting('chatModels', ['itoai/gpt-4o*', 'itant/claude-sonnet-4*', 'itx/gpt-5']),
    );
    for (const [providerId, secrets] of [
      ['itoai', OA],
      ['itant', AN],
    ] as const) {
      for (const secret of secrets)
        keyIds.push((await api.vault.add({ providerId, secret, label: `it-lm-${providerId}` })).id);
    }
  });

  suiteTeardown(async () => {
    for (const id of keyIds) await api.vault.remove(id);
    for (const c of cleanups.reverse()) await c();
  });

  setup(() => fake.reset());

  test("selectChatModels({ vendor: 'keyrelay' }) lists the keys' models, with limits and capabilities", async () => {
    await model('itant/claude-sonnet-4-6');
    const models = await vscode.lm.selectChatModels({ vendor: 'keyrelay' });
    assert.deepStrictEqual(models.map((m) => m.id).sort(), [
      'itant/claude-sonnet-4-6',
      'itoai/gpt-4o',
      'itoai/gpt-4o-mini',
    ]);
    const gpt = models.find((m) => m.id === 'itoai/gpt-4o')!;
    assert.strictEqual(gpt.vendor, 'keyrelay');
    assert.strictEqual(gpt.name, 'gpt-4o');
    assert.strictEqual(gpt.family, 'gpt-4o');
    assert.strictEqual(gpt.maxInputTokens, 111_616);
    assert.ok((await gpt.countTokens('function add(a, b) { return a + b; }')) > 5, 'a local token estimate');
    assert.strictEqual(api.controller.state.role, 'stopped', 'the HTTP server is not running');
  });

  test('a request streams text from upstream past a rate-limited key', async () => {
    // Whichever key the rotation picks first (its cursor is shared across models) is rate-limited.
    let first: string | undefined;
    fake.setRequestRule((r) => {
      first ??= r.key;
      return r.key === first
        ? { kind: 'status', status: 429, headers: { 'retry-after': '30' } }
        : { kind: 'ok', chunks: 6, chunkDelayMs: 20 };
    });
    const before = api.stats.snapshot().total.requests;
    const gpt = await model('itoai/gpt-4o');
    const parts = await collect(await gpt.sendRequest([vscode.LanguageModelChatMessage.User('Say hello')]));
    assert.strictEqual(textOf(parts), 'Hello from the fake upstream model');
    assert.ok(parts.length >= 6, `the text came in pieces as it streamed (${parts.length} parts)`);
    const keys = chats(fake).map((r) => r.key);
    assert.strictEqual(keys.length, 2, 'the limited key, then the next one before the first byte');
    assert.deepStrictEqual([...keys].sort(), [...OA].sort());
    const limited = api.pool.list().find((k) => k.secret === keys[0])!;
    const h = api.pool.health(limited.id)!;
    assert.ok(h.state === 'cooling' || h.modelCooldowns['gpt-4o'] !== undefined, 'the 429 key cools');
    const snap = api.stats.snapshot();
    assert.strictEqual(snap.total.requests, before + 1, 'one client request, however many attempts');
    assert.strictEqual(snap.byKey[limited.id]?.failures['rate-limit'], 1, 'the 429 attempt is counted on its key');
  });

  for (const id of ['itoai/gpt-4o', 'itant/claude-sonnet-4-6']) {
    test(`a tool call round trip (call → result → final answer): ${id}`, async () => {
      const m = await model(id);
      const ask = vscode.LanguageModelChatMessage.User('What is the weather in Paris?');
      const first = await collect(await m.sendRequest([ask], { tools: TOOLS }));
      const call = first.find(
        (p): p is vscode.LanguageModelToolCallPart => p instanceof vscode.LanguageModelToolCallPart,
      );
      assert.ok(call, `a tool call came back: ${JSON.stringify(first)}`);
      assert.strictEqual(call.name, 'get_weather');
      assert.deepStrictEqual(call.input, { city: 'fake' });
      const sent = JSON.parse(fake.requests.at(-1)!.body);
      assert.strictEqual(JSON.stringify(sent.tools).includes('The weather in a city'), true, 'the tools went upstream');
      const history = [
        ask,
        vscode.LanguageModelChatMessage.Assistant([call]),
        vscode.LanguageModelChatMessage.User([
          new vscode.LanguageModelToolResultPart(call.callId, [new vscode.LanguageModelTextPart('18 °C and sunny')]),
        ]),
      ];
      const final = await collect(await m.sendRequest(history, { tools: TOOLS }));
      assert.strictEqual(textOf(final), 'Hello from the fake upstream');
      assert.ok(!final.some((p) => p instanceof vscode.LanguageModelToolCallPart));
      const body = JSON.parse(fake.requests.at(-1)!.body);
      const result = id.startsWith('itoai')
        ? body.messages.find((x: { role: string }) => x.role === 'tool')
        : body.messages.at(-1).content.find((b: { type: string }) => b.type === 'tool_result');
      assert.ok(result, `the tool result went back in the API's shape: ${JSON.stringify(body.messages)}`);
      assert.ok(JSON.stringify(result).includes(call.callId) && JSON.stringify(result).includes('18 °C and sunny'));
    });
  }

  // The cancel crosses VS Code's own RPC (extension host → workbench → provider) before it reaches
  // KeyRelay, so one try on a loaded machine can be late for reasons outside the product: up to
  // three tries, each must close the upstream, and the fastest must do it within 50 ms.
  test('cancelling mid-stream closes the upstream request within 50 ms', async () => {
    fake.setKeyBehaviour(AN[0], { kind: 'ok', chunks: 60, chunkDelayMs: 100 });
    fake.setKeyBehaviour(AN[1], { kind: 'ok', chunks: 60, chunkDelayMs: 100 });
    const m = await model('itant/claude-sonnet-4-6');
    const tries: number[] = [];
    while (tries.length < 3 && !tries.some((ms) => ms < 50)) tries.push(await cancelOnce(m));
    console.log(`      cancel → the fake upstream saw the close after ${tries.join(', ')} ms`);
    assert.ok(Math.min(...tries) < 50, `the fake upstream saw the close ${tries.join(', ')} ms after the cancel`);
  });

  /** Starts a long stream, cancels it after its first part; ms from the cancel to the fake seeing the close. */
  async function cancelOnce(m: vscode.LanguageModelChat): Promise<number> {
    const before = fake.requests.length;
    const cts = new vscode.CancellationTokenSource();
    try {
      const res = await m.sendRequest([vscode.LanguageModelChatMessage.User('A long story')], {}, cts.token);
      const it = res.stream[Symbol.asyncIterator]();
      assert.strictEqual((await it.next()).done, false, 'the stream started');
      const cancelledAt = Date.now();
      cts.cancel();
      const mine = () => fake.requests.slice(before).find((r) => r.aborted);
      await fake.waitFor(() => mine() !== undefined, 'the upstream request closed', 2000);
      // The stream ends, with or without a cancellation error.
      await it.next().then(
        () => undefined,
        () => undefined,
      );
      return mine()!.abortedAt! - cancelledAt;
    } finally {
      cts.dispose();
    }
  }

  test('every key cooling: the error says so, with the time left', async () => {
    for (const k of AN) fake.setKeyBehaviour(k, { kind: 'status', status: 429, headers: { 'retry-after': '120' } });
    const m = await model('itant/claude-sonnet-4-6');
    const err = await m.sendRequest([vscode.LanguageModelChatMessage.User('hi')]).then(
      async (res) =>
        collect(res).then(
          () => undefined,
          (e: unknown) => e,
        ),
      (e: unknown) => e,
    );
    assert.ok(err instanceof vscode.LanguageModelError, `a LanguageModelError: ${String(err)}`);
    assert.strictEqual(err.code, 'Blocked');
    assert.match(err.message, /Every IT Anthropic key in KeyRelay is cooling down .* ready in 1[12]\d s/);
    assert.match(err.message, /KeyRelay: Add Key/);
    for (const id of keyIds) api.pool.restore(id);
  });

  test('the model list follows adding and removing keys', async () => {
    const has = async (id: string) =>
      (await vscode.lm.selectChatModels({ vendor: 'keyrelay' })).some((m) => m.id === id);
    assert.strictEqual(await has('itx/gpt-5'), false);
    let changed = 0;
    const sub = vscode.lm.onDidChangeChatModels(() => changed++);
    try {
      const rec = await api.vault.add({
        providerId: 'itx',
        secret: 'sk-lm-extra-eeeeeeeeeeeeeeee5555',
        label: 'it-lm-x',
      });
      await whenModels(() => has('itx/gpt-5'), "the new key's model in vscode.lm");
      await api.vault.remove(rec.id);
      await whenModels(async () => !(await has('itx/gpt-5')), 'the model to go with its key');
      assert.ok(changed >= 2, `onDidChangeChatModels fired (${changed})`);
    } finally {
      sub.dispose();
    }
  });

  test("in a follower window the chat goes through the leader's proxy (its pool, its counters)", async () => {
    const port = await freePort();
    const pool = new KeyPool({ clock: systemClock, ...DEFAULT_CONFIG });
    pool.setKeys([
      { id: 'leader-1', providerId: 'itoai', label: 'leader', masked: 'sk-…2222', addedAt: 0, secret: OA[1] },
    ]);
    const stats = new Stats(systemClock);
    const catalogue = new ProviderCatalogue([
      validateProviderSpec({ id: 'itoai', name: 'IT OpenAI', shape: 'openai', baseUrl: fake.openaiBase }),
    ]);
    const leader = new ProxyServer({
      config: { ...DEFAULT_CONFIG, port },
      pool,
      stats,
      catalogue,
      logger: nullLogger,
      clock: systemClock,
      accessToken: api.vault.accessToken,
      version: 'it-leader',
    });
    await leader.start();
    let unfollow: (() => Promise<void>) | undefined;
    try {
      unfollow = await followOn(api, port);
      const ownBefore = api.stats.snapshot().total.requests;
      const gpt = await model('itoai/gpt-4o');
      const parts = await collect(await gpt.sendRequest([vscode.LanguageModelChatMessage.User('hi')]));
      assert.match(textOf(parts), /^Hello from the fake/);
      assert.strictEqual(stats.snapshot().total.requests, 1, "the leader's stats counted it");
      assert.strictEqual(api.stats.snapshot().total.requests, ownBefore, 'not this window');
      assert.deepStrictEqual(
        chats(fake).map((r) => r.key),
        [OA[1]],
        "the leader's key served it",
      );
    } finally {
      await unfollow?.(); // stopped again, as this suite runs the models in process
      await leader.stop(0);
      leader.dispose();
      pool.dispose();
      stats.dispose();
    }
  });
});
