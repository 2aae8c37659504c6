import * as assert from 'node:assert/strict';
import OpenAI from 'openai';
import { request } from 'undici';
import { assertNoKeys, OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

interface Leased {
  lease: string;
  keyId: string;
  key: string;
  masked: string;
  header: string;
  baseUrl: string;
  expiresAt: string;
}

/** `GET /keyrelay/lease` and `POST /keyrelay/lease/<id>` on a real proxy in front of the fake upstream. */
suite('key lease', () => {
  let h: Harness;

  teardown(async () => {
    await h?.close();
  });

  async function lease(query = 'provider=openai&model=gpt-4o', headers: Record<string, string> = auth) {
    const r = await request(`${h.endpoint}/keyrelay/lease?${query}`, { headers });
    return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as Leased & ErrorBody };
  }

  async function report(id: string, body: unknown) {
    const r = await request(`${h.endpoint}/keyrelay/lease/${id}`, {
      method: 'POST',
      headers: auth,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return {
      status: r.statusCode,
      body: (await r.body.json()) as { state?: string; coolingUntil?: string } & ErrorBody,
    };
  }

  test('off by default: 403 naming the setting; without the token 401 either way', async () => {
    h = await startHarness();
    const off = await lease();
    assert.equal(off.status, 403);
    assert.equal(off.body.error.code, 'key_lease_off');
    assert.match(off.body.error.message, /keyRelay\.allowKeyLease/);
    assert.equal((await report('0123', { outcome: 'ok' })).status, 403);
    h.proxy.updateConfig({ ...h.config, allowKeyLease: true });
    const anon = await lease('provider=openai', {});
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 'unauthorized');
    const wrong = await lease('provider=openai', { authorization: `Bearer ${OPENAI_KEYS[0]}` });
    assert.equal(wrong.status, 401, "a provider key is not KeyRelay's token");
  });

  test('a lease reported rate_limited (retryAfter 2) is skipped by the proxy and by the next lease', async () => {
    h = await startHarness({ keys: { openai: OPENAI_KEYS.slice(0, 2) }, config: { allowKeyLease: true } });
    const first = await lease();
    assert.equal(first.status, 200);
    assert.ok(OPENAI_KEYS.includes(first.body.key), 'the secret itself');
    assert.equal(first.body.header, 'authorization');
    assert.equal(first.body.baseUrl, h.fake.openaiBase);
    assert.ok(Date.parse(first.body.expiresAt) > Date.now());
    assert.equal(first.headers['cache-control'], 'no-store');
    const reported = await report(first.body.lease, { outcome: 'rate_limited', retryAfter: 2 });
    assert.equal(reported.status, 200);
    const until = Date.parse(reported.body.coolingUntil!);
    assert.ok(
      until - Date.now() <= 2000 && until > Date.now(),
      `cools for its retry-after: ${reported.body.coolingUntil}`,
    );
    assert.equal(h.pool.health(first.body.keyId)!.modelCooldowns['gpt-4o'], until, 'for the leased model');

    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    for (let i = 0; i < 3; i++)
      await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const other = OPENAI_KEYS.slice(0, 2).find((k) => k !== first.body.key)!;
    assert.deepEqual(h.fake.countsByKey(), { [other]: 3 }, 'the proxy skips the cooling key');
    const next = await lease();
    assert.equal(next.body.key, other, 'so does the next lease');
    assert.equal((await report(first.body.lease, { outcome: 'ok' })).status, 404, 'a lease ends with its report');
    assertNoKeys(h.log.lines.join('\n'), 'the log');
    const taken = h.log.lines.filter((l) => l.includes(`Key lease ${first.body.lease}`));
    assert.equal(taken.length, 2, taken.join('\n'));
    assert.ok(taken[0].includes(first.body.masked), 'logged with the masked key');
  });

  test('invalid marks the key invalid; with none left the lease answers as the proxy would', async () => {
    h = await startHarness({ keys: { openai: OPENAI_KEYS.slice(0, 1) }, config: { allowKeyLease: true } });
    const a = await lease();
    assert.equal((await report(a.body.lease, { outcome: 'invalid' })).body.state, 'invalid');
    assert.equal(h.pool.health(a.body.keyId)!.state, 'invalid');
    const none = await lease();
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'keys_unusable');
    h.pool.restore(a.body.keyId);
    const b = await lease();
    await report(b.body.lease, { outcome: 'rate_limited', retryAfter: 30 });
    const cooling = await lease();
    assert.equal(cooling.status, 429);
    assert.equal(cooling.body.error.code, 'all_keys_cooling');
    assert.equal(cooling.body.error.type, 'keyrelay_all_keys_cooling', 'the shape the proxy answers with');
    assert.equal(cooling.headers['retry-after'], '30');
  });

  test('a bad report is 400 and keeps the lease open; unknown ids and providers name the fix', async () => {
    h = await startHarness({ config: { allowKeyLease: true } });
    const a = await lease();
    const bad = await report(a.body.lease, { outcome: 'maybe' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /"ok" \| "rate_limited" \| "invalid" \| "failed"/);
    assert.equal((await report(a.body.lease, { outcome: 'rate_limited', retryAfter: -1 })).status, 400);
    assert.equal((await report(a.body.lease, 'not json')).status, 400);
    assert.equal((await report(a.body.lease, { outcome: 'failed' })).status, 200, 'still open after bad reports');
    const unknown = await report('feedface', { outcome: 'ok' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /Take a new one with GET \/keyrelay\/lease\?provider=/);
    const noProvider = await lease('model=gpt-4o');
    assert.equal(noProvider.status, 400);
    assert.match(noProvider.body.error.message, /Send \?provider= .*openai/);
  });

  test("with maxConcurrentPerKey a lease holds one of its key's slots until it is reported", async () => {
    h = await startHarness({
      keys: { openai: OPENAI_KEYS.slice(0, 1) },
      config: { allowKeyLease: true, maxConcurrentPerKey: 1, maxWaitMs: 300 },
    });
    const a = await lease();
    const busy = await request(`${h.endpoint}/v1/chat/completions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(busy.statusCode, 429);
    assert.match(await busy.body.text(), /all_keys_busy/);
    assert.equal(h.fake.requests.length, 0, 'the leased key carried nothing more');
    await report(a.body.lease, { outcome: 'ok' });
    const sdk = new OpenAI({ baseURL: `${h.endpoint}/v1`, apiKey: TOKEN, maxRetries: 0 });
    await sdk.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(h.fake.requests.length, 1, 'the report gave the slot back');
  });
});

interface ErrorBody {
  error: { code: string; type: string; message: string };
}
