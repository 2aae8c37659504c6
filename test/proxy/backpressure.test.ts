import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { bulkEvents } from '../fakes/upstreamServer';
import { OPENAI_KEYS, startHarness, TOKEN } from './harness';
import type { Harness } from './harness';

/** A streamed chat completion through the proxy; resolves with the response, paused, at its headers. */
function openStream(h: Harness): Promise<IncomingMessage> {
  const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  return new Promise((resolve, reject) => {
    const req = request(
      `${h.endpoint}/v1/chat/completions`,
      {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.pause();
        resolve(res);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** DESIGN §1: streams pass through "with backpressure": a slow reader slows the upstream, it is not buffered. */
suite('proxy backpressure: a client that reads slowly', () => {
  let h: Harness | undefined;
  teardown(async () => {
    await h?.close();
  });

  test('the upstream waits for the client instead of the proxy buffering the stream; every byte arrives', async function () {
    this.timeout(60_000);
    const [EVENTS, EVENT_BYTES] = [1536, 64 * 1024]; // 96 MiB
    // How far the upstream may get ahead of what the client has read: the sockets' kernel buffers
    // on loopback (about 7 MiB seen). A proxy that ignored backpressure held the rest in memory and
    // let the upstream run the whole stream ahead (about 94 MiB seen when attempt.ts did not pause).
    const MOST_AHEAD = 24 * 1024 * 1024;
    h = await startHarness({ keys: { openai: [OPENAI_KEYS[0]] } });
    h.fake.setKeyBehaviour(OPENAI_KEYS[0], { kind: 'bulk', events: EVENTS, eventBytes: EVENT_BYTES });
    const res = await openStream(h);
    assert.equal(res.statusCode, 200);
    const upstream = await h.fake.waitForRequest(1);
    const hash = createHash('sha256');
    let received = 0;
    let mostAhead = 0;
    const ended = new Promise<void>((resolve, reject) => res.on('end', resolve).on('error', reject));
    res.on('data', (c: Buffer) => {
      received += c.length;
      hash.update(c);
    });
    // The slow client reads only while the upstream is stuck waiting for it (and once it is done),
    // so every byte the upstream writes beyond the sockets' buffers must wait in the proxy.
    const pace = () => {
      mostAhead = Math.max(mostAhead, upstream.bytesOut - received);
      if (upstream.blocked || upstream.ended) res.resume();
      else res.pause();
    };
    const sub = h.fake.onDidChange(pace);
    try {
      pace();
      await h.fake.waitFor(() => upstream.ended, 'the upstream to write the whole stream', 50_000);
      await ended;
    } finally {
      sub.dispose();
    }
    assert.ok(upstream.drainWaits > 0, 'the upstream felt the backpressure');
    assert.ok(
      mostAhead <= MOST_AHEAD,
      `the upstream ran ${(mostAhead / 2 ** 20).toFixed(1)} MiB ahead of the client: the proxy buffered it`,
    );
    const expected = createHash('sha256');
    let size = 0;
    for (const e of bulkEvents(EVENTS, EVENT_BYTES)) {
      expected.update(e);
      size += Buffer.byteLength(e);
    }
    assert.equal(received, size, 'every byte arrived');
    assert.equal(hash.digest('hex'), expected.digest('hex'), 'in order and unchanged');
  });
});
