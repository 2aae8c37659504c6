// Starts the processes under test: the mock upstream, the bare pass-through, KeyRelay's CLI with
// N keys, and extra proxies from KEYRELAY_BENCH_EXTRA. Every target answers the same client
// request; `headers` is what the client must send to it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PIN, pinned, startChild, stop, tempDir, httpJson } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const TOKEN = 'kr-bench-token-0123456789abcdef';
/** Key i of a set of n: looks like a real key, family (index stripped) tells the sets apart upstream. */
export const benchKey = (i, n) => `sk-bench-${i}-k${n}${'x'.repeat(40)}`;
export const BARE_KEY = `sk-bench-bare-${'y'.repeat(40)}`;

export async function startMock() {
  const [cmd, args] = pinned(PIN.load, process.execPath, [path.join(here, 'mockUpstream.mjs'), '--port', '0']);
  const p = await startChild(cmd, args, { ready: /MOCK listening (\d+)/ });
  const url = `http://127.0.0.1:${p.match[1]}`;
  return {
    url,
    pid: p.pid,
    stats: async () => (await httpJson(`${url}/__mock/stats`)).json,
    reset: () => httpJson(`${url}/__mock/reset`, { method: 'POST', body: {} }),
    fail: (map) => httpJson(`${url}/__mock/fail`, { method: 'POST', body: map }),
    stop: () => stop(p.child),
  };
}

export function directTarget(mock) {
  return {
    name: 'direct',
    url: mock.url,
    pid: undefined,
    headers: { authorization: `Bearer sk-bench-direct-${'z'.repeat(40)}` },
    stop: async () => {},
  };
}

export async function startBare(mock, { nodeArgs = [] } = {}) {
  const [cmd, args] = pinned(PIN.proxy, process.execPath, [
    ...nodeArgs,
    path.join(here, 'bare.mjs'),
    '--upstream',
    mock.url,
    '--key',
    BARE_KEY,
  ]);
  const p = await startChild(cmd, args, { ready: /BARE listening on (http:\/\/127\.0\.0\.1:\d+)/ });
  return {
    name: 'bare',
    url: p.match[1],
    pid: p.pid,
    headers: { authorization: `Bearer ${TOKEN}` },
    stderr: p.stderr,
    stop: () => stop(p.child),
  };
}

/** KeyRelay's CLI with `n` openai-shape keys (plus one anthropic-shape provider with 3 keys). */
export async function startKeyRelay(
  mock,
  n,
  { cli, name = `keyrelay${n === 3 ? '' : `-${n}`}`, nodeArgs = [], stateStore, serving = n } = {},
) {
  const dir = tempDir('keyrelay-bench-kr-');
  const keys = [];
  // `serving` < n: the other keys are listed for a model no request asks for (loaded, never picked).
  const unused = { models: ['bench-unused-model'] };
  for (let i = 0; i < n; i++)
    keys.push({ provider: 'mock', key: benchKey(i, n), label: `k${i}`, ...(i < serving ? {} : unused) });
  for (let i = 0; i < 3; i++)
    keys.push({ provider: 'mock-anthropic', key: `sk-ant-bench-${i}-a${n}${'w'.repeat(40)}`, label: `a${i}` });
  const config = {
    proxy: { port: 0, strategy: 'round-robin' },
    providers: [
      { id: 'mock', name: 'Mock', shape: 'openai', baseUrl: `${mock.url}/v1`, auth: 'bearer' },
      {
        id: 'mock-anthropic',
        name: 'Mock Anthropic',
        shape: 'anthropic',
        baseUrl: `${mock.url}/v1`,
        auth: 'x-api-key',
      },
    ],
    keys,
    ...(stateStore ? { stateStore, teamSecret: 'bench-team-secret-0123456789' } : {}),
  };
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(config), { mode: 0o600 });
  const [cmd, args] = pinned(PIN.proxy, process.execPath, [
    ...nodeArgs,
    cli,
    'serve',
    '--config',
    cfgFile,
    '--data-dir',
    path.join(dir, 'data'),
    '--token',
    TOKEN,
    '--port',
    '0',
  ]);
  // Scrub provider env keys so only our config's keys are loaded.
  const env = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => /_API_KEY|_KEYS$/.test(k))
      .map((k) => [k, '']),
  );
  const p = await startChild(cmd, args, {
    ready: /KeyRelay listening on (http:\/\/127\.0\.0\.1:\d+)/,
    timeoutMs: 60_000,
    env: { ...env, KEYRELAY_TOKEN: '' },
    cwd: dir,
  });
  return {
    name,
    url: p.match[1],
    pid: p.pid,
    keys: n,
    headers: { authorization: `Bearer ${TOKEN}` },
    stdout: p.stdout,
    stderr: p.stderr,
    stop: () => stop(p.child, 5000),
  };
}

/**
 * Extra targets: KEYRELAY_BENCH_EXTRA holds entries separated by newlines or ` || `, each
 * `name=litellm;cmd=<shell command>;url=http://127.0.0.1:4000[;token=<client key>]`. `{MOCK}` in
 * cmd is replaced by the mock's URL. Ready = the URL accepts connections (polled, ≤ 60 s).
 */
export function parseExtra(text = process.env.KEYRELAY_BENCH_EXTRA ?? '') {
  return text
    .split(/\n| \|\| /)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const o = {};
      for (const part of entry.split(';')) {
        const i = part.indexOf('=');
        if (i > 0) o[part.slice(0, i).trim()] = part.slice(i + 1).trim();
      }
      if (!o.name || !o.url) throw new Error(`KEYRELAY_BENCH_EXTRA entry needs name= and url=: ${entry}`);
      return o;
    });
}

export async function startExtra(mock, spec) {
  let p;
  if (spec.cmd) {
    const [cmd, args] = pinned(PIN.proxy, '/bin/sh', ['-c', `exec ${spec.cmd.replaceAll('{MOCK}', mock.url)}`]);
    p = await startChild(cmd, args, {});
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await fetch(spec.url, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        if (p) await stop(p.child);
        throw new Error(`extra target ${spec.name} not reachable at ${spec.url}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    name: spec.name,
    url: spec.url.replace(/\/+$/, ''),
    pid: p?.pid,
    extra: true,
    headers: { authorization: `Bearer ${spec.token ?? TOKEN}` },
    stop: () => (p ? stop(p.child) : Promise.resolve()),
  };
}

/**
 * A real redis-server (Debian's, test/redis/setup.sh) on a free loopback port, no persistence, in
 * a temp dir: the store of `--shared` (KeyRelay with `stateStore`, issue 18).
 */
export async function startRedis() {
  const dir = tempDir('keyrelay-bench-redis-');
  const port = await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const p = await startChild('/usr/bin/redis-server', args, { ready: /Ready to accept connections/ });
  return { url: `redis://127.0.0.1:${port}/0?pool=bench`, stop: () => stop(p.child) };
}
