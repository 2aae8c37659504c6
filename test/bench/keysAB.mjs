// The bench's "10,000 keys vs 3 keys" row on its own, for judging a change to the per-key path:
// one build, a 10,000-key and a 3-key process started together, idle 15 s, 10 s of warm-up each,
// then 2-s runs at c=10 in pairs (order reversed every other pair); the median ratio of throughput
// and of CPU per request over the pairs.
//   node test/bench/keysAB.mjs [dist/cli.js] [--pairs 12] [--keys 10000] [--serving N]
// --serving N: the large process still loads every key, but only N of them serve the requests
// (the others are listed for a model nobody asks for): what the pool's size costs apart from
// the per-key work on the request path.
import fs from 'node:fs';
import path from 'node:path';
import { cpuSeconds, median, minMax, pinSelf, raisePriority, sleep, tempDir } from './lib.mjs';
import { chooseLoadgen, runLoad } from './loadgen.mjs';
import { startKeyRelay, startMock } from './targets.mjs';

const a = process.argv.slice(2);
const opt = (n, d) => Number(a.includes(n) ? a[a.indexOf(n) + 1] : d);
const cli = path.resolve(a.find((x) => x.endsWith('.js')) ?? 'dist/cli.js');
const [pairs, keys] = [opt('--pairs', 12), opt('--keys', 10_000)];
const serving = opt('--serving', keys);
pinSelf();
raisePriority();
const kind = await chooseLoadgen('auto');
const mock = await startMock();
const body = path.join(tempDir('keyrelay-bench-keys-'), 'chat.json');
fs.writeFileSync(body, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] }));
const load = async (t, seconds = 2) => {
  const cpu0 = cpuSeconds(t.pid);
  const headers = { 'content-type': 'application/json', ...t.headers };
  const r = await runLoad({ kind, url: t.url, c: 10, seconds, path: '/v1/chat/completions', headers, bodyFile: body });
  return { rps: r.rps, cpu: ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests };
};
const big = await startKeyRelay(mock, keys, { cli, name: 'big', serving });
const small = await startKeyRelay(mock, 3, { cli, name: 'small' });
try {
  await sleep(15_000);
  for (const t of [small, big]) await load(t, 10);
  const rps = [];
  const cpu = [];
  for (let r = 0; r < 2 * pairs; r++) {
    const got = {};
    for (const t of r % 2 ? [big, small] : [small, big]) got[t.name] = await load(t);
    rps.push(got.big.rps / got.small.rps);
    cpu.push(got.big.cpu / got.small.cpu);
  }
  const show = (x) =>
    `${median(x).toFixed(3)}× [${minMax(x)
      .map((v) => v.toFixed(2))
      .join('–')}]`;
  console.log(
    `${keys} keys (${serving} serving) vs 3 keys, ${2 * pairs} runs each: throughput ${show(rps)}, CPU per request ${show(cpu)}`,
  );
} finally {
  await big.stop();
  await small.stop();
  await mock.stop();
}
