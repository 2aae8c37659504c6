// Where KeyRelay's extra microseconds per request go: bare and KeyRelay (3 keys) profiled under the
// same steady load, one after the other, over the DevTools protocol (Profiler.start/stop around the
// load run only: no start-up, no warm-up in the profile). Self time is summed per area (GC, node's
// HTTP server, undici, KeyRelay's src/ files via the bundle's source maps, …) and divided by the
// requests served in the profiled run: µs per request, side by side, with each area's share of the
// difference.
//   node test/bench/profileLoad.mjs [--scenario json-c10|sse-burst-c50] [--seconds 8] [--interval 200] [--shared]
// --keys N: the 3-key KeyRelay (in place of bare) against one with N keys, both idle 15 s after
// start as the bench's 10,000-key row has them: what a large pool costs per request, and where.
// --shared (issue 18): the 3-key KeyRelay with `stateStore` on a real redis-server against the same
// KeyRelay without it (in place of bare): what the shared store costs per request, and where.
// Profiles are kept in bench-results/prof/<scenario>-<target>.cpuprofile (summarise one with
// profileTop.mjs for single functions), the allocation samples beside them as .heapprofile (open
// in DevTools' Memory tab: who allocates what, with callers).
import fs from 'node:fs';
import path from 'node:path';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'undici';
import { tempDir, cpuSeconds } from './lib.mjs';
import { chooseLoadgen, runLoad } from './loadgen.mjs';
import { startMock, startBare, startKeyRelay, startRedis } from './targets.mjs';
import { INSPECT_ARGS, inspectorUrl } from './inspect.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const a = process.argv.slice(2);
const opt = (n, d) => (a.includes(n) ? a[a.indexOf(n) + 1] : d);
const scenario = opt('--scenario', 'json-c10');
const seconds = Number(opt('--seconds', 8));
const interval = Number(opt('--interval', 200));
const shared = a.includes('--shared');
const manyKeys = Number(opt('--keys', 0));
// The two sides' names in the tables: the reference (A) and the one whose extra is explained (B).
const [A, B] = manyKeys ? ['3 keys', `${manyKeys} keys`] : shared ? ['store off', 'store on'] : ['bare', 'keyrelay'];

const JSONH = { 'content-type': 'application/json' };
const SHAPES = {
  'json-c10': { c: 10, headers: JSONH, stream: false },
  'sse-burst-c50': {
    c: 50,
    headers: { ...JSONH, 'x-mock-mode': 'sse', 'x-mock-chunks': '20', 'x-mock-delay': 'burst' },
    stream: true,
  },
};
const shape = SHAPES[scenario];
if (!shape) throw new Error(`--scenario must be one of ${Object.keys(SHAPES).join(', ')}`);

/** A DevTools-protocol session to a target started with --inspect. */
async function devtools(target) {
  const ws = new WebSocket(inspectorUrl(target.stderr()));
  let id = 0;
  const pending = new Map();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg.result);
      pending.delete(msg.id);
    }
  });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const i = ++id;
      pending.set(i, resolve);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return { call, close: () => ws.close() };
}

// ---- mapping frames to areas ----
const maps = new Map();
function mapFor(url) {
  if (!url.startsWith('file://') && !url.startsWith('/')) return undefined;
  const f = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (!maps.has(f)) {
    try {
      maps.set(f, new SourceMap(JSON.parse(fs.readFileSync(`${f}.map`, 'utf8'))));
    } catch {
      maps.set(f, undefined);
    }
  }
  return maps.get(f);
}
/** Source file of a frame: through the bundle's source map when there is one. */
function sourceOf(cf) {
  const m = cf.url && mapFor(cf.url);
  const e = m?.findEntry(cf.lineNumber, cf.columnNumber);
  const src = e?.originalSource ?? cf.url;
  return src.replace(/^.*?\/(src|node_modules)\//, '$1/');
}
/** The area a frame's self time is counted in. */
function areaOf(cf) {
  if (cf.functionName === '(garbage collector)') return 'GC';
  if (cf.functionName === '(program)') return 'V8/native (program)';
  if (cf.functionName === '(idle)') return undefined;
  if (!cf.url) return `native: ${cf.functionName || '?'}`;
  const src = sourceOf(cf);
  if (src.startsWith('src/')) return `KeyRelay ${src}`;
  if (src.startsWith('node_modules/undici/')) return 'undici';
  if (src.includes('bare.mjs')) return 'bare.mjs (its handler)';
  if (/^node:_http_/.test(src)) return 'node:http';
  if (/^node:(net|stream|internal\/streams|internal\/stream_base_commons)/.test(src) || src === 'node:stream')
    return 'node: net + streams';
  if (src.startsWith('node:')) return 'node: other';
  return src.includes('node_modules/') ? `dep: ${src.split('/')[1]}` : `other: ${path.basename(src)}`;
}
function byArea(profile) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const out = new Map();
  for (const n of profile.nodes) {
    const t = self.get(n.id);
    if (!t) continue;
    const area = areaOf(n.callFrame);
    if (area) out.set(area, (out.get(area) ?? 0) + t);
  }
  return out;
}

