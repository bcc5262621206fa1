// console_lib.cjs - what the console's Chromium tests share: launching
// Debian's headless Chromium through playwright-core (no browser download),
// watching a page for requests outside the gateway and JavaScript errors,
// screenshots, and hash navigation that waits for the page to be drawn.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const env = (k) => {
  if (!process.env[k]) throw new Error(k + ' is not set: run through its .py driver');
  return process.env[k];
};

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

// A fresh profile and one page at 1280 x 900; close with done().
async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'amlrisk-console-profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', args: FLAGS, headless: true, viewport: { width: 1280, height: 900 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(30000);
  const done = async () => {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, page, done };
}

// Records into st.outside the requests to anywhere but base, and into
// st.jsErrors uncaught exceptions and console.error calls, except "Failed to
// load resource" for a status listed in st.allowed; st.step names the step.
function watch(page, base, st) {
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base + '/') && !u.startsWith('data:')) st.outside.push(`${st.step}: ${u}`);
  });
  page.on('pageerror', (e) => st.jsErrors.push(`${st.step}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const t = m.text();
    const expected = st.allowed.some((s) => t.includes(`status of ${s}`));
    if (!expected) st.jsErrors.push(`${st.step}: console.error ${t}`);
  });
}

async function shot(page, out, name) {
  await page.screenshot({ path: path.join(out, name + '.png'), fullPage: true });
}

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') === 'false'
    && document.getElementById('main').dataset.page !== undefined, null, { timeout: 30000 });
}

// The text of the page's main element.
const mainText = (page) => page.locator('#main').innerText();

// Runs steps(page) in a fresh watched browser (st as for watch()) and
// reports as the CTest wrappers read it: "1 passed" once the steps are done
// with no request outside base and no JavaScript error, else the failing
// step, a screenshot "failure" under out and "1 failed" (exit code 1).
async function check(name, what, base, out, st, steps) {
  const { page, done } = await launch();
  watch(page, base, st);
  try {
    await steps(page);
    assert.deepEqual(st.outside, [], 'requests outside the gateway');
    assert.deepEqual(st.jsErrors, [], 'JavaScript errors');
    console.log(`${name}: ${what}; screenshots in ${out}`);
    console.log('1 passed, 0 failed');
  } catch (e) {
    await shot(page, out, 'failure').catch(() => {});
    console.error(`${name}: failed at step "${st.step}": ${e.stack || e}`);
    if (st.outside.length) console.error('requests outside the gateway:', st.outside);
    if (st.jsErrors.length) console.error('JavaScript errors:', st.jsErrors);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  } finally {
    await done();
  }
}

module.exports = { env, launch, watch, shot, go, mainText, check };
