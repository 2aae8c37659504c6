import * as assert from 'node:assert/strict';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { resolveRoute } from '../../../src/core/proxy/router';
import { Stats } from '../../../src/core/accounting/stats';
import {
  buildModels,
  buildProviders,
  buildStatus,
  formatRemaining,
  writeStatus,
} from '../../../src/core/accounting/status';
import { renderStatus, writeStatusTable } from '../../../src/core/accounting/statusTable';
import type { StatusDoc } from '../../../src/core/accounting/statusTable';
import type { Budgets } from '../../../src/core/accounting/budgets';
import type { PoolKey, ProviderSpec, StrategyName } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

/** A fake key shaped like a real one; only its masked form may appear anywhere. */
function key(id: string, providerId: string, models?: string[]): PoolKey {
  const secret = `sk-test-${id}-${'Zq8vLm3Np7Rt'.repeat(3)}`;
  return { id, providerId, label: id, masked: `sk-…${secret.slice(-4)}`, models, addedAt: 1, secret };
}

const LOCAL: ProviderSpec = {
  id: 'local',
  name: 'Local vLLM',
  shape: 'openai',
  baseUrl: 'http://127.0.0.1:8000/v1',
  auth: 'bearer',
  testRequest: { method: 'GET', path: '/models' },
  envNames: [],
  models: ['qwen2.5-coder'],
};

