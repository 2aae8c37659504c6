import * as assert from 'node:assert/strict';
import { isConfiguredProvider, resolveRoute } from '../../../src/core/proxy/router';
import type { RoutingPool } from '../../../src/core/proxy/router';
import { ProviderCatalogue, validateProviderSpec } from '../../../src/core/config/providers';
import { ProxyError } from '../../../src/core/errors';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { DEFAULT_CONFIG } from '../../../src/core/types';
import type { PoolKey } from '../../../src/core/types';
import { FakeClock } from '../fakes/fakeClock';

/** A pool stand-in: provider id → explicit model lists of its keys ([] = keys without lists). */
function pool(keys: Record<string, string[]>): RoutingPool {
  const list = Object.keys(keys);
  return { hasKeys: (id) => id in keys, listsModel: (id, model) => (keys[id] ?? []).includes(model), list: () => list };
}

const custom = [
  validateProviderSpec({ id: 'mock', shape: 'openai', baseUrl: 'http://127.0.0.1:9999/v1' }),
  validateProviderSpec({ id: 'claudeproxy', shape: 'anthropic', baseUrl: 'http://127.0.0.1:9998/v1' }),
];
const cat = new ProviderCatalogue(custom);

function route(shape: 'openai' | 'anthropic', model: string | undefined, keys: Record<string, string[]>) {
  const r = resolveRoute({ shape, model }, cat, pool(keys));
  return [r.provider.id, r.model, r.stripped];
}

