/* global document, HTMLCanvasElement -- frame.evaluate / waitForFunction callbacks run in the webview */
// The dashboard part of the UI E2E test (issue 17): open "KeyRelay: Open Dashboard" from the
// status bar's menu, send traffic through the proxy with one key rate-limited, and watch the
// real webview in code-server: the charts' drawn data grows on non-empty canvases, the key table
// shows the limited key's cooldown counting down, and its buttons run the tree's commands.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const host = require('../vscode-host/hostRunner.js');

const WAIT = 60_000;
const CHARTS = ['chart-rate', 'chart-outcomes', 'chart-latency', 'chart-days'];

/**
 * The webview's inner frame (the one holding our page). A poll, bounded: the workbench nests the
 * page in two iframes that attach and load on their own schedule, and no page event says "the
 * webview's document is ours now".
 */
async function dashboardFrame(page) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (await f.$('#chart-rate').catch(() => null)) return f;
    }
    await host.sleep(250);
  }
  throw new Error('no webview frame with the dashboard appeared');
}

/** Each chart's drawn total (data-total) and how many of its canvas pixels are painted. */
function chartState(frame) {
  return frame.evaluate((ids) => {
    const out = {};
    for (const id of ids) {
      const fig = document.getElementById(id);
      const canvas = fig && fig.querySelector('canvas');
      let painted = 0;
      if (canvas instanceof HTMLCanvasElement && canvas.width > 0) {
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
      }
      out[id] = { total: Number(fig && fig.dataset.total), painted };
    }
    return out;
  }, CHARTS);
}

function dashboardSteps(step, ctx) {
  const { page, upstream, proxyPort, st, addKey, waitStatus, statusItem, qi, limitedKey, limitedTail, tail, shots } =
    ctx;
  const live = {};
  const row = (t) => live.frame.locator('tbody tr', { hasText: `…${t}` }).first();

  step('a second key, which the upstream answers 429', async () => {
    upstream.limit(limitedKey);
    await addKey(limitedKey);
    log('status:', await waitStatus('2/2', /^KeyRelay 2\/2\b/));
  });
  step('Open Dashboard from the status bar menu (and the tree has it in its title bar)', async () => {
    await page
      .locator('.pane-header .action-label[aria-label^="Open Dashboard"]')
      .first()
      .waitFor({ state: 'attached', timeout: WAIT });
    await page.keyboard.press('Escape');
    await statusItem.click({ timeout: WAIT });
    await qi.waitFor({ state: 'visible', timeout: WAIT });
    await qi.fill('Open Dashboard');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'Open Dashboard' })
      .first()
      .waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    live.frame = await dashboardFrame(page);
    await row(tail).waitFor({ timeout: WAIT });
    await row(limitedTail).waitFor({ timeout: WAIT });
    live.before = await chartState(live.frame);
    log('charts before:', JSON.stringify(live.before));
  });
  step('traffic through the proxy: the charts draw more data on non-empty canvases', async () => {
    const { OpenAI } = require('openai');
    const client = new OpenAI({ apiKey: st.token, baseURL: `http://127.0.0.1:${proxyPort}/v1`, maxRetries: 0 });
    for (let i = 0; i < 6; i++) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.strictEqual(typeof r.choices[0].message.content, 'string');
    }
    assert.ok(upstream.keysSeen().includes(limitedKey), 'the limited key was never tried');
    const before = live.before;
    // The dashboard posts at most once a second: wait for the document that carries the traffic.
    await live.frame.waitForFunction(
      ([rate, outcomes]) =>
        Number(document.getElementById('chart-rate').dataset.total) > rate &&
        Number(document.getElementById('chart-outcomes').dataset.total) > outcomes,
      [before['chart-rate'].total, before['chart-outcomes'].total],
      { timeout: WAIT },
    );
    const after = await chartState(live.frame);
    log('charts after:', JSON.stringify(after));
    for (const id of CHARTS) assert.ok(after[id].painted > 0, `${id}: the canvas is empty`);
    assert.ok(after['chart-latency'].total > 0, 'no latency drawn');
    assert.ok(after['chart-days'].total > before['chart-days'].total, 'tokens per day did not grow');
  });
  step('the key table shows the limited key cooling, counting down', async () => {
    const cd = row(limitedTail).locator('.countdown').first();
    await cd.waitFor({ timeout: WAIT });
    const first = (await cd.innerText()).trim();
    assert.match(first, /gpt-4o-mini (\d+m )?\d+s/);
    assert.match(await row(limitedTail).locator('.badge').innerText(), /cooling/);
    // The countdown runs in the page between documents: it changes within a few seconds.
    await live.frame.waitForFunction(
      ([t, text]) => {
        const tr = [...document.querySelectorAll('tbody tr')].find((r) => r.textContent.includes(`…${t}`));
        const c = tr && tr.querySelector('.countdown');
        return c && c.textContent.trim() !== text;
      },
      [limitedTail, first],
      { timeout: 10_000 },
    );
    log('countdown:', first, '→', (await cd.innerText()).trim());
    const hide = page.locator('.sidebar').first();
    if (await hide.isVisible()) await page.keyboard.press('Control+B');
    await page
      .locator('.sidebar')
      .first()
      .waitFor({ state: 'hidden', timeout: 5_000 })
      .catch(() => {});
    // Toasts (a forwarded port, say) would cover the table in the picture.
    for (const clear of await page.locator('.notification-toast .codicon-notifications-clear').all())
      await clear.click({ timeout: 5_000 }).catch(() => {});
    await page
      .locator('.notification-toast')
      .first()
      .waitFor({ state: 'hidden', timeout: 5_000 })
      .catch(() => {});
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'dashboard.png') });
  });
  step("the table's Discard and Restore run the tree's commands", async () => {
    await row(tail).locator('button.discard').click({ timeout: WAIT });
    await row(tail).locator('.badge', { hasText: 'discarded' }).waitFor({ timeout: WAIT });
    await row(tail).locator('button.restore').click({ timeout: WAIT });
    await row(tail)
      .locator('.badge', { hasText: /^active$/ })
      .waitFor({ timeout: WAIT });
  });
}

const log = host.log;
module.exports = { dashboardSteps };
