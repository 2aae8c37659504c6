import * as assert from 'node:assert/strict';
import {
  isPresetId,
  normalizeBaseUrl,
  PRESETS,
  ProviderCatalogue,
  validateProviderSpec,
} from '../../../src/core/config/providers';
import { ProxyError } from '../../../src/core/errors';
import type { ProviderSpec } from '../../../src/core/types';

function throwsConfig(fn: () => unknown, field: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof ProxyError && e.code === 'invalid_config' && e.status === 400 && field.test(e.message),
  );
}

const mock: ProviderSpec = validateProviderSpec({
  id: 'mock',
  name: 'Mock',
  shape: 'openai',
  baseUrl: 'http://127.0.0.1:9999/v1/',
  auth: 'bearer',
});

suite('providers: presets', () => {
  test('real base URLs with the version segment and auth styles', () => {
    const want: Record<string, [string, string]> = {
      openai: ['https://api.openai.com/v1', 'bearer'],
      anthropic: ['https://api.anthropic.com/v1', 'x-api-key'],
      openrouter: ['https://openrouter.ai/api/v1', 'bearer'],
      gemini: ['https://generativelanguage.googleapis.com/v1beta/openai', 'bearer'],
      groq: ['https://api.groq.com/openai/v1', 'bearer'],
      mistral: ['https://api.mistral.ai/v1', 'bearer'],
      deepseek: ['https://api.deepseek.com/v1', 'bearer'],
      xai: ['https://api.x.ai/v1', 'bearer'],
      together: ['https://api.together.xyz/v1', 'bearer'],
      fireworks: ['https://api.fireworks.ai/inference/v1', 'bearer'],
      cerebras: ['https://api.cerebras.ai/v1', 'bearer'],
      custom: ['', 'bearer'],
    };
    assert.deepEqual(
      PRESETS.map((p) => p.id),
      Object.keys(want),
    );
    for (const p of PRESETS) {
      assert.deepEqual([p.baseUrl, p.auth], want[p.id], p.id);
      assert.ok(!p.baseUrl.endsWith('/'));
      assert.ok(p.testRequest.path.startsWith('/'));
      assert.equal(p.shape, p.id === 'anthropic' ? 'anthropic' : 'openai');
    }
    assert.equal(PRESETS.find((p) => p.id === 'mistral')!.hasFim, true);
    assert.deepEqual(PRESETS.find((p) => p.id === 'gemini')!.envNames, ['GEMINI', 'GOOGLE']);
    assert.ok(isPresetId('groq') && !isPresetId('mock'));
  });
});

suite('providers: ProviderCatalogue', () => {
  test('detect by key prefix, longest first', () => {
    const c = new ProviderCatalogue();
    const d = (k: string) => c.detect(k)?.id;
    assert.equal(d('sk-ant-api03-testtesttesttest'), 'anthropic');
    assert.equal(d('sk-or-v1-testtesttesttest'), 'openrouter');
    assert.equal(d('sk-proj-testtesttesttest'), 'openai');
    assert.equal(d('gsk_testtesttesttest'), 'groq');
    assert.equal(d('xai-testtesttesttest'), 'xai');
    assert.equal(d('AIzaSytesttesttesttest'), 'gemini');
    assert.equal(d('csk-testtesttesttest'), 'cerebras');
    assert.equal(d('fw_testtesttesttest'), 'fireworks');
    assert.equal(d('0123456789abcdef0123456789abcdef'), undefined);
  });

  test('custom providers: appended, or replacing a preset in place; set() replaces them', () => {
    const gw = validateProviderSpec({ id: 'openai', shape: 'openai', baseUrl: 'https://gw.example.com/openai/v1' });
    const c = new ProviderCatalogue([mock, gw]);
    assert.equal(c.get('openai')!.baseUrl, 'https://gw.example.com/openai/v1');
    assert.equal(c.list()[0].id, 'openai');
    assert.equal(c.list().at(-1)!.id, 'mock');
    assert.ok(c.isCustom('mock') && c.isCustom('openai') && !c.isCustom('groq'));
    c.set([]);
    assert.equal(c.get('mock'), undefined);
    assert.equal(c.get('openai')!.baseUrl, 'https://api.openai.com/v1');
  });

  test('overriding a preset keeps the fields the override does not set (key prefix, auth, models)', () => {
    const preset = new ProviderCatalogue().get('anthropic')!;
    const gw = validateProviderSpec({ id: 'anthropic', baseUrl: 'https://gw.example.com/anthropic/v1' });
    assert.deepEqual({ ...gw, baseUrl: preset.baseUrl }, preset);
    assert.equal(gw.baseUrl, 'https://gw.example.com/anthropic/v1');
    const c = new ProviderCatalogue([
      validateProviderSpec({ id: 'openai', shape: 'openai', baseUrl: 'https://gw.example.com/v1' }),
    ]);
    assert.equal(c.detect('sk-proj-testtesttesttest')?.id, 'openai');
    // Another shape: only what does not depend on it carries over.
    const other = validateProviderSpec({ id: 'openai', shape: 'anthropic', baseUrl: 'https://gw.example.com/v1' });
    assert.equal(other.auth, 'x-api-key');
    assert.equal(other.keyPrefix, 'sk-');
    assert.equal(other.name, 'OpenAI');
    assert.equal(
      validateProviderSpec({ id: 'mine', shape: 'openai', baseUrl: 'https://x.example/v1' }).keyPrefix,
      undefined,
    );
  });

  test('defaultFor: first provider of the shape with keys, else the openai/anthropic preset', () => {
    const c = new ProviderCatalogue([mock]);
    assert.equal(c.defaultFor('openai', () => false)!.id, 'openai');
    assert.equal(c.defaultFor('anthropic', () => false)!.id, 'anthropic');
    assert.equal(c.defaultFor('openai', (id) => id === 'mock' || id === 'groq')!.id, 'groq');
    assert.equal(c.defaultFor('openai', (id) => id === 'mock')!.id, 'mock');
    assert.equal(c.defaultFor('anthropic', (id) => id === 'mock')!.id, 'anthropic');
  });
});