suite('router: resolveRoute', () => {
  test('a configured provider prefix is stripped, the rest (with its own slashes) forwarded', () => {
    assert.deepEqual(route('openai', 'openrouter/anthropic/claude-3.5-sonnet', { openrouter: [] }), [
      'openrouter',
      'anthropic/claude-3.5-sonnet',
      true,
    ]);
    assert.deepEqual(route('anthropic', 'anthropic/claude-3.5-sonnet', { anthropic: [] }), [
      'anthropic',
      'claude-3.5-sonnet',
      true,
    ]);
    assert.deepEqual(route('openai', 'groq/llama-3.1-8b-instant', { groq: [], openai: [] }), [
      'groq',
      'llama-3.1-8b-instant',
      true,
    ]);
  });

  test('a prefix that is not a configured provider stays part of the model', () => {
    assert.deepEqual(route('openai', 'meta-llama/llama-3-70b', { openrouter: [] }), [
      'openrouter',
      'meta-llama/llama-3-70b',
      false,
    ]);
    // `openai` is a preset, but without keys it is not configured: OpenRouter gets the whole id.
    assert.deepEqual(route('openai', 'openai/gpt-4o', { openrouter: [] }), ['openrouter', 'openai/gpt-4o', false]);
    assert.deepEqual(route('openai', 'deepseek/deepseek-chat', { openrouter: [] }), [
      'openrouter',
      'deepseek/deepseek-chat',
      false,
    ]);
    // With OpenAI keys too, the prefix is OpenAI's: documented, and `openrouter/openai/gpt-4o` forces OpenRouter.
    assert.deepEqual(route('openai', 'openai/gpt-4o', { openrouter: [], openai: [] }), ['openai', 'gpt-4o', true]);
    assert.deepEqual(route('openai', 'openrouter/openai/gpt-4o', { openrouter: [], openai: [] }), [
      'openrouter',
      'openai/gpt-4o',
      true,
    ]);
  });

  test('custom providers count as configured even without keys', () => {
    assert.deepEqual(route('openai', 'mock/gpt-4o', {}), ['mock', 'gpt-4o', true]);
    assert.ok(isConfiguredProvider('mock', cat, pool({})));
    assert.ok(!isConfiguredProvider('openai', cat, pool({})));
    assert.ok(!isConfiguredProvider('nope', cat, pool({ nope: [] })));
  });

  test('per-key model lists pick the provider', () => {
    const keys = { openai: ['gpt-4o', 'others'], groq: ['llama-3.1-8b-instant'], mock: ['meta-llama/llama-3-70b'] };
    assert.deepEqual(route('openai', 'llama-3.1-8b-instant', keys), ['groq', 'llama-3.1-8b-instant', false]);
    assert.deepEqual(route('openai', 'meta-llama/llama-3-70b', keys), ['mock', 'meta-llama/llama-3-70b', false]);
    // Not listed anywhere: the default provider (first openai-shape provider with keys).
    assert.deepEqual(route('openai', 'gpt-4.1', keys), ['openai', 'gpt-4.1', false]);
    // A list on an anthropic-shape provider never pulls an openai-shape request.
    assert.deepEqual(route('openai', 'claude-x', { claudeproxy: ['claude-x'], mock: [] }), ['mock', 'claude-x', false]);
  });

  test('default provider per shape: first with keys, else the preset (fallback mode)', () => {
    assert.deepEqual(route('openai', 'gpt-4o', {}), ['openai', 'gpt-4o', false]);
    assert.deepEqual(route('anthropic', 'claude-sonnet-4-5', {}), ['anthropic', 'claude-sonnet-4-5', false]);
    assert.deepEqual(route('anthropic', 'claude-sonnet-4-5', { claudeproxy: [] }), [
      'claudeproxy',
      'claude-sonnet-4-5',
      false,
    ]);
    assert.deepEqual(route('openai', undefined, { gemini: [] }), ['gemini', undefined, false]);
    assert.deepEqual(route('openai', 'x/', { groq: [] }), ['groq', 'x/', false]);
  });

  test('never crosses API shapes', () => {
    // Anthropic-shape request naming an openai-shape provider that has keys, no anthropic keys: refuse clearly.
    assert.throws(
      () => route('anthropic', 'openrouter/anthropic/claude-3.5-sonnet', { openrouter: [] }),
      (e: unknown) =>
        e instanceof ProxyError &&
        e.code === 'unknown_provider' &&
        /"openrouter".*OpenAI API.*Anthropic Messages API/.test(e.message),
    );
    assert.throws(
      () => route('openai', 'anthropic/claude-3.5-sonnet', { anthropic: [] }),
      (e: unknown) =>
        e instanceof ProxyError && e.code === 'unknown_provider' && /speaks the Anthropic Messages API/.test(e.message),
    );
    // …but an openai-shape provider with keys may take the whole id (OpenRouter's `anthropic/…` models).
    assert.deepEqual(route('openai', 'anthropic/claude-3.5-sonnet', { anthropic: [], openrouter: [] }), [
      'openrouter',
      'anthropic/claude-3.5-sonnet',
      false,
    ]);
  });

  test('no provider of the shape at all: unknown_provider', () => {
    const only = new ProviderCatalogue([
      validateProviderSpec({ id: 'anthropic', shape: 'openai', baseUrl: 'http://127.0.0.1:1/v1' }),
    ]);
    assert.throws(
      () => resolveRoute({ shape: 'anthropic', model: 'claude' }, only, pool({})),
      (e: unknown) => e instanceof ProxyError && e.code === 'unknown_provider' && /Add a key/.test(e.message),
    );
  });

  test('the providers with keys are remembered per key set: adding, removing and the catalogue changing all count', () => {
    const keys = new KeyPool({ clock: new FakeClock(1_000), ...DEFAULT_CONFIG });
    const cat2 = new ProviderCatalogue(custom);
    const key = (id: string, providerId: string, models?: string[]): PoolKey => ({
      id,
      providerId,
      label: id,
      masked: 'sk-…',
      addedAt: 1,
      secret: `sk-${id}`,
      ...(models ? { models } : {}),
    });
    const at = (model?: string): string => resolveRoute({ shape: 'openai', model }, cat2, keys).provider.id;
    assert.equal(at('gpt-4o'), 'openai'); // no keys: the preset
    keys.upsert(key('m1', 'mock'));
    assert.equal(at('gpt-4o'), 'mock');
    keys.upsert(key('g1', 'groq', ['llama-3.3-70b-versatile']));
    assert.equal(at('llama-3.3-70b-versatile'), 'groq', 'a key listing the model, found after the key set changed');
    assert.equal(at('gpt-4o'), 'groq', 'the first provider with keys in catalogue order (presets before custom)');
    keys.remove('g1');
    assert.equal(at('llama-3.3-70b-versatile'), 'mock');
    keys.setKeys([key('o1', 'openai')]);
    assert.equal(at(), 'openai');
    // A changed catalogue is read again: `openai` redeclared with the Anthropic shape.
    cat2.set([
      ...custom,
      validateProviderSpec({ id: 'openai', shape: 'anthropic', baseUrl: 'http://127.0.0.1:9997/v1' }),
    ]);
    assert.equal(
      resolveRoute({ shape: 'anthropic', model: 'claude' }, cat2, keys).provider.id,
      'openai',
      'openai now speaks the Anthropic shape: the memo was made again for the new catalogue',
    );
  });
});
