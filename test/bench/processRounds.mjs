// Several proxy processes under the same load, for the A/B tools (storeAB.mjs, buildAB.mjs): a
// warm-up each, then rounds in a fresh random order, CPU per request of each process from /proc.
import { cpuSeconds, median, minMax, shuffle } from './lib.mjs';
import { runLoad } from './loadgen.mjs';

/**
 * Runs `rounds` rounds over `targets` ({ name: target }) and prints each process's median CPU per
 * request. Returns `group(prefix)`: the median of the per-process medians of the targets whose
 * name starts with `prefix`.
 * @param o { kind, targets, rounds, seconds, c, headers, bodyFile, verbose }
 */
export async function processRounds(o) {
  const load = async (t, s = o.seconds) => {
    const c0 = cpuSeconds(t.pid);
    const r = await runLoad({
      kind: o.kind,
      url: t.url,
      c: o.c,
      seconds: s,
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', ...t.headers, ...o.headers },
      bodyFile: o.bodyFile,
    });
    return { rps: r.rps, cpu: ((cpuSeconds(t.pid) - c0) * 1e6) / r.requests };
  };
  const names = Object.keys(o.targets);
  for (const n of names) await load(o.targets[n], 4); // warm-up: JIT, connection pools
  const per = [];
  for (let r = 0; r < o.rounds; r++) {
    const got = {};
    for (const n of shuffle(names)) got[n] = await load(o.targets[n]);
    per.push(got);
    if (!o.verbose) continue;
    const line = Object.entries(got).map(([n, v]) => `${n} ${Math.round(v.rps)}/s ${v.cpu.toFixed(1)} µs`);
    console.log(`round ${r + 1}: ${line.join(' | ')}`);
  }
  const cpu = (n) => per.map((g) => g[n].cpu);
  for (const n of names) {
    const [lo, hi] = minMax(cpu(n));
    const rps = Math.round(median(per.map((g) => g[n].rps)));
    console.log(`${n}: CPU ${median(cpu(n)).toFixed(1)} µs/req [${lo.toFixed(1)}–${hi.toFixed(1)}], ${rps} req/s`);
  }
  return (prefix) => median(names.filter((n) => n.startsWith(prefix)).map((n) => median(cpu(n))));
}
