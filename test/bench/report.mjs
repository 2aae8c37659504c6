// Turns measurements into table rows (one per goal) and prints the table plus `N passed, M failed`.
import { median, minMax, cv } from './lib.mjs';

/** Number formatting that keeps columns short. */
export function fmt(v, unit = '') {
  if (v === undefined || v === null) return '–';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US') + unit;
  const s =
    a >= 1000 ? Math.round(v).toLocaleString('en-US') : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  return s + unit;
}

/** A median that rounds to its goal shows a third decimal, so "0.95× FAIL" against ≥ 0.95× reads 0.948×. */
function atGoal(m, limit) {
  return Number.isFinite(m) && Number.isFinite(limit) && fmt(m) === fmt(limit) && m !== limit ? m.toFixed(3) : fmt(m);
}

/**
 * A ratio row: `per` is an array of per-round { [target]: value } maps; ratio = num/den per round.
 * `better` says which direction is good ('high' for throughput, 'low' for costs).
 */
export function ratioRow({
  scenario,
  metric,
  per,
  steal,
  num = 'keyrelay',
  den = 'bare',
  goal,
  limit,
  better,
  unit = '',
  cols,
  extras = [],
  note = '',
}) {
  const ratios = per.map((r) => r[num] / r[den]).filter(Number.isFinite);
  const m = median(ratios);
  const [lo, hi] = minMax(ratios);
  const pass = Number.isFinite(m) && (better === 'high' ? m >= limit : m <= limit);
  const col = (t) => fmt(median(per.map((r) => r[t])), unit);
  const notes = [note];
  const noise = cv(per.map((r) => r[den]));
  if (noise > 0.1) {
    const md = median(per.map((r) => r[den]));
    const noisy = per.map((r, i) => (Math.abs(r[den] / md - 1) > 0.1 ? i + 1 : 0)).filter(Boolean);
    notes.push(`noisy: ${den} CV ${(noise * 100).toFixed(0)}%${noisy.length ? `, rounds ${noisy.join(',')}` : ''}`);
  }
  // Rounds where the hypervisor took ≥ 5 % of the CPUs during either run of the pair.
  const stolen = (steal ?? []).map((r, i) => [i + 1, Math.max(r[num] ?? 0, r[den] ?? 0)]).filter(([, v]) => v >= 5);
  if (stolen.length) notes.push(`CPU steal ≥ 5 %: ${stolen.map(([i, v]) => `round ${i} ${v.toFixed(0)}%`).join(', ')}`);
  return {
    scenario,
    metric,
    direct: cols?.direct ?? col('direct'),
    bare: cols?.bare ?? col('bare'),
    keyrelay: cols?.keyrelay ?? col(num),
    extras: Object.fromEntries(extras.map((e) => [e, col(e)])),
    ratio: `${atGoal(m, limit)}× [${fmt(lo)}–${fmt(hi)}]`,
    goal,
    pass,
    note: notes.filter(Boolean).join('; '),
    ratios,
  };
}

/** A row judged on one value (or a difference); `ratio` is free text. */
export function valueRow({
  scenario,
  metric,
  direct = '–',
  bare = '–',
  keyrelay = '–',
  extras = {},
  ratio = '–',
  goal,
  pass,
  note = '',
}) {
  return {
    scenario,
    metric,
    direct: fmt(direct),
    bare: fmt(bare),
    keyrelay: fmt(keyrelay),
    extras: Object.fromEntries(Object.entries(extras).map(([k, v]) => [k, fmt(v)])),
    ratio,
    goal,
    pass,
    note,
  };
}

export function printTable(rows, extraNames = []) {
  const head = [
    'scenario',
    'metric',
    'direct',
    'bare',
    'keyrelay',
    ...extraNames,
    'keyrelay/bare [min–max]',
    'goal',
    'result',
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.metric,
    r.direct,
    r.bare,
    r.keyrelay,
    ...extraNames.map((e) => r.extras?.[e] ?? '–'),
    r.ratio,
    r.goal,
    r.pass === null ? 'n/a' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  const out = [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...body.map(line)];
  const notes = rows.map((r, i) => (r.note ? `  [${i + 1}] ${r.scenario}: ${r.note}` : '')).filter(Boolean);
  const passed = rows.filter((r) => r.pass === true).length;
  const failed = rows.filter((r) => r.pass === false).length;
  return `${out.join('\n')}\n${notes.length ? `notes:\n${notes.join('\n')}\n` : ''}${passed} passed, ${failed} failed`;
}
