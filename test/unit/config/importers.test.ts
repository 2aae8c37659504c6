import * as assert from 'node:assert/strict';
import { importKeys, keyIdentity } from '../../../src/core/config/importers';
import type { ImportOptions, ImportResult } from '../../../src/core/config/importers';
import { ProviderCatalogue, validateProviderSpec } from '../../../src/core/config/providers';
import { maskKey } from '../../../src/core/redact';

// Fake keys shaped like real ones.
const OA1 = 'sk-test-openai0001aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const OA2 = 'sk-test-openai0002aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const OA3 = 'sk-test-openai0003aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const ANT = 'sk-ant-api03-test0001aBcDeFgHiJkLmNoPqRsTuVwXyZ-AAAA';
const GQ1 = 'gsk_test0001aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const GQ2 = 'gsk_test0002aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const OR1 = 'sk-or-v1-test0001aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const MIS = 'test0001MistralKeyAbCdEfGhIjKlMn';
const FK1 = 'fk-test0001aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const FK2 = 'fk-test0002aBcDeFgHiJkLmNoPqRsTuVwXyZ';
const ALL = [OA1, OA2, OA3, ANT, GQ1, GQ2, OR1, MIS, FK1, FK2];

const catalogue = new ProviderCatalogue([
  validateProviderSpec({ id: 'factory', shape: 'openai', baseUrl: 'http://127.0.0.1:9999/v1' }),
]);

function run(text: string, opts: Partial<ImportOptions> = {}): ImportResult {
  const r = importKeys(text, { catalogue, ...opts });
  // No reason and no duplicate entry ever holds key text.
  const visible = JSON.stringify([r.skipped, r.duplicates]);
  for (const k of ALL)
    assert.ok(!visible.includes(k) && !visible.includes(k.slice(4, 20)), 'key text leaked into the report');
  return r;
}

const pairs = (r: ImportResult) => r.keys.map((k) => [k.providerId, k.secret]);

suite('importers: .env', () => {
  test('PROVIDER_API_KEY, _1.._3, X_KEYS lists, export, quotes, comments, blank lines', () => {
    const text = [
      '# keys for KeyRelay',
      '',
      `OPENAI_API_KEY_1=${OA1}`,
      `OPENAI_API_KEY_2 = '${OA2}'`,
      `OPENAI_API_KEY_3="${OA3}" # third`,
      `export ANTHROPIC_API_KEY="${ANT}"`,
      `GROQ_KEYS=${GQ1};${GQ2}`,
      `MISTRAL_API_KEY=${MIS}   # inline comment`,
      '   ',
      'DATABASE_URL=postgres://localhost/db',
      'EMPTY_API_KEY=',
    ].join('\r\n');
    const r = run(text, { fileName: '.env' });
    assert.deepEqual(pairs(r), [
      ['openai', OA1],
      ['openai', OA2],
      ['openai', OA3],
      ['anthropic', ANT],
      ['groq', GQ1],
      ['groq', GQ2],
      ['mistral', MIS],
    ]);
    assert.deepEqual(
      r.keys.map((k) => k.label),
      [
        'OPENAI_API_KEY_1',
        'OPENAI_API_KEY_2',
        'OPENAI_API_KEY_3',
        'ANTHROPIC_API_KEY',
        'GROQ_KEYS_1',
        'GROQ_KEYS_2',
        'MISTRAL_API_KEY',
      ],
    );
    assert.deepEqual(
      r.skipped.map((s) => s.line),
      [10, 11],
    );
    assert.match(r.skipped[0].reason, /DATABASE_URL is not an API key variable/);
    assert.match(r.skipped[1].reason, /EMPTY_API_KEY is empty/);
  });

  test('the variable stem beats the key prefix; GOOGLE and GEMINI both mean gemini; unknown stems need a distinctive prefix', () => {
    const r = run(
      [
        `DEEPSEEK_API_KEY=${OA1}`,
        'GOOGLE_API_KEY=AIzaSyTest0001aBcDeFgHiJkLmNoPq',
        `MOONSHOT_API_KEY=${OA2}`,
        `MY_ROUTER_KEY=${OR1}`,
      ].join('\n'),
    );
    assert.deepEqual(pairs(r), [
      ['deepseek', OA1],
      ['gemini', 'AIzaSyTest0001aBcDeFgHiJkLmNoPq'],
      ['openrouter', OR1],
    ]);
    assert.equal(r.skipped.length, 1);
    assert.equal(r.skipped[0].line, 3);
    assert.match(r.skipped[0].reason, /no provider is known as "MOONSHOT"/);
  });
});

