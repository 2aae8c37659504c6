import * as assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { plainGet } from '../../../src/cli/plainGet';

const listen = async <S extends Server | HttpServer>(server: S): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const close = (server: Server | HttpServer): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A server that answers every connection with `answer` in pieces of `step` bytes, one per few ms, then `end`s it (or destroys it). */
async function rawServer(
  answer: Buffer,
  step: number,
  how: 'end' | 'destroy' = 'end',
): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((socket: Socket) => {
    const answerIt = async (): Promise<void> => {
      socket.setNoDelay(true);
      for (let i = 0; i < answer.length; i += step) {
        socket.write(answer.subarray(i, i + step));
        await tick(1);
      }
      if (how === 'end') socket.end();
      else socket.destroy();
    };
    socket.once('data', (d: Buffer) => {
      requests.push(d.toString('latin1'));
      void answerIt();
    });
  });
  return { server, port: await listen(server), requests };
}

/** The body's bytes; `slowly`: a pause of 2 ms after each chunk and one of 400 ms after the first. */
async function readBody(body: Readable, slowly = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) {
    parts.push(chunk);
    if (slowly) await tick(parts.length === 1 ? 400 : 2);
  }
  return Buffer.concat(parts);
}

const CHUNKED = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '7\r\n{"a":1,\r\n' +
    '9;ext=1\r\n"b":"\r\n"}\r\n' +
    '0\r\nX-Trailer: t\r\n\r\n',
  'latin1',
);

suite('plainGet (keyrelay status reads its answer on a plain socket)', () => {
  test('a chunked answer, whatever pieces it arrives in: status, headers, body, the request it sent', async () => {
    for (const step of [1, 2, 3, 5, 11, CHUNKED.length]) {
      const { server, port, requests } = await rawServer(CHUNKED, step);
      try {
        const res = await plainGet('127.0.0.1', port, '/keyrelay/status', 'KeyRelay-Proof abc', 2000);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'application/json');
        assert.equal((await readBody(res.body)).toString('latin1'), '{"a":1,"b":"\r\n"}', `pieces of ${step}`);
        assert.match(requests[0], /^GET \/keyrelay\/status HTTP\/1\.1\r\n/);
        assert.match(requests[0], new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${port}\r\n`));
        assert.match(requests[0], /\r\nAuthorization: KeyRelay-Proof abc\r\n/);
      } finally {
        await close(server);
      }
    }
  });

  test("node:http's chunked answer of 3 MB in writes of every size, to a slow reader: every byte, in order, however long the reader pauses", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let at = 0;
      let size = 1;
      const more = (): void => {
        while (at < data.length) {
          const part = data.subarray(at, at + size);
          at += part.length;
          size = (size * 7 + 13) % 150_000;
          if (!res.write(part)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const port = await listen(server);
    try {
      const res = await plainGet('127.0.0.1', port, '/', 'x', 150); // the reader's 400 ms pause is no timeout
      assert.equal(res.statusCode, 200);
      const body = await readBody(res.body, true);
      assert.equal(body.length, data.length);
      assert.ok(body.equals(data), 'the same bytes');
    } finally {
      await close(server);
    }
  });

  test('a Content-Length answer (an error of the server), and one that ends with the connection', async () => {
    const lengthAnswer = Buffer.from('HTTP/1.1 401 Unauthorized\r\nContent-Length: 14\r\n\r\n{"error":"no"}', 'latin1');
    const eofAnswer = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nKeyRelay 1.0\nline\n', 'latin1');
    for (const [answer, status, body] of [
      [lengthAnswer, 401, '{"error":"no"}'],
      [eofAnswer, 200, 'KeyRelay 1.0\nline\n'],
    ] as const) {
      const { server, port } = await rawServer(answer, 9);
      try {
        const res = await plainGet('127.0.0.1', port, '/', 'x', 2000);
        assert.equal(res.statusCode, status);
        assert.equal((await readBody(res.body)).toString('latin1'), body);
      } finally {
        await close(server);
      }
    }
  });

  test('cut off in a chunk, or with the chunk framing broken: the body fails, saying so', async () => {
    const cut = CHUNKED.subarray(0, CHUNKED.indexOf('"b"'));
    const broken = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\n', 'latin1');
    for (const [answer, code] of [
      [cut, 'ECONNRESET'],
      [broken, 'EPROTO'],
    ] as const) {
      const { server, port } = await rawServer(answer, 16, 'destroy');
      try {
        const res = await plainGet('127.0.0.1', port, '/', 'x', 2000);
        await assert.rejects(readBody(res.body), (err: NodeJS.ErrnoException) => err.code === code);
      } finally {
        await close(server);
      }
    }
  });

  test('nothing listening, an answer that is not HTTP, no answer in time: each refused with its code', async () => {
    const idle = createServer((socket) => socket.resume()); // reads the request, never answers
    const port = await listen(idle);
    const { server: notHttp, port: notHttpPort } = await rawServer(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'), 64);
    try {
      await assert.rejects(plainGet('127.0.0.1', port, '/', 'x', 150), { code: 'ETIMEDOUT' });
      await assert.rejects(plainGet('127.0.0.1', notHttpPort, '/', 'x', 2000), { code: 'EPROTO' });
    } finally {
      await close(idle);
      await close(notHttp);
    }
    await assert.rejects(plainGet('127.0.0.1', port, '/', 'x', 2000), { code: 'ECONNREFUSED' });
  });
});
