// The shared store's cost per request across several processes (issue 18): `bench --shared` compares
// one KeyRelay with `stateStore` to one without, but two identical KeyRelays on this machine already
// differ by up to ~10 % in CPU per request for their whole life (heap and JIT luck), more than the
// 5 % goal. This starts N of each (default 2, interleaved), runs the same JSON c=10 load on each in
// a fresh random order per round, and prints each process's median and each group's median of them.
//   node test/bench/storeAB.mjs [--per 2] [--rounds 8] [--seconds 1]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinSelf, raisePriority, tempDir } from './lib.mjs';
import { chooseLoadgen } from './loadgen.mjs';
import { processRounds } from './processRounds.mjs';
import { startKeyRelay, startMock, startRedis } from './targets.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const a = process.argv.slice(2);
const opt = (n, d) => Number(a.includes(n) ? a[a.indexOf(n) + 1] : d);
const [perSide, rounds, seconds] = [opt('--per', 2), opt('--rounds', 8), opt('--seconds', 1)];
raisePriority();
pinSelf();
const kind = await chooseLoadgen('auto');
const body = path.join(tempDir(), 'small.json');
fs.writeFileSync(body, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
const cli = path.join(root, 'dist/cli.js');
const mock = await startMock();
const redis = await startRedis();
const T = {};
try {
  for (let i = 1; i <= perSide; i++) {
    T[`off${i}`] = await startKeyRelay(mock, 3, { cli, name: `off${i}` });
    T[`on${i}`] = await startKeyRelay(mock, 3, {
      cli,
      name: `on${i}`,
      stateStore: redis.url.replace('bench', `on${i}`),
    });
  }
  const group = await processRounds({
    kind,
    targets: T,
    rounds,
    seconds,
    c: 10,
    headers: {},
    bodyFile: body,
    verbose: true,
  });
  console.log(`store on/off, CPU per request (median of process medians): ${(group('on') / group('off')).toFixed(3)}×`);
} finally {
  for (const t of Object.values(T)) await t.stop();
  await redis.stop();
  await mock.stop();
}
process.exit(0);