suite('importers: lists and one-per-line files', () => {
  test('factory_keys.txt: one key per line, provider from defaultProvider', () => {
    const r = run(`${FK1}\n\n# old ones below\n${FK2}\n`, { fileName: 'factory_keys.txt', defaultProvider: 'factory' });
    assert.deepEqual(pairs(r), [
      ['factory', FK1],
      ['factory', FK2],
    ]);
    assert.deepEqual(r.skipped, []);
  });

  test('no provider known and no default: skipped with a reason', () => {
    const r = run(FK1);
    assert.deepEqual(r.keys, []);
    assert.deepEqual(r.skipped, [
      { line: 1, reason: 'cannot tell which provider this key is for: choose a provider when importing' },
    ]);
  });

  test('a paste with mixed separators, quotes and stray words', () => {
    const text = `${OA1}, ${ANT};${GQ1}\n"${OR1}" ;; ,\n  ${OA2}\tOpenAI: ${OA3}\nshort, ${MIS}`;
    const r = run(text, { defaultProvider: 'mistral' });
    // sk- is generic: the user's default (mistral) wins over it; distinctive prefixes still win.
    assert.deepEqual(pairs(r), [
      ['mistral', OA1],
      ['anthropic', ANT],
      ['groq', GQ1],
      ['openrouter', OR1],
      ['mistral', OA2],
      ['mistral', OA3],
      ['mistral', MIS],
    ]);
    assert.deepEqual(
      r.skipped.map((s) => s.line),
      [3, 4],
    );
    // Reasons describe, never quote, the rejected text.
    assert.deepEqual(
      r.skipped.map((s) => s.reason),
      [
        'text that is not an API key (too short or has characters keys never have)',
        'text that is not an API key (too short or has characters keys never have)',
      ],
    );
  });

  test('without a default, sk- keys go to OpenAI', () => {
    assert.deepEqual(pairs(run(`${OA1};${ANT}`)), [
      ['openai', OA1],
      ['anthropic', ANT],
    ]);
  });

  test('a custom default provider beats even distinctive prefixes (a proxy taking sk-ant- keys)', () => {
    assert.deepEqual(pairs(run(ANT, { defaultProvider: 'factory' })), [['factory', ANT]]);
  });

  test('duplicates within the input and against existing keys are dropped and reported masked', () => {
    const r = run(`${OA1}\n${OA1}\n${ANT}\n${GQ1}`, { existing: new Set([keyIdentity('anthropic', ANT)]) });
    assert.deepEqual(pairs(r), [
      ['openai', OA1],
      ['groq', GQ1],
    ]);
    assert.deepEqual(r.duplicates, [maskKey(OA1, 'sk-'), maskKey(ANT, 'sk-ant-')]);
    assert.deepEqual(r.duplicates, ['sk-…wXyZ', 'sk-ant-…AAAA']);
  });

  test('one key text under two providers is two keys (a gateway key serves both shapes); a repeat under one is a duplicate', () => {
    const doc = {
      keys: [
        { provider: 'openai', key: OA1 },
        { provider: 'anthropic', key: OA1 },
        { provider: 'anthropic', key: OA1 },
      ],
    };
    const r = run(JSON.stringify(doc), { existing: new Set([keyIdentity('openrouter', OA1)]) });
    assert.deepEqual(pairs(r), [
      ['openai', OA1],
      ['anthropic', OA1],
    ]);
    assert.equal(r.duplicates.length, 1, 'the second anthropic entry');
    assert.ok(!r.duplicates[0].includes(OA1.slice(3, -4)), 'reported masked');
  });
});

