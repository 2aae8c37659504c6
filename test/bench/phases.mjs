// Bench phases after the timed rounds: correctness gates (errors, round-robin evenness, failover
// with a 429 key, one upstream call for a 400, connection reuse, Anthropic SSE, client cancel) and
// memory over load cycles. Each returns table rows plus raw data for the results JSON.
import { valueRow, fmt } from './report.mjs';
import { cancelProbe, sseProbe, oneRequest } from './probes.mjs';
import { benchKey, BARE_KEY } from './targets.mjs';
import { sleep, median } from './lib.mjs';
import { measureAfterGc } from './inspect.mjs';

const family = (k) => k.replace(/-\d+-/, '-#-');

export async function gates({ T, mock, load, seconds, errors }) {
  const rows = [];
  const data = {};
  const kr = T.keyrelay;
  const keys3 = [0, 1, 2].map((i) => benchKey(i, 3));

  // 0 errors over every load run so far (before we inject failures on purpose).
  data.errors = { ...errors };
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: errors under load',
      metric: 'errors',
      direct: errors.direct ?? 0,
      bare: errors.bare ?? 0,
      keyrelay: errors.keyrelay ?? 0,
      extras: Object.fromEntries(Object.entries(errors).filter(([k]) => !['direct', 'bare', 'keyrelay'].includes(k))),
      goal: '0',
      pass: Object.entries(errors).every(([name, n]) => !name.startsWith('keyrelay') || n === 0),
    }),
  });

  // Round-robin evenness from the mock's per-key counters.
  await mock.reset();
  const rr = await load(kr, { c: 10, secs: seconds * 2 });
  const perKey = (await mock.stats()).perKey;
  const counts = keys3.map((k) => perKey[k] ?? 0);
  const rrRatio = Math.max(...counts) / Math.min(...counts);
  data.roundRobin = { counts, requests: rr.requests };
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: round-robin max/min per key',
      metric: 'ratio',
      keyrelay: rrRatio,
      ratio: `counts ${counts.join('/')}`,
      goal: '≤ 1.01',
      pass: rrRatio <= 1.01,
    }),
  });

  // Connection reuse: a warm run, then a measured run, both with the built-in generator, which lets
  // in-flight requests finish (wrk stops mid-request, and a proxy must then drop that upstream
  // connection: cancel semantics, not churn). New upstream connections per 1,000 requests.
  const conn = {};
  for (const t of [T.bare, kr]) {
    await load(t, { c: 10, secs: 1, kind: 'builtin' });
    const before = await mock.stats();
    const r = await load(t, { c: 10, secs: seconds * 2, kind: 'builtin' });
    const after = await mock.stats();
    const f = family(t === kr ? keys3[0] : BARE_KEY);
    const c = (after.connGroups[f] ?? 0) - (before.connGroups[f] ?? 0);
    conn[t.name] = { conns: c, requests: r.requests, perK: (c * 1000) / r.requests };
  }
  data.connections = conn;
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: upstream connections / 1,000 req',
      metric: 'conns',
      bare: conn.bare.perK,
      keyrelay: conn.keyrelay.perK,
      ratio: `${conn.keyrelay.conns} new conns for ${fmt(conn.keyrelay.requests)} req`,
      goal: '≤ 1',
      pass: conn.keyrelay.perK <= 1,
      note: 'c=10 after a warm run; built-in generator (finishes in-flight requests)',
    }),
  });

  // One key of three answers 429: clients should still succeed (failover before the first byte).
  const pre429 = (await mock.stats()).perKey[keys3[0]] ?? 0;
  await mock.fail({ [keys3[0]]: 429 });
  const f429 = await load(kr, { c: 10, secs: seconds * 2 });
  const st429 = await mock.stats();
  await mock.fail({ [keys3[0]]: null });
  const success = 1 - f429.errors / f429.requests;
  errors.keyrelay -= f429.errors; // counted here, not in the 0-errors gate
  data.failover429 = {
    requests: f429.requests,
    errors: f429.errors,
    callsTo429Key: (st429.perKey[keys3[0]] ?? 0) - pre429,
  };
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: 1 of 3 keys answers 429',
      metric: 'client success',
      keyrelay: `${(success * 100).toFixed(2)}%`,
      ratio: `${fmt(data.failover429.callsTo429Key)} calls hit the 429 key`,
      goal: '≥ 99%',
      pass: success >= 0.99,
    }),
  });
  await sleep(1200); // let the 429 key's 1 s cooldown lapse

  // A 400 is the client's fault: exactly one upstream call, no retry on other keys.
  const one400 = async (t, ks) => {
    await mock.reset();
    await mock.fail(Object.fromEntries(ks.map((k) => [k, 400])));
    const r = await oneRequest(t);
    const calls = (await mock.stats()).requests;
    await mock.reset();
    return { status: r.status, calls };
  };
  data.bad400 = { bare: await one400(T.bare, [BARE_KEY]), keyrelay: await one400(kr, keys3) };
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: a 400 → upstream calls',
      metric: 'calls',
      bare: data.bad400.bare.calls,
      keyrelay: data.bad400.keyrelay.calls,
      ratio: `client got ${data.bad400.keyrelay.status}`,
      goal: '= 1',
      pass: data.bad400.keyrelay.calls === 1 && data.bad400.keyrelay.status === 400,
    }),
  });

  // Anthropic shape: SSE passes through unbuffered with its end marker.
  const an = {
    bare: await sseProbe(T.bare, { n: 3, anthropic: true }),
    keyrelay: await sseProbe(kr, { n: 3, anthropic: true }),
  };
  data.anthropicSse = an;
  rows.push({
    order: 'late',
    row: valueRow({
      scenario: 'correctness: Anthropic /v1/messages SSE',
      metric: 'reads (min)',
      bare: an.bare.minReads,
      keyrelay: an.keyrelay.minReads,
      ratio: `end marker: ${an.keyrelay.endMarker ? 'yes' : 'NO'}`,
      goal: '≥ 18, end marker',
      pass: an.keyrelay.minReads >= 18 && an.keyrelay.endMarker && !an.keyrelay.errors,
    }),
  });

  // Client cancel mid-stream → upstream connection closed.
  const cancel = {};
  for (const n of ['direct', 'bare', 'keyrelay']) cancel[n] = await cancelProbe(T[n], mock, { n: 5 });
  data.cancel = cancel;
  const worst = (a) => Math.max(...a.map((x) => (Number.isFinite(x) ? x : Infinity)));
  const cm = (a) => `${fmt(median(a))} [max ${fmt(worst(a))}]`;
  rows.push({
    order: 'early',
    row: valueRow({
      scenario: 'client cancel → upstream closed',
      metric: 'ms (5 tries)',
      direct: cm(cancel.direct),
      bare: cm(cancel.bare),
      keyrelay: cm(cancel.keyrelay),
      ratio: `median ${fmt(median(cancel.keyrelay))} ms`,
      goal: '≤ 50 ms (median)',
      pass: median(cancel.keyrelay) <= 50,
    }),
  });
  // The bare reference has no AbortController: undici's stream() must abort the upstream request
  // itself when the client's response closes, or the reference would not be a correct proxy.
  const bareClosed = cancel.bare.filter(Number.isFinite).length;
  rows.push({
    order: 'early',
    row: valueRow({
      scenario: 'correctness: bare closes the upstream on client cancel',
      metric: 'ms (5 tries)',
      bare: cm(cancel.bare),
      ratio: `${bareClosed}/${cancel.bare.length} closed, median ${fmt(median(cancel.bare))} ms`,
      goal: '≤ 50 ms (median), every try closed',
      pass: bareClosed === cancel.bare.length && median(cancel.bare) <= 50,
      note: 'bare.mjs: pool.stream() with no AbortController and no close listener',
    }),
  });
  return { rows, data };
}

