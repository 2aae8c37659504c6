import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stats } from '../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../src/core/config/providers';
import { KeyPool } from '../../src/core/pool/keyPool';
import { ForwardKit } from '../../src/core/proxy/forwardKit';
import { forwardInProcess, InProcessAbortError, ResponseQueue } from '../../src/core/proxy/inProcess';
import type { InProcessRequest, InProcessResponse } from '../../src/core/proxy/inProcess';
import { ProxyServer } from '../../src/core/proxy/proxyServer';
import { maskKey } from '../../src/core/redact';
import { DEFAULT_CONFIG, systemClock } from '../../src/core/types';
import type { ProviderSpec, ProxyConfig } from '../../src/core/types';
import { FakeUpstream } from '../fakes/upstreamServer';
import { ANTHROPIC_KEYS, assertNoKeys, CapturingLogger, OPENAI_KEYS, TOKEN } from './harness';

const spec = (id: 'openai' | 'anthropic', base: string): ProviderSpec => ({
  id,
  name: id === 'openai' ? 'OpenAI' : 'Anthropic',
  shape: id,
  baseUrl: base,
  auth: id === 'openai' ? 'bearer' : 'x-api-key',
  testRequest: { method: 'GET', path: '/models' },
  envNames: [],
});

const chatBody = (stream = true): Buffer =>
  Buffer.from(JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }));

/** The request log's lines once the first one is on disk (the log writes through a stream). */
async function loggedLines(dir: string): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
    if (lines.length > 0) return lines;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the request log stayed empty for 2 s');
}

async function text(r: InProcessResponse): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r.body) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

