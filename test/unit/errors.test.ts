import * as assert from 'node:assert/strict';
import { jsonSyntaxProblem, ProxyError, renderError } from '../../src/core/errors';
import type { ProxyErrorCode } from '../../src/core/errors';

// A Record over the union makes the compiler fail this file when a code is added and not listed here.
const ALL_CODES: Record<ProxyErrorCode, true> = {
  bad_request_target: true,
  malformed_request: true,
  headers_too_large: true,
  invalid_json: true,
  not_found: true,
  method_not_allowed: true,
  unauthorized: true,
  forbidden_host: true,
  forbidden_origin: true,
  body_too_large: true,
  body_timeout: true,
  unknown_provider: true,
  unknown_model: true,
  no_keys: true,
  keys_unusable: true,
  all_keys_cooling: true,
  all_keys_busy: true,
  upstream_connect_failed: true,
  upstream_timeout: true,
  upstream_error: true,
  shutting_down: true,
  invalid_config: true,
  credential_failed: true,
  key_lease_off: true,
};

interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: null };
}
interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string; keyrelay_code: string };
}

suite('ProxyError', () => {
  test('carries code, status, message, extra and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const e = new ProxyError('all_keys_cooling', 429, 'Every key is cooling.', { retryAfterSec: 12, cause });
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'ProxyError');
    assert.equal(e.code, 'all_keys_cooling');
    assert.equal(e.status, 429);
    assert.equal(e.message, 'Every key is cooling.');
    assert.equal(e.extra.retryAfterSec, 12);
    assert.equal(e.cause, cause);
    assert.equal(new ProxyError('not_found', 404, 'x').cause, undefined);
  });
});

suite('renderError', () => {
  test('OpenAI shape: {error:{message,type,code,param}} with the proxy code', () => {
    const body = JSON.parse(
      renderError('openai', new ProxyError('unauthorized', 401, 'Missing KeyRelay access token.')),
    ) as OpenAIErrorBody;
    assert.deepEqual(body, {
      error: {
        message: 'Missing KeyRelay access token.',
        type: 'authentication_error',
        code: 'unauthorized',
        param: null,
      },
    });
  });

  test('Anthropic shape: {type:"error",error:{type,message}} plus keyrelay_code', () => {
    const body = JSON.parse(
      renderError('anthropic', new ProxyError('body_too_large', 413, 'Too big.')),
    ) as AnthropicErrorBody;
    assert.deepEqual(body, {
      type: 'error',
      error: { type: 'request_too_large', message: 'Too big.', keyrelay_code: 'body_too_large' },
    });
  });

  test('all-keys-cooling has its own type in both shapes, never the provider rate-limit type', () => {
    const err = new ProxyError('all_keys_cooling', 429, 'Every key is cooling; the first is free in 12 s.');
    const o = JSON.parse(renderError('openai', err)) as OpenAIErrorBody;
    const a = JSON.parse(renderError('anthropic', err)) as AnthropicErrorBody;
    assert.equal(o.error.type, 'keyrelay_all_keys_cooling');
    assert.equal(a.error.type, 'keyrelay_all_keys_cooling');
    assert.notEqual(o.error.type, 'rate_limit_error');
    assert.notEqual(a.error.type, 'rate_limit_error');
  });

  test('Anthropic types for auth, permission, not found, upstream and shutdown', () => {
    const type = (code: ProxyErrorCode, status: number): string =>
      (JSON.parse(renderError('anthropic', new ProxyError(code, status, 'm'))) as AnthropicErrorBody).error.type;
    assert.equal(type('unauthorized', 401), 'authentication_error');
    assert.equal(type('forbidden_origin', 403), 'permission_error');
    assert.equal(type('forbidden_host', 403), 'permission_error');
    assert.equal(type('not_found', 404), 'not_found_error');
    assert.equal(type('upstream_timeout', 504), 'api_error');
    assert.equal(type('upstream_connect_failed', 502), 'api_error');
    assert.equal(type('shutting_down', 503), 'overloaded_error');
    // Codes without an Anthropic-specific type fall back to the OpenAI-style one.
    assert.equal(type('invalid_json', 400), 'invalid_request_error');
    assert.equal(type('no_keys', 503), 'keyrelay_no_keys');
  });

  test('every code renders valid JSON with a non-empty type in both shapes', () => {
    for (const code of Object.keys(ALL_CODES) as ProxyErrorCode[]) {
      const err = new ProxyError(code, 400, `message for ${code}`);
      const o = JSON.parse(renderError('openai', err)) as OpenAIErrorBody;
      const a = JSON.parse(renderError('anthropic', err)) as AnthropicErrorBody;
      assert.ok(typeof o.error.type === 'string' && o.error.type.length > 0, `openai ${code}`);
      assert.ok(typeof a.error.type === 'string' && a.error.type.length > 0, `anthropic ${code}`);
      assert.equal(o.error.code, code);
      assert.equal(a.error.keyrelay_code, code);
    }
  });

  test('messages with quotes, newlines and non-ASCII survive as JSON', () => {
    const msg = 'Model "gpt-4o"\nis not\tlisted — try "openai/gpt-4o" ✓';
    const o = JSON.parse(renderError('openai', new ProxyError('unknown_model', 400, msg))) as OpenAIErrorBody;
    const a = JSON.parse(renderError('anthropic', new ProxyError('unknown_model', 400, msg))) as AnthropicErrorBody;
    assert.equal(o.error.message, msg);
    assert.equal(a.error.message, msg);
  });
});

suite('jsonSyntaxProblem', () => {
  test('says what is wrong and where, never any of the text', () => {
    const key = 'sk-secret-abcdef0123456789XYZW';
    const broken = [
      `{"keys": [{"key": "${key}"},]}`,
      `{"keys": [{"key": "${key}" "label": "a"}]}`,
      `{"keys": [{"key": "${key}\u0001"}]}`,
      `{"keys": [{"key": "${key}`,
      `{\n  "keys": [\n    {"key": ${key}}\n  ]\n}`,
      `${key}`,
    ];
    for (const text of broken) {
      let err: unknown;
      try {
        JSON.parse(text);
      } catch (e) {
        err = e;
      }
      assert.ok(err, text);
      const { problem } = jsonSyntaxProblem(err, text);
      assert.ok(problem.length > 5, problem);
      for (let i = 0; i + 4 <= key.length; i++)
        assert.ok(!problem.includes(key.slice(i, i + 4)), `${problem} quotes the key`);
    }
    const multi = '{\n  "a": 1\n  "b": 2\n}';
    let e: unknown;
    try {
      JSON.parse(multi);
    } catch (x) {
      e = x;
    }
    assert.deepEqual(jsonSyntaxProblem(e, multi), {
      problem: "Expected ',' or '}' after property value (line 3)",
      line: 3,
    });
  });
});
