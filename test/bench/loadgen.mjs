// Load generator: wrk when installed (installed with apt-get when we are root and it is missing),
// else a built-in closed-loop undici generator run as its own process (this file, as a CLI).
// Both report the same JSON: requests, rps, errors, latency p50/p90/p99 in microseconds.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PIN, cpuSeconds, cpuTicks, pinned, run } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let wrkPath;
/** A run's last 250 ms send no new request (wrk.lua): every response under way ends before the cut. */
const GRACE_MS = 250;

/** Finds wrk, installing it once when we are root; returns 'wrk' or 'builtin'. */
export async function chooseLoadgen(pref = 'auto') {
  if (pref === 'builtin') return 'builtin';
  const find = () => ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => fs.existsSync(p));
  wrkPath = find();
  if (!wrkPath && process.getuid?.() === 0) {
    process.stderr.write('wrk missing: apt-get install -y wrk …\n');
    await run('apt-get', ['install', '-y', 'wrk'], {
      timeoutMs: 180_000,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    }).catch(() => undefined);
    wrkPath = find();
  }
  if (!wrkPath && pref === 'wrk') throw new Error('wrk requested but not installed');
  return wrkPath ? 'wrk' : 'builtin';
}

/**
 * One run against target `t` (`url`, `pid`, its own `headers`) with what the ratio rows need beside
 * the load's figures: `cpuUsPerReq`, the target process's CPU (all threads) per request over the
 * run, and `stealPct`, the machine's CPU steal over it. `o` is runLoad's, without `url`.
 */
export async function measuredLoad(t, o) {
  const cpu0 = t.pid ? cpuSeconds(t.pid) : NaN;
  const ticks0 = cpuTicks();
  const r = await runLoad({ ...o, url: t.url, headers: { ...o.headers, ...t.headers } });
  r.cpuUsPerReq = t.pid ? ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests : NaN;
  const ticks1 = cpuTicks();
  r.stealPct = (100 * (ticks1.steal - ticks0.steal)) / Math.max(1, ticks1.total - ticks0.total);
  return r;
}

/**
 * One closed-loop load run.
 * @param o { kind, url, c, seconds, path, method, headers: Record<string,string>, bodyFile }
 */
export async function runLoad(o) {
  const headerLines = Object.entries(o.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  let res;
  if (o.kind === 'wrk') {
    const threads = o.c >= 50 ? '2' : '1';
    const seconds = String(Math.max(1, Math.round(o.seconds))); // wrk reads whole seconds only ("7.5s" is a usage error)
    const [cmd, args] = pinned(PIN.load, wrkPath, [
      '-t',
      threads,
      '-c',
      String(o.c),
      '-d',
      `${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      path.join(here, 'wrk.lua'),
      o.url,
    ]);
    res = await run(cmd, args, {
      env: {
        // wrk.lua: the last GRACE_MS hold the connections instead of being cut mid-response.
        BENCH_SECONDS: seconds,
        BENCH_GRACE_MS: String(GRACE_MS),
        BENCH_METHOD: o.method ?? 'POST',
        BENCH_PATH: o.path,
        BENCH_HEADERS: headerLines,
        BENCH_BODY_FILE: o.bodyFile ?? '',
      },
      timeoutMs: (o.seconds + 30) * 1000,
    });
  } else {
    const [cmd, args] = pinned(PIN.load, process.execPath, [
      path.join(here, 'loadgen.mjs'),
      '--builtin',
      JSON.stringify(o),
    ]);
    res = await run(cmd, args, { timeoutMs: (o.seconds + 30) * 1000 });
  }
  const line = res.out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line)
    throw new Error(
      `load generator produced no result (exit ${res.code}): ${res.out.slice(-400)} ${res.err.slice(-400)}`,
    );
  const j = JSON.parse(line.slice(11));
  const seconds = j.durationUs / 1e6;
  return {
    requests: j.requests,
    seconds,
    rps: j.requests / seconds,
    errors: j.connect + j.read + j.write + j.status + j.timeout,
    statusErrors: j.status,
    p50: j.p50,
    p90: j.p90,
    p99: j.p99,
  };
}

/** Built-in generator: c workers, each sending one request at a time on its own connection. */
async function builtin(o) {
  const { Pool } = await import('undici');
  const u = new URL(o.url);
  const pool = new Pool(u.origin, { connections: o.c, pipelining: 1 });
  const body = o.bodyFile ? fs.readFileSync(o.bodyFile) : undefined;
  const headers = { ...o.headers };
  const lat = [];
  let requests = 0,
    status = 0,
    read = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(o.seconds * 1e9);
  async function worker() {
    while (process.hrtime.bigint() < end) {
      const s = process.hrtime.bigint();
      try {
        const r = await pool.request({ path: o.path, method: o.method ?? 'POST', headers, body });
        for await (const _ of r.body) {
          /* drain */
        }
        if (r.statusCode >= 400) status++;
      } catch {
        read++;
      }
      requests++;
      if (lat.length < 2e6) lat.push(Number(process.hrtime.bigint() - s) / 1000);
    }
  }
  await Promise.all(Array.from({ length: o.c }, worker));
  const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
  await pool.close();
  lat.sort((a, b) => a - b);
  const p = (q) => Math.round(lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0);
  console.log(
    `BENCH_JSON ${JSON.stringify({ requests, durationUs, bytes: 0, connect: 0, read, write: 0, status, timeout: 0, p50: p(0.5), p90: p(0.9), p99: p(0.99) })}`,
  );
}

if (process.argv[2] === '--builtin') await builtin(JSON.parse(process.argv[3]));
