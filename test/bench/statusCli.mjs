// `keyrelay status` at scale, end to end: a real `keyrelay serve` with N keys (100,000 in the full
// bench) that has served some traffic, and the real CLI run as a user runs it, its output piped
// to this process (as `| less` or `| jq` would). Wall time is spawn → exit; peak RSS is the CLI's
// own (`process.resourceUsage().maxRSS`, printed by a preload on exit). Text and --json alternate.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PIN, pinned, median } from './lib.mjs';
import { startKeyRelay, TOKEN } from './targets.mjs';
import { runLoad } from './loadgen.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PRELOAD = path.join(here, 'maxRss.cjs');

/** One `keyrelay status` run: { ms, rssMb, bytes, lines, keys (--json), code }. */
function statusOnce(cli, port, json) {
  const args = ['--require', PRELOAD, cli, 'status', '--port', String(port), '--token', TOKEN];
  if (json) args.push('--json');
  const [cmd, a] = pinned(PIN.load, process.execPath, args);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const body = Buffer.concat(out).toString('utf8');
      const rss = /MAXRSS (\d+)/.exec(err);
      const r = { ms, code, rssMb: rss ? Number(rss[1]) / 1024 : NaN, bytes: Buffer.byteLength(body) };
      if (json) {
        try {
          r.keys = JSON.parse(body).keys.length;
        } catch {
          r.keys = -1;
        }
      } else r.lines = body.split('\n').filter((l) => /^ {2}\S/.test(l)).length;
      if (code !== 0) r.error = err.slice(0, 300);
      resolve(r);
    });
  });
}

/**
 * Starts KeyRelay with `keys` keys, gives it `trafficSecs` of load (counters on the keys that
 * served), then times `runs` text and `runs` --json status calls, alternating.
 */
export async function statusCliBench({ mock, cli, keys = 100_000, runs = 7, trafficSecs = 2, loadgen, bodyFile }) {
  const t = await startKeyRelay(mock, keys, { cli, name: `keyrelay-status-${keys}` });
  try {
    await runLoad({
      kind: loadgen,
      url: t.url,
      c: 10,
      seconds: trafficSecs,
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', ...t.headers },
      bodyFile,
    });
    const port = new URL(t.url).port;
    await statusOnce(cli, port, false); // the server's first status compiles its code
    const text = [];
    const json = [];
    for (let i = 0; i < runs; i++) {
      for (const j of i % 2 ? [true, false] : [false, true]) (j ? json : text).push(await statusOnce(cli, port, j));
    }
    const summary = (rs, count) => ({
      ms: rs.map((r) => r.ms),
      medianMs: median(rs.map((r) => r.ms)),
      medianRssMb: median(rs.map((r) => r.rssMb)),
      mb: rs[0].bytes / 1048576,
      complete: rs.every((r) => r.code === 0 && r[count] === keys + 3),
      error: rs.find((r) => r.error)?.error,
    });
    return { keys, runs, text: summary(text, 'lines'), json: summary(json, 'keys') };
  } finally {
    await t.stop();
  }
}
