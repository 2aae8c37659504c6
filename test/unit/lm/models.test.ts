import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatModelCatalog } from '../../../src/core/lm/chatModels';
import { DEFAULT_CHAT_MODELS, DEFAULT_LIMITS, modelLimits, modelMatcher } from '../../../src/core/lm/modelLimits';
import { estimateMessageTokens, estimateTokens } from '../../../src/core/lm/tokens';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { DEFAULT_CONFIG, nullLogger } from '../../../src/core/types';
import type { PoolKey, ProviderSpec } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';
import { until } from '../../fakes/waits';

suite('lm: model limits and patterns', () => {
  test('known models get their limits and capabilities, owner prefixes and case aside', () => {
    assert.deepEqual(modelLimits('gpt-4o-mini'), {
      maxInputTokens: 111_616,
      maxOutputTokens: 16_384,
      toolCalling: true,
      imageInput: true,
      known: true,
    });
    assert.equal(modelLimits('anthropic/Claude-Sonnet-4-5-20250929').maxInputTokens, 168_000);
    assert.equal(modelLimits('claude-3-5-haiku-latest').maxOutputTokens, 8_192);
    assert.equal(modelLimits('o3-mini').imageInput, false);
    assert.equal(modelLimits('deepseek-reasoner').toolCalling, false);
    assert.equal(modelLimits('gemini-2.5-pro').imageInput, true);
  });

  test('an unknown model gets the safe default and claims nothing', () => {
    assert.deepEqual(modelLimits('my-local-model'), { ...DEFAULT_LIMITS });
    assert.equal(modelLimits('my-local-model').toolCalling, false);
  });

  test('patterns: * matches any run, case-insensitive, whole id only, regex characters literal', () => {
    const m = modelMatcher(['openai/gpt-4o', 'anthropic/claude-sonnet-4*', 'x/a.b']);
    assert.ok(m('openai/gpt-4o'));
    assert.ok(!m('openai/gpt-4o-mini'));
    assert.ok(m('anthropic/Claude-Sonnet-4-5'));
    assert.ok(!m('openrouter/anthropic/claude-sonnet-4'));
    assert.ok(m('x/a.b') && !m('x/aXb'));
    assert.ok(DEFAULT_CHAT_MODELS.includes('custom/*'));
  });

  test("package.json contributes the vendor and the setting's default is the core's list", () => {
    // out/test/unit/lm → the repository root
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.contributes.languageModelChatProviders, [{ vendor: 'keyrelay', displayName: 'KeyRelay' }]);
    assert.deepEqual(pkg.contributes.configuration.properties['keyRelay.chatModels'].default, DEFAULT_CHAT_MODELS);
  });
});

suite('lm: token estimate', () => {
  test('about four characters per token for code and English, one per CJK character, images flat', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('function add(a, b) { return a + b; }'), 11);
    assert.equal(estimateTokens('你好世界'), 4);
    const n = estimateMessageTokens({
      role: 'user',
      parts: [
        { kind: 'text', text: 'hello world' },
        { kind: 'data', mimeType: 'image/png', data: new Uint8Array(10) },
        { kind: 'toolCall', callId: 'c', name: 'get', input: { a: 1 } },
        {
          kind: 'toolResult',
          callId: 'c',
          content: [{ kind: 'data', mimeType: 'text/plain', data: Buffer.from('ok') }],
        },
      ],
    });
    assert.equal(n, 4 + 4 + 765 + (1 + 2 + 4) + (4 + 1));
  });
});

const provider = (id: string, extra: Partial<ProviderSpec> = {}): ProviderSpec => ({
  id,
  name: id.toUpperCase(),
  shape: id === 'anthropic' ? 'anthropic' : 'openai',
  baseUrl: `http://127.0.0.1:9/${id}`,
  auth: 'bearer',
  testRequest: { method: 'GET', path: '/models' },
  envNames: [],
  ...extra,
});

const key = (id: string, providerId: string, models?: string[]): PoolKey => ({
  id,
  providerId,
  label: id,
  masked: 'sk-…0000',
  addedAt: 0,
  secret: `sk-secret-${id}-0000000000`,
  models,
});

