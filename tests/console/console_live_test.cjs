// console_live_test.cjs - the console with real-time scoring on, in Debian's
// headless Chromium against the platform console_live_test.py started: the
// overview's live-view card shows the live watermark and its freshness as the
// API reports them, the live leaderboard shows the live scores and the
// watermark they reflect, and the alerts page lists alerts and shows a new one
// that the SSE stream delivers without a reload; no JavaScript error, no
// request outside the gateway. Screenshots go to CONSOLE_OUT.
'use strict';
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const lib = require('./console_lib.cjs');

const { env, go, mainText } = lib;
const BASE = env('CONSOLE_BASE');
const OUT = env('CONSOLE_OUT');
const TOKEN = env('CONSOLE_WRITE_TOKEN');
const HOT = env('CONSOLE_HOT'); // the fresh wallet the push makes risky
const TOP = env('CONSOLE_TOP'); // the live view's first wallet before the push
const WATERMARK = +env('CONSOLE_WATERMARK'); // the live watermark before the push
const PUSH = JSON.parse(env('CONSOLE_PUSH')); // the command that publishes the push

const st = { step: 'start', allowed: [], outside: [], jsErrors: [] };
const shot = (page, name) => lib.shot(page, OUT, name);
const digits = (s) => +String(s).replace(/[^0-9]/g, '');

// GET path from the gateway with the token, as JSON (from node, not the page)
async function get(path) {
  const r = await fetch(BASE + path, { headers: { Authorization: 'Bearer ' + TOKEN } });
  assert.equal(r.status, 200, `GET ${path}`);
  return r.json();
}

// The value cell next to the label cell `label` in the live card.
async function liveField(page, label) {
  return page.evaluate((l) => {
    const cells = [...document.querySelectorAll('#live-card dt, #live-card th, #live-card td, #live-card dd')];
    const i = cells.findIndex((c) => c.innerText.trim() === l);
    return i >= 0 && cells[i + 1] ? cells[i + 1].innerText.trim() : null;
  }, label);
}

async function run() {
  await lib.check('console_live_test', 'live pages checked', BASE, OUT, st, async (page) => {
    // ---- the token, as in console_test
    st.step = 'token';
    st.allowed = ['401'];
    await page.goto(BASE + '/ui/');
    await page.waitForSelector('#token-dialog[open]');
    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[value="save"]');
    await page.waitForSelector('#overview-status .cards');
    st.allowed = [];

    // ---- overview: the live view's card, its freshness as /health says
    st.step = 'overview';
    await page.waitForSelector('#live-card');
    const hl = await get('/health');
    const card = await page.locator('#live-card').innerText();
    assert.ok(card.includes('The live view is current with ingestion.'), 'the card says the view is current:\n' + card);
    assert.equal(digits(await liveField(page, 'live watermark')), hl.live.watermark, 'live watermark as /health');
    assert.equal(digits(await liveField(page, 'live watermark')), WATERMARK, 'the watermark of the first batch');
    assert.equal(digits(await liveField(page, 'graph watermark')), hl.live.graph_watermark);
    assert.equal(digits(await liveField(page, 'newest committed')), hl.live.newest_sequence);
    assert.equal(await liveField(page, 'freshness'), 'current');
    assert.match(await liveField(page, 'model'), /flow_exposure\/v1/);
    assert.ok(!(await mainText(page)).includes('Real-time scoring is not enabled'), 'no "not enabled" note');
    await lib.shot(page, OUT, '01-live-overview');

    // ---- the live leaderboard: the live scores and their watermark
    st.step = 'leaderboard-live';
    await go(page, '#/leaderboard?run=live');
    await page.waitForSelector('table.leaderboard');
    const top = await get('/scores/top?view=live&n=50');
    let summary = await page.locator('#lb-summary').innerText();
    assert.ok(summary.includes(`The live view (flow_exposure/v1) at watermark ${WATERMARK.toLocaleString('en-US')}:`),
      'the watermark is shown: ' + summary);
    assert.ok(summary.includes('follows ingestion'), summary);
    assert.equal(top.scores[0].wallet, TOP);
    const firstRow = page.locator('table.leaderboard tbody tr').first();
    assert.ok((await firstRow.innerText()).includes(TOP), 'the first row is the live view\'s first wallet');
    const wallets = await page.locator('table.leaderboard tbody tr td:nth-child(2)').allInnerTexts();
    assert.deepEqual(wallets.map((w) => w.replace(/\s*illicit\s*$/, '').trim()), top.scores.map((s) => s.wallet),
      'the rows are the live view\'s top 50, in order');
    assert.equal(await page.locator('#lb-run').inputValue(), 'live');
    await shot(page, '02-live-leaderboard');

    // ---- alerts: listed, then a new one through the stream, no reload
    st.step = 'alerts';
    await go(page, '#/alerts');
    await page.waitForSelector('#alerts-table');
    await page.waitForSelector('#alerts-state:has-text("live: new alerts appear")');
    const listed = await get('/alerts?limit=100');
    const rowsBefore = await page.locator('#alerts-table tbody tr').count();
    assert.equal(rowsBefore, listed.alerts.length, 'the page lists the alerts GET /alerts has');
    assert.ok(!(await page.locator('#alerts-table').innerText()).includes(HOT), 'no alert for the fresh wallet yet');
    await shot(page, '03-alerts-before');
    await page.evaluate(() => { window.__notReloaded = true; });
    execFileSync(PUSH[0], PUSH.slice(1), { stdio: 'inherit', timeout: 60000 });
    await page.waitForSelector(`#alerts-table tbody tr:has-text("${HOT}")`, { timeout: 90000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
    const row = await page.locator(`#alerts-table tbody tr:has-text("${HOT}")`).first().innerText();
    assert.match(row, /threshold|top/, 'the row names its rule: ' + row);
    await shot(page, '04-alerts-new-via-sse');

    // ---- the live leaderboard after the push: a newer watermark, the wallet ranked
    st.step = 'leaderboard-after';
    await go(page, '#/leaderboard?run=live');
    await page.waitForSelector('table.leaderboard');
    summary = await page.locator('#lb-summary').innerText();
    assert.ok(digits(/at watermark ([\d,]+)/.exec(summary)[1]) > WATERMARK, 'the watermark moved: ' + summary);
    assert.ok((await page.locator('table.leaderboard').innerText()).includes(HOT), 'the pushed wallet is ranked');
    await shot(page, '05-live-leaderboard-after');

    // ---- the alerts page opened afresh lists what GET /alerts has, the new one first
    st.step = 'alerts-listed';
    await go(page, '#/alerts');
    await page.waitForSelector('#alerts-table table.alerts');
    const after = await get('/alerts?limit=100');
    assert.ok(after.alerts.some((x) => x.wallet === HOT), 'GET /alerts has the new alert');
    const listedWallets = await page.locator('#alerts-table tbody tr td:nth-child(2)').allInnerTexts();
    assert.deepEqual(listedWallets.map((w) => w.trim()), after.alerts.map((x) => x.wallet), 'the page lists GET /alerts');
    await shot(page, '06-alerts-listed');
  });
}

run();
