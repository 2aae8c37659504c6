import * as assert from 'node:assert/strict';
import { classifyRejection, classifyStreamError, errorFacts } from '../../../src/core/proxy/classify';
import type { Outcome } from '../../../src/core/types';

// Fixed "now" so HTTP-date retry-after values give exact milliseconds.
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

const OPENAI_RATE = JSON.stringify({
  error: {
    message: 'Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 3, Used 3.',
    type: 'requests',
    param: null,
    code: 'rate_limit_exceeded',
  },
});
const OPENAI_QUOTA = JSON.stringify({
  error: {
    message: 'You exceeded your current quota, please check your plan and billing details.',
    type: 'insufficient_quota',
    param: null,
    code: 'insufficient_quota',
  },
});
const ANTHROPIC_CREDIT = JSON.stringify({
  type: 'error',
  error: {
    type: 'invalid_request_error',
    message:
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
  },
});
const ANTHROPIC_RATE = JSON.stringify({
  type: 'error',
  error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
});
const GEMINI_RPM = JSON.stringify([
  {
    error: {
      code: 429,
      message:
        'Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 15 per minute',
      status: 'RESOURCE_EXHAUSTED',
    },
  },
]);
const OPENROUTER_CREDITS = JSON.stringify({
  error: { message: 'Insufficient credits. Add more using https://openrouter.ai/credits', code: 402 },
});
const BAD_REQUEST = JSON.stringify({
  error: {
    message: "Invalid value for 'temperature'",
    type: 'invalid_request_error',
    param: 'temperature',
    code: null,
  },
});

/** Status of any outcome but success, so assertions need no narrowing. */
function st(o: Outcome | undefined): number | undefined {
  return o && 'status' in o ? o.status : undefined;
}

/** retryAfterMs of a rate-limited outcome; a sentinel string for any other kind so a wrong kind fails. */
function wait(o: Outcome | undefined): number | undefined | string {
  return o?.kind === 'rate-limited' ? o.retryAfterMs : `not rate-limited: ${o?.kind}`;
}

function classify(status: number, body = '', headers: Record<string, string> = {}): Outcome | undefined {
  return classifyRejection(status, headers, body, NOW);
}

suite('classifyRejection', () => {
  test('429 with retry-after seconds is a rate limit with that many milliseconds', () => {
    const o = classify(429, OPENAI_RATE, { 'retry-after': '7' });
    assert.equal(wait(o), 7000);
    assert.equal(st(o), 429);
    assert.equal(o?.kind !== 'success' && o?.errorType, 'requests');
  });

  test('429 with an HTTP-date retry-after counts from the given now, not the wall clock', () => {
    assert.equal(wait(classify(429, '', { 'retry-after': new Date(NOW + 90_000).toUTCString() })), 90_000);
  });

  test('429 with retry-after-ms and OpenAI reset headers is parsed too', () => {
    assert.equal(wait(classify(429, '', { 'retry-after-ms': '1500' })), 1500);
    assert.equal(
      wait(classify(429, OPENAI_RATE, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' })),
      360_000,
    );
  });

  test('429 without any reset header leaves retryAfterMs undefined (the pool escalates)', () => {
    const o = classify(429, ANTHROPIC_RATE);
    assert.equal(o?.kind, 'rate-limited');
    assert.equal(wait(o), undefined);
    assert.equal(o?.kind === 'rate-limited' && o.errorType, 'rate_limit_error');
  });

  test('429 with an insufficient_quota body is exhausted, not a rate limit', () => {
    const o = classify(429, OPENAI_QUOTA, { 'retry-after': '1' });
    assert.equal(o?.kind, 'exhausted');
    assert.equal(st(o), 429);
    assert.equal(o?.kind === 'exhausted' && o.errorType, 'insufficient_quota');
  });

  test('Anthropic 400 "credit balance is too low" is exhausted', () => {
    const o = classify(400, ANTHROPIC_CREDIT);
    assert.equal(o?.kind, 'exhausted');
    assert.equal(st(o), 400);
  });

  test('Gemini 429 "Quota exceeded for metric … per minute" is a rate limit, NOT exhausted', () => {
    assert.equal(wait(classify(429, GEMINI_RPM, { 'retry-after': '40' })), 40_000);
    assert.equal(classify(429, GEMINI_RPM)?.kind, 'rate-limited');
  });

  test('Gemini\'s real per-minute 429 ("You exceeded your current quota" + RetryInfo) is a rate limit with the body\'s retryDelay', () => {
    const body = JSON.stringify([
      {
        error: {
          code: 429,
          message:
            'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [
                {
                  quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                  quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
                },
              ],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '43s' },
          ],
        },
      },
    ]);
    assert.equal(wait(classify(429, body)), 43_000);
    // A header, when present, wins over the body's hint.
    assert.equal(wait(classify(429, body, { 'retry-after': '5' })), 5000);
  });

  test('402 is exhausted whatever the body says', () => {
    assert.equal(classify(402, OPENROUTER_CREDITS)?.kind, 'exhausted');
    assert.equal(classify(402, '')?.kind, 'exhausted');
    assert.equal(classify(402, 'Payment Required')?.kind, 'exhausted');
  });

  test('403 with a quota body is exhausted; plain 401/403 are invalid', () => {
    assert.equal(classify(403, OPENAI_QUOTA)?.kind, 'exhausted');
    assert.equal(
      classify(
        401,
        JSON.stringify({
          error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
        }),
      )?.kind,
      'invalid',
    );
    assert.equal(
      classify(
        403,
        JSON.stringify({
          type: 'error',
          error: { type: 'permission_error', message: 'Your API key does not have permission' },
        }),
      )?.kind,
      'invalid',
    );
    assert.equal(classify(401, '')?.kind, 'invalid');
  });

  test('5xx, 529 and 408 are server errors', () => {
    for (const status of [500, 502, 503, 504, 529, 408]) {
      const o = classify(status, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
      assert.equal(o?.kind, 'server-error', `status ${status}`);
      assert.equal(st(o), status);
    }
  });

  test('client faults (400/404/413/422) are undefined: pass through, no penalty', () => {
    for (const status of [400, 404, 413, 422, 409, 418]) {
      assert.equal(classify(status, BAD_REQUEST), undefined, `status ${status}`);
    }
  });

  test('a quota word in a 400 that is not about credit stays undefined', () => {
    assert.equal(
      classify(
        400,
        JSON.stringify({
          error: { message: 'max_tokens is too large for this model quota tier', type: 'invalid_request_error' },
        }),
      ),
      undefined,
    );
  });

  test('reason names the status, error type and message', () => {
    const o = classify(429, ANTHROPIC_RATE);
    assert.equal(
      o?.kind === 'rate-limited' && o.reason,
      'HTTP 429 rate_limit_error: Number of request tokens has exceeded your per-minute rate limit',
    );
    const e = classify(503, '');
    assert.equal(e?.kind === 'server-error' && e.reason, 'HTTP 503');
  });
});

