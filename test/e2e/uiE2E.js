#!/usr/bin/env node
/* global navigator, document -- page.evaluate / waitForFunction callbacks run in the browser */
// UI end-to-end test of the packaged extension, driven as a user would: a fresh code-server with the
// .vsix installed, the workbench in headless Chromium, the Command Palette, input boxes, the tree's
// context menu, the status bar; a real `openai` SDK request through the proxy to a fake upstream.
//   node test/e2e/uiE2E.js <keyrelay.vsix | extension folder>
// Env: KEEP=1 keep temp dirs, VERBOSE=1 more logs, E2E_TIMEOUT_MS (default 300000).
// Last line of output: `N passed, M failed` (steps not reached after a failure count as failed).
'use strict';
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const host = require('../vscode-host/hostRunner.js');
const { dashboardSteps } = require('./dashboardSteps.js');
const { compareSteps } = require('./compareSteps.js');

// Everything the test reads off the screen, in one place (the extension's wording may change).
const UI = {
  statusItem: /^KeyRelay\b/, // the status-bar item's text starts with this
  // "KeyRelay 0/0", "KeyRelay 1/1 · 0" = usable/total · today (`today`: a regex source; any count if omitted)
  statusCounts: (usable, total, today) =>
    new RegExp(`^KeyRelay ${usable}/${total}${today ? ` · ${today}` : '(?: · \\d+)?'}$`),
  addKeyCommand: 'KeyRelay: Add Key',
  copyTokenCommand: 'KeyRelay: Copy Access Token',
  providerPickTitle: /provider/i,
  labelInputTitle: /label/i,
  testPickTitle: /test/i,
  skip: 'Skip',
  viewContainer: 'KeyRelay', // activity-bar container (aria-label starts with it)
  discardMenu: /^Discard( Key)?$/,
  restoreMenu: /^Restore( Key)?$/,
  discardedRow: /discarded/i,
  confirmDiscard: /^Discard( Key)?$/, // a modal confirmation, if the extension asks
};
const WAIT = 60_000; // the longest any single UI wait may take
const REPO = host.REPO;
const SHOTS = path.join(REPO, 'screenshots');
const log = host.log;

const target = process.argv[2] && path.resolve(process.argv[2]);
if (!target || !fs.existsSync(target)) {
  console.error('usage: node test/e2e/uiE2E.js <path-to-vsix | extension folder>');
  console.log('0 passed, 1 failed');
  process.exit(2);
}
const DEV = fs.statSync(target).isDirectory();
// looks like a real key, is not one; only its masked tail is ever printed
const FAKE_KEY = `sk-test-${crypto.randomBytes(20).toString('hex')}`;
const TAIL = FAKE_KEY.slice(-4);
// A second key that the fake upstream rate-limits (429, retry-after 300 s): the dashboard's cooldown.
const LIMITED_KEY = `sk-test-${crypto.randomBytes(20).toString('hex')}`;
const LIMITED_TAIL = LIMITED_KEY.slice(-4);

