import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { ClientRequest, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { affinityKey, inspectJsonBody, readBody, replaceModel, secondsText } from '../../../src/core/proxy/body';
import { ProxyError } from '../../../src/core/errors';
import { Emitter } from '../../../src/core/events';
import { until } from '../../fakes/waits';

/** What the server-side readBody produced for one request. */
type Read = { body: Buffer } | { err: ProxyError };

/**
 * A real loopback server whose handler runs readBody and reports the result, so the tests see
 * exactly what the proxy would see from a client socket.
 */
class BodyServer {
  private server: Server;
  private waiters: Array<(r: Read) => void> = [];
  private readonly arrived = new Emitter<void>();
  /** Body bytes the server has read so far, over all requests. */
  received = 0;
  port = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {
    this.server = createServer((req, res) => {
      readBody(req, this.maxBytes, this.timeoutMs).then(
        (body) => {
          this.report({ body });
          res.writeHead(200).end(String(body.length));
        },
        (err: ProxyError) => {
          this.report({ err });
          res.writeHead(err.status, { connection: 'close' }).end(err.code);
        },
      );
      // Counts what readBody reads (only while it reads: the request is never made to flow by us).
      if (req.listenerCount('data') > 0)
        req.on('data', (c: Buffer) => {
          this.received += c.length;
          this.arrived.fire();
        });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The next readBody result (bounded: a test timeout turns a hang into a failure). */
  next(): Promise<Read> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once the server has read `n` body bytes: what a client wrote has arrived. */
  receivedBytes(n: number): Promise<void> {
    return until(this.arrived.event, () => this.received >= n, `${n} body bytes at the server`);
  }

  private report(r: Read): void {
    this.waiters.shift()?.(r);
  }

  dispose(): void {
    this.arrived.dispose();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function send(port: number, method: string, headers: Record<string, string | number>): ClientRequest {
  const req = request({ host: '127.0.0.1', port, method, path: '/v1/chat/completions', headers, agent: false });
  // The server may answer and close before we finish writing (413); that is expected here.
  req.on('error', () => undefined);
  return req;
}

function response(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve) =>
    req.on('response', (res) => {
      res.resume();
      resolve(res);
    }),
  );
}

function errOf(r: Read): ProxyError {
  assert.ok('err' in r, `expected an error, got a body of ${'body' in r ? r.body.length : '?'} bytes`);
  return r.err;
}

function bodyOf(r: Read): Buffer {
  assert.ok('body' in r, `expected a body, got ${'err' in r ? r.err.code : '?'}`);
  return r.body;
}

suite('readBody (real loopback server)', () => {
  let srv: BodyServer;
  const clients: ClientRequest[] = [];
  setup(async () => {
    srv = new BodyServer(1024, 200);
    await srv.start();
  });
  teardown(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await srv.stop();
    srv.dispose();
  });
  const open = (method: string, headers: Record<string, string | number>): ClientRequest => {
    const c = send(srv.port, method, headers);
    clients.push(c);
    return c;
  };

  test('reads a content-length body whole', async () => {
    const got = srv.next();
    const payload = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    const c = open('POST', { 'content-type': 'application/json', 'content-length': payload.length });
    c.end(payload);
    assert.deepEqual(bodyOf(await got), payload);
    assert.equal((await response(c)).statusCode, 200);
  });

  test('concatenates a chunked body sent in several writes', async () => {
    const got = srv.next();
    const c = open('POST', { 'transfer-encoding': 'chunked' });
    c.write('{"a":');
    await srv.receivedBytes(5); // the first piece is read on its own before the next is sent
    c.write('"b",');
    c.end('"c":1}');
    assert.equal(bodyOf(await got).toString(), '{"a":"b","c":1}');
  });

  test('a body of exactly maxBytes is accepted', async () => {
    const got = srv.next();
    const c = open('POST', { 'content-length': 1024 });
    c.end(Buffer.alloc(1024, 0x61));
    assert.equal(bodyOf(await got).length, 1024);
  });

  test('a declared content-length over the limit is 413 before any byte is read', async () => {
    const got = srv.next();
    const c = open('POST', { 'content-length': 1025 });
    c.flushHeaders();
    const err = errOf(await got);
    assert.ok(err instanceof ProxyError);
    assert.equal(err.status, 413);
    assert.equal(err.code, 'body_too_large');
    assert.match(err.message, /keyRelay\.proxy\.maxBodyMB/);
    assert.equal((await response(c)).statusCode, 413);
  });

  test('a chunked body that grows past the limit is 413 (streamed size, no content-length)', async () => {
    const got = srv.next();
    const c = open('POST', { 'transfer-encoding': 'chunked' });
    c.write(Buffer.alloc(600, 0x61));
    c.write(Buffer.alloc(600, 0x62));
    const err = errOf(await got);
    assert.equal(err.status, 413);
    assert.equal(err.code, 'body_too_large');
  });

  test('a body that stops arriving is 408 body_timeout after timeoutMs', async () => {
    const got = srv.next();
    const started = Date.now();
    const c = open('POST', { 'content-length': 100 });
    c.write(Buffer.alloc(10, 0x61));
    const err = errOf(await got);
    const took = Date.now() - started;
    assert.equal(err.status, 408);
    assert.equal(err.code, 'body_timeout');
    assert.ok(took >= 150 && took < 2000, `timed out after ${took} ms (timeout 200 ms)`);
  });

  test('a client that closes mid-body is rejected, not left hanging', async () => {
    const got = srv.next();
    const c = open('POST', { 'content-length': 100 });
    c.write(Buffer.alloc(10, 0x61));
    await srv.receivedBytes(10); // the body has started: the close comes in the middle of it
    c.destroy();
    const err = errOf(await got);
    assert.equal(err.status, 400);
    assert.notEqual(err.status, 408, 'must not wait for the timeout');
  });

  test('GET without a body resolves to an empty buffer at once', async () => {
    const got = srv.next();
    const c = open('GET', {});
    c.end();
    const body = bodyOf(await got);
    assert.equal(body.length, 0);
    assert.equal((await response(c)).statusCode, 200);
  });

  test('POST with content-length 0 resolves to an empty buffer', async () => {
    const got = srv.next();
    const c = open('POST', { 'content-length': 0 });
    c.end();
    assert.equal(bodyOf(await got).length, 0);
  });
});

suite('inspectJsonBody', () => {
  test('finds the top-level model and its byte offsets', () => {
    const body = Buffer.from('  {"messages":[{"role":"user","content":"ünïcödé ✓"}],"model":"groq/llama-3.3-70b"}\n');
    const facts = inspectJsonBody(body, 'openai');
    assert.equal(facts.model?.value, 'groq/llama-3.3-70b');
    assert.equal(body.subarray(facts.model!.start, facts.model!.end).toString('utf8'), 'groq/llama-3.3-70b');
  });

  test('ignores a nested "model" and reports none when there is no top-level one', () => {
    assert.equal(
      inspectJsonBody(Buffer.from('{"metadata":{"model":"nested"},"model":"gpt-4o"}'), 'openai').model?.value,
      'gpt-4o',
    );
    assert.equal(inspectJsonBody(Buffer.from('{"metadata":{"model":"nested"}}'), 'openai').model, undefined);
  });

  test('an empty body has no facts and is not an error', () => {
    assert.deepEqual(inspectJsonBody(Buffer.alloc(0), 'openai'), {});
  });

  test('a body that is not a JSON object is 400 invalid_json naming the API', () => {
    for (const text of ['[1,2]', 'model=gpt-4o', '"str"', '{"model":"x"', '   ']) {
      assert.throws(
        () => inspectJsonBody(Buffer.from(text), 'anthropic'),
        (e: unknown) => {
          assert.ok(e instanceof ProxyError, text);
          assert.equal(e.code, 'invalid_json');
          assert.equal(e.status, 400);
          assert.match(e.message, /Anthropic Messages/);
          return true;
        },
      );
    }
    assert.throws(() => inspectJsonBody(Buffer.from('nope'), 'openai'), /OpenAI/);
  });
});

suite('replaceModel', () => {
  test('strips a provider prefix and leaves every other byte as it was', () => {
    const body = Buffer.from('{"system":"héllo ✓","model":"mistral/codestral-latest","stream":true}');
    const at = inspectJsonBody(body, 'openai').model!;
    const out = replaceModel(body, at, 'codestral-latest');
    assert.equal(out.toString('utf8'), '{"system":"héllo ✓","model":"codestral-latest","stream":true}');
    assert.deepEqual(JSON.parse(out.toString('utf8')), { system: 'héllo ✓', model: 'codestral-latest', stream: true });
    // The original buffer is not modified (it may be retried on another provider).
    assert.match(body.toString('utf8'), /mistral\/codestral-latest/);
  });

  test('can lengthen the model too', () => {
    const body = Buffer.from('{"model":"a"}');
    assert.equal(
      replaceModel(body, inspectJsonBody(body, 'openai').model!, 'abc/def').toString(),
      '{"model":"abc/def"}',
    );
  });
});

suite('affinityKey', () => {
  const turn = (...msgs: Array<[string, string]>): Buffer =>
    Buffer.from(
      JSON.stringify({
        model: 'claude-sonnet-4-5',
        system: 'You are a careful coder.',
        messages: msgs.map(([role, content]) => ({ role, content })),
      }),
    );

  test("Claude Code's session header wins over everything in the body", () => {
    const body = Buffer.from('{"prompt_cache_key":"pk","metadata":{"user_id":"u1"}}');
    assert.equal(affinityKey({ 'x-claude-code-session-id': 'sess-42' }, body), 's:sess-42');
  });

  test('then prompt_cache_key, then metadata.user_id', () => {
    assert.equal(
      affinityKey({}, Buffer.from('{"model":"gpt-5","prompt_cache_key":"conv-7","metadata":{"user_id":"u1"}}')),
      'p:conv-7',
    );
    assert.equal(
      affinityKey(
        { 'x-claude-code-session-id': '' },
        Buffer.from('{"model":"m","metadata":{"user_id":"user_abc_account_x"}}'),
      ),
      'u:user_abc_account_x',
    );
  });

  test('an empty body without a session header has no affinity', () => {
    assert.equal(affinityKey({}, Buffer.alloc(0)), undefined);
  });

  test('otherwise a hash of the opening: stable across later turns, different per conversation', () => {
    const t2 = affinityKey({}, turn(['user', 'fix the bug'], ['assistant', 'done'], ['user', 'thanks']));
    const t3 = affinityKey(
      {},
      turn(
        ['user', 'fix the bug'],
        ['assistant', 'done'],
        ['user', 'thanks'],
        ['assistant', 'np'],
        ['user', 'one more'],
      ),
    );
    const other = affinityKey({}, turn(['user', 'write a poem'], ['assistant', 'ok'], ['user', 'more']));
    assert.match(t2 ?? '', /^h:/);
    assert.equal(t2, t3);
    assert.notEqual(t2, other);
  });

  test('the hash covers only the first 4 KiB, so a huge system prompt costs nothing more', () => {
    const big = Buffer.from(`{"system":"${'s'.repeat(5000)}","messages":[{"role":"user","content":"A"}]}`);
    const big2 = Buffer.from(`{"system":"${'s'.repeat(5000)}","messages":[{"role":"user","content":"B"}]}`);
    const k = affinityKey({}, big);
    assert.equal(k, affinityKey({}, big2));
    assert.equal(k, `h:${createHash('sha1').update(big.subarray(0, 4096)).digest('base64')}`);
  });
});

suite('timeout wording', () => {
  test('a sub-second timeout reads "<1 s", never "0 s"; longer ones in whole seconds', () => {
    assert.equal(secondsText(300), '<1 s');
    assert.equal(secondsText(999), '<1 s');
    assert.equal(secondsText(1000), '1 s');
    assert.equal(secondsText(30_000), '30 s');
  });
});
