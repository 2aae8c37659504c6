import * as assert from 'node:assert/strict';
import { maskKey, SecretRedactor } from '../../src/core/redact';

const OPENAI = 'sk-proj-test4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5wxyz';
const ANTHROPIC = 'sk-ant-api03-testAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcd';

suite('redact: maskKey', () => {
  test('uses the provider prefix when the key starts with it', () => {
    assert.equal(maskKey(OPENAI, 'sk-'), 'sk-…wxyz');
    assert.equal(maskKey(ANTHROPIC, 'sk-ant-'), 'sk-ant-…abcd');
  });

  test('falls back to the segment before the first dash (max 8 chars)', () => {
    assert.equal(maskKey(OPENAI), 'sk-…wxyz');
    assert.equal(maskKey('xai-testAbCdEfGhIjKlMnOp1234'), 'xai-…1234');
    // No dash within 8 chars: nothing but the tail.
    assert.equal(maskKey('AIzaSyTestTestTestTestTest9876'), '…9876');
    assert.equal(maskKey('AIzaSyTestTestTestTestTest9876', 'AIza'), 'AIza…9876');
    // A prefix that does not match is ignored.
    assert.equal(maskKey('gsk_testtesttesttesttest5678', 'sk-'), '…5678');
  });

  test('short keys show less', () => {
    assert.equal(maskKey('abcdefghijk'), '…jk'); // 11 chars: last 2
    assert.equal(maskKey('abcde'), '…'); // < 6: nothing
    assert.equal(maskKey(''), '…');
    // The prefix would reveal half the key: dropped.
    assert.equal(maskKey('sk-abcdef', 'sk-'), '…ef');
  });

  test('never contains the secret', () => {
    for (const k of [OPENAI, ANTHROPIC, 'short', 'sk-1234567890']) assert.ok(!maskKey(k, 'sk-').includes(k));
  });
});

suite('redact: SecretRedactor', () => {
  test('masks a key inside a log line', () => {
    const r = new SecretRedactor();
    r.add(OPENAI, maskKey(OPENAI, 'sk-'));
    r.add(ANTHROPIC, maskKey(ANTHROPIC, 'sk-ant-'));
    const line = `POST /v1/chat/completions key=${OPENAI} auth="Bearer ${OPENAI}" other ${ANTHROPIC}.`;
    const out = r.redact(line);
    assert.ok(!out.includes(OPENAI) && !out.includes(ANTHROPIC));
    assert.equal(out, 'POST /v1/chat/completions key=sk-…wxyz auth="Bearer sk-…wxyz" other sk-ant-…abcd.');
  });

  test('text without keys comes back as the same string', () => {
    const r = new SecretRedactor();
    r.add(OPENAI);
    const text = 'GET /v1/models 200 12ms ' + 'x'.repeat(1000);
    assert.equal(r.redact(text), text);
    assert.equal(new SecretRedactor().redact(text), text);
  });

  test("hold: overlapping uses of a client's key keep it masked until the last one ends", () => {
    // Issue 9 point 9: in fallback mode one request's end must not unmask a key another still uses.
    const r = new SecretRedactor();
    const first = r.hold(OPENAI);
    const second = r.hold(OPENAI);
    first();
    first(); // a release called twice counts once
    assert.ok(!r.redact(`k=${OPENAI}`).includes(OPENAI), 'still masked while the second use runs');
    second();
    assert.equal(r.size, 0, 'forgotten after the last use');
  });

  test('hold never drops a secret registered for good (a pool key that is also a client key)', () => {
    const r = new SecretRedactor();
    r.add(OPENAI);
    r.hold(OPENAI)();
    assert.ok(!r.redact(OPENAI).includes(OPENAI));
  });

  test('delete forgets a secret', () => {
    const r = new SecretRedactor();
    r.add(OPENAI);
    r.delete(OPENAI);
    assert.equal(r.size, 0);
    assert.equal(r.redact(`k=${OPENAI}`), `k=${OPENAI}`);
  });

  test('a secret inside a longer one is not left half-masked', () => {
    const r = new SecretRedactor();
    const short = 'sk-test-aaaaaaaabbbbbbbb';
    const long = short + 'cccccccc';
    r.add(short);
    r.add(long);
    assert.equal(r.redact(`${long} ${short}`), `${maskKey(long)} ${maskKey(short)}`);
  });

  test('with thousands of secrets: masks glued and delimited keys, leaves others alone', () => {
    const r = new SecretRedactor();
    const keys: string[] = [];
    for (let i = 0; i < 5000; i++)
      keys.push(`sk-test-${i.toString(36).padStart(6, '0')}Qw3rTy${(i * 7919).toString(36).padStart(8, 'z')}`);
    for (const k of keys) r.add(k, maskKey(k, 'sk-'));
    const odd = 'sk-test.with.dots.0123456789';
    r.add(odd);
    const plain = 'nothing to see here, just words and numbers 1234567890 abcdefghijklmnop';
    assert.equal(r.redact(plain), plain);
    const text = `a ${keys[42]} b prefix_${keys[4999]}_suffix c "${odd}"`;
    const out = r.redact(text);
    assert.equal(
      out,
      `a ${maskKey(keys[42], 'sk-')} b prefix_${maskKey(keys[4999], 'sk-')}_suffix c "${maskKey(odd)}"`,
    );
    const big = 'lorem ipsum dolor sit amet '.repeat(40_000);
    assert.equal(r.redact(big), big);
  });
});
