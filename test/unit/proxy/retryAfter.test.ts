import * as assert from 'node:assert/strict';
import { parseDuration, parseRetryAfter } from '../../../src/core/proxy/retryAfter';
import type { HeaderBag } from '../../../src/core/proxy/retryAfter';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');

suite('retryAfter', () => {
  const table: Array<[string, HeaderBag, number | undefined]> = [
    ['nothing', {}, undefined],
    ['retry-after-ms', { 'retry-after-ms': '1500' }, 1500],
    ['retry-after-ms fractional rounds up', { 'retry-after-ms': '12.2' }, 13],
    ['x-ms-retry-after-ms', { 'x-ms-retry-after-ms': '250' }, 250],
    ['retry-after seconds', { 'retry-after': '7' }, 7000],
    ['retry-after decimal seconds', { 'retry-after': '0.5' }, 500],
    ['retry-after zero', { 'retry-after': '0' }, 0],
    ['retry-after HTTP date', { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, 30_000],
    ['retry-after date in the past', { 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, 0],
    ['retry-after garbage', { 'retry-after': 'soon' }, undefined],
    ['retry-after-ms wins over retry-after', { 'retry-after-ms': '100', 'retry-after': '9' }, 100],
    ['x-ms wins over retry-after', { 'x-ms-retry-after-ms': '300', 'retry-after': '9' }, 300],
    ['retry-after wins over reset headers', { 'retry-after': '2', 'x-ratelimit-reset-requests': '1m' }, 2000],
    ['array value takes first', { 'retry-after': ['3', '9'] }, 3000],
    ['mixed-case names', { 'Retry-After': '4' }, 4000],
    ['openai reset requests 1s', { 'x-ratelimit-reset-requests': '1s' }, 1000],
    ['openai reset tokens 6m0s', { 'x-ratelimit-reset-tokens': '6m0s' }, 360_000],
    ['openai 20ms', { 'x-ratelimit-reset-requests': '20ms' }, 20],
    ['openai 1h2m3.5s', { 'x-ratelimit-reset-tokens': '1h2m3.5s' }, 3_723_500],
    ['openai larger of both', { 'x-ratelimit-reset-requests': '2s', 'x-ratelimit-reset-tokens': '17ms' }, 2000],
    [
      'openai exhausted one applies',
      {
        'x-ratelimit-reset-requests': '30s',
        'x-ratelimit-remaining-requests': '12',
        'x-ratelimit-reset-tokens': '2s',
        'x-ratelimit-remaining-tokens': '0',
      },
      2000,
    ],
    [
      'openai none exhausted → larger',
      {
        'x-ratelimit-reset-requests': '30s',
        'x-ratelimit-remaining-requests': '12',
        'x-ratelimit-reset-tokens': '2s',
        'x-ratelimit-remaining-tokens': '5',
      },
      30_000,
    ],
    ['anthropic requests reset', { 'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:10Z' }, 10_000],
    ['anthropic tokens reset', { 'anthropic-ratelimit-tokens-reset': '2026-01-01T00:01:00Z' }, 60_000],
    [
      'anthropic input/output larger',
      {
        'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:05Z',
        'anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:00:20.5Z',
      },
      20_500,
    ],
    [
      'anthropic exhausted input applies',
      {
        'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:05Z',
        'anthropic-ratelimit-input-tokens-remaining': '0',
        'anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:00:20Z',
        'anthropic-ratelimit-output-tokens-remaining': '900',
      },
      5000,
    ],
    ['anthropic reset in the past', { 'anthropic-ratelimit-requests-reset': '2025-12-31T23:59:00Z' }, 0],
    ['x-ratelimit-reset epoch seconds', { 'x-ratelimit-reset': String(NOW / 1000 + 42) }, 42_000],
    ['x-ratelimit-reset epoch ms', { 'x-ratelimit-reset': String(NOW + 1234) }, 1234],
    ['x-ratelimit-reset seconds from now', { 'x-ratelimit-reset': '15' }, 15_000],
    ['x-ratelimit-reset garbage', { 'x-ratelimit-reset': 'later' }, undefined],
    ['empty values ignored', { 'retry-after': '', 'retry-after-ms': '' }, undefined],
    ['undefined values ignored', { 'retry-after': undefined, 'x-ratelimit-reset-requests': '3s' }, 3000],
  ];
  for (const [name, headers, expected] of table) {
    test(name, () => assert.equal(parseRetryAfter(headers, NOW), expected));
  }

  test('parseDuration forms', () => {
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('2m59.56s'), 179_560);
    assert.equal(parseDuration('7.66s'), 7660);
    assert.equal(parseDuration('3'), 3000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration(''), undefined);
    assert.equal(parseDuration('abc'), undefined);
    assert.equal(parseDuration('1x'), undefined);
  });
});
