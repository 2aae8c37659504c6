// Shared helpers of the bench: child processes (killed by PID on exit or SIGINT), CPU pinning,
// /proc readers and small statistics.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const children = new Set();
const tempDirs = new Set();

function cleanup() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

/** A temp dir removed on exit. */
export function tempDir(prefix = 'keyrelay-bench-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}
export function removeTemp(d) {
  fs.rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * TypeScript from src/ bundled on the fly with esbuild (no dependency on the test build) and
 * imported: `contents` is the entry, resolved from the repository root, e.g.
 * `export { KeyPool } from './src/core/pool/keyPool';`.
 */
export async function bundleFromSrc(contents, name = 'src') {
  const esbuild = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `keyrelay-bench-${name}-`));
  try {
    const outfile = path.join(dir, `${name}.mjs`);
    await esbuild.build({
      stdin: { contents, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outfile,
      logLevel: 'error',
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU layout: with two or more CPUs proxies get CPU 0, load generator + mock + this process CPU 1. */
export const CPUS = os.availableParallelism();
export const hasTaskset = CPUS >= 2 && fs.existsSync('/usr/bin/taskset');
export const PIN = { proxy: '0', load: '1' };
/**
 * On a shared machine other work steals the CPUs mid-round. As root the bench raises its own
 * priority (KEYRELAY_BENCH_NICE, default -10; 0 = off): run.mjs re-executes itself in a new
 * session (`setsid`) so it gets its own scheduler autogroup, and sets that group's nice — with
 * autogroups on, a plain `nice` only ranks processes inside their own session. Others still run.
 */
export const NICE =
  process.getuid?.() === 0 && process.env.KEYRELAY_BENCH_NICE !== '0'
    ? Number(process.env.KEYRELAY_BENCH_NICE ?? -10)
    : 0;
export let priority = 'default';
export function raisePriority() {
  if (!NICE) return;
  try {
    if (fs.existsSync('/proc/self/autogroup')) fs.writeFileSync('/proc/self/autogroup', String(NICE));
    os.setPriority(NICE);
    priority = `nice ${NICE} (own autogroup)`;
  } catch {
    /* not permitted: measure at default priority */
  }
}
export function pinned(cpu, cmd, args) {
  // `taskset -c` execs the command, so every thread (libuv pool, V8 workers) inherits the mask and
  // the child's PID is the server's own PID (needed for /proc CPU and memory readings).
  return hasTaskset ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
}
export function pinSelf() {
  if (!hasTaskset) return;
  try {
    spawn('taskset', ['-a', '-p', '-c', PIN.load, String(process.pid)], { stdio: 'ignore' });
  } catch {
    /* best effort */
  }
}

/**
 * Starts a child and resolves once a stdout line matches `ready` (bounded by `timeoutMs`).
 * Resolves { child, pid, match, stdout() }.
 */
export function startChild(cmd, args, { ready, timeoutMs = 20_000, env, cwd, shell = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, shell, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '',
      err = '',
      done = false;
    const timer = setTimeout(
      () => finish(new Error(`${cmd} ${args.join(' ')}: not ready after ${timeoutMs} ms\n${out}\n${err}`)),
      timeoutMs,
    );
    const finish = (e, m) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        stop(child);
        reject(e);
      } else resolve({ child, pid: child.pid, match: m, stdout: () => out, stderr: () => err });
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      if (out.length < 1e6) out += d;
      const m = ready && out.match(ready);
      if (m) finish(null, m);
    });
    child.stderr.on('data', (d) => {
      if (err.length < 1e6) err += d;
    });
    child.on('exit', (code) => {
      children.delete(child);
      finish(new Error(`${cmd} exited with ${code} before ready\n${out}\n${err}`));
    });
    if (!ready) finish(null, null);
  });
}

/** Kills a child we started (by PID) and waits for it to exit (bounded). */
export function stop(child, ms = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      children.delete(child);
      resolve();
    });
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

/** Runs a command to completion, collecting stdout (bounded). */
export function run(cmd, args, { env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '',
      err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const t = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      children.delete(child);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      children.delete(child);
      resolve({ code, out, err });
    });
  });
}

/** utime+stime of a process in seconds (all its threads), from /proc/<pid>/stat. */
const TICK = 100; // USER_HZ on Linux
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}
/**
 * Machine-wide CPU ticks from /proc/stat: `steal` is time the hypervisor gave this VM's CPUs to
 * someone else, the noise a shared cloud machine adds that no priority setting removes.
 */
export function cpuTicks() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return { steal: f[7] ?? 0, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}
/** Resident set size in MB from /proc/<pid>/status. */
export function rssMb(pid, field = 'VmRSS') {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function median(a) {
  const v = a.filter(Number.isFinite).sort((x, y) => x - y);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
export function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}
export function minMax(a) {
  const v = a.filter(Number.isFinite);
  return v.length ? [Math.min(...v), Math.max(...v)] : [NaN, NaN];
}
export function cv(a) {
  const v = a.filter(Number.isFinite);
  if (v.length < 2) return 0;
  const mean = v.reduce((x, y) => x + y, 0) / v.length;
  const sd = Math.sqrt(v.reduce((x, y) => x + (y - mean) ** 2, 0) / (v.length - 1));
  return mean ? sd / mean : 0;
}
export function shuffle(a) {
  const r = [...a];
  for (let i = r.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [r[i], r[j]] = [r[j], r[i]];
  }
  return r;
}

/** Small JSON HTTP helper for control endpoints (127.0.0.1 only). */
export async function httpJson(url, { method = 'GET', body, headers } = {}) {
  const res = await fetch(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
