import * as assert from 'node:assert/strict';
import OpenAI from 'openai';
import { request } from 'undici';
import { escapeLabel } from '../../src/core/accounting/metrics';
import { isLoopback } from '../../src/core/proxy/ownEndpoints';
import { askLeader } from '../../src/core/windows/localHttp';
import { parsePromText, sumOf } from '../fakes/promText';
import { assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }] };

async function scrape(h: Harness, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const r = await request(`${h.endpoint}/keyrelay/metrics`, { headers });
  return { status: r.statusCode, type: String(r.headers['content-type']), text: await r.body.text() };
}

/** Issue 17: GET /keyrelay/metrics in the Prometheus text format, checked against what was sent. */
suite('GET /keyrelay/metrics', () => {
  let h: Harness | undefined;
  teardown(async () => {
    await h?.close();
    h = undefined;
  });

  test('counters match the requests sent: statuses, attempts by outcome, key states, tokens, latency', async () => {
    // maxWaitMs 0: KeyRelay's own 429 (every key cooling) is one of the counted answers.
    h = await startHarness({ config: { maxWaitMs: 0 } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[1], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[2], { kind: 'status', status: 401 });
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const SENT = 7;
    let promptTokens = 0;
    let completionTokens = 0;
    for (let i = 0; i < SENT; i++) {
      const r = await openai.chat.completions.create(chat);
      promptTokens += r.usage!.prompt_tokens;
      completionTokens += r.usage!.completion_tokens;
    }
    // Now the last usable key is limited too: KeyRelay answers 429 itself (every key cooling).
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    await assert.rejects(openai.chat.completions.create(chat), /429/);
    const { status, type, text } = await scrape(h);
    assert.equal(status, 200);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    assertNoKeys(text, '/keyrelay/metrics');
    const m = parsePromText(text);
    assert.deepEqual([...m.keys()].sort(), [
      'keyrelay_attempts_total',
      'keyrelay_cost_usd_total',
      'keyrelay_key_state',
      'keyrelay_requests_total',
      'keyrelay_tokens_total',
      'keyrelay_upstream_latency_seconds',
    ]);
    assert.equal(m.get('keyrelay_requests_total')!.type, 'counter');
    assert.equal(m.get('keyrelay_upstream_latency_seconds')!.type, 'histogram');
    assert.equal(sumOf(m, 'keyrelay_requests_total', { provider: 'openai', status: '200' }), SENT);
    const byKey = h.fake.countsByKey();
    const masked = (i: number) => h!.pool.get(`openai-${i + 1}`)!.masked;
    for (let i = 0; i < 3; i++) {
      assert.match(masked(i), /^sk-…\w{4}$/);
      assert.equal(
        sumOf(m, 'keyrelay_attempts_total', { provider: 'openai', key: masked(i) }),
        byKey[OPENAI_KEYS[i]],
        `attempts of key ${i + 1} = what the upstream saw`,
      );
    }
    assert.equal(sumOf(m, 'keyrelay_requests_total', { provider: 'openai', status: '429' }), 1);
    assert.equal(sumOf(m, 'keyrelay_requests_total'), SENT + 1);
    assert.equal(sumOf(m, 'keyrelay_attempts_total', { key: masked(0), outcome: 'rate_limited' }), 1);
    assert.equal(sumOf(m, 'keyrelay_attempts_total', { key: masked(1), outcome: 'rate_limited' }), 1);
    assert.equal(sumOf(m, 'keyrelay_attempts_total', { key: masked(2), outcome: 'invalid' }), 1);
    assert.equal(sumOf(m, 'keyrelay_attempts_total', { outcome: 'ok' }), SENT);
    assert.equal(sumOf(m, 'keyrelay_key_state', { key: masked(2), state: 'invalid' }), 1);
    assert.equal(sumOf(m, 'keyrelay_key_state', { key: masked(2), state: 'active' }), 0);
    assert.equal(sumOf(m, 'keyrelay_key_state', { key: masked(0), state: 'active' }), 1);
    assert.equal(sumOf(m, 'keyrelay_tokens_total', { provider: 'openai', direction: 'input' }), promptTokens);
    assert.equal(sumOf(m, 'keyrelay_tokens_total', { provider: 'openai', direction: 'output' }), completionTokens);
    // KeyRelay's own 429 says nothing about the upstream's latency.
    assert.equal(sumOf(m, 'keyrelay_upstream_latency_seconds_count', { provider: 'openai', phase: 'total' }), SENT);
    // A time to first byte of 0 ms (this fake is that fast) reaches the stats as "not measured" (tryKey.ts).
    const ttfbs = sumOf(m, 'keyrelay_upstream_latency_seconds_count', { provider: 'openai', phase: 'ttfb' });
    assert.ok(ttfbs >= 1 && ttfbs <= SENT, `ttfb count ${ttfbs}`);
    assert.ok(sumOf(m, 'keyrelay_upstream_latency_seconds_sum', { provider: 'openai', phase: 'total' }) > 0);
    // gpt-4o has a price in the shipped table ($2.50 in, $10 out per million tokens); the series
    // keep micro-dollars, so each attempt rounds by at most half of one.
    const cost = sumOf(m, 'keyrelay_cost_usd_total', { provider: 'openai' });
    const expected = (promptTokens * 2.5 + completionTokens * 10) / 1e6;
    assert.ok(expected > 0 && Math.abs(cost - expected) <= SENT * 1e-6, `cost ${cost} vs ${expected}`);
  });

  test('needs the token, unless the setting lets loopback scrape without it', async () => {
    h = await startHarness();
    const refused = await scrape(h, {});
    assert.equal(refused.status, 401);
    assert.match(refused.text, /access token/);
    h.proxy.updateConfig({ ...h.config, metricsWithoutToken: true });
    const open = await scrape(h, {});
    assert.equal(open.status, 200);
    parsePromText(open.text);
    // Only metrics: every other own endpoint still wants the token.
    const status = await request(`${h.endpoint}/keyrelay/status`);
    assert.equal(status.statusCode, 401);
    await status.body.dump();
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.5'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::ffff:192.168.1.2') && !isLoopback(undefined));
  });

  test('GET /keyrelay/series answers a following window (proof of the token) with charts and a page of keys', async () => {
    h = await startHarness();
    const openai = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 4; i++) await openai.chat.completions.create(chat);
    const port = Number(new URL(h.endpoint).port);
    const r = await askLeader(port, TOKEN, '/keyrelay/series?range=1h&sort=label&dir=asc&limit=2&filter=openai');
    assert.equal(r.status, 200);
    const doc = r.body as any;
    assert.equal(doc.table.total, 3);
    assert.deepEqual(
      doc.table.rows.map((x: any) => x.label),
      ['openai-1', 'openai-2'],
    );
    assert.equal(doc.charts.providers.find((p: any) => p.id === 'openai').attempts.at(-1), 4);
    assert.equal(doc.providerNames.openai, 'OpenAI');
    assertNoKeys(JSON.stringify(doc), '/keyrelay/series');
    const anon = await request(`${h.endpoint}/keyrelay/series`);
    assert.equal(anon.statusCode, 401);
    await anon.body.dump();
  });

  test('the strict parser refuses what Prometheus would refuse', () => {
    const ok = '# TYPE a counter\na{x="1"} 1\n';
    assert.equal(parsePromText(ok).get('a')!.samples[0].value, 1);
    for (const bad of [
      '# TYPE a counter\na 1', // no final line feed
      '# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', // a series twice
      '# TYPE a counter\na{x="\\q"} 1\n', // bad escape
      '# TYPE a counter\na -1\n', // negative counter
      'a 1\nb 1\na{y="2"} 1\n', // a family split
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
      '# TYPE a counter\na{1x="1"} 1\n', // bad label name
      'a 1\n# TYPE a counter\n', // TYPE after samples
    ])
      assert.throws(() => parsePromText(bad), Error, JSON.stringify(bad));
    assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    assert.equal(
      parsePromText(`# TYPE a gauge\na{x="${escapeLabel('a"b\\c\nd')}"} 1\n`).get('a')!.samples[0].labels.x,
      'a"b\\c\nd',
    );
  });
});