/** The fake OpenAI-compatible upstream: the project's test fake when compiled, else a tiny inline one. */
async function startUpstream() {
  const compiled = path.join(REPO, 'out/test/fakes/upstreamServer.js');
  if (fs.existsSync(compiled)) {
    try {
      const { FakeUpstream } = require(compiled);
      const fake = await FakeUpstream.start();
      return {
        base: fake.openaiBase,
        keysSeen: () => fake.requests.map((r) => r.key),
        // Chat requests only: the editor's model list (GET /models, for the chat model picker) still
        // works with the key, so the cooldown the dashboard shows is the per-model one traffic causes.
        limit: (key) =>
          fake.setRequestRule((r) =>
            r.key === key && r.path.endsWith('/chat/completions')
              ? { kind: 'status', status: 429, headers: { 'retry-after': '300' } }
              : undefined,
          ),
        close: () => fake.close(),
        kind: 'test/fakes',
      };
    } catch (e) {
      log('compiled fake upstream unusable, using the inline one:', e.message);
    }
  }
  const seen = [];
  const limited = new Set();
  const server = http.createServer((req, res) => {
    const key = String(req.headers.authorization || '').replace(/^Bearer\s+/i, '');
    if (limited.has(key) && req.url.endsWith('/chat/completions')) {
      seen.push(key);
      req.resume();
      const body = { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } };
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '300' }).end(JSON.stringify(body));
      return;
    }
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push(key);
      let model = 'gpt-4o-mini';
      try {
        model = JSON.parse(body).model || model;
      } catch {
        /* GET /models has no body */
      }
      const json = req.url.endsWith('/models')
        ? { object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'fake' }] }
        : {
            id: 'chatcmpl-e2e',
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
          };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}/v1`;
  return {
    base,
    keysSeen: () => seen,
    limit: (key) => limited.add(key),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    kind: 'inline',
  };
}

const steps = [];
const live = { cs: undefined, dirs: undefined }; // for the hard timeout's cleanup
const step = (name, fn) => steps.push({ name, fn });

async function main() {
  const dirs = host.makeRunDirs('keyrelay-e2e-');
  live.dirs = dirs;
  fs.rmSync(path.join(SHOTS, 'e2e-failure.png'), { force: true }); // a stale one would mislead
  const upstream = await startUpstream();
  const proxyPort = await host.freePort();
  let cs, ctx, page;
  const st = { token: undefined };
  try {
    host.writeUserSettings(dirs, {
      'keyRelay.providers': [{ id: 'fake', name: 'Fake', shape: 'openai', baseUrl: upstream.base, auth: 'bearer' }],
      'keyRelay.proxy.port': proxyPort,
      'workbench.colorTheme': 'Default Dark Modern',
    });
    let t = Date.now();
    if (!DEV) host.installVsix(dirs, target);
    log(
      `${DEV ? 'dev folder' : 'vsix installed'} in ${Date.now() - t} ms; fake upstream (${upstream.kind}) ${upstream.base}; proxy port ${proxyPort}`,
    );
    cs = live.cs = await host.startCodeServer(dirs, { smokeDriver: DEV });
    ctx = await host.launchBrowser(dirs, { permissions: ['clipboard-read', 'clipboard-write'], origin: cs.url });
    page = ctx.pages()[0] || (await ctx.newPage());
    const payload = DEV
      ? `&payload=${encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${target}`]]))}`
      : '';
    t = Date.now();
    await page.goto(`${cs.url}/?folder=${encodeURIComponent(dirs.ws)}${payload}`, { timeout: WAIT });
    await page.waitForSelector('.monaco-workbench', { timeout: WAIT });
    log(`workbench visible in ${Date.now() - t} ms`);
    await runSteps(page, upstream, proxyPort, st);
  } catch (e) {
    log('setup failed:', (e && e.stack) || e);
    if (!steps.some((s) => s.result)) steps.unshift({ name: 'start code-server + workbench', result: 'failed' });
  } finally {
    await Promise.race([ctx?.close(), host.sleep(10000)]).catch(() => {});
    host.killOwnBrowsers();
    host.stopCodeServer(cs);
    if (process.env.VERBOSE || steps.some((s) => s.result !== 'passed'))
      console.log('--- code-server log tail ---\n' + host.tail(dirs.log, 30));
    await upstream.close().catch(() => {});
    host.removeRunDirs(dirs);
  }
  const passed = steps.filter((s) => s.result === 'passed').length;
  const notRun = steps.filter((s) => !s.result).length;
  if (notRun) console.log(`${notRun} step(s) not run after the first failure (counted as failed)`);
  console.log(`${passed} passed, ${steps.length - passed} failed`);
  return steps.length > 0 && passed === steps.length ? 0 : 1;
}

