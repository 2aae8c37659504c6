// Two builds of KeyRelay side by side, with bare: CPU per request of each process under the same
// load, rounds in a fresh random order, and each build's median of its processes' medians. For
// judging a change to the hot path, not for the goals (run.mjs is the bench).
//   node test/bench/buildAB.mjs <A/cli.js> <B/cli.js> [--per 3] [--rounds 6] [--seconds 2] [--sse]
//                               [--no-pretenuring]
// Build each side into its own folder first (`cp -r dist /tmp/a` before the change, `/tmp/b`
// after): cli.js loads its chunks (undici.js, redisWorker.js) from beside itself.
//
// --no-pretenuring starts every process (bare too) with --no-allocation-site-pretenuring. Without
// it, identical KeyRelay processes loaded straight after start differ by up to ~30 % in CPU per
// request for their whole life (V8 tenures some per-request allocation sites in the first second
// or not; see README "Part 2, third round"), far more than most changes move. With it they agree
// within a few %, so a difference between A and B is the change's.
import fs from 'node:fs';
import path from 'node:path';
import { pinSelf, raisePriority, tempDir } from './lib.mjs';
import { chooseLoadgen } from './loadgen.mjs';
import { processRounds } from './processRounds.mjs';
import { startBare, startKeyRelay, startMock } from './targets.mjs';

const a = process.argv.slice(2);
const opt = (n, d) => Number(a.includes(n) ? a[a.indexOf(n) + 1] : d);
const [perSide, rounds, seconds] = [opt('--per', 3), opt('--rounds', 6), opt('--seconds', 2)];
const sse = a.includes('--sse');
const nodeArgs = a.includes('--no-pretenuring') ? ['--no-allocation-site-pretenuring'] : [];
const clis = a.filter((x) => x.endsWith('.js')).map((x) => path.resolve(x));
if (clis.length !== 2 || !Number.isInteger(seconds)) {
  console.error(
    'usage: node test/bench/buildAB.mjs <A/cli.js> <B/cli.js> [--per N] [--rounds N] [--seconds N] [--sse] [--no-pretenuring]',
  );
  process.exit(2);
}
raisePriority();
pinSelf();
const kind = await chooseLoadgen('auto');
const body = path.join(tempDir(), 'small.json');
fs.writeFileSync(body, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
const shape = sse
  ? { c: 50, headers: { 'x-mock-mode': 'sse', 'x-mock-chunks': '20', 'x-mock-delay': 'burst' } }
  : { c: 10, headers: {} };
const mock = await startMock();
const T = {};
try {
  T.bare = await startBare(mock, { nodeArgs });
  for (let i = 1; i <= perSide; i++) {
    T[`A${i}`] = await startKeyRelay(mock, 3, { cli: clis[0], name: `A${i}`, nodeArgs });
    T[`B${i}`] = await startKeyRelay(mock, 3, { cli: clis[1], name: `B${i}`, nodeArgs });
  }
  const group = await processRounds({
    kind,
    targets: T,
    rounds,
    seconds,
    c: shape.c,
    headers: shape.headers,
    bodyFile: body,
  });
  const bare = group('bare');
  const [ga, gb] = [group('A'), group('B')];
  console.log(
    `${sse ? 'SSE c=50' : 'JSON c=10'}, CPU per request: A/bare ${(ga / bare).toFixed(3)}×, B/bare ${(gb / bare).toFixed(3)}×, B/A ${(gb / ga).toFixed(3)}× (${(gb - ga).toFixed(1)} µs)`,
  );
} finally {
  for (const t of Object.values(T)) await t.stop();
  await mock.stop();
}
process.exit(0);
