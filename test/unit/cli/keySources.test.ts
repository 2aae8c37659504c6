import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { keyId } from '../../../src/cli/keySources';

suite('CLI key sources: keyId', () => {
  test('stays the first 16 hex digits of sha256(provider NUL key): saved health and stats find their keys', () => {
    const id = keyId('openai', 'sk-test-0123456789');
    assert.equal(id, createHash('sha256').update('openai\0sk-test-0123456789').digest('hex').slice(0, 16));
    assert.equal(id, '314c00c107a66974'); // the value earlier versions wrote into state files
    assert.notEqual(keyId('groq', 'sk-test-0123456789'), id);
  });
});