async function runSteps(page, upstream, proxyPort, st) {
  const qi = page.locator('.quick-input-widget input');
  const statusItem = page
    .locator('.statusbar-item')
    .filter({ hasText: /KeyRelay/ })
    .first();
  const statusText = async () => (await statusItem.innerText({ timeout: WAIT })).replace(/\s+/g, ' ').trim();
  /**
   * Waits until a status item's text matches `rx` (a UI.statusCounts): the
   * browser checks it at every frame it renders, so the wait ends with the render that shows it.
   */
  const waitStatus = async (what, rx) => {
    try {
      await page.waitForFunction(
        (source) =>
          [...document.querySelectorAll('.statusbar-item')].some((el) =>
            new RegExp(source).test(el.innerText.replace(/\s+/g, ' ').trim()),
          ),
        rx.source,
        { timeout: WAIT },
      );
    } catch (e) {
      const last = await statusText().catch(() => '');
      throw new Error(`status bar never showed ${what}; last text: "${last}" (${e.message.split('\n')[0]})`);
    }
    return statusText();
  };
  const runCommand = async (title) => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+P');
    await qi.waitFor({ state: 'visible', timeout: WAIT });
    await qi.fill(`>${title}`);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
  };
  const quickInputTitled = (rx) =>
    page.locator('.quick-input-widget').filter({ has: page.locator('.quick-input-title', { hasText: rx }) });
  const keyRow = () => page.locator('.monaco-list-row', { hasText: `…${TAIL}` }).first();
  const contextMenu = async (item) => {
    await keyRow().click({ button: 'right', timeout: WAIT });
    const entry = page.locator('.context-view .action-item', { hasText: item }).first();
    await entry.waitFor({ timeout: WAIT });
    // A menu item takes mouse-ups only 100 ms after it rendered (VS Code's menu.ts guards against
    // the right-click's own mouse-up), and nothing on the page says when: choose with the keyboard.
    // Hovering focuses the item; Enter runs the focused one.
    await entry.hover();
    await entry.locator('.action-menu-item:focus').waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    await page.locator('.context-view .monaco-menu').waitFor({ state: 'hidden', timeout: WAIT });
  };
  /**
   * Waits for `outcome` (a promise of what the command does), answering a modal confirmation if
   * the extension shows one first.
   */
  const confirmingIfAsked = async (outcome) => {
    const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: UI.confirmDiscard }).first();
    const asked = confirm.waitFor({ timeout: WAIT }).then(
      () => true,
      () => false,
    );
    const done = outcome.then(
      () => false,
      () => false,
    );
    if (await Promise.race([asked, done])) await confirm.click();
    return outcome;
  };

  step('status bar shows "KeyRelay 0/0" before any key', async () => {
    await statusItem.waitFor({ timeout: WAIT });
    assert.match(await statusText(), UI.statusItem);
    log('status:', await waitStatus('0/0', UI.statusCounts(0, 0)));
  });
  /** Add Key as a user does it: provider pick, the key in a password box, an empty label, no test. */
  const addKey = async (secret) => {
    await runCommand(UI.addKeyCommand);
    await quickInputTitled(UI.providerPickTitle).waitFor({ timeout: WAIT });
    await qi.fill('Fake');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Fake' }).first().waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    const secretInput = page.locator('.quick-input-widget input[type="password"]');
    await secretInput.waitFor({ state: 'visible', timeout: WAIT });
    assert.strictEqual(await qi.getAttribute('type'), 'password', 'the key input box must be a password box');
    await secretInput.fill(secret);
    await page.keyboard.press('Enter');
    await quickInputTitled(UI.labelInputTitle).waitFor({ timeout: WAIT });
    assert.notStrictEqual(await qi.getAttribute('type'), 'password');
    await qi.fill('');
    await page.keyboard.press('Enter');
    const testPick = quickInputTitled(UI.testPickTitle);
    if (
      await testPick.waitFor({ timeout: 10_000 }).then(
        () => true,
        () => false,
      )
    ) {
      const skip = page.locator('.quick-input-list .monaco-list-row', { hasText: UI.skip }).first();
      await skip.click({ timeout: WAIT }).catch(async (e) => {
        const shown = await testPick.isVisible().catch(() => false);
        const focus = await page.evaluate(() => document.activeElement?.className || document.activeElement?.tagName);
        throw new Error(
          `choosing "${UI.skip}" failed (test pick visible: ${shown}, focus on "${focus}"): ${e.message}`,
        );
      });
    }
  };
  step('Add Key: provider pick, password input, empty label, skip the test', () => addKey(FAKE_KEY));
  step('the tree shows the key row with its masked key', async () => {
    const viewIcon = page.locator(`.activitybar .action-item .action-label[aria-label^="${UI.viewContainer}"]`).first();
    await viewIcon.waitFor({ timeout: WAIT });
    const item = page
      .locator(`.activitybar .action-item:has(.action-label[aria-label^="${UI.viewContainer}"])`)
      .first();
    // clicking an already selected container would close the side bar
    if (!/\bchecked\b/.test((await item.getAttribute('class', { timeout: WAIT })) || '')) await viewIcon.click();
    // providers → keys: the key row, or its provider's row still collapsed (then expand it)
    const collapsed = page.locator('.monaco-list-row[aria-expanded="false"]', { hasText: 'Fake' }).first();
    await keyRow().or(collapsed).first().waitFor({ timeout: WAIT });
    if (!(await keyRow().isVisible())) await collapsed.click({ timeout: WAIT });
    const text = (await keyRow().innerText({ timeout: WAIT })).replace(/\s+/g, ' ');
    assert.ok(!text.includes(FAKE_KEY.slice(8, -4)), 'the tree row must not show the key');
    log('tree row:', text);
  });
  step('status bar shows 1/1 after adding the key', async () => {
    log('status:', await waitStatus('1/1', UI.statusCounts(1, 1)));
  });
  step('Copy Access Token puts the token on the clipboard', async () => {
    await page.bringToFront();
    await page.evaluate(() => navigator.clipboard.writeText('')).catch(() => {});
    await runCommand(UI.copyTokenCommand);
    // A bounded poll: the clipboard has no change event a page can listen to.
    const deadline = Date.now() + WAIT;
    while (!st.token && Date.now() < deadline) {
      st.token = (
        await page
          .evaluate(() => navigator.clipboard.readText())
          .catch((e) => {
            log('clipboard read failed:', e.message);
            return '';
          })
      ).trim();
      if (!st.token) await host.sleep(500);
    }
    assert.ok(st.token, 'no access token on the clipboard');
    assert.notStrictEqual(st.token, FAKE_KEY, 'the clipboard holds the API key instead of the access token');
  });
  step('an openai SDK request goes through the proxy with the pool key', async () => {
    const { OpenAI } = require('openai');
    const client = new OpenAI({
      apiKey: st.token,
      baseURL: `http://127.0.0.1:${proxyPort}/v1`,
      maxRetries: 0,
      timeout: 30_000,
    });
    const before = upstream.keysSeen().length;
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'ping' }],
    });
    assert.strictEqual(typeof r.choices[0].message.content, 'string');
    const seen = upstream.keysSeen().slice(before);
    assert.ok(seen.includes(FAKE_KEY), `the upstream did not see the pool key (saw ${seen.length} request(s))`);
    assert.ok(!seen.includes(st.token), 'the access token leaked upstream');
  });
  step('status bar request count rises', async () => {
    log('status:', await waitStatus('1/1 · ≥1', UI.statusCounts(1, 1, '[1-9]\\d*')));
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'tree-and-status.png') });
  });
  step('right-click → Discard Key: row discarded, status 0/1', async () => {
    await contextMenu(UI.discardMenu);
    await confirmingIfAsked(
      page
        .locator('.monaco-list-row', { hasText: `…${TAIL}` })
        .filter({ hasText: UI.discardedRow })
        .first()
        .waitFor({ timeout: WAIT }),
    );
    log('status:', await waitStatus('0/1', UI.statusCounts(0, 1)));
    await page.screenshot({ path: path.join(SHOTS, 'discarded.png') });
  });
  step('right-click → Restore Key: row active again, status 1/1', async () => {
    await contextMenu(UI.restoreMenu);
    log('status:', await confirmingIfAsked(waitStatus('1/1', UI.statusCounts(1, 1))));
    // The tree re-renders on its own, after the status bar: wait for the row to change too.
    await page
      .locator('.monaco-list-row', { hasText: `…${TAIL}` })
      .filter({ hasNotText: UI.discardedRow })
      .first()
      .waitFor({ timeout: WAIT });
    const text = (await keyRow().innerText({ timeout: WAIT })).replace(/\s+/g, ' ');
    assert.doesNotMatch(text, UI.discardedRow);
    await page.screenshot({ path: path.join(SHOTS, 'restored.png') });
  });
  compareSteps(step, { page, statusItem, qi, shots: SHOTS });
  dashboardSteps(step, {
    ...{ page, upstream, proxyPort, st, addKey, waitStatus, statusItem, qi, shots: SHOTS },
    ...{ limitedKey: LIMITED_KEY, limitedTail: LIMITED_TAIL, tail: TAIL },
  });

  for (const s of steps) {
    const t = Date.now();
    try {
      await s.fn();
      s.result = 'passed';
      log(`ok   ${s.name} (${Date.now() - t} ms)`);
    } catch (e) {
      s.result = 'failed';
      log(
        `FAIL ${s.name}: ${String((e && e.message) || e)
          .split('\n')
          .slice(0, 6)
          .join('\n')}`,
      );
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'e2e-failure.png') }).catch(() => {});
      break; // later steps build on this one
    }
  }
}

function start() {
  const hard = setTimeout(
    () => {
      log('hard TIMEOUT');
      host.killOwnBrowsers();
      host.stopCodeServer(live.cs);
      host.removeRunDirs(live.dirs);
      console.log(`0 passed, ${Math.max(steps.length, 1)} failed`);
      process.exit(124);
    },
    Number(process.env.E2E_TIMEOUT_MS || 300_000),
  );
  hard.unref();
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      console.log('0 passed, 1 failed');
      process.exit(1);
    },
  );
}

// VSHOST_NETNS=1: the copy re-run inside a loopback-only network namespace does the work
if (!host.reexecInNetns()) start();
