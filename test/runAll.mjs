// `npm test`: every check and test this project has, in order, from a fresh clone. It installs what the
// tests need (the code-server host and Chromium, via test/vscode-host/setup.sh), runs each stage,
// and ends with one line `N passed, M failed` over all stages. Exit code 0 only if all passed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const only = process.argv.slice(2); // e.g. `npm test -- unit` runs just that stage
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** Each stage: a command and how its output counts tests (mocha's spec reporter or our e2e's line). */
const stages = [
  // out/ is rebuilt from scratch: a test file moved or deleted must not keep running from there.
  // The dashboard webview's script is type-checked against the DOM (src/webview/tsconfig.json).
  { name: 'build', cmd: 'node esbuild.mjs && rm -rf out && npx tsc -p . && npx tsc -p src/webview', counts: false },
  // The house rules a machine keeps: ESLint (correctness and the rooms' boundaries), Prettier,
  // no import circle. Type checking is the build's tsc.
  {
    name: 'lint',
    cmd: 'npx eslint . && npx prettier --check . && node test/lint/importCycles.mjs',
    counts: false,
    blocks: false, // later stages do not need it: a style break still lets every test run
  },
  // Unit and proxy tests under c8 (.c8rc.json): a table per folder, and the core must keep 90 %
  // of its lines covered.
  {
    name: 'unit',
    cmd: "bash test/redis/setup.sh && npx c8 mocha --config .mocharc.json && npx c8 check-coverage --lines 90 --include 'out/src/core/**/*.js'",
    counts: 'mocha',
  },
  // Issue 10's promise for the real coding-assistant CLIs (Claude Code, Codex, Continue, Cline), run
  // through `dist/cli.js serve`; setup.sh installs them once, at pinned versions, into .vscode-test/clients.
  {
    name: 'clients',
    cmd: "bash test/clients/setup.sh && npx mocha --no-config --ui tdd --forbid-only 'out/test/clients/**/*.test.js'",
    counts: 'mocha',
  },
  { name: 'host-setup', cmd: 'bash test/vscode-host/setup.sh', counts: false },
  { name: 'host', cmd: 'node out/test/integration/runTest.js', counts: 'mocha' },
  { name: 'package', cmd: 'npx vsce package --no-dependencies', counts: false },
  { name: 'e2e', cmd: `node test/e2e/uiE2E.js keyrelay-${version}.vsix`, counts: 'line' },
  // Speed ratios on a shared machine are judged by `npm run bench`; here the quick bench's
  // correctness gates count, and its ratio rows are printed for the record.
  { name: 'bench-quick', cmd: 'node test/bench/run.mjs --quick', counts: 'gates' },
];

function run(cmd) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function count(kind, out) {
  // eslint-disable-next-line no-control-regex
  const text = out.replace(/\x1b\[[0-9;]*m/g, '');
  if (kind === 'mocha') {
    const passed = [...text.matchAll(/^\s*(\d+) passing/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const failed = [...text.matchAll(/^\s*(\d+) failing/gm)].reduce((n, m) => n + Number(m[1]), 0);
    return { passed, failed };
  }
  if (kind === 'gates') {
    const rows = text.split('\n').filter((l) => /^\|\s*correctness:/.test(l));
    const failed = rows.filter((l) => /\|\s*FAIL\s*\|\s*$/.test(l)).length;
    // No gate rows at all means the bench broke before its table: that is a failure too.
    return { passed: rows.length - failed, failed: rows.length ? failed : 1, judged: true };
  }
  const m = [...text.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed/gm)].at(-1);
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : { passed: 0, failed: 0 };
}

/** Mocha's failure report (from "N failing" on), cut short: repeated at the end, where a CI log's tail shows it. */
function failureReport(out) {
  // eslint-disable-next-line no-control-regex
  const lines = out.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const from = lines.findIndex((l) => /^\s*\d+ failing/.test(l));
  return from < 0 ? [] : lines.slice(from, from + 40);
}

let passed = 0;
let failed = 0;
const broken = [];
const reports = [];
for (const stage of stages) {
  if (only.length && !only.includes(stage.name)) continue;
  if (stage.name === 'bench-quick' && !existsSync('test/bench/run.mjs')) continue;
  console.log(`\n=== ${stage.name}: ${stage.cmd}`);
  const started = Date.now();
  const { code, out } = await run(stage.cmd);
  console.log(`=== ${stage.name}: exit ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  let broke = code !== 0;
  if (stage.counts) {
    const c = count(stage.counts, out);
    passed += c.passed;
    failed += c.failed;
    // The bench exits 1 on a missed speed goal; here only its gates decide.
    if (c.judged) broke = c.failed > 0;
    else if (code !== 0 && c.failed === 0) failed += 1; // crashed before reporting: still a failure
  } else if (code !== 0) {
    failed += 1;
  }
  if (broke) {
    broken.push(stage.name);
    const report = failureReport(out);
    if (report.length) reports.push(`--- ${stage.name}:`, ...report);
    // Later stages need what an earlier one builds; stop at the first broken prerequisite.
    if (!stage.counts && stage.blocks !== false) break;
  }
}
if (reports.length) console.log(`\n${reports.join('\n')}`);
if (broken.length) console.log(`\nbroken stages: ${broken.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && broken.length === 0 ? 0 : 1);
