// What a request's per-key work costs in-process at 3, 10,000 and 100,000 keys, without the
// ±4 % that separates one proxy process from the next: the real KeyPool and Stats (bundled from
// src/ on the fly) doing what the proxy does with the key in hand (pick, begin, the auth header,
// report, the attempt's and the request's counts, end), each request after ~20 KB written to
// memory, so the key's records are out of the cache as they are in a serving process. Prints ns
// per request over the writes alone, medians of alternating rounds.
//   node test/bench/keyPath.mjs [--without pool|stats|series|rows|request|secret] [--rounds 7] [--ops 100000]
// --without: that part skipped (an ablation): which of the parts the 10,000-key extra is made of.
import { bundleFromSrc, median } from './lib.mjs';

const a = process.argv.slice(2);
const opt = (n, d) => (a.includes(n) ? a[a.indexOf(n) + 1] : d);
const without = opt('--without', 'nothing');
const [rounds, ops] = [Number(opt('--rounds', 7)), Number(opt('--ops', 100_000))];

function world({ KeyPool, Stats }, n) {
  let t = 1_700_000_000_000;
  const clock = { now: () => t };
  const pool = new KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [1000, 5000, 30000],
    maxCooldownMs: 600_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  const keys = [];
  for (let i = 0; i < n; i++) {
    const secret = `sk-bench-${i}-${'x'.repeat(40)}`;
    keys.push({ id: `mock:k${i}`, providerId: 'mock', label: `k${i}`, masked: `sk-…${i}`, addedAt: t, secret });
  }
  pool.setKeys(keys);
  const stats = new Stats(clock);
  if (without === 'series') stats.series.attempt = () => undefined;
  if (without === 'rows') stats.rows.count = () => undefined;
  return { pool, stats, clock, tick: () => (t += 1) };
}

let sink = 0;
/**
 * What a serving process does to the cache between two requests, without allocation's noise:
 * ~20 KB written at a point that moves through 32 MB, as V8's allocation pointer moves through
 * its young generation (each request allocates ~20 KB).
 */
const sweep = new Float64Array(4 << 20);
let at = 0;
function evict() {
  const end = at + 2560;
  for (let i = at; i < end; i++) sweep[i] = i;
  at = end >= sweep.length ? 0 : end;
}

const WANT = { providerId: 'mock', model: 'gpt-4o-mini' };
const OK = { kind: 'success', ttfbMs: 3 };

/** One request's work with the key in hand, as forward.ts and tryKey.ts do it. */
function request(w) {
  const p = w.pool.pick(WANT);
  if (without !== 'pool') w.pool.begin(p.handle);
  if (without !== 'secret') {
    const header = `Bearer ${p.key.secret}`;
    sink += header.charCodeAt(header.length - 1);
  }
  const now = w.clock.now();
  if (without !== 'pool') w.pool.report(p.handle, WANT.model, OK);
  if (without !== 'stats') {
    const r = {
      keyId: p.key.id,
      providerId: 'mock',
      model: WANT.model,
      endpoint: '/chat/completions',
      ok: true,
      failure: undefined,
      status: 200,
      latencyMs: 5,
      ttfbMs: 3,
      inputTokens: 10,
      outputTokens: 20,
      costUsd: 1e-5,
    };
    w.stats.recordAttempt(r, now, p.handle);
    if (without !== 'request') w.stats.recordRequest(r, now);
  }
  if (without !== 'pool') w.pool.end(p.handle);
  w.tick();
}

function timed(f) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) f();
  return Number(process.hrtime.bigint() - t0) / ops;
}

const core = await bundleFromSrc(
  "export { KeyPool } from './src/core/pool/keyPool';\nexport { Stats } from './src/core/accounting/stats';",
  'keypath',
);
const sizes = [3, 10_000, 100_000];
const worlds = sizes.map((n) => world(core, n));
for (const w of worlds) timed(() => (evict(), request(w))); // warm: every key used, code optimised
const extra = sizes.map(() => []);
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [2, 1, 0] : [0, 1, 2];
  for (const i of order) extra[i].push(timed(() => (evict(), request(worlds[i]))) - timed(evict));
}
const show = (i) => `${sizes[i].toLocaleString('en')} keys ${median(extra[i]).toFixed(0)} ns`;
console.log(
  `per-key work per request${without === 'nothing' ? '' : `, without ${without}`} (${rounds} rounds × ${ops}): ${sizes.map((_, i) => show(i)).join(', ')}; ` +
    `10,000 − 3 keys: ${(median(extra[1]) - median(extra[0])).toFixed(0)} ns (sink ${sink > 0})`,
);
for (const w of worlds) w.pool.dispose();