interface OpenAIModels {
  object: 'list';
  data: Array<{ id: string; object: 'model'; created: number; owned_by: string; provider: string }>;
}
interface AnthropicModels {
  data: Array<{ type: 'model'; id: string; display_name: string; created_at: string; provider: string }>;
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

suite('buildModels', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  let catalogue: ProviderCatalogue;
  setup(() => {
    clock = new FakeClock();
    pool = new KeyPool({
      clock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    catalogue = new ProviderCatalogue([LOCAL]);
  });
  teardown(() => pool.dispose());

  /** The models body; a missing one fails here, so each test states when it expects none. */
  const parsed = <T>(shape: 'openai' | 'anthropic'): T => {
    const text = buildModels(shape, pool, catalogue);
    assert.ok(text !== undefined, `no ${shape} model list`);
    return JSON.parse(text) as T;
  };
  const openai = (): OpenAIModels => parsed<OpenAIModels>('openai');
  const anthropic = (): AnthropicModels => parsed<AnthropicModels>('anthropic');

  test('OpenAI shape: a list of model objects; the default provider bare, others prefixed', () => {
    pool.setKeys([
      key('o1', 'openai', ['gpt-4o', 'others']),
      key('o2', 'openai', ['gpt-4o-mini', 'gpt-4o']),
      key('g1', 'groq', ['llama-3.3-70b-versatile']),
    ]);
    const body = openai();
    assert.equal(body.object, 'list');
    const ids = body.data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['gpt-4o', 'gpt-4o-mini', 'groq/llama-3.3-70b-versatile']);
    assert.deepEqual(
      body.data.find((m) => m.id === 'groq/llama-3.3-70b-versatile'),
      { id: 'groq/llama-3.3-70b-versatile', object: 'model', created: 0, owned_by: 'groq', provider: 'groq' },
    );
    assert.equal(body.data.find((m) => m.id === 'gpt-4o')?.owned_by, 'openai');
  });

  test('"others" is an allow-list marker, never a model', () => {
    pool.setKeys([key('o1', 'openai', ['others']), key('o2', 'openai', ['gpt-4o'])]);
    assert.deepEqual(
      openai().data.map((m) => m.id),
      ['gpt-4o'],
    );
    pool.setKeys([key('o1', 'openai', ['others'])]);
    assert.equal(buildModels('openai', pool, catalogue), undefined);
  });

  test('the first provider of the shape with keys is the default, so its models are bare', () => {
    pool.setKeys([key('g1', 'groq', ['llama-3.3-70b-versatile']), key('x1', 'xai', ['grok-4'])]);
    assert.deepEqual(
      openai()
        .data.map((m) => m.id)
        .sort(),
      ['llama-3.3-70b-versatile', 'xai/grok-4'],
    );
  });

  test("a custom provider's declared models are listed with its prefix", () => {
    pool.setKeys([key('o1', 'openai', ['gpt-4o']), key('l1', 'local')]);
    assert.deepEqual(
      openai()
        .data.map((m) => m.id)
        .sort(),
      ['gpt-4o', 'local/qwen2.5-coder'],
    );
  });

  test('Anthropic shape: type "model" entries with has_more, first_id and last_id', () => {
    pool.setKeys([key('a1', 'anthropic', ['claude-sonnet-4-5', 'claude-haiku-4-5'])]);
    const body = anthropic();
    assert.equal(body.has_more, false);
    assert.deepEqual(
      body.data.map((m) => m.id),
      ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    );
    assert.deepEqual(body.data[0], {
      type: 'model',
      id: 'claude-sonnet-4-5',
      display_name: 'claude-sonnet-4-5',
      created_at: '1970-01-01T00:00:00Z',
      provider: 'anthropic',
    });
    assert.equal(body.first_id, 'claude-sonnet-4-5');
    assert.equal(body.last_id, 'claude-haiku-4-5');
  });

  test('nothing known (no keys, or keys without model lists): undefined, so the proxy asks upstream', () => {
    assert.equal(buildModels('openai', pool, catalogue), undefined);
    assert.equal(buildModels('anthropic', pool, catalogue), undefined);
    pool.setKeys([key('o1', 'openai'), key('a1', 'anthropic')]);
    assert.equal(buildModels('openai', pool, catalogue), undefined);
    assert.equal(buildModels('anthropic', pool, catalogue), undefined);
  });

  test('every listed id routes back to the provider that owns it, with the bare model upstream', () => {
    pool.setKeys([
      key('o1', 'openai', ['gpt-4o']),
      key('g1', 'groq', ['llama-3.3-70b-versatile']),
      key('r1', 'openrouter', ['anthropic/claude-sonnet-4.5']),
      key('l1', 'local'),
      key('a1', 'anthropic', ['claude-sonnet-4-5']),
    ]);
    const data = openai().data;
    assert.equal(data.length, 4, 'the Anthropic model is not offered to an OpenAI-shape client');
    for (const m of data) {
      const route = resolveRoute({ shape: 'openai', model: m.id }, catalogue, pool);
      assert.equal(route.provider.id, m.owned_by, m.id);
      assert.ok(!route.model?.startsWith(`${m.owned_by}/`), `${m.id} reaches ${m.owned_by} as ${route.model}`);
    }
  });
});

/** A pool and counters on one fake clock for the length of `run` (until its promise settles), then disposed. */
function withPool<T>(strategy: StrategyName, run: (pool: KeyPool, stats: Stats) => T): T {
  const clock = new FakeClock();
  const pool = new KeyPool({
    clock,
    strategy,
    cooldownStepsMs: [10_000],
    maxCooldownMs: 60_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  const stats = new Stats(clock);
  const dispose = (): void => {
    stats.dispose();
    pool.dispose();
  };
  let out: T;
  try {
    out = run(pool, stats);
  } catch (err) {
    dispose();
    throw err;
  }
  if (out instanceof Promise) return out.finally(dispose) as T;
  dispose();
  return out;
}

suite('buildStatus', () => {
  test('masked keys with state, counters and provider totals; no key text anywhere', () => {
    withPool('round-robin', (pool, stats) => {
      const keys = [key('o1', 'openai', ['gpt-4o']), key('o2', 'openai'), key('a1', 'anthropic')];
      pool.setKeys(keys);
      pool.report('o2', undefined, { kind: 'invalid', status: 401, reason: 'HTTP 401 invalid_api_key' });
      stats.record({
        keyId: 'o1',
        providerId: 'openai',
        model: 'gpt-4o',
        endpoint: '/v1/chat/completions',
        ok: true,
        status: 200,
        latencyMs: 120,
        ttfbMs: 80,
        inputTokens: 10,
        outputTokens: 5,
      });
      const status = buildStatus({
        pool,
        stats,
        catalogue: new ProviderCatalogue(),
        version: '0.1.0',
        instanceId: 'inst-1',
        endpoint: 'http://127.0.0.1:8787',
      });
      const text = JSON.stringify(status);
      for (const k of keys) assert.ok(!text.includes(k.secret), `secret of ${k.id} leaked`);
      assert.equal(status.keyrelay, true);
      assert.equal(status.version, '0.1.0');
      assert.equal(status.instanceId, 'inst-1');
      assert.equal(status.endpoint, 'http://127.0.0.1:8787');
      assert.equal(status.strategy, 'round-robin');
      const byId = new Map((status.keys as Array<Record<string, unknown>>).map((k) => [k.id, k]));
      assert.equal(byId.get('o1')?.masked, keys[0].masked);
      assert.equal(byId.get('o1')?.state, 'active');
      assert.equal(byId.get('o1')?.requestsToday, 1);
      assert.equal((byId.get('o1')?.stats as { requests: number }).requests, 1);
      assert.equal(byId.get('o2')?.state, 'invalid');
      assert.equal(byId.get('o2')?.requestsToday, 0);
      assert.deepEqual(status.providers, [
        { id: 'openai', name: 'OpenAI', shape: 'openai', baseUrl: 'https://api.openai.com/v1', keys: 2, usable: 1 },
        {
          id: 'anthropic',
          name: 'Anthropic',
          shape: 'anthropic',
          baseUrl: 'https://api.anthropic.com/v1',
          keys: 1,
          usable: 1,
        },
      ]);
      assert.equal((status.totals as { requests: number }).requests, 1);
    });
  });
});

suite('writeStatus', () => {
  test('the status document as ASCII JSON: same content, redacted, every non-ASCII char escaped', () =>
    withPool('least-used', async (pool, stats) => {
      const keys = [
        { ...key('o1', 'openai', ['gpt-4o']), account: 'équipe', weight: 2 },
        key('o2', 'openai'),
        key('a1', 'anthropic'),
        // Every kind of char a string member can hold: quote, backslash, controls, DEL, BMP, astral, lone surrogate.
        { ...key('x1', 'openai'), label: 'a "b" \\ c\n\t\u0001\u007f é € 😬 \ud800 end' },
      ];
      pool.setKeys(keys);
      pool.report('o1', 'gpt-4o', { kind: 'rate-limited', status: 429, retryAfterMs: 5_000, reason: 'HTTP 429 😬' });
      pool.report('o2', undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5_000, reason: 'slow down' });
      const base = { keyId: 'o1', providerId: 'openai', endpoint: '/v1/chat/completions', status: 200, latencyMs: 9 };
      stats.record({ ...base, model: 'gpt-4o', ok: true, inputTokens: 3, outputTokens: 4 });
      stats.record({ ...base, model: 'gpt-4o-mini', ok: false, status: 500 });
      stats.record({ ...base, keyId: 'a1', providerId: 'anthropic', model: 'claude-x', ok: true, costUsd: 0.25 });
      const budgets = {
        active: true,
        standing: (k: { id: string }) => ({ spent: { dayUsd: k.id.length, monthUsd: 0.5 } }),
      };
      const opts = {
        pool,
        stats,
        catalogue: new ProviderCatalogue(),
        version: '1',
        instanceId: 'i',
        endpoint: 'http://x',
        budgets: budgets as unknown as Budgets,
      };
      const seen: string[] = [];
      const parts: string[] = [];
      await writeStatus(
        opts,
        (text) => {
          seen.push(text);
          return text.replace('slow down', 'slow [redacted] …');
        },
        (part) => parts.push(part) > 0,
      );
      const text = parts.join('');
      assert.match(text, /^[\x20-\x7f]+$/, 'ASCII only (DEL as JSON.stringify writes it)');
      assert.ok(text.includes('"masked":"sk-\\u2026'), 'the ellipsis as an escape');
      const whole = JSON.parse(JSON.stringify(buildStatus(opts))) as unknown;
      assert.deepEqual(JSON.parse(seen.join('')), whole, 'all of it redacted');
      const want = JSON.parse(JSON.stringify(buildStatus(opts)).replace('slow down', 'slow [redacted] …')) as unknown;
      assert.deepEqual(JSON.parse(text), want);
      const doc = want as { keys: Array<{ account?: string; label: string; history: Array<{ reason: string }> }> };
      assert.equal(doc.keys[0].account, 'équipe');
      assert.match(doc.keys[0].history[0].reason, /HTTP 429 😬$/);
      assert.equal(doc.keys[3].label, keys[3].label);
    }));
  test('written in parts below 128 KB, each ending between two entries', () =>
    withPool('round-robin', async (pool, stats) => {
      pool.setKeys(Array.from({ length: 2500 }, (_, i) => key(`k${i}`, 'openai')));
      const opts = { pool, stats, catalogue: new ProviderCatalogue(), version: '1', instanceId: 'i' };
      const parts: string[] = [];
      await writeStatus(
        opts,
        (text) => text,
        (text) => parts.push(text) > 0,
      );
      assert.ok(parts.length >= 5, `${parts.length} parts`);
      assert.match(parts[0], /^\{"keyrelay":true,.*,"keys":\[\{"id":"k0",.*\}$/);
      assert.match(parts.at(-1)!, /\],"at":\d+,.*\}$/);
      for (const [i, p] of parts.entries()) {
        assert.ok(p.length < 128 * 1024, `part ${i}: ${p.length} chars`);
        if (i > 0) assert.match(p, /^,\{"id":"k\d+"/, `part ${i} starts with an entry`);
      }
      const doc = JSON.parse(parts.join('')) as { keys: unknown[]; providers: Array<{ keys: number }> };
      assert.equal(doc.keys.length, 2500);
      assert.deepEqual(doc, JSON.parse(JSON.stringify(buildStatus(opts))));
      assert.equal(doc.providers[0].keys, 2500);
    }));
  test('waits while the reader is behind: keys as they were at the start, counters as they are; stops when the reader goes', () =>
    withPool('round-robin', async (pool, stats) => {
      const keys = Array.from({ length: 2500 }, (_, i) => key(`k${i}`, 'openai'));
      pool.setKeys(keys);
      const opts = { pool, stats, catalogue: new ProviderCatalogue(), version: '1', instanceId: 'i' };
      const parts: string[] = [];
      let behind: ((more: boolean) => void) | undefined;
      const sink = (text: string): boolean | Promise<boolean> => {
        parts.push(text);
        return parts.length === 1 ? new Promise<boolean>((resolve) => (behind = resolve)) : true;
      };
      const whole = writeStatus(opts, (text) => text, sink);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(parts.length, 1, 'nothing more is built while the reader is behind');
      pool.setKeys(keys.slice(0, 10)); // removed meanwhile
      stats.record({ keyId: 'k2499', providerId: 'openai', endpoint: '/v1/x', ok: true, status: 200, latencyMs: 3 });
      behind!(true);
      await whole;
      const doc = JSON.parse(parts.join('')) as { keys: Array<{ id: string; requestsToday: number }> };
      assert.equal(doc.keys.length, 2500, 'every key of the start');
      assert.equal(doc.keys[2499].requestsToday, 1, 'the request counted while the pass waited');

      parts.length = 0;
      const gone = writeStatus(
        opts,
        (text) => text,
        (text) => (parts.push(text), Promise.resolve(false)),
      );
      await gone;
      assert.equal(parts.length, 1, 'the pass stopped when its reader went away');
    }));
});

suite('writeStatusTable', () => {
  test("the server's table is the one the CLI renders from the JSON document, in parts ending after a line", () => {
    withPool('round-robin', (pool, stats) => {
      const keys = [
        { ...key('o1', 'openai', ['gpt-4o']), account: 'team' },
        key('o2', 'openai'),
        { ...key('o3', 'openai'), label: 'spaces at the end   ' },
        { ...key('a1', 'anthropic'), label: 'é 😬 wide' },
        ...Array.from({ length: 6000 }, (_, i) => key(`m${i}`, 'mistral')),
      ];
      pool.setKeys(keys);
      pool.report('o1', 'gpt-4o', { kind: 'rate-limited', status: 429, retryAfterMs: 5_000, reason: 'HTTP 429' });
      pool.report('o2', undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5_000, reason: 'slow down' });
      pool.report('a1', undefined, { kind: 'invalid', status: 401, reason: 'HTTP 401 invalid x-api-key\nsecond line' });
      const base = { keyId: 'o1', providerId: 'openai', endpoint: '/v1/chat/completions', status: 200, latencyMs: 9 };
      stats.record({ ...base, model: 'gpt-4o-mini', ok: true, inputTokens: 3, outputTokens: 4, costUsd: 0.0012 });
      stats.record({ ...base, keyId: 'm7', providerId: 'mistral', model: 'codestral', ok: false, status: 500 });
      const opts = { pool, stats, catalogue: new ProviderCatalogue(), version: '1', endpoint: 'http://x' };
      const parts: string[] = [];
      const redacted: string[] = [];
      writeStatusTable(
        opts,
        (text) => {
          redacted.push(text);
          return text.replace('slow down', 'slow [redacted]');
        },
        (part) => parts.push(part),
      );
      const doc = JSON.parse(JSON.stringify(buildStatus({ ...opts, instanceId: 'i' }))) as StatusDoc;
      const want = `${renderStatus(doc).join('\n')}\n`;
      assert.equal(redacted.join(''), want);
      assert.equal(parts.join(''), want.replace('slow down', 'slow [redacted]'));
      assert.ok(parts.length >= 3, `${parts.length} parts`);
      for (const [i, p] of parts.entries()) {
        assert.ok(Buffer.byteLength(p) < 128 * 1024, `part ${i}`);
        assert.ok(p.endsWith('\n'), `part ${i} ends after a line`);
      }
      const text = parts.join('');
      assert.match(text, /^KeyRelay 1 at http:\/\/x · round-robin · 6001\/6004 keys usable · 2 requests today\n/);
      const lines = text.split('\n');
      // Padded to the widest of its provider's column, the label's own trailing spaces kept inside the line.
      assert.ok(lines.includes('  spaces at the end     sk-…p7Rt  active                     0 today'), 'padded');
      assert.ok(lines.includes('  é 😬 wide  sk-…p7Rt  invalid  0 today      HTTP 401 invalid x-api-key second line'));
    });
  });
});

suite('formatRemaining', () => {
  test('seconds, then minutes, then hours; never 0', () => {
    assert.deepEqual([0, 29_001, 89_000, 300_000, 5_399_000, 7_200_000].map(formatRemaining), [
      '1s',
      '30s',
      '89s',
      '5m',
      '90m',
      '2h',
    ]);
  });
});

suite('buildProviders', () => {
  let clock: FakeClock;
  let pool: KeyPool;
  setup(() => {
    clock = new FakeClock();
    pool = new KeyPool({
      clock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 60_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
  });
  teardown(() => pool.dispose());

  test('providers with keys and custom ones, keys counted by state, models with the prefix they take, no key text', () => {
    const catalogue = new ProviderCatalogue([LOCAL]);
    const keys = [
      key('o1', 'openai', ['gpt-4o']),
      key('o2', 'openai'),
      key('o3', 'openai'),
      key('g1', 'groq', ['llama-3.3-70b-versatile']),
    ];
    pool.setKeys(keys);
    pool.report('o2', undefined, { kind: 'invalid', status: 401, reason: 'bad key' });
    pool.report('o3', undefined, { kind: 'rate-limited', status: 429, retryAfterMs: 5000, reason: 'slow down' });
    const text = buildProviders(pool, catalogue);
    for (const k of keys) assert.ok(!text.includes(k.secret), 'no key text');
    assert.ok(!text.includes('sk-'), 'not even masked keys');
    const body = JSON.parse(text) as { object: string; data: Array<Record<string, unknown>> };
    assert.equal(body.object, 'list');
    assert.deepEqual(
      body.data.map((p) => p.id),
      ['openai', 'groq', 'local'],
      'presets with keys in their fixed order, then custom providers (even without keys)',
    );
    const [openai, groq, local] = body.data;
    assert.deepEqual(openai, {
      id: 'openai',
      object: 'provider',
      name: 'OpenAI',
      shape: 'openai',
      base_url: 'https://api.openai.com/v1',
      custom: false,
      default_for_shape: true,
      model_prefix: '',
      models: ['gpt-4o'],
      keys: { total: 3, usable: 1, active: 1, cooling: 1, invalid: 1, discarded: 0 },
    });
    assert.equal(groq.model_prefix, 'groq/');
    assert.equal(groq.default_for_shape, false);
    assert.deepEqual(local.keys, { total: 0, usable: 0, active: 0, cooling: 0, invalid: 0, discarded: 0 });
    assert.deepEqual(local.models, ['qwen2.5-coder']);
    assert.equal(local.custom, true);
  });

  test('no keys and no custom providers: an empty list', () => {
    assert.deepEqual(JSON.parse(buildProviders(pool, new ProviderCatalogue())), { object: 'list', data: [] });
  });
});
