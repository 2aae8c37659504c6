import * as assert from 'node:assert';
import { clineSetup, wireAider, wireClaudeCode, wireCodex, wireContinue } from '../../../src/core/config/clientConfig';

const T = { endpoint: 'http://127.0.0.1:8787', token: 'kr-token', model: 'gpt-4o' };
const MOVED = { ...T, endpoint: 'http://127.0.0.1:9999' };

suite('clientConfig', () => {
  suite('wireContinue', () => {
    test('creates a config with one KeyRelay model when there is none', () => {
      const out = wireContinue(undefined, T);
      assert.match(out, /^schema: v1$/m);
      assert.match(out, /^ {2}- name: "KeyRelay gpt-4o"$/m);
      assert.match(out, /^ {4}provider: openai$/m);
      assert.match(out, /^ {4}apiBase: "http:\/\/127\.0\.0\.1:8787\/v1"$/m);
      assert.match(out, /^ {4}apiKey: "kr-token"$/m);
    });

    test('adds to an existing models list with its indentation and keeps other content', () => {
      const existing =
        'name: Mine\nmodels:\n- name: Local\n  provider: ollama\n  model: llama3\ncontext:\n  - provider: code\n';
      const out = wireContinue(existing, T);
      assert.ok(out.includes('- name: Local\n  provider: ollama\n  model: llama3\ncontext:\n  - provider: code\n'));
      assert.match(out, /^- name: "KeyRelay gpt-4o"$/m);
      assert.strictEqual(
        out.split('\n')[2],
        '# >>> keyrelay (managed by KeyRelay: edits inside this block are replaced)',
      );
    });

    test('re-running after a port change replaces only its own block', () => {
      const once = wireContinue('name: Mine\nmodels:\n  - name: Local\n    provider: ollama\n', T);
      const twice = wireContinue(once, MOVED);
      assert.strictEqual(twice.match(/KeyRelay gpt-4o/g)?.length, 1);
      assert.ok(twice.includes('http://127.0.0.1:9999/v1') && !twice.includes(':8787'));
      assert.ok(twice.includes('  - name: Local\n    provider: ollama\n'));
      assert.strictEqual(wireContinue(twice, MOVED), twice, 'idempotent');
    });

    test('appends a models list when the file has none, and replaces `models: []`', () => {
      assert.match(wireContinue('name: x\n', T), /^name: x\nmodels:\n {2}# >>> keyrelay/);
      assert.match(wireContinue('name: x\nmodels: []\n', T), /^name: x\nmodels:\n {2}# >>> keyrelay/);
    });
  });

  suite('wireClaudeCode', () => {
    test('sets the env block without /v1 and keeps other keys', () => {
      const out = JSON.parse(wireClaudeCode('{"model":"opus","env":{"FOO":"1","ANTHROPIC_BASE_URL":"x"}}', T));
      assert.deepStrictEqual(out, {
        model: 'opus',
        env: { FOO: '1', ANTHROPIC_BASE_URL: 'http://127.0.0.1:8787', ANTHROPIC_AUTH_TOKEN: 'kr-token' },
      });
    });
    test('creates the file content and refuses non-objects', () => {
      assert.deepStrictEqual(JSON.parse(wireClaudeCode(undefined, T)).env.ANTHROPIC_AUTH_TOKEN, 'kr-token');
      assert.throws(() => wireClaudeCode('[1]', T), /not a JSON object/);
      assert.throws(() => wireClaudeCode('{oops', T));
    });
    test('a broken settings.json is reported without quoting it (it may hold a token)', () => {
      const broken = '{"env": {"ANTHROPIC_AUTH_TOKEN": "kr-secret-Zq8vLm3Np7Rt"},}';
      assert.throws(
        () => wireClaudeCode(broken, T),
        (err: Error) => {
          assert.match(err.message, /settings\.json is not valid JSON/);
          assert.ok(!/Zq8v|Np7Rt|secret/.test(err.message), err.message);
          return true;
        },
      );
    });
  });

  suite('wireAider', () => {
    test('a new file: the OpenAI-compatible route with the model as Aider names it', () => {
      assert.strictEqual(
        wireAider(undefined, T),
        [
          '# >>> keyrelay (managed by KeyRelay: edits inside this block are replaced)',
          'openai-api-base: "http://127.0.0.1:8787/v1"',
          'openai-api-key: "kr-token"',
          'model: "openai/gpt-4o"',
          '# <<< keyrelay',
          '',
        ].join('\n'),
      );
      assert.match(wireAider(undefined, { ...T, model: 'openai/o3' }), /^model: "openai\/o3"$/m);
    });
    test("keeps the user's settings, sets aside their own lines for our keys, and re-runs in place", () => {
      const mine = '# mine\nmodel: sonnet\ndark-mode: true\nopenai-api-key: sk-old\n';
      const once = wireAider(mine, T);
      assert.match(once, /^dark-mode: true$/m);
      assert.match(once, /^# \(set aside by KeyRelay[^\n]*\) model: sonnet$/m);
      assert.match(once, /^# \(set aside by KeyRelay[^\n]*\) openai-api-key: sk-old$/m);
      // Exactly one live line per key: YAML refuses duplicates.
      for (const k of ['model', 'openai-api-key', 'openai-api-base'])
        assert.strictEqual(once.match(new RegExp(`^${k}:`, 'gm'))?.length, 1, k);
      const moved = wireAider(`${once}model: added-later\n`, { ...T, endpoint: 'http://127.0.0.1:9911' });
      assert.ok(moved.includes('"http://127.0.0.1:9911/v1"') && !moved.includes(':8787'), moved);
      assert.strictEqual(moved.match(/^model:/gm)?.length, 1, moved);
      assert.strictEqual(moved.match(/>>> keyrelay/g)?.length, 1);
      assert.strictEqual(
        wireAider(moved, { ...T, endpoint: 'http://127.0.0.1:9911' }),
        moved,
        'nothing changes on a re-run',
      );
    });
  });

  suite('wireCodex', () => {
    test('adds the provider table with the Responses API and selects it', () => {
      const out = wireCodex(undefined, { ...T, model: 'gpt-5' });
      assert.match(out, /^model_provider = "keyrelay"$/m);
      assert.match(out, /^model = "gpt-5"$/m);
      assert.match(out, /^\[model_providers\.keyrelay\]$/m);
      assert.match(out, /^base_url = "http:\/\/127\.0\.0\.1:8787\/v1"$/m);
      assert.match(out, /^wire_api = "responses"$/m);
      assert.ok(out.indexOf('model_provider =') < out.indexOf('['), 'top-level keys precede tables');
    });

    test("keeps the user's own choices and content; re-running updates in place", () => {
      const existing = 'model = "o3"\n\n[profiles.fast]\nmodel = "gpt-5-mini"\n';
      const once = wireCodex(existing, T);
      assert.strictEqual(once.match(/^model = /gm)?.length, 2, 'no second top-level model');
      assert.ok(once.includes('[profiles.fast]\nmodel = "gpt-5-mini"\n'));
      const twice = wireCodex(once, MOVED);
      assert.strictEqual(twice.match(/\[model_providers\.keyrelay\]/g)?.length, 1);
      assert.strictEqual(twice.match(/model_provider = "keyrelay"/g)?.length, 1);
      assert.ok(twice.includes(':9999/v1') && !twice.includes(':8787'));
      assert.strictEqual(wireCodex(twice, MOVED), twice, 'idempotent');
    });
  });

  test('clineSetup gives the base URL with /v1', () => {
    assert.deepStrictEqual(clineSetup(T).find((r) => r.label === 'Base URL')?.value, 'http://127.0.0.1:8787/v1');
  });
});
