/* global document -- frame.waitForFunction callbacks run in the webview */
// The Compare Models part of the UI E2E test (issue 15): open "KeyRelay: Compare Models" from the
// status bar's menu, type a prompt and two model ids in the real webview, press Run, and watch
// both columns fill with the fake upstream's answer, each with its timings and the key used.
'use strict';
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const host = require('../vscode-host/hostRunner.js');

const WAIT = 60_000;
const MODELS = ['fake/gpt-4o', 'fake/gpt-4o-mini'];

/** The webview's inner frame holding our page: a bounded poll (see dashboardSteps.js for why). */
async function compareFrame(page) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    for (const f of page.frames()) {
      if (await f.$('#typed-models').catch(() => null)) return f;
    }
    await host.sleep(250);
  }
  throw new Error('no webview frame with Compare Models appeared');
}

function compareSteps(step, ctx) {
  const { page, statusItem, qi, shots } = ctx;
  const live = {};

  step('Compare Models from the status bar menu opens the webview', async () => {
    await page.keyboard.press('Escape');
    await statusItem.click({ timeout: WAIT });
    await qi.waitFor({ state: 'visible', timeout: WAIT });
    await qi.fill('Compare Models');
    await page
      .locator('.quick-input-list .monaco-list-row', { hasText: 'Compare Models' })
      .first()
      .waitFor({ timeout: WAIT });
    await page.keyboard.press('Enter');
    live.frame = await compareFrame(page);
  });
  step('a prompt and two models, Run: both columns fill, with timings and the key used', async () => {
    const f = live.frame;
    // Only the two typed ids: untick whatever the model list offered.
    for (const box of await f.locator('#models input[type=checkbox]:checked').all()) await box.uncheck();
    await f.locator('#prompt').fill('Say hello');
    await f.locator('#typed-models').fill(MODELS.join(', '));
    await f.locator('#run').click({ timeout: WAIT });
    await f.waitForFunction(
      (n) => {
        const done = [...document.querySelectorAll('.column')].filter(
          (c) => c.dataset.state === 'ok' && c.querySelector('.output').textContent.trim() !== '',
        );
        return done.length === n;
      },
      MODELS.length,
      { timeout: WAIT },
    );
    const columns = await f.locator('.column').all();
    assert.strictEqual(columns.length, MODELS.length);
    for (const [i, c] of columns.entries()) {
      assert.strictEqual(await c.locator('h2').innerText(), MODELS[i]);
      const meta = await c.locator('.meta').innerText();
      assert.match(meta, /first token \d+ ms · total \d+ ms/);
      assert.match(meta, /key .+ \(\S*…\w{2,4}\)/);
      log(`column ${MODELS[i]}:`, (await c.locator('.output').innerText()).slice(0, 60), '|', meta);
    }
    assert.match(await f.locator('#status').innerText(), /2 answered, 0 failed/);
    fs.mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'compare-models.png') });
  });
}

const log = host.log;
module.exports = { compareSteps };