suite('errorFacts', () => {
  test('reads the type inside "error" for Anthropic bodies (not the outer "type":"error")', () => {
    assert.deepEqual(errorFacts(ANTHROPIC_CREDIT), {
      errorType: 'invalid_request_error',
      message:
        'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
    });
  });

  test('reads OpenAI type and message; tolerates non-JSON text', () => {
    assert.equal(errorFacts(OPENAI_QUOTA).errorType, 'insufficient_quota');
    assert.deepEqual(errorFacts('<html>Bad Gateway</html>'), { errorType: undefined, message: undefined });
    assert.deepEqual(errorFacts(''), { errorType: undefined, message: undefined });
  });

  test('keeps escaped quotes inside the message and bounds its length', () => {
    assert.equal(errorFacts('{"error":{"message":"bad \\"model\\" value"}}').message, 'bad \\"model\\" value');
    const long = errorFacts(JSON.stringify({ error: { message: 'x'.repeat(5000) } })).message ?? '';
    assert.ok(long.length <= 300, `message length ${long.length}`);
  });
});

suite('classifyStreamError', () => {
  const event = (type: string, message: string): string =>
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;

  test('overloaded_error in a 200 stream is a server error with the stream status', () => {
    const o = classifyStreamError(200, event('overloaded_error', 'Overloaded'));
    assert.equal(o.kind, 'server-error');
    assert.equal(st(o), 200);
    assert.equal(o.kind === 'server-error' && o.errorType, 'overloaded_error');
    assert.match(o.kind === 'server-error' ? o.reason : '', /^stream error overloaded_error: Overloaded/);
  });

  test('rate_limit_error is rate-limited as 429; auth errors are invalid as 401', () => {
    const rl = classifyStreamError(200, event('rate_limit_error', 'slow down'));
    assert.deepEqual([rl.kind, st(rl)], ['rate-limited', 429]);
    const auth = classifyStreamError(200, event('authentication_error', 'invalid x-api-key'));
    assert.deepEqual([auth.kind, st(auth)], ['invalid', 401]);
    const perm = classifyStreamError(200, event('permission_error', 'no access'));
    assert.deepEqual([perm.kind, st(perm)], ['invalid', 401]);
  });

  test('a credit message mid-stream is exhausted as 402', () => {
    const o = classifyStreamError(
      200,
      event('invalid_request_error', 'Your credit balance is too low to access the Anthropic API.'),
    );
    assert.deepEqual([o.kind, st(o)], ['exhausted', 402]);
  });
});
