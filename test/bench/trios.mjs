// The bench's 10,000-key rows on their own (keysTrio.mjs: trios of a 3-key, a 10,000-key and a bare
// proxy, the same rounds, rows and goals as `npm run bench`), in ~6 min instead of the full run's
// 13, with each trio's own medians printed: one full run is two trios, and a trio is a draw that
// reads 0.91–1.25× for 10,000 against 3 keys on this VM (README, "Pairs, trios and the
// 10,000-key rows"). With `--b`, every other trio runs a second build: an A/B of those rows.
//   node test/bench/trios.mjs [dist/cli.js] [--b other/cli.js] [--sets 2] [--rounds 3] [--node-args "…"]
// Build each side into its own folder (`node esbuild.mjs --outdir /tmp/a`): cli.js loads its chunks
// from beside itself.
import fs from 'node:fs';
import path from 'node:path';
import { median, pinSelf, raisePriority, tempDir } from './lib.mjs';
import { chooseLoadgen, measuredLoad } from './loadgen.mjs';
import { printTable } from './report.mjs';
import { runTrios, trioRows } from './keysTrio.mjs';
import { directTarget, startBare, startKeyRelay, startMock } from './targets.mjs';

const a = process.argv.slice(2);
const opt = (n, d) => (a.includes(n) ? a[a.indexOf(n) + 1] : d);
const cliA = path.resolve(a.find((x, i) => x.endsWith('.js') && a[i - 1] !== '--b') ?? 'dist/cli.js');
const cliB = a.includes('--b') ? path.resolve(opt('--b')) : undefined;
const [sets, rounds] = [Number(opt('--sets', 2)), Number(opt('--rounds', 3))];
const nodeArgs = opt('--node-args', '').split(' ').filter(Boolean);
if (!Number.isInteger(sets) || sets < 1 || (cliB && sets % 2) || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: node test/bench/trios.mjs [A/cli.js] [--b B/cli.js] [--sets N, even with --b] [--rounds N]');
  process.exit(2);
}
raisePriority();
pinSelf();
const kind = await chooseLoadgen('auto');
const dir = tempDir('keyrelay-bench-trios-');
const bodyOf = (name, stream) => {
  const file = path.join(dir, name);
  const messages = [{ role: 'user', content: 'Say hello.' }];
  fs.writeFileSync(file, JSON.stringify({ model: 'gpt-4o-mini', ...(stream ? { stream } : {}), messages }));
  return file;
};
const [json, sse] = [bodyOf('chat.json', false), bodyOf('chat-stream.json', true)];
const JSONH = { 'content-type': 'application/json' };
const BURST = { ...JSONH, 'x-mock-mode': 'sse', 'x-mock-chunks': '20', 'x-mock-delay': 'burst' };
const mock = await startMock();
const T = {};
/** Trio k (names end in `-k` from the second on) runs build B when k is even. */
const buildOf = (name) => (cliB && Number(name.match(/-(\d+)$/)?.[1] ?? 1) % 2 === 0 ? cliB : cliA);
const load = (t, { c, body = json, headers = JSONH }) =>
  measuredLoad(t, { kind, c, seconds: 2, path: '/v1/chat/completions', headers, bodyFile: body });
try {
  const got = await runTrios({
    T,
    kr: (n, name) => startKeyRelay(mock, n, { cli: buildOf(name), name, nodeArgs }),
    startBare: () => startBare(mock),
    direct: directTarget(mock),
    load,
    rounds,
    sets,
    scenarios: { json: { c: 10 }, sse: { c: 50, headers: BURST, body: sse }, lat: { c: 1 } },
    log: console.log,
  });
  const rows = trioRows(got, sets);
  console.log(printTable(rows));
  if (rows.some((r) => r.pass === false)) process.exitCode = 1;
  // got.json[r] holds trio r % sets under the first trio's names; SSE rounds go round the same way.
  const ratio = (g, num, den) => g[num].cpuUsPerReq / g[den].cpuUsPerReq;
  for (const w of ['json', 'sse'])
    for (let k = 0; k < sets; k++) {
      const mine = got[w].filter((_, r) => r % sets === k);
      const med = (num, den) => `${median(mine.map((g) => ratio(g, num, den))).toFixed(3)}×`;
      console.log(
        `${w} trio ${k + 1}${cliB ? ` (build ${k % 2 ? 'B' : 'A'})` : ''}: CPU per request 10,000 / 3 keys ${med('keyrelay-10k', 'keyrelay-3b')}, 10,000 keys / bare ${med('keyrelay-10k', 'bare-b')}, 3 keys / bare ${med('keyrelay-3b', 'bare-b')}`,
      );
    }
} finally {
  for (const t of Object.values(T)) await t.stop?.();
  await mock.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
