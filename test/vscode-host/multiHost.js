#!/usr/bin/env node
// The multi-window case on one machine: one code-server, several browser tabs of one browser profile.
// Each tab gets its own extension host (as each desktop VS Code window does) on the same machine and
// ports, and they share SecretStorage (it lives in the profile's localStorage), like windows of one VS Code.
//   library: const { startMultiHost } = require('./multiHost.js')
//   self-check: node test/vscode-host/multiHost.js <keyrelay.vsix | extension folder>
//     opens window 1 (it leads: binds keyRelay.proxy.port), then window 2 (it follows), closes window 1
//     and checks that window 2 takes the port over (a new instanceId on /keyrelay/health) within 30 s.
'use strict';
const fs = require('fs');
const path = require('path');
const host = require('./hostRunner.js');

const STATUS = /KeyRelay/;
const WAIT = 60_000;

/**
 * Starts code-server with the extension (a .vsix is installed; a folder is loaded as a development
 * extension) and returns a handle whose openWindow() opens one more tab = one more extension host.
 */
async function startMultiHost({ extension, settings = {}, extraEnv = {} }) {
  const dirs = host.makeRunDirs('keyrelay-multi-');
  const dev = fs.statSync(extension).isDirectory();
  let cs, ctx;
  const close = async () => {
    await Promise.race([ctx?.close(), host.sleep(10000)]).catch(() => {});
    host.killOwnBrowsers();
    host.stopCodeServer(cs);
    host.removeRunDirs(dirs);
  };
  try {
    host.writeUserSettings(dirs, settings);
    if (!dev) host.installVsix(dirs, extension, extraEnv);
    cs = await host.startCodeServer(dirs, { smokeDriver: dev, extraEnv });
    ctx = await host.launchBrowser(dirs, { permissions: ['clipboard-read', 'clipboard-write'] });
  } catch (e) {
    await close();
    throw e;
  }
  let n = 0;
  /** Opens one more window (tab) on its own workspace folder; resolves once the workbench shows. */
  const openWindow = async () => {
    const ws = path.join(dirs.tmp, `ws${++n}`);
    fs.mkdirSync(ws, { recursive: true });
    const page = n === 1 && ctx.pages()[0] ? ctx.pages()[0] : await ctx.newPage();
    const payload = dev
      ? `&payload=${encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${path.resolve(extension)}`]]))}`
      : '';
    await page.goto(`${cs.url}/?folder=${encodeURIComponent(ws)}${payload}`, { timeout: WAIT });
    await page.waitForSelector('.monaco-workbench', { timeout: WAIT });
    return page;
  };
  return { dirs, cs, ctx, openWindow, close };
}

async function health(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/keyrelay/health`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? await r.json() : undefined;
  } catch {
    return undefined;
  }
}

/** A bounded poll of another process's HTTP answer (the proxy of some window): it has no event to await. */
async function waitFor(what, fn, timeoutMs = WAIT) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await host.sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function selfCheck(extension) {
  const port = await host.freePort();
  const mh = await startMultiHost({ extension, settings: { 'keyRelay.proxy.port': port } });
  const results = [];
  const check = async (name, fn) => {
    try {
      await fn();
      results.push(true);
      host.log(`ok   ${name}`);
    } catch (e) {
      results.push(false);
      host.log(`FAIL ${name}: ${e.message}`);
    }
  };
  try {
    const status = (page) => page.locator('.statusbar-item').filter({ hasText: STATUS }).first();
    let w1, w2, first;
    await check('window 1 activates and leads on the port', async () => {
      w1 = await mh.openWindow();
      await status(w1).waitFor({ timeout: WAIT });
      first = await waitFor('KeyRelay health on the port', () => health(port));
      host.log('window 1:', (await status(w1).innerText()).trim(), 'instance', first.instanceId);
    });
    await check('window 2 activates while window 1 holds the port', async () => {
      w2 = await mh.openWindow();
      await status(w2).waitFor({ timeout: WAIT });
      // Window 2 has made up its mind once its status item says who serves (its accessible label).
      await w2.locator('[aria-label*="(served by another window)"]').first().waitFor({ timeout: WAIT });
      const h = await health(port);
      if (!h || h.instanceId !== first.instanceId) throw new Error('window 2 took the port while window 1 was open');
      host.log('window 2:', (await status(w2).innerText()).trim());
    });
    await check('closing window 1 hands the port to window 2 within 30 s', async () => {
      const t = Date.now();
      await w1.close();
      const next = await waitFor(
        'a new leader',
        async () => {
          const h = await health(port);
          return h && h.instanceId !== first.instanceId && h;
        },
        30_000,
      );
      host.log(
        `new leader ${next.instanceId} after ${Date.now() - t} ms; window 2:`,
        (await status(w2).innerText()).trim(),
      );
    });
  } finally {
    await mh.close();
  }
  const passed = results.filter(Boolean).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  return passed === results.length ? 0 : 1;
}

module.exports = { startMultiHost };

if (require.main === module && !host.reexecInNetns()) {
  const ext = process.argv[2] && path.resolve(process.argv[2]);
  if (!ext || !fs.existsSync(ext)) {
    console.error('usage: node test/vscode-host/multiHost.js <keyrelay.vsix | extension folder>');
    process.exit(2);
  }
  const hard = setTimeout(() => {
    console.error('hard TIMEOUT');
    host.killOwnBrowsers();
    process.exit(124);
  }, 240_000);
  hard.unref();
  selfCheck(ext).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