suite('importers: JSON', () => {
  test('{ apiKeys: [{ key, url, models }] }: provider from the URL host, else prefix, else custom', () => {
    const doc = {
      apiKeys: [
        { key: OA1, url: 'https://api.openai.com/v1', models: ['gpt-4o', 'others'] },
        { key: GQ1, url: 'https://api.groq.com/openai/v1/chat/completions' },
        { key: OR1, url: 'https://openrouter.ai/api/v1/' },
        { key: ANT, url: 'https://claude-gw.example.com/v1' },
        { key: FK1, url: 'https://llm.example.com/v1', models: ['claude-sonnet-4-5'], weight: 2, label: 'gw' },
        { key: MIS },
      ],
    };
    const text = JSON.stringify(doc, null, 2);
    const r = run(text);
    assert.deepEqual(r.keys, [
      { providerId: 'openai', secret: OA1, models: ['gpt-4o', 'others'] },
      { providerId: 'groq', secret: GQ1 },
      { providerId: 'openrouter', secret: OR1 },
      { providerId: 'anthropic', secret: ANT, baseUrl: 'https://claude-gw.example.com/v1' },
      {
        providerId: 'custom',
        secret: FK1,
        label: 'gw',
        models: ['claude-sonnet-4-5'],
        baseUrl: 'https://llm.example.com/v1',
        weight: 2,
      },
    ]);
    assert.equal(r.skipped.length, 1);
    assert.match(r.skipped[0].reason, /apiKeys\[5\]: cannot tell the provider/);
    assert.equal(r.skipped[0].line, text.split('\n').findIndex((l) => l.includes(MIS)) + 1);
  });

  test('the CLI config { providers, keys: [{ provider, key, … }] }', () => {
    const text = JSON.stringify({
      providers: [{ id: 'mock', shape: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }],
      keys: [
        { provider: 'mock', key: OA1, label: 'a', models: ['gpt-4o', 'others'], weight: 1 },
        { provider: 'anthropic', key: ANT, baseUrl: 'http://127.0.0.1:8/v1', account: '  team   one ' },
        { provider: 'nope', key: OA2 },
        { provider: 'openai', key: OA3, models: 'gpt-4o' },
        { provider: 'mock', key: OA1 }, // the same provider and text: a duplicate
        { provider: 'openai', key: OA2, url: 'https://api.openai.com/v1?key=1' },
        { provider: 'openai' },
        { provider: 'openai', key: OA3, account: 7 },
      ],
    });
    const r = run(text, { fileName: 'keyrelay.json' });
    assert.deepEqual(r.keys, [
      { providerId: 'mock', secret: OA1, label: 'a', models: ['gpt-4o', 'others'], weight: 1 },
      { providerId: 'anthropic', secret: ANT, baseUrl: 'http://127.0.0.1:8/v1', account: 'team one' },
    ]);
    assert.deepEqual(r.duplicates, [maskKey(OA1, 'sk-')]);
    assert.deepEqual(
      r.skipped.map((s) => s.reason.slice(0, 8)),
      ['keys[2]:', 'keys[3]:', 'keys[5]:', 'keys[6]:', 'keys[7]:'],
    );
    assert.match(r.skipped[4].reason, /"account" must be a name/);
    assert.match(r.skipped[0].reason, /unknown provider "nope"/);
    assert.match(r.skipped[1].reason, /"models" must be a list/);
    assert.match(r.skipped[2].reason, /query string/);
    assert.match(r.skipped[3].reason, /"key" is missing/);
  });

  test('a JSON array of keys; broken JSON reports without echoing the text', () => {
    assert.deepEqual(pairs(run(JSON.stringify([OA1, GQ1]))), [
      ['openai', OA1],
      ['groq', GQ1],
    ]);
    const broken = run(`{"apiKeys": [{"key": "${OA1}",}]}`);
    assert.deepEqual(broken.keys, []);
    assert.equal(broken.skipped.length, 1);
    assert.match(broken.skipped[0].reason, /does not parse/);
    assert.match(run('{"other": 1}').skipped[0].reason, /no "apiKeys" or "keys" list/);
  });
});