/** Self time per KeyRelay function (src/ only), keyed `name  src/file.ts`. */
function byFunction(profile) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const out = new Map();
  for (const n of profile.nodes) {
    const t = self.get(n.id);
    if (!t || !n.callFrame.url) continue;
    const src = sourceOf(n.callFrame);
    if (!src.startsWith('src/')) continue;
    const k = `${n.callFrame.functionName || '(anonymous)'}  ${src}`;
    out.set(k, (out.get(k) ?? 0) + t);
  }
  return out;
}
/** Bytes allocated per request by function and area, from a sampling heap profile. */
function allocByFunction(heap, requests) {
  const out = new Map();
  const walk = (n) => {
    if (n.selfSize) {
      const cf = n.callFrame;
      const area = areaOf(cf) ?? 'idle';
      const src = cf.url ? sourceOf(cf) : '';
      const k = src.startsWith('src/') ? `${cf.functionName || '(anonymous)'}  ${src}` : area;
      out.set(k, (out.get(k) ?? 0) + n.selfSize / requests);
    }
    for (const c of n.children ?? []) walk(c);
  };
  walk(heap.head);
  return out;
}

async function profileOne(target, file) {
  const body = path.join(tempDir(), 'body.json');
  fs.writeFileSync(
    body,
    JSON.stringify({ model: 'gpt-4o-mini', stream: shape.stream, messages: [{ role: 'user', content: 'hi' }] }),
  );
  const kind = await chooseLoadgen('auto');
  const loadRun = (secs) =>
    runLoad({
      kind,
      url: target.url,
      c: shape.c,
      seconds: secs,
      path: '/v1/chat/completions',
      headers: { ...shape.headers, ...target.headers },
      bodyFile: body,
    });
  await loadRun(4); // warm-up: JIT, connection pools
  const dt = await devtools(target);
  await dt.call('Profiler.enable');
  await dt.call('Profiler.setSamplingInterval', { interval });
  await dt.call('Profiler.start');
  const cpu0 = cpuSeconds(target.pid);
  const r = await loadRun(seconds);
  const cpuUs = (cpuSeconds(target.pid) - cpu0) * 1e6;
  const { profile } = await dt.call('Profiler.stop');
  fs.writeFileSync(file, JSON.stringify(profile));
  // A second, shorter run with V8's sampling heap profiler, counting objects GC already freed:
  // bytes allocated per request by function, which is what the GC time is paid for.
  await dt.call('HeapProfiler.enable');
  await dt.call('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const ra = await loadRun(Math.max(2, Math.ceil(seconds / 2)));
  const heap = (await dt.call('HeapProfiler.stopSampling')).profile;
  fs.writeFileSync(file.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify(heap));
  dt.close();
  return {
    requests: r.requests,
    rps: r.rps,
    cpuUsPerReq: cpuUs / r.requests,
    areas: byArea(profile),
    fns: byFunction(profile),
    alloc: allocByFunction(heap, ra.requests),
  };
}

const profDir = path.join(root, 'bench-results', 'prof');
fs.mkdirSync(profDir, { recursive: true });
const cli = path.join(root, 'dist/cli.js');
const mock = await startMock();
const res = {};
const redis = shared ? await startRedis() : undefined;
try {
  const bare =
    manyKeys || shared
      ? await startKeyRelay(mock, 3, { cli, nodeArgs: INSPECT_ARGS })
      : await startBare(mock, { nodeArgs: INSPECT_ARGS });
  const kr = await startKeyRelay(mock, manyKeys || 3, { cli, nodeArgs: INSPECT_ARGS, stateStore: redis?.url });
  // A large pool loaded and hammered at once makes V8 pretenure for good (bench README): idle first.
  if (manyKeys) await new Promise((r) => setTimeout(r, 15_000));
  const names = manyKeys ? ['keys-3', `keys-${manyKeys}`] : shared ? ['store-off', 'store-on'] : ['bare', 'keyrelay'];
  res.bare = await profileOne(bare, path.join(profDir, `${scenario}-${names[0]}.cpuprofile`));
  await bare.stop();
  res.keyrelay = await profileOne(kr, path.join(profDir, `${scenario}-${names[1]}.cpuprofile`));
  await kr.stop();
} finally {
  await mock.stop();
  await redis?.stop();
}

const sum = (m) => [...m.values()].reduce((x, y) => x + y, 0);
const per = (r, area) => (r.areas.get(area) ?? 0) / r.requests;
const total = (r) => [...r.areas.values()].reduce((x, y) => x + y, 0) / r.requests;
const areas = [...new Set([...res.bare.areas.keys(), ...res.keyrelay.areas.keys()])];
const extra = total(res.keyrelay) - total(res.bare);
const rows = areas
  .map((x) => ({ area: x, bare: per(res.bare, x), kr: per(res.keyrelay, x) }))
  .sort((p, q) => q.kr - q.bare - (p.kr - p.bare));
const f = (v) => v.toFixed(1);
const lines = [
  `${scenario}: ${seconds} s of load each, sampling every ${interval} µs; ` +
    `${A} ${Math.round(res.bare.rps)} req/s, ${f(res.bare.cpuUsPerReq)} µs CPU/req (/proc), ${f(total(res.bare))} µs sampled/req; ` +
    `${B} ${Math.round(res.keyrelay.rps)} req/s, ${f(res.keyrelay.cpuUsPerReq)} µs CPU/req, ${f(total(res.keyrelay))} µs sampled/req`,
  '',
  `| area (self time) | ${A} µs/req | ${B} µs/req | extra µs/req | share of extra |`,
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows
    .filter((r) => Math.abs(r.kr - r.bare) >= 0.3 || r.kr >= 1)
    .map(
      (r) =>
        `| ${r.area} | ${f(r.bare)} | ${f(r.kr)} | ${r.kr - r.bare >= 0 ? '+' : ''}${f(r.kr - r.bare)} | ${Math.round((100 * (r.kr - r.bare)) / extra)} % |`,
    ),
  `| **total sampled** | **${f(total(res.bare))}** | **${f(total(res.keyrelay))}** | **+${f(extra)}** | 100 % |`,
];
// Groups: what the extra is made of, coarsely.
const group = (x) =>
  x.startsWith('KeyRelay src/')
    ? 'KeyRelay src/ (all files)'
    : x.startsWith('node') || x.startsWith('native') || x === 'bare.mjs (its handler)'
      ? x === 'bare.mjs (its handler)'
        ? 'bare.mjs (its handler)'
        : 'node + native (http, net, streams, writev, …)'
      : x;
const groups = new Map();
for (const r of rows) {
  const g = groups.get(group(r.area)) ?? { bare: 0, kr: 0 };
  g.bare += r.bare;
  g.kr += r.kr;
  groups.set(group(r.area), g);
}
lines.push(
  '',
  `| group | ${A} µs/req | ${B} µs/req | extra µs/req | share of extra |`,
  '| --- | ---: | ---: | ---: | ---: |',
  ...[...groups]
    .sort((p, q) => q[1].kr - q[1].bare - (p[1].kr - p[1].bare))
    .map(
      ([g, v]) =>
        `| ${g} | ${f(v.bare)} | ${f(v.kr)} | ${v.kr - v.bare >= 0 ? '+' : ''}${f(v.kr - v.bare)} | ${Math.round((100 * (v.kr - v.bare)) / extra)} % |`,
    ),
  '',
  'KeyRelay functions by self time (µs/req):',
  ...[...res.keyrelay.fns]
    .sort((p, q) => q[1] - p[1])
    .slice(0, 12)
    .map(([k, t]) => `  ${f(t / res.keyrelay.requests).padStart(5)}  ${k}`),
  '',
  `bytes allocated per request (sampling heap profiler): ${A} ${Math.round(sum(res.bare.alloc))}, ${B} ${Math.round(sum(res.keyrelay.alloc))}; ${B}'s largest:`,
  ...[...res.keyrelay.alloc]
    .sort((p, q) => q[1] - p[1])
    .slice(0, 12)
    .map(([k, b]) => `  ${String(Math.round(b)).padStart(6)} B  ${k}`),
);
console.log(lines.join('\n'));
process.exit(0);
