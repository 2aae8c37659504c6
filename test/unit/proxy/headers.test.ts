import * as assert from 'node:assert/strict';
import {
  authHeaderName,
  authHeaderValue,
  clientCredential,
  forwardableRequestHeaders,
  headerRecord,
  responseHeaderList,
} from '../../../src/core/proxy/headers';

const KEY = 'sk-test-Zq8vLm3Np7RtZq8vLm3Np7Rt';

/** Flat [name, value, …] list to pairs, so order and repeats are both visible. */
function pairs(list: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i], list[i + 1]]);
  return out;
}

suite('auth headers', () => {
  test('bearer goes in authorization with the scheme; others carry the bare key', () => {
    assert.equal(authHeaderName('bearer'), 'authorization');
    assert.equal(authHeaderValue('bearer', KEY), `Bearer ${KEY}`);
    assert.equal(authHeaderName('x-api-key'), 'x-api-key');
    assert.equal(authHeaderValue('x-api-key', KEY), KEY);
    assert.equal(authHeaderName('x-goog-api-key'), 'x-goog-api-key');
    assert.equal(authHeaderValue('x-goog-api-key', KEY), KEY);
  });
});

suite('forwardableRequestHeaders', () => {
  test('drops hop-by-hop, recomputed, credential, browser and encoding headers', () => {
    const out = forwardableRequestHeaders({
      host: '127.0.0.1:8787',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'content-length': '42',
      expect: '100-continue',
      te: 'trailers',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic x',
      authorization: `Bearer ${KEY}`,
      'x-api-key': KEY,
      'api-key': KEY,
      'x-goog-api-key': KEY,
      'accept-encoding': 'gzip, br',
      origin: 'https://evil.example',
      referer: 'https://evil.example/',
      cookie: 'a=b',
      'content-type': 'application/json',
    });
    assert.deepEqual(pairs(out), [['content-type', 'application/json']]);
    assert.ok(!out.some((v) => v.includes(KEY)), 'no client credential may go upstream');
  });

  test('headers the client names in Connection are hop-by-hop too (RFC 9110 §7.6.1)', () => {
    const out = forwardableRequestHeaders({
      connection: 'X-Hop, Keep-Alive',
      'x-hop': 'for the proxy only',
      'x-end': 'kept',
      'keep-alive': '5',
    });
    assert.deepEqual(pairs(out), [['x-end', 'kept']]);
  });

  test('keeps provider headers and repeats array values', () => {
    const out = forwardableRequestHeaders({
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'prompt-caching-2024-07-31',
      'openai-organization': 'org-1',
      'x-stainless-retry-count': '0',
      accept: 'text/event-stream',
      'user-agent': 'Anthropic/JS 0.60.0',
      'x-custom': ['a', 'b'],
      'x-undefined': undefined,
    });
    assert.deepEqual(pairs(out), [
      ['anthropic-version', '2023-06-01'],
      ['anthropic-beta', 'prompt-caching-2024-07-31'],
      ['openai-organization', 'org-1'],
      ['x-stainless-retry-count', '0'],
      ['accept', 'text/event-stream'],
      ['user-agent', 'Anthropic/JS 0.60.0'],
      ['x-custom', 'a'],
      ['x-custom', 'b'],
    ]);
  });
});

suite('responseHeaderList', () => {
  /** Headers as undici's handler API hands them over: names lower-cased, repeats in an array. */
  const raw = (...kv: string[]): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    for (let i = 0; i < kv.length; i += 2) {
      const name = kv[i].toLowerCase();
      const had = out[name];
      out[name] = had === undefined ? kv[i + 1] : [...(Array.isArray(had) ? had : [had]), kv[i + 1]];
    }
    return out;
  };

  test('lower-cases names, drops hop-by-hop and set-cookie, reports the content type', () => {
    const { list, contentType } = responseHeaderList(
      raw(
        'Content-Type',
        'text/event-stream; charset=utf-8',
        'Transfer-Encoding',
        'chunked',
        'Connection',
        'keep-alive',
        'Set-Cookie',
        '__cf_bm=abc',
        'x-request-id',
        'req_1',
        'Retry-After',
        '3',
        'anthropic-ratelimit-requests-remaining',
        '0',
      ),
    );
    assert.equal(contentType, 'text/event-stream; charset=utf-8');
    assert.deepEqual(pairs(list), [
      ['content-type', 'text/event-stream; charset=utf-8'],
      ['x-request-id', 'req_1'],
      ['retry-after', '3'],
      ['anthropic-ratelimit-requests-remaining', '0'],
    ]);
  });

  test('no content-type gives an empty string; repeated headers stay repeated', () => {
    const { list, contentType } = responseHeaderList(raw('Vary', 'Origin', 'vary', 'Accept'));
    assert.equal(contentType, '');
    assert.deepEqual(pairs(list), [
      ['vary', 'Origin'],
      ['vary', 'Accept'],
    ]);
  });

  test('headers the upstream names in Connection are hop-by-hop too (RFC 9110 §7.6.1)', () => {
    const { list } = responseHeaderList(raw('Connection', 'X-Hop, close', 'X-Hop', 'secret', 'x-keep', '1'));
    assert.deepEqual(pairs(list), [['x-keep', '1']]);
  });

  test('headerRecord turns the list into a record for retry-after parsing', () => {
    const { list } = responseHeaderList(raw('Retry-After', '7', 'X-RateLimit-Reset-Requests', '1s'));
    assert.deepEqual(headerRecord(list), { 'retry-after': '7', 'x-ratelimit-reset-requests': '1s' });
    assert.deepEqual(headerRecord([]), {});
  });
});

suite('clientCredential', () => {
  test('reads Bearer tokens in any case and with stray spaces', () => {
    assert.equal(clientCredential({ authorization: `Bearer ${KEY}` }), KEY);
    assert.equal(clientCredential({ authorization: `bearer ${KEY}` }), KEY);
    assert.equal(clientCredential({ authorization: `  BEARER   ${KEY}  ` }), KEY);
  });

  test('the plain `Bearer <token>` path reads what the full pattern reads', () => {
    const full = (auth: string) => /^\s*bearer\s+(\S+)\s*$/i.exec(auth)?.[1] ?? (auth.trim() || undefined);
    for (const auth of [
      `Bearer ${KEY}`,
      'Bearer x',
      'Bearer ',
      'Bearer  two-spaces',
      'Bearer a b',
      'Bearer tab\tinside',
      'Bearer trailing\n',
      'Bearer nbsp\u00a0after',
      'Bearer \u3000ideographic-space',
      'Bearer ключ',
      'Bearerglued',
    ]) {
      assert.equal(clientCredential({ authorization: auth }), full(auth), JSON.stringify(auth));
    }
  });

  test('reads x-api-key, api-key (Azure-style) and x-goog-api-key', () => {
    assert.equal(clientCredential({ 'x-api-key': KEY }), KEY);
    assert.equal(clientCredential({ 'api-key': KEY }), KEY);
    assert.equal(clientCredential({ 'x-goog-api-key': KEY }), KEY);
  });

  test('authorization takes precedence over the key headers', () => {
    assert.equal(clientCredential({ authorization: 'Bearer from-auth', 'x-api-key': 'from-x' }), 'from-auth');
  });

  test('a non-bearer authorization is returned trimmed; blank and empty mean none', () => {
    assert.equal(clientCredential({ authorization: ` ${KEY} ` }), KEY);
    assert.equal(clientCredential({ authorization: '   ' }), undefined);
    assert.equal(clientCredential({ 'x-api-key': '' }), undefined);
    assert.equal(clientCredential({}), undefined);
  });
});
