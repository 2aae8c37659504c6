import * as assert from 'node:assert/strict';
import { decodeText, keyProblem, maskForMessage } from '../../../src/core/config/keyText';

const KEY = 'sk-test-keytext0001aBcDeFgHiJkLmN';

suite('keyText: the one key validator', () => {
  test('a plausible key, and a short local gateway key (LiteLLM sk-1234), pass', () => {
    assert.equal(keyProblem(KEY), undefined);
    assert.equal(keyProblem('sk-1234'), undefined);
    assert.equal(keyProblem('AIzaSyTest0123456789_-.+/=~'), undefined);
  });

  test('NUL, other controls, line breaks, spaces, direction overrides and zero-width characters: named, masked', () => {
    const cases: Array<[string, RegExp]> = [
      [`sk-test-key\u0000text0001aBcDeFgHiJk`, /a NUL character \(U\+0000\)/],
      [`sk-test-key\u0001text0001aBcDeFgHiJk`, /an invisible control character \(U\+0001\)/],
      [`sk-test-keytext0001\naBcDeFgHiJk`, /a line break \(U\+000A\)/],
      [`sk-test-keytext0001 aBcDeFgHiJk`, /a space \(U\+0020\)/],
      [`sk-test-keytext0001\u202eaBcDeFgHiJk`, /right-to-left override \(U\+202E\)/],
      [`sk-test-keytext0001\u2067aBcDeFgHiJk`, /direction control \(U\+2067\)/],
      [`sk-test-keytext0001\u200baBcDeFgHiJk`, /zero-width space \(U\+200B\)/],
      [`sk-test-keytext0001\u2028aBcDeFgHiJk`, /\(U\+2028\)/],
    ];
    for (const [secret, why] of cases) {
      const problem = keyProblem(secret, 'sk-');
      assert.ok(problem, JSON.stringify(secret));
      assert.match(problem, why);
      assert.match(problem, /^the key sk-…HiJk has .*: copy the key again/);
      // The message carries neither the key nor the character a terminal would act on.
      assert.ok(!problem.includes('keytext0001'));
      assert.ok(!/[\p{Cc}\p{Cf}]/u.test(problem), JSON.stringify(problem));
    }
  });

  test('implausibly short text: its length, no key text', () => {
    assert.equal(
      keyProblem('sk-1'),
      "the key … is 4 characters long, too short for an API key: copy the whole key from the provider's page",
    );
    assert.match(keyProblem('x')!, /is 1 character long/);
    assert.match(keyProblem('')!, /is 0 characters long/);
  });

  test('maskForMessage drops the characters a terminal would act on before masking', () => {
    assert.equal(maskForMessage(`sk-test-keytext0001aBcDeFgHiJ\u202ek`, 'sk-'), 'sk-…HiJk');
    assert.equal(maskForMessage(`sk-test-keytext0001aBcDeFgHiJk\u0000`, 'sk-'), 'sk-…HiJk');
  });
});

suite('keyText: decodeText reads files as editors and shells write them', () => {
  const text = `OPENAI_API_KEY=${KEY}\n`;
  const be = (s: string): Buffer => Buffer.from(s, 'utf16le').swap16();

  test('UTF-8 with and without a BOM', () => {
    assert.equal(decodeText(Buffer.from(text)), text);
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])), text);
  });

  test('UTF-16 LE and BE, with a BOM (PowerShell) and without', () => {
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])), text);
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xfe, 0xff]), be(text)])), text);
    assert.equal(decodeText(Buffer.from(text, 'utf16le')), text);
    assert.equal(decodeText(be(text)), text);
  });

  test('an empty file and a one-byte file stay what they are', () => {
    assert.equal(decodeText(Buffer.alloc(0)), '');
    assert.equal(decodeText(Buffer.from('x')), 'x');
  });
});
