// Editor refresh at scale: the real view model, keys tree and status-bar item (src/core/view,
// src/vscode/keysView.ts, src/vscode/statusBar.ts) bundled on the fly with esbuild, `vscode`
// replaced by the bench's stub (vscodeStub.cjs). One refresh = what the extension host does when
// the stats or the pool change: ViewModelHub.refresh() with the tree and the status item listening,
// then, when the tree says its data changed, what VS Code asks next: the root's children, the
// children of every expanded node and a TreeItem for each of them.
//   node test/bench/viewRefresh.mjs [--keys 10000] [--runs 30]   → prints BENCH_JSON {...}
// Two kinds of refresh, timed alternately: `counters` (requests on 100 keys: the common case under
// load, every 250 ms) and `state` (one key rate-limited for a model: the tree's rows change).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

const ENTRY = `
export { KeyPool } from './src/core/pool/keyPool';
export { Stats } from './src/core/accounting/stats';
export { ViewModelHub } from './src/core/view/viewModel';
export { KeysView } from './src/vscode/keysView';
export { StatusBarController } from './src/vscode/statusBar';
export { Emitter } from './src/core/events';
`;

async function load() {
  const esbuild = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyrelay-bench-view-'));
  try {
    const shim = path.join(dir, 'vscode.cjs');
    fs.writeFileSync(shim, `module.exports = require(${JSON.stringify(path.join(here, 'vscodeStub.cjs'))}).vscode;\n`);
    const outfile = path.join(dir, 'view.cjs');
    await esbuild.build({
      stdin: { contents: ENTRY, resolveDir: root, loader: 'ts' },
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      alias: { vscode: shim },
      outfile,
      logLevel: 'error',
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function setup(m, n) {
  let t = Date.now();
  const clock = { now: () => t };
  const pool = new m.KeyPool({
    clock,
    strategy: 'round-robin',
    cooldownStepsMs: [10_000, 30_000],
    maxCooldownMs: 600_000,
    degradedAfter: 3,
    discardOnQuota: true,
  });
  const keys = [];
  for (let i = 0; i < n; i++)
    keys.push({
      id: `k${i}`,
      providerId: i % 10 === 0 ? 'anthropic' : 'openai',
      label: `key-${i}`,
      masked: `sk-…${String(i).padStart(4, '0').slice(-4)}`,
      // A few accounts, so the tree has that level too.
      ...(i % 50 === 0 ? { account: `team-${i % 7}` } : {}),
      addedAt: t,
      secret: `sk-bench-${i}-${'x'.repeat(40)}`,
    });
  pool.setKeys(keys);
  const stats = new m.Stats(clock);
  // History as after a busy day: every key served, some failed, a few cool for a model.
  for (let i = 0; i < n; i++) {
    const id = `k${i}`;
    const r = (ok, status) => ({
      keyId: id,
      providerId: keys[i].providerId,
      model: 'gpt-4o',
      endpoint: '/v1/chat/completions',
      ok,
      status,
      latencyMs: 120,
      ttfbMs: 40,
      inputTokens: 12,
      outputTokens: 7,
    });
    stats.record(r(true, 200));
    if (i % 20 === 0) stats.record(r(false, 500));
    pool.report(id, 'gpt-4o', { kind: 'success', ttfbMs: 40 });
    if (i % 100 === 1)
      pool.report(id, 'gpt-4o', { kind: 'rate-limited', status: 429, retryAfterMs: 3_600_000, reason: 'HTTP 429' });
  }
  const ctlEmitter = new m.Emitter();
  const controller = {
    state: { role: 'leader', port: 8787, endpoint: 'http://127.0.0.1:8787' },
    onDidChange: ctlEmitter.event,
  };
  // A throttle far in the future: only our explicit refresh() runs.
  const hub = new m.ViewModelHub(pool, stats, controller, clock.now, 3_600_000);
  const tree = new m.KeysView(hub, (id) => id);
  const bar = new m.StatusBarController(hub);
  let treeChanged = false;
  tree.onDidChangeTreeData(() => {
    treeChanged = true;
  });
  /** What VS Code reads after onDidChangeTreeData: expanded nodes' children, a TreeItem each. */
  const readTree = () => {
    let items = 0;
    const walk = (node) => {
      for (const child of tree.getChildren(node)) {
        tree.getTreeItem(child);
        items++;
        if (child.kind !== 'key') walk(child);
      }
    };
    walk(undefined);
    return items;
  };
  readTree();
  let seq = 0;
  return {
    pool,
    stats,
    hub,
    bar,
    tick: () => {
      t += 1000;
    },
    counters: () => {
      for (let j = 0; j < 100; j++) {
        const i = (seq++ * 97) % n;
        stats.record({
          keyId: `k${i}`,
          providerId: keys[i].providerId,
          model: 'gpt-4o',
          endpoint: '/v1/chat/completions',
          ok: true,
          status: 200,
          latencyMs: 100,
          inputTokens: 10,
          outputTokens: 5,
        });
      }
    },
    state: () => {
      const i = (seq++ * 7919) % n;
      pool.report(`k${i}`, `model-${seq % 5}`, {
        kind: 'rate-limited',
        status: 429,
        retryAfterMs: 60_000,
        reason: 'HTTP 429 bench',
      });
    },
    /** One refresh, timed: rebuild + listeners, then the tree read when it fired. */
    refresh: () => {
      treeChanged = false;
      const s = process.hrtime.bigint();
      hub.refresh();
      const mid = process.hrtime.bigint();
      const items = treeChanged ? readTree() : 0;
      const e = process.hrtime.bigint();
      return { ms: Number(e - s) / 1e6, hubMs: Number(mid - s) / 1e6, treeMs: Number(e - mid) / 1e6, items };
    },
    dispose: () => {
      tree.dispose();
      bar.dispose();
      hub.dispose();
      stats.dispose();
      pool.dispose();
    },
  };
}

export async function viewRefreshBench({ keys = 10_000, runs = 30 } = {}) {
  const m = await load();
  const s = setup(m, keys);
  const res = { keys, counters: [], state: [], hubMs: { counters: [], state: [] }, items: {} };
  for (let r = 0; r < 5; r++) {
    s.counters();
    s.refresh();
    s.state();
    s.refresh();
  }
  for (let r = 0; r < runs; r++) {
    for (const kind of r % 2 ? ['state', 'counters'] : ['counters', 'state']) {
      s.tick();
      s[kind]();
      const x = s.refresh();
      res[kind].push(x.ms);
      res.hubMs[kind].push(x.hubMs);
      res.items[kind] = x.items;
    }
  }
  res.statusText = s.bar.text;
  s.dispose();
  return res;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = process.argv.slice(2);
  const num = (n, d) => (a.includes(n) ? Number(a[a.indexOf(n) + 1]) : d);
  const r = await viewRefreshBench({ keys: num('--keys', 10_000), runs: num('--runs', 30) });
  if (a.includes('--human')) {
    const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1].toFixed(1);
    for (const k of ['counters', 'state'])
      console.error(
        `${k}: median ${med(r[k])} ms (hub ${med(r.hubMs[k])} ms), max ${Math.max(...r[k]).toFixed(1)} ms, tree items ${r.items[k]}`,
      );
  }
  console.log(`BENCH_JSON ${JSON.stringify(r)}`);
}
