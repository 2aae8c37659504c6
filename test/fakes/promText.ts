/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it refuses what
 * Prometheus would refuse (or silently mangle) instead of guessing, so a test that parses
 * `/keyrelay/metrics` with it checks the format as well as the numbers. Checked: line syntax,
 * metric and label names, label value escapes, numbers, one HELP/TYPE per family before its
 * samples, a family's samples together, no series twice, counters not negative, histograms whole
 * (`le` buckets ascending and cumulative, a `+Inf` bucket equal to `_count`, a `_sum`).
 */

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: PromType;
  help?: string;
  samples: PromSample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly PromType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

class PromSyntaxError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromSyntaxError(line, `bad value "${text}"`);
  return Number(text);
}

/** Reads `{a="x",b="y"}` starting at `s[i] === '{'`; returns the labels and the index after `}`. */
function parseLabels(s: string, i: number, line: number): [Record<string, string>, number] {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  i++;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new PromSyntaxError(line, 'label without "="');
    const name = s.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new PromSyntaxError(line, `bad label name "${name}"`);
    if (name in labels) throw new PromSyntaxError(line, `label "${name}" twice`);
    if (s[eq + 1] !== '"') throw new PromSyntaxError(line, `label "${name}" value not quoted`);
    let v = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] !== '\\') {
        if (s[j] === '\n') throw new PromSyntaxError(line, 'raw line feed in a label value');
        v += s[j];
        continue;
      }
      const e = s[++j];
      if (e === '\\') v += '\\';
      else if (e === '"') v += '"';
      else if (e === 'n') v += '\n';
      else throw new PromSyntaxError(line, `bad escape "\\${e}" in label "${name}"`);
    }
    if (j >= s.length) throw new PromSyntaxError(line, 'unterminated label value');
    labels[name] = v;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new PromSyntaxError(line, `expected "," or "}" after label "${name}"`);
  }
  return [labels, i + 1];
}

/** The family a sample belongs to: `x_bucket`/`x_sum`/`x_count` of histogram `x`, else its own name. */
function familyOf(name: string, types: Map<string, PromType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (types.get(base) === 'histogram' || types.get(base) === 'summary')) return base;
  }
  return name;
}

function parseComment(text: string, n: number, families: Map<string, PromFamily>, types: Map<string, PromType>): void {
  const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(text);
  if (!m) return; // a plain comment
  const [, kind, name, rest] = m;
  if (!METRIC.test(name)) throw new PromSyntaxError(n, `bad metric name "${name}"`);
  const fam = families.get(name) ?? { name, type: 'untyped' as PromType, samples: [] };
  if (fam.samples.length) throw new PromSyntaxError(n, `${kind} for "${name}" after its samples`);
  if (kind === 'TYPE') {
    if (types.has(name)) throw new PromSyntaxError(n, `second TYPE for "${name}"`);
    if (!TYPES.includes(rest as PromType)) throw new PromSyntaxError(n, `unknown type "${rest}"`);
    fam.type = rest as PromType;
    types.set(name, fam.type);
  } else {
    if (fam.help !== undefined) throw new PromSyntaxError(n, `second HELP for "${name}"`);
    fam.help = rest.replace(/\\(\\|n)/g, (_x, c: string) => (c === 'n' ? '\n' : '\\'));
  }
  families.set(name, fam);
}

function checkHistogram(f: PromFamily): void {
  const groups = new Map<string, PromSample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    if (s.name === `${f.name}_bucket` && le === undefined) throw new Error(`${f.name}: a bucket without "le"`);
    const id = JSON.stringify(Object.entries(rest).sort());
    groups.set(id, [...(groups.get(id) ?? []), s]);
  }
  for (const [id, samples] of groups) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`))
      throw new Error(`${f.name} ${id}: _sum or _count missing`);
    const les = buckets.map((b) => parseValue(b.labels.le, 0));
    if (les.at(-1) !== Infinity) throw new Error(`${f.name} ${id}: no le="+Inf" bucket last`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(les[i] > les[i - 1])) throw new Error(`${f.name} ${id}: le not ascending`);
      if (buckets[i].value < buckets[i - 1].value) throw new Error(`${f.name} ${id}: buckets not cumulative`);
    }
    if (buckets.at(-1)!.value !== count.value) throw new Error(`${f.name} ${id}: +Inf bucket ≠ _count`);
  }
}

/** Parses a whole exposition; throws with the line number on the first thing that is wrong. */
export function parsePromText(text: string): Map<string, PromFamily> {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, PromFamily>();
  const types = new Map<string, PromType>();
  const seen = new Set<string>();
  const done = new Set<string>();
  let current: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const n = i + 1;
    if (raw === '' || /^\s*$/.test(raw)) return;
    if (raw.startsWith('#')) return parseComment(raw, n, families, types);
    const nameEnd = raw.search(/[{ ]/);
    const name = nameEnd < 0 ? raw : raw.slice(0, nameEnd);
    if (!METRIC.test(name)) throw new PromSyntaxError(n, `bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let rest = raw.slice(name.length);
    if (rest.startsWith('{')) {
      const [l, end] = parseLabels(raw, name.length, n);
      labels = l;
      rest = raw.slice(end);
    }
    const parts = rest.trim().split(/ +/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2)
      throw new PromSyntaxError(n, 'expected " value [timestamp]"');
    const value = parseValue(parts[0], n);
    const fname = familyOf(name, types);
    if (fname !== current) {
      if (done.has(fname)) throw new PromSyntaxError(n, `samples of "${fname}" are not together`);
      if (current) done.add(current);
      current = fname;
    }
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new PromSyntaxError(n, `series ${series} twice`);
    seen.add(series);
    const fam = families.get(fname) ?? { name: fname, type: 'untyped' as PromType, samples: [] };
    if ((fam.type === 'counter' || name.endsWith('_count') || name.endsWith('_bucket')) && !(value >= 0))
      throw new PromSyntaxError(n, `negative or NaN counter ${name}`);
    fam.samples.push({ name, labels: { ...labels }, value });
    families.set(fname, fam);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The sum of a family's samples named `name` whose labels include `match`. */
export function sumOf(families: Map<string, PromFamily>, name: string, match: Record<string, string> = {}): number {
  const fam = families.get(familyOf(name, new Map([...families].map(([k, f]) => [k, f.type]))));
  return (fam?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
