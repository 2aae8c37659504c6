import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Attempt } from '../../../src/core/proxy/attempt';
import type { AttemptResult } from '../../../src/core/proxy/attempt';
import { Upstream } from '../../../src/core/proxy/upstream';
import { fakeController } from '../fakes/dispatchController';

/**
 * The first-event peek of an event stream (DESIGN §5.3), through real sockets: an upstream that
 * writes the stream in the given pieces (a pause between them, so each arrives as its own chunk),
 * a front server whose response is the Attempt's sink, and a client reading what it got.
 */
suite('Attempt: the first event of an event stream', () => {
  let upstreamServer: Server;
  let front: Server;
  let up: Upstream;
  let frontUrl = '';
  let parts: string[] = [];
  let upstreamClosedEarly = false;
  /** Resolves when the upstream's response closes (finished or cut). */
  let upstreamClosed: Promise<void> = Promise.resolve();
  let result: AttemptResult | undefined;

  const listen = async (s: Server): Promise<string> => {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  setup(async () => {
    upstreamClosedEarly = false;
    result = undefined;
    up = new Upstream(2000);
    upstreamServer = createServer((_req, res) => void stream(res));
    const origin = await listen(upstreamServer);
    front = createServer((_req, res) => {
      const h = new Attempt(res, Date.now);
      h.onDone = (r) => {
        result = r;
        // A held-back answer is the forwarder's to send; here the client is told which kind it was.
        if (r.kind !== 'sent') res.writeHead(502).end(`held: ${r.kind}`);
      };
      res.on('close', () => {
        if (!res.writableFinished) h.abort(new Error('client closed'));
      });
      up.dispatch(
        { origin, path: '/v1/chat/completions', method: 'GET', headers: [], headersTimeout: 5000, bodyTimeout: 5000 },
        h,
      );
    });
    frontUrl = await listen(front);
  });

  teardown(async () => {
    up.destroy();
    front.closeAllConnections();
    upstreamServer.closeAllConnections();
    await Promise.all([front, upstreamServer].map((s) => new Promise((r) => s.close(r))));
  });

  async function stream(res: ServerResponse): Promise<void> {
    upstreamClosed = new Promise((resolve) =>
      res.on('close', () => {
        if (!res.writableFinished) upstreamClosedEarly = true;
        resolve();
      }),
    );
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const p of parts) {
      if (res.destroyed) return;
      res.write(p);
      await new Promise((r) => setTimeout(r, 3));
    }
    res.end();
  }

  async function get(pieces: string[]): Promise<{ status: number; text: string }> {
    parts = pieces;
    const r = await request(frontUrl);
    return { status: r.statusCode, text: await r.body.text() };
  }

  test('keep-alive comments are skipped; the stream goes through byte for byte', async () => {
    const pieces = [': ping\n\n', ': ping\n\n', 'data: {"a":1}\n\n', 'data: [DONE]\n\n'];
    assert.deepEqual(await get(pieces), { status: 200, text: pieces.join('') });
    assert.deepEqual(result, { kind: 'sent', status: 200, complete: true });
  });

  test('a first event that arrives a few bytes at a time is committed once whole', async () => {
    const first = ': hi\n\ndata: {"choices":[{"delta":{"content":"x"}}]}\n\n';
    const pieces = [...(first.match(/[^]{1,3}/g) ?? []), 'data: [DONE]\n\n'];
    assert.deepEqual(await get(pieces), { status: 200, text: pieces.join('') });
    assert.equal(result?.kind, 'sent');
  });

  test('CRLF blank lines, split across chunks, end events as LF ones do', async () => {
    const pieces = [': ok\r\n\r', '\ndata: x\r', '\n\r', '\ndata: y\r\n\r\n'];
    assert.deepEqual(await get(pieces), { status: 200, text: pieces.join('') });
    assert.equal(result?.kind, 'sent');
  });

  test('an OpenAI-style error as the first event is held back and the upstream closed', async () => {
    const event = 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n';
    const got = await get([': ping\n\n', event, 'data: {"a":1}\n\n', 'data: [DONE]\n\n', ': tail\n\n']);
    assert.deepEqual(got, { status: 502, text: 'held: stream-error' });
    assert.equal(result?.kind === 'stream-error' && result.body.toString(), event);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise(
      (_, reject) => (timer = setTimeout(() => reject(new Error('upstream still open')), 2000)),
    );
    await Promise.race([upstreamClosed, bound]).finally(() => clearTimeout(timer));
    assert.equal(upstreamClosedEarly, true, 'the upstream was cut before its last event');
  });

  test("Anthropic's `event: error`, its blank line split over two chunks, is the first event", async () => {
    const event = 'event: error\r\ndata: {"type":"error","error":{"type":"overloaded_error"}}\r\n\r\n';
    const got = await get([': x\n\n', event.slice(0, -3), event.slice(-3), 'event: ping\n\n']);
    assert.deepEqual(got, { status: 502, text: 'held: stream-error' });
    assert.equal(result?.kind === 'stream-error' && result.body.toString(), event);
  });

  test('a first event longer than the peek limit (64 KiB) is committed as it is', async () => {
    const pieces = [`data: ${'x'.repeat(40_000)}`, 'y'.repeat(40_000), '\n\ndata: [DONE]\n\n'];
    const got = await get(pieces);
    assert.equal(got.status, 200);
    assert.equal(got.text, pieces.join(''));
    assert.equal(result?.kind, 'sent');
  });
});

/**
 * The server keeps its last request, attempt included, while the proxy idles (ProxyServer's
 * `lastForwarded`): a settled attempt must then neither abort anything nor hold a body.
 */
suite('Attempt: once settled', () => {
  test('an abort after the result is a no-op, and the held error body goes with the result', () => {
    const aborted: unknown[] = [];
    const controller = fakeController((e) => void aborted.push(e));
    const sink = { destroyed: false } as unknown as ConstructorParameters<typeof Attempt>[0];
    const h = new Attempt(sink, Date.now);
    let result: AttemptResult | undefined;
    h.onDone = (r) => (result = r);
    h.onRequestStart(controller);
    h.onResponseStart(controller, 429, { 'content-type': 'application/json' });
    const body = `{"error":{"message":"slow down${'.'.repeat(4000)}"}}`;
    h.onResponseData(controller, Buffer.from(body));
    h.abort(new Error('before the end: passed on'));
    assert.equal(aborted.length, 1);
    h.onResponseEnd(controller);
    assert.equal(result?.kind, 'rejected');
    assert.equal(result?.kind === 'rejected' && result.body.toString(), body);
    h.abort(new Error('client closed later'));
    assert.equal(aborted.length, 1, 'the settled attempt did not abort again');
    const retained = heldBufferBytes(h);
    assert.ok(retained < 1024, `the settled attempt holds ${retained} bytes of buffers`);
  });
});

/** Bytes of Buffers an object holds directly or in arrays one level down (its own fields). */
function heldBufferBytes(o: object): number {
  let n = 0;
  for (const v of Object.values(o)) {
    if (Buffer.isBuffer(v)) n += v.length;
    else if (Array.isArray(v)) for (const x of v) if (Buffer.isBuffer(x)) n += x.length;
  }
  return n;
}
