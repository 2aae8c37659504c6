// Fails when any two files under src/ import each other, directly or around a longer circle
// (type-only imports count: a circle of types is still a circle in the map of the code).
// `npm test` runs it in its lint stage; `node test/lint/importCycles.mjs` runs it alone.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const files = sources(path.join(root, 'src'));
const edges = new Map(
  files.map((f) => {
    const deps = [...readFileSync(f, 'utf8').matchAll(IMPORT)]
      .map((m) => path.resolve(path.dirname(f), m[1]))
      .map((p) => (existsSync(`${p}.ts`) ? `${p}.ts` : path.join(p, 'index.ts')))
      .filter((p) => existsSync(p));
    return [f, deps];
  }),
);

// Tarjan's strongly connected components: any component of two or more files is a circle.
let index = 0;
const stack = [];
const meta = new Map();
const circles = [];
function visit(v) {
  meta.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!meta.has(w)) {
      visit(w);
      meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).low);
    } else if (meta.get(w).onStack) {
      meta.get(v).low = Math.min(meta.get(v).low, meta.get(w).index);
    }
  }
  if (meta.get(v).low !== meta.get(v).index) return;
  const component = [];
  for (let w; w !== v;) {
    w = stack.pop();
    meta.get(w).onStack = false;
    component.push(path.relative(root, w));
  }
  if (component.length > 1) circles.push(component.sort());
}
for (const f of files) if (!meta.has(f)) visit(f);

if (circles.length) {
  for (const c of circles) console.error(`import circle: ${c.join(' ↔ ')}`);
  console.error(`${circles.length} import circle(s) in src/: move the shared part into a file both can import.`);
  process.exit(1);
}
console.log(`no import circles among ${files.length} files in src/`);
