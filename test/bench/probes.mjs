// Single-request probes: SSE timing (time to first chunk, first→last spread, reads per response,
// end marker) and client cancel → upstream connection closed. Plain node:http so each `data`
// event is one socket read as the client sees it.
import http from 'node:http';
import { median, sleep } from './lib.mjs';

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const MSGS = JSON.stringify({
  model: 'claude-3-5-haiku-latest',
  stream: true,
  max_tokens: 64,
  messages: [{ role: 'user', content: 'hi' }],
});

function sseRequest(target, { anthropic = false, chunks = 20, delay = 5, onFirst } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(target.url);
    const body = anthropic ? MSGS : CHAT;
    const headers = {
      ...target.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-mock-mode': 'sse',
      'x-mock-chunks': String(chunks),
      'x-mock-delay': String(delay),
    };
    if (anthropic) headers['anthropic-version'] = '2023-06-01';
    const t0 = process.hrtime.bigint();
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path: anthropic ? '/v1/messages' : '/v1/chat/completions',
        headers,
        agent: onFirst ? false : agent,
      },
      (res) => {
        let first,
          last,
          reads = 0,
          tail = '';
        res.on('data', (d) => {
          const now = process.hrtime.bigint();
          if (first === undefined) {
            first = now;
            if (onFirst) onFirst(req, now);
          }
          last = now;
          reads++;
          tail = (tail + d.toString('latin1')).slice(-200);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            reads,
            ttfcMs: first === undefined ? NaN : Number(first - t0) / 1e6,
            spreadMs: first === undefined ? NaN : Number(last - first) / 1e6,
            endMarker: anthropic ? tail.includes('message_stop') : tail.includes('[DONE]'),
          }),
        );
        res.on('error', (e) => (onFirst ? resolve({ aborted: true }) : reject(e)));
        res.on('close', () => resolve({ status: res.statusCode, reads, aborted: true }));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('probe timeout')), 20_000);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (e) => (onFirst ? resolve({ aborted: true }) : reject(e)));
    req.end(body);
  });
}

/** n sequential SSE requests; medians of time to first chunk and spread, min reads, all markers. */
export async function sseProbe(target, { n = 10, chunks = 20, delay = 5, anthropic = false } = {}) {
  const r = [];
  for (let i = 0; i < n; i++) r.push(await sseRequest(target, { anthropic, chunks, delay }));
  return {
    ttfcMs: median(r.map((x) => x.ttfcMs)),
    spreadMs: median(r.map((x) => x.spreadMs)),
    minReads: Math.min(...r.map((x) => x.reads)),
    medianReads: median(r.map((x) => x.reads)),
    endMarker: r.every((x) => x.endMarker),
    errors: r.filter((x) => x.status !== 200).length,
  };
}

/**
 * Client aborts a long stream after its first chunk; ms until the mock saw the upstream response
 * close (both clocks are CLOCK_MONOTONIC via hrtime, so they compare across processes).
 */
export async function cancelProbe(target, mock, { n = 5 } = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const before = (await mock.stats()).aborted;
    let t0;
    await sseRequest(target, {
      chunks: 400,
      delay: 10,
      onFirst: (req, now) => {
        t0 = now;
        req.destroy();
      },
    });
    let ms = NaN;
    for (let w = 0; w < 100; w++) {
      // ≤ ~2 s
      const s = await mock.stats();
      if (s.aborted > before) {
        ms = Number(BigInt(s.abortedAt[s.abortedAt.length - 1]) - t0) / 1e6;
        break;
      }
      await sleep(20);
    }
    out.push(ms);
  }
  return out;
}

/** One non-streaming request; resolves { status, body }. */
export function oneRequest(
  target,
  {
    path = '/v1/chat/completions',
    body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  } = {},
) {
  return new Promise((resolve, reject) => {
    const u = new URL(target.url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path,
        agent,
        headers: { ...target.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          b += d;
        });
        res.on('end', () => resolve({ status: res.statusCode, body: b }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

export function closeProbeAgent() {
  agent.destroy();
}
