import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { keyId, keysFromEnv } from '../../../src/cli/keySources';
import { ProviderCatalogue } from '../../../src/core/config/providers';

suite('CLI key sources: keyId', () => {
  test('stays the first 16 hex digits of sha256(provider NUL key): saved health and stats find their keys', () => {
    const id = keyId('openai', 'sk-test-0123456789');
    assert.equal(id, createHash('sha256').update('openai\0sk-test-0123456789').digest('hex').slice(0, 16));
    assert.equal(id, '314c00c107a66974'); // the value earlier versions wrote into state files
    assert.notEqual(keyId('groq', 'sk-test-0123456789'), id);
  });
});

suite('CLI key sources: the environment', () => {
  const catalogue = new ProviderCatalogue();
  const KEY = 'sk-test-envsource0001aBcDeFgHiJ';

  test('a value is taken as it is (a "#" in it included); quotes around the whole value are dropped', () => {
    const keys = keysFromEnv(
      { OPENAI_API_KEY_1: `"${KEY}"`, OPENAI_API_KEY_2: `${KEY}#2`, GROQ_KEYS: `gsk_${KEY},gsk_${KEY}x` },
      catalogue,
    );
    assert.deepEqual(
      keys.map((k) => [k.providerId, k.secret]),
      [
        ['openai', KEY],
        ['openai', `${KEY}#2`],
        ['groq', `gsk_${KEY}`],
        ['groq', `gsk_${KEY}x`],
      ],
    );
  });

  test("a provider's variable that cannot be a key stops the start, masked; other *_API_KEY variables are left alone", () => {
    assert.deepEqual(keysFromEnv({ GITHUB_API_KEY: 'x', SOME_KEYS: 'a b' }, catalogue), []);
    assert.throws(
      () => keysFromEnv({ OPENAI_API_KEY: `${KEY}\u202e` }, catalogue),
      (err: Error) =>
        err.message ===
        "Environment variable OPENAI_API_KEY: the key sk-…gHiJ has an invisible right-to-left override (U+202E) in it: copy the key again from the provider's page, on one line; fix the variable or unset it.",
    );
  });
});
