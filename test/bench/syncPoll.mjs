// Leader time per follower poll at 10,000 keys (issue 9 point 7): the real buildSync + the JSON the
// leader sends, bundled on the fly with esbuild (no dependency on the test build). Measured, not
// asserted: the unit test (test/unit/accounting/syncFeed.test.ts) asserts the payload is a delta.
//   node test/bench/syncPoll.mjs [--keys 10000] [--polls 2000]   → prints BENCH_JSON {...}
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleFromSrc } from './lib.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function syncPollBench({ keys = 10_000, polls = 2000 } = {}) {
  const { buildSync, Stats, KeyPool } = await bundleFromSrc(
    "export * from './src/core/accounting/syncFeed';\nexport * from './src/core/accounting/stats';\nexport { KeyPool } from './src/core/pool/keyPool';",
    'sync',
  );
  const clock = { now: () => Date.now() };
  const pool = new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000],
    maxCooldownMs: 600_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  const stats = new Stats(clock);
  pool.setKeys(
    Array.from({ length: keys }, (_, i) => ({
      id: `k${i}`,
      providerId: 'openai',
      label: `key-${i}`,
      masked: `sk-…${String(i).padStart(4, '0')}`,
      addedAt: 1,
      secret: `sk-bench-${i}-${'x'.repeat(32)}`,
    })),
  );
  const time = (fn) => {
    const t0 = process.hrtime.bigint();
    const bytes = Buffer.byteLength(JSON.stringify(fn()));
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes };
  };
  const whole = time(() => buildSync(pool, stats, { pool: 0, stats: 0 }, Date.now()));
  let cursor = buildSync(pool, stats, { pool: 0, stats: 0 }, Date.now()).cursor;
  const idle = [];
  const busy = [];
  let busyBytes = 0;
  for (let i = 0; i < polls; i++) {
    idle.push(time(() => buildSync(pool, stats, cursor, Date.now())).ms);
    // About what a second of traffic changes: 10 keys answered a request.
    for (let j = 0; j < 10; j++)
      stats.record({
        keyId: `k${(i * 10 + j) % keys}`,
        providerId: 'openai',
        model: 'gpt-4o',
        endpoint: '/chat/completions',
        ok: true,
        status: 200,
        latencyMs: 300,
        ttfbMs: 90,
        inputTokens: 12,
        outputTokens: 4,
      });
    let doc;
    const t = time(() => (doc = buildSync(pool, stats, cursor, Date.now())));
    busy.push(t.ms);
    busyBytes = t.bytes;
    cursor = doc.cursor;
  }
  pool.dispose();
  stats.dispose();
  return {
    keys,
    polls,
    wholeMs: whole.ms,
    wholeBytes: whole.bytes,
    idleMedianMs: median(idle),
    busyMedianMs: median(busy),
    busyBytes,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { keys: { type: 'string' }, polls: { type: 'string' } } });
  const r = await syncPollBench({ keys: Number(values.keys ?? 10_000), polls: Number(values.polls ?? 2000) });
  console.log(`BENCH_JSON ${JSON.stringify(r)}`);
}