suite('providers: validateProviderSpec', () => {
  test('fills defaults and strips the trailing slash', () => {
    assert.deepEqual(mock, {
      id: 'mock',
      name: 'Mock',
      shape: 'openai',
      baseUrl: 'http://127.0.0.1:9999/v1',
      auth: 'bearer',
      testRequest: { method: 'GET', path: '/models' },
      envNames: ['MOCK'],
    });
    const a = validateProviderSpec({
      id: 'my-claude',
      shape: 'anthropic',
      baseUrl: 'https://claude.example.com/v1//',
      models: ['claude-x'],
      keyPrefix: 'ck-',
    });
    assert.equal(a.auth, 'x-api-key');
    assert.equal(a.name, 'my-claude');
    assert.equal(a.baseUrl, 'https://claude.example.com/v1');
    assert.deepEqual(a.envNames, ['MY_CLAUDE']);
    assert.deepEqual(a.models, ['claude-x']);
  });

  test('names the bad field and the fix', () => {
    throwsConfig(() => validateProviderSpec(null), /must be an object/);
    throwsConfig(
      () => validateProviderSpec({ id: 'Open/AI', shape: 'openai', baseUrl: 'https://x/v1' }),
      /"id".*no "\/"/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'gemini', baseUrl: 'https://x/v1' }),
      /"shape" must be "openai" or "anthropic"/,
    );
    throwsConfig(() => validateProviderSpec({ id: 'x', shape: 'openai' }), /Provider "x": baseUrl is missing/);
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'ftp://x/v1' }),
      /baseUrl must start with http/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'https://x/v1?key=1' }),
      /baseUrl must not have a query string/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'not a url' }),
      /baseUrl is not a URL/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'https://u:p@x/v1' }),
      /user:password/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'https://x/v1', auth: 'basic' }),
      /"auth" must be one of/,
    );
    throwsConfig(
      () => validateProviderSpec({ id: 'x', shape: 'openai', baseUrl: 'https://x/v1', models: 'gpt-4o' }),
      /"models" must be a list/,
    );
    throwsConfig(
      () =>
        validateProviderSpec({
          id: 'x',
          shape: 'openai',
          baseUrl: 'https://x/v1',
          testRequest: { method: 'GET', path: 'models' },
        }),
      /"testRequest"/,
    );
  });

  test('normalizeBaseUrl', () => {
    assert.equal(normalizeBaseUrl('https://HOST.example.com/'), 'https://host.example.com');
    assert.equal(normalizeBaseUrl(' http://127.0.0.1:8080/api/v1/ '), 'http://127.0.0.1:8080/api/v1');
  });
});

suite('providers: unknown fields', () => {
  test('a typo is rejected with the nearest known name, not ignored (baseURL would leave baseUrl missing or stale)', () => {
    assert.throws(
      () => validateProviderSpec({ id: 'gw', shape: 'openai', baseUrl: 'https://gw.example/v1', keyprefix: 'gw-' }),
      { message: 'Provider "gw": unknown field "keyprefix" (did you mean "keyPrefix"?).' },
    );
    assert.throws(
      () => validateProviderSpec({ id: 'gw', shape: 'openai', baseURL: 'https://gw.example/v1' }),
      /unknown field "baseURL" \(did you mean "baseUrl"\?\)/,
    );
    assert.throws(
      () => validateProviderSpec({ id: 'gw', shape: 'openai', baseUrl: 'https://gw.example/v1', colour: 'red' }),
      /unknown field "colour"; known fields: id, name, shape, baseUrl, auth, testRequest, models, envNames, keyPrefix, hasFim/,
    );
  });
});