/**
 * Memory after each of three load cycles, read after a forced GC (inspector): the 1,000-key
 * KeyRelay, with a 3-key one alongside for scale.
 */
export async function memoryCycles(t1k, t3, load) {
  if (!t1k) return undefined;
  const m = { [t1k.name]: [], [t3.name]: [] };
  for (let i = 0; i < 3; i++) {
    for (const t of [t1k, t3]) await load(t, { c: 10, secs: 3 });
    await sleep(500);
    for (const t of [t1k, t3]) m[t.name].push(await measureAfterGc(t));
  }
  const sign = (v) => `${v >= 0 ? '+' : ''}${fmt(v)}`;
  return {
    data: m,
    rows: (idle, idleRss, warmRss) => {
      const dRss = idle.k1.rssMb - idle.mem3.rssMb;
      const dHeap = idle.k1.heapMb - idle.mem3.heapMb;
      const grow = (a, f) => a[2][f] - a[0][f];
      const g1 = grow(m[t1k.name], 'rssMb');
      const part = (f) => sign(idle.k1[f] - idle.mem3[f]);
      const split = `RSS split: anonymous ${part('anonMb')} MB, file-backed ${part('fileMb')} MB (node's code pages: the optimizing compiler, once something runs hot)`;
      return [
        valueRow({
          scenario: 'idle memory, 1,000 keys vs 3 keys',
          metric: 'RSS MB after GC',
          bare: `3 keys: ${fmt(idle.mem3.rssMb)}`,
          keyrelay: idle.k1.rssMb,
          ratio: `${sign(dRss)} MB (heap ${sign(dHeap)} MB)`,
          goal: '≤ +2 MB',
          pass: dRss <= 2,
          note: `idle after start, forced GC via inspector; heap 3 keys ${fmt(idle.mem3.heapMb)} MB, 1,000 keys ${fmt(idle.k1.heapMb)} MB. Without GC: RSS ${fmt(idleRss['keyrelay-mem3'])} vs ${fmt(idleRss[t1k.name])} MB; after warm-up ${fmt(warmRss['keyrelay-mem3'])} vs ${fmt(warmRss[t1k.name])} MB. ${split}`,
        }),
        valueRow({
          scenario: 'memory growth over 3 load cycles (1,000 keys)',
          metric: 'RSS MB after GC',
          bare: `3 keys: ${sign(grow(m[t3.name], 'rssMb'))}`,
          keyrelay: sign(g1),
          ratio: `RSS ${m[t1k.name].map((x) => fmt(x.rssMb)).join(' → ')}; heap ${m[t1k.name].map((x) => fmt(x.heapMb)).join(' → ')}`,
          goal: '≤ +10 MB',
          pass: g1 <= 10,
        }),
      ];
    },
  };
}
