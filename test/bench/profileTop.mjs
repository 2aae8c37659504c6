// Summarises a V8 .cpuprofile (from `run.mjs --profile` or `node --cpu-prof dist/cli.js serve …`):
// self time per function, mapped back through the bundle's source map to src/… file:line.
//   node test/bench/profileTop.mjs <file.cpuprofile> [--top 25] [--filter src/core] [--inclusive]
import fs from 'node:fs';
import path from 'node:path';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const a = process.argv.slice(2);
const file = a[0];
const top = Number(a.includes('--top') ? a[a.indexOf('--top') + 1] : 25);
const filter = a.includes('--filter') ? a[a.indexOf('--filter') + 1] : undefined;
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));

const maps = new Map();
function mapFor(url) {
  if (!url.startsWith('file://') && !url.startsWith('/')) return undefined;
  const f = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (!maps.has(f)) {
    let m;
    try {
      m = new SourceMap(JSON.parse(fs.readFileSync(`${f}.map`, 'utf8')));
    } catch {
      m = undefined;
    }
    maps.set(f, m);
  }
  return maps.get(f);
}

// Self time per node from the sample stream (timeDeltas in µs).
const self = new Map();
for (let i = 0; i < prof.samples.length; i++)
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const byFn = new Map();
for (const n of prof.nodes) {
  const t = self.get(n.id);
  if (!t) continue;
  const cf = n.callFrame;
  let where = cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : `(${cf.functionName || 'native'})`;
  const m = cf.url && mapFor(cf.url);
  if (m) {
    const e = m.findEntry(cf.lineNumber, cf.columnNumber);
    if (e && e.originalSource)
      where = `${e.originalSource.replace(/^.*?\/(src|node_modules)\//, '$1/')}:${e.originalLine + 1}`;
  }
  const key = `${cf.functionName || '(anonymous)'}  ${where}`;
  byFn.set(key, (byFn.get(key) ?? 0) + t);
}
// Percentages of busy time: idle and the profiler's own bookkeeping left out.
const busy = [...byFn].filter(([k]) => !k.startsWith('(idle)'));
const total = busy.reduce((x, [, t]) => x + t, 0);
const byFile = new Map();
for (const [k, t] of busy) {
  const f = k.split('  ')[1].replace(/:\d+$/, '');
  byFile.set(f, (byFile.get(f) ?? 0) + t);
}
// --inclusive: self + callees per function (recursion counted once per stack), for "who calls the cost".
if (a.includes('--inclusive')) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const keyOf = new Map();
  const label = (n) => {
    if (keyOf.has(n.id)) return keyOf.get(n.id);
    const cf = n.callFrame;
    let where = cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : `(${cf.functionName || 'native'})`;
    const m = cf.url && mapFor(cf.url);
    const e = m && m.findEntry(cf.lineNumber, cf.columnNumber);
    if (e && e.originalSource)
      where = `${e.originalSource.replace(/^.*?\/(src|node_modules)\//, '$1/')}:${e.originalLine + 1}`;
    const k = `${cf.functionName || '(anonymous)'}  ${where}`;
    keyOf.set(n.id, k);
    return k;
  };
  const incl = new Map();
  const walk = (n, onStack) => {
    let t = self.get(n.id) ?? 0;
    const k = label(n);
    const fresh = !onStack.has(k);
    if (fresh) onStack.add(k);
    for (const c of n.children ?? []) t += walk(byId.get(c), onStack);
    if (fresh) {
      onStack.delete(k);
      incl.set(k, (incl.get(k) ?? 0) + t);
    }
    return t;
  };
  walk(prof.nodes[0], new Set());
  const top2 = [...incl]
    .filter(([k]) => (!filter || k.includes(filter)) && !k.startsWith('('))
    .sort((x, y) => y[1] - x[1])
    .slice(0, top);
  console.log(`top ${top2.length} functions by inclusive time${filter ? ` (only ${filter})` : ''}:`);
  for (const [k, t] of top2)
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(1).padStart(8)} ms  ${k}`);
  process.exit(0);
}
const rows = busy
  .filter(([k]) => !filter || k.includes(filter))
  .sort((x, y) => y[1] - x[1])
  .slice(0, top);
console.log(`busy ${(total / 1000).toFixed(0)} ms; by file (self time):`);
for (const [f, t] of [...byFile]
  .filter(([f]) => !filter || f.includes(filter))
  .sort((x, y) => y[1] - x[1])
  .slice(0, 12))
  console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${f}`);
console.log(`top ${rows.length} functions by self time${filter ? ` (only ${filter})` : ''}:`);
for (const [k, t] of rows)
  console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(1).padStart(8)} ms  ${k}`);