/** The in-process entry (proxy/inProcess.ts): the forwarder without a socket, and without a server. */
suite('in-process forwarding', () => {
  let fake: FakeUpstream;
  let pool: KeyPool;
  let stats: Stats;
  let kit: ForwardKit;
  let log: CapturingLogger;
  let logDir: string;

  setup(async () => {
    fake = await FakeUpstream.start({ chunks: 5 });
    logDir = mkdtempSync(join(tmpdir(), 'keyrelay-inproc-'));
    const config: ProxyConfig = { ...DEFAULT_CONFIG, port: 0, requestLogDir: logDir };
    pool = new KeyPool({ clock: systemClock, ...config });
    const keys = [
      ...OPENAI_KEYS.map((secret, i) => ({ id: `openai-${i + 1}`, providerId: 'openai', secret })),
      ...ANTHROPIC_KEYS.map((secret, i) => ({ id: `anthropic-${i + 1}`, providerId: 'anthropic', secret })),
    ];
    pool.setKeys(keys.map((k) => ({ ...k, label: k.id, masked: maskKey(k.secret, 'sk-'), addedAt: 0 })));
    stats = new Stats(systemClock);
    log = new CapturingLogger();
    const catalogue = new ProviderCatalogue([spec('openai', fake.openaiBase), spec('anthropic', fake.anthropicBase)]);
    kit = new ForwardKit({ config, pool, stats, catalogue, logger: log, clock: systemClock, accessToken: TOKEN });
  });

  teardown(async () => {
    kit.dispose();
    pool.dispose();
    stats.dispose();
    await fake.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  const send = (r: Partial<InProcessRequest> = {}) =>
    forwardInProcess(kit.deps, {
      shape: 'openai',
      method: 'POST',
      path: '/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: chatBody(),
      ...r,
    });

  test('streams a chat completion with no server listening, counted and logged like a proxied one', async () => {
    const r = await send();
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const body = await text(r);
    await r.done;
    assert.match(body, /"content":"Hello"/);
    assert.match(body, /data: \[DONE\]/);
    const total = stats.snapshot().total;
    assert.equal(total.requests, 1);
    assert.equal(total.successes, 1);
    assert.equal(fake.requests.length, 1);
    assert.ok(OPENAI_KEYS.includes(fake.requests[0].key), 'a pool key went upstream');
    const logged = await loggedLines(logDir);
    assert.equal(logged.length, 1);
    assert.match(logged[0], /"path":"\/v1\/chat\/completions".*"status":200/);
    assertNoKeys(logged[0] + log.lines.join('\n'), 'the request log and the log');
  });

  test('fails over past a rate-limited key before the first byte; the key cools', async () => {
    fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    const r = await send();
    assert.equal(r.status, 200);
    assert.match(await text(r), /Hello/);
    await r.done;
    assert.deepEqual(
      fake.requests.map((q) => q.key),
      [OPENAI_KEYS[0], OPENAI_KEYS[1]],
    );
    const h = pool.health('openai-1')!;
    assert.ok(h.state === 'cooling' || h.modelCooldowns['gpt-4o'] !== undefined, 'the 429 key cools');
  });

  test('every key cooling: a 429 in the API shape with the time left, and no upstream call', async () => {
    for (const k of OPENAI_KEYS)
      fake.setKeyBehaviour(k, { kind: 'status', status: 429, headers: { 'retry-after': '40' } });
    await (
      await send()
    ).done;
    const before = fake.requests.length;
    const r = await send();
    assert.equal(r.status, 429);
    assert.equal(r.headers['x-keyrelay-error'], 'all_keys_cooling');
    const err = JSON.parse(await text(r)) as { error: { message: string } };
    assert.match(err.error.message, /first is ready in (39|40) s/);
    assert.equal(fake.requests.length, before, 'nothing was sent upstream');
  });

  test('providerId routes a GET to that provider, in its shape (anthropic-version added)', async () => {
    const r = await send({
      shape: 'anthropic',
      method: 'GET',
      path: '/models',
      body: undefined,
      providerId: 'anthropic',
    });
    assert.equal(r.status, 200);
    const list = JSON.parse(await text(r)) as { data: Array<{ id: string }> };
    assert.ok(list.data.some((m) => m.id === 'claude-sonnet-4-6'));
    assert.equal(fake.requests[0].headers['anthropic-version'], '2023-06-01');
    assert.ok(ANTHROPIC_KEYS.includes(fake.requests[0].key));
    const unknown = await send({ providerId: 'nope' });
    assert.equal(unknown.status, 400);
    assert.match(await text(unknown), /Provider \\"nope\\" is not configured/);
  });

  test('aborting mid-stream closes the upstream request and counts it as aborted', async () => {
    fake.chunks = 40;
    fake.chunkDelayMs = 100;
    const ac = new AbortController();
    const r = await send({ signal: ac.signal });
    const it = r.body[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false, 'the first chunk arrived');
    // One 'close' listener while the attempt is in flight: a second would put both in an array
    // per request, which V8 may tenure (bench README, "The load generator's cut").
    assert.ok(r.body instanceof ResponseQueue);
    assert.equal(r.body.listenerCount('close'), 1);
    ac.abort();
    const rec = await fake.waitForAbort(1000);
    assert.ok(rec.abortedAt, 'the fake saw the client go away');
    assert.equal((await it.next()).done, true, 'the reader sees the end');
    await r.done;
    assert.equal(stats.snapshot().total.failures.aborted, 1);
  });

  test('a reader that stops early (break) is a client going away', async () => {
    fake.chunks = 40;
    fake.chunkDelayMs = 100;
    const r = await send();
    for await (const chunk of r.body) {
      assert.ok(chunk.length > 0);
      break;
    }
    await fake.waitForAbort(1000);
    await r.done;
  });

  test('aborting before the answer starts rejects with InProcessAbortError and frees the upstream', async () => {
    fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'stall-headers' });
    const ac = new AbortController();
    const pending = send({ signal: ac.signal });
    await fake.waitForRequests(1);
    ac.abort();
    await assert.rejects(pending, InProcessAbortError);
    await fake.waitForAbort(1000);
    ac.abort();
    await assert.rejects(send({ signal: ac.signal }), InProcessAbortError, 'an aborted signal sends nothing');
  });

  test('a stream that breaks after its first byte makes the reader throw', async () => {
    fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'cut-mid-stream', afterChunks: 2 });
    const r = await send();
    await assert.rejects(text(r), /broke off/);
    await r.done;
  });

  test('a server built on the same kit shares it and leaves it working when disposed', async () => {
    const server = new ProxyServer({
      config: kit.current,
      pool,
      stats,
      catalogue: kit.deps.catalogue,
      logger: log,
      clock: systemClock,
      accessToken: TOKEN,
      version: 'test',
      kit,
    });
    const port = await server.start();
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: chatBody(false),
    });
    assert.equal(res.status, 200);
    await server.stop(0);
    server.dispose();
    const r = await send();
    assert.equal(r.status, 200, 'in-process requests work after the server is gone');
    await text(r);
    await r.done;
    assert.equal(stats.snapshot().total.requests, 2);
  });
});

suite('ResponseQueue', () => {
  test('write returns false past the high-water mark and drain fires once the reader catches up', async () => {
    const q = new ResponseQueue();
    q.writeHead(200, ['Content-Type', 'text/plain']);
    assert.equal(q.headers['content-type'], 'text/plain');
    let ok = true;
    let writes = 0;
    while (ok) {
      ok = q.write(Buffer.alloc(16 * 1024));
      writes++;
    }
    assert.ok(writes >= 4, 'a few chunks fit before backpressure');
    let drained = false;
    q.on('drain', () => (drained = true));
    const it = q[Symbol.asyncIterator]();
    for (let i = 0; i < writes && !drained; i++) await it.next();
    assert.ok(drained, 'drain fired');
    q.end();
    for (;;) if ((await it.next()).done) break;
    assert.equal(q.write(Buffer.from('late')), false, 'nothing is written after the end');
  });

  test('end without writeHead answers 200; cancel after end changes nothing', async () => {
    const q = new ResponseQueue();
    q.end('done');
    assert.equal(q.status, 200);
    q.cancel();
    assert.equal(q.destroyed, false);
    const parts: string[] = [];
    for await (const c of q) parts.push(c.toString());
    assert.deepEqual(parts, ['done']);
  });
});
