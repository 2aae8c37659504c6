// Precise memory readings for the memory goals: targets started with `--inspect=127.0.0.1:0` are
// asked over the DevTools protocol to collect garbage, then report V8's used heap; RSS comes from
// /proc after that GC. Without the forced GC, load garbage (±10 MB) swamps a 2 MB goal.
import { WebSocket } from 'undici';
import { rssMb } from './lib.mjs';

export const INSPECT_ARGS = ['--inspect=127.0.0.1:0'];

/** Finds the inspector URL a child printed on stderr (`Debugger listening on ws://…`). */
export function inspectorUrl(stderrText) {
  const m = stderrText.match(/Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)/);
  return m?.[1];
}

/** Forces a full GC in the target, then returns { heapMb, rssMb } (bounded: 10 s). */
export async function measureAfterGc(target) {
  const url = inspectorUrl(target.stderr());
  if (!url) return { heapMb: NaN, rssMb: rssMb(target.pid) };
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data));
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg.result);
      pending.delete(msg.id);
    }
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const i = ++id;
      pending.set(i, resolve);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  const timer = setTimeout(() => ws.close(), 10_000);
  try {
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage'); // second pass frees what the first one's finalizers released
    const usage = await call('Runtime.getHeapUsage');
    // RssFile is mostly node's own code pages: they grow when V8's optimizing compiler first runs.
    return {
      heapMb: usage.usedSize / 1048576,
      rssMb: rssMb(target.pid),
      anonMb: rssMb(target.pid, 'RssAnon'),
      fileMb: rssMb(target.pid, 'RssFile'),
    };
  } catch {
    return { heapMb: NaN, rssMb: rssMb(target.pid) };
  } finally {
    clearTimeout(timer);
    ws.close();
  }
}