suite('lm: the chat model catalogue', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let catalog: ChatModelCatalog;
  let answers: Map<string, string[] | Error>;
  let asked: string[];
  let patterns: string[];

  setup(() => {
    clock = new FakeClock(1_000_000);
    pool = new KeyPool({ clock, ...DEFAULT_CONFIG });
    answers = new Map();
    asked = [];
    patterns = ['openai/gpt-4o*', 'anthropic/claude-sonnet-4*', 'anthropic/claude-opus-4-1', 'custom/*'];
    const catalogue = new ProviderCatalogue([
      provider('openai'),
      provider('anthropic'),
      provider('local', { models: ['qwen-local'] }),
    ]);
    catalog = new ChatModelCatalog({
      pool,
      catalogue,
      patterns: () => patterns,
      logger: nullLogger,
      clock,
      fetchModels: async (p) => {
        asked.push(p.id);
        const a = answers.get(p.id) ?? [];
        if (a instanceof Error) throw a;
        return a;
      },
    });
  });

  teardown(() => {
    catalog.dispose();
    pool.dispose();
  });

  const ids = () => catalog.list().map((m) => m.id);
  const changes = () => {
    let n = 0;
    catalog.onDidChange(() => n++);
    return () => n;
  };

  test("no keys, no models; a key brings its provider's /models, filtered by the patterns", async () => {
    assert.deepEqual(ids(), []);
    answers.set('openai', ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo', 'dall-e-3']);
    const fired = changes();
    pool.upsert(key('k1', 'openai'));
    await until(catalog.onDidChange, () => ids().length === 2, 'the fetched models');
    assert.deepEqual(ids(), ['openai/gpt-4o', 'openai/gpt-4o-mini']);
    assert.ok(fired() >= 1);
    const m = catalog.list()[0];
    assert.equal(m.providerName, 'OPENAI');
    assert.equal(m.model, 'gpt-4o');
    assert.equal(m.limits.toolCalling, true);
    assert.deepEqual(asked, ['openai']);
  });

  test('models a key names are always shown, and a provider whose keys all name models is not asked', async () => {
    pool.upsert(key('k1', 'openai', ['my-fine-tune', 'gpt-4o']));
    pool.upsert(key('k2', 'local'));
    answers.set('local', ['other-local']);
    await catalog.resolve();
    assert.deepEqual(ids(), ['openai/my-fine-tune', 'openai/gpt-4o', 'local/qwen-local']);
    assert.deepEqual(asked, ['local'], 'only the provider with a key that serves every model');
  });

  test("a provider whose /models fails shows the patterns' exact ids for it, and is asked again later", async () => {
    answers.set('anthropic', new Error('HTTP 500'));
    pool.upsert(key('a1', 'anthropic'));
    await catalog.resolve();
    assert.deepEqual(ids(), ['anthropic/claude-opus-4-1']);
    answers.set('anthropic', ['claude-sonnet-4-6', 'claude-haiku-4-5']);
    await catalog.resolve();
    assert.deepEqual(asked, ['anthropic'], 'a failure is not retried at once');
    clock.advance(301_000);
    await catalog.resolve();
    assert.deepEqual(ids(), ['anthropic/claude-sonnet-4-6']);
  });

  test('the list follows removing keys and changing the patterns; unrelated pool changes do not fire', async () => {
    answers.set('openai', ['gpt-4o', 'gpt-5']);
    pool.upsert(key('k1', 'openai'));
    await catalog.resolve();
    const fired = changes();
    pool.discard('k1');
    pool.restore('k1');
    await catalog.resolve();
    assert.equal(fired(), 0, 'a state change leaves the list alone');
    patterns = ['openai/*'];
    catalog.refresh();
    assert.deepEqual(ids(), ['openai/gpt-4o', 'openai/gpt-5']);
    assert.equal(fired(), 1);
    pool.remove('k1');
    await until(catalog.onDidChange, () => ids().length === 0, 'the models to go with the key');
  });

  test("a new key of a provider makes its /models be read again (the key's account may see more)", async () => {
    answers.set('openai', ['gpt-4o']);
    pool.upsert(key('k1', 'openai'));
    await catalog.resolve();
    answers.set('openai', ['gpt-4o', 'gpt-4o-mini']);
    pool.upsert(key('k2', 'openai'));
    await until(catalog.onDidChange, () => ids().length === 2, "the second key's models");
    assert.deepEqual(asked, ['openai', 'openai']);
  });

  test('resolve gives up waiting after its bound and answers with what is known', async () => {
    catalog.dispose();
    let release: (v: string[]) => void = () => undefined;
    catalog = new ChatModelCatalog({
      pool,
      catalogue: new ProviderCatalogue([provider('openai')]),
      patterns: () => ['openai/gpt-4o'],
      logger: nullLogger,
      clock,
      fetchModels: () => new Promise((r) => (release = r)),
    });
    pool.upsert(key('k1', 'openai'));
    assert.deepEqual(
      (await catalog.resolve(20)).map((m) => m.id),
      ['openai/gpt-4o'],
    );
    release(['gpt-4o', 'gpt-4o-2024']);
  });
});
