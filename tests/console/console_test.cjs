// console_test.cjs - drives the console in Debian's headless Chromium with
// playwright-core (executablePath /usr/bin/chromium: no browser is
// downloaded) against the platform console_test.py started: every page shows
// its content (DOM assertions), no JavaScript error is logged, no request
// leaves the gateway, the token is asked for once, actions report their
// result, a planted launderer's page shows its illicit source among the
// contributors and in the graph, and bad input (an unknown wallet, a missing
// run, the core down) gets a clear message. Screenshots go to CONSOLE_OUT.
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const lib = require('./console_lib.cjs');

const { env, go, mainText } = lib;
const BASE = env('CONSOLE_BASE');
const OUT = env('CONSOLE_OUT');
const WALLET = env('CONSOLE_WALLET');
const SOURCES = env('CONSOLE_SOURCES').split(',');
const FLOW_RUN = env('CONSOLE_FLOW_RUN');
const HOP_RUN = env('CONSOLE_HOP_RUN');

// the current step, the error statuses it expects, what went wrong
const st = { step: 'start', allowed: [], outside: [], jsErrors: [] };
const shot = (page, name) => lib.shot(page, OUT, name);

async function run() {
  await lib.check('console_test', 'every page checked', BASE, OUT, st, async (page) => {
    // ---- the landing page links the console
    st.step = 'home';
    await page.goto(BASE + '/');
    assert.equal(await page.locator('a[href="/ui/"]').count(), 1, 'the landing page links /ui/');

    // ---- the token: asked once (reads need it), then sent with every call
    st.step = 'token';
    st.allowed = ['401'];
    await page.click('a[href="/ui/"]');
    await page.waitForSelector('#token-dialog[open]');
    await shot(page, '00-token');
    await page.fill('#token-input', env('CONSOLE_WRITE_TOKEN'));
    await page.click('#token-form button[value="save"]');
    await page.waitForSelector('#overview-status .cards');
    st.allowed = [];

    // ---- overview
    st.step = 'overview';
    let text = await mainText(page);
    for (const want of ['Latest run', `#${FLOW_RUN}`, 'flow_exposure/v1', 'Graph in memory', 'Ingestion',
      'Real-time scoring is not enabled on this deployment', 'Score distribution of run']) {
      assert.ok(text.includes(want), `overview shows "${want}"`);
    }
    assert.equal(await page.locator('#overview-status .uplot canvas').count(), 1, 'the distribution chart is drawn');
    assert.match(await page.locator('#core-status').innerText(), /core ok/);
    await shot(page, '01-overview');

    // ---- actions: a reload and a flow run with other hops, progress then result
    st.step = 'actions';
    await page.click('#reload-graph');
    await page.waitForSelector('.msg.ok:has-text("Graph reloaded")', { timeout: 60000 });
    await page.selectOption('#run-model', 'flow_exposure/v1');
    await page.fill('#run-overrides', '{"hops": 4}');
    await page.click('#run-score');
    await page.waitForSelector('.msg.info:has-text("working")', { timeout: 10000 }).catch(() => {});
    await page.waitForSelector('.msg.ok:has-text("completed")', { timeout: 120000 });
    const result = await page.locator('.msg.ok').innerText();
    const newRun = +/Run #(\d+)/.exec(result)[1];
    assert.ok(newRun > +FLOW_RUN, 'a new run was made: ' + result);
    await page.waitForFunction((r) => document.querySelector('#overview-status').innerText.includes('#' + r), newRun);
    await shot(page, '02-overview-after-run');
    // a bad override: the core's 422 is shown, not swallowed
    st.allowed = ['422'];
    await page.fill('#run-overrides', '{"hops": 40}');
    await page.click('#run-score');
    await page.waitForSelector('.msg.error:has-text("refused")');
    assert.match(await page.locator('.msg.error').first().innerText(), /hops/);
    st.allowed = [];

    // ---- leaderboard of the new run: paged, ranked against the previous flow run
    st.step = 'leaderboard';
    await go(page, '#/leaderboard');
    await page.waitForSelector('table.leaderboard');
    let rows = page.locator('table.leaderboard tbody tr');
    assert.equal(await rows.count(), 50, '50 rows a page');
    text = await mainText(page);
    assert.ok(text.includes(`Run #${newRun} (flow_exposure/v1)`), 'the latest run is shown');
    assert.ok(text.includes(`vs run #${FLOW_RUN}`), 'ranks compare with the previous flow run');
    assert.ok(text.includes('apply to the rows loaded on this page'), 'the page says sorting is per page');
    const changes = await page.locator('table.leaderboard tbody tr td:last-child').allInnerTexts();
    assert.ok(changes.every((c) => /^(=|▲ \S+|▼ \S+|new|▲ from >\S+)$/.test(c.trim())), 'every row has a rank change: ' + changes.slice(0, 5));
    await shot(page, '03-leaderboard');
    await page.click('#lb-next');
    await page.waitForFunction(() => /wallets 51–100/.test(document.querySelector('#lb-summary')?.innerText || ''));
    assert.equal((await page.locator('table.leaderboard tbody tr td:first-child').first().innerText()).trim(), '51');
    // sort the page by in-degree, descending
    await page.selectOption('#lb-sort', 'in');
    await page.waitForFunction(() => new URLSearchParams(location.hash.split('?')[1]).get('sort') === 'in');
    await page.waitForSelector('table.leaderboard');
    const ins = (await page.locator('table.leaderboard tbody tr td:nth-child(6)').allInnerTexts()).map((x) => +x.replace(/,/g, ''));
    assert.deepEqual(ins, [...ins].sort((a, b) => b - a), 'sorted by in-degree');
    // the hop run, chosen in the selector: exposures instead of the flow shares
    await page.selectOption('#lb-run', HOP_RUN);
    await page.waitForFunction((r) => (document.querySelector('#lb-summary')?.innerText || '').includes(`Run #${r} (hop_exposure/v1)`), HOP_RUN);
    assert.ok((await page.locator('table.leaderboard thead').innerText()).includes('exposures'));
    await page.fill('#lb-filter', 'w0');
    // find a wallet by id in this run
    await page.fill('#lb-find input', WALLET);
    await page.click('#lb-find button');
    await page.waitForSelector(`#lb-found :text("${WALLET}")`);
    await shot(page, '04-leaderboard-hop');

    // ---- the planted launderer: its source among the contributors and in the graph
    st.step = 'wallet';
    await go(page, '#/wallet/' + encodeURIComponent(WALLET));
    await page.waitForSelector('#explain table.contributors');
    await page.waitForSelector('#graph-illicit');
    const contributors = await page.locator('#explain table.contributors').innerText();
    const shown = SOURCES.filter((s) => contributors.includes(s));
    assert.ok(shown.length > 0, `a labelled source of its instance (${SOURCES}) is a contributor:\n${contributors}`);
    const inGraph = await page.evaluate((ss) => ss.filter((s) => window.amlrisk.graph.cy.getElementById(s).nonempty()), shown);
    assert.ok(inGraph.length > 0, 'the source is a node of the graph');
    assert.ok(await page.evaluate((s) => window.amlrisk.graph.cy.getElementById(s).hasClass('source'), inGraph[0]), 'marked as a contributing source');
    assert.ok((await page.locator('#graph-illicit').innerText()).includes(inGraph[0]), 'listed among the illicit wallets in view');
    text = await mainText(page);
    for (const want of ['Score per run', 'Per-hop breakdown', 'received R_k', 'Why: contributors', 'Neighbourhood graph', 'heaviest walk']) {
      assert.ok(text.includes(want), `the wallet page shows "${want}"`);
    }
    assert.ok(await page.locator('#explain .walk a').count() >= 2, 'walks are drawn as wallet links');
    assert.equal(await page.locator('#explain .uplot, .card .uplot').count() >= 1, true, 'the history chart is drawn');
    const hist = await page.locator('#history-summary').innerText();
    assert.match(hist, /In [1-9]\d* of the last \d+ completed runs/);
    // hover: amounts and counts of an edge, a node's score
    await page.locator('#wallet-graph').scrollIntoViewIfNeeded();
    const edgePos = await page.evaluate(() => {
      // the edge whose midpoint is farthest from every node: nothing else under the pointer
      const cy = window.amlrisk.graph.cy;
      const nodes = cy.nodes().map((n) => n.renderedPosition());
      let best = null;
      let bestD = -1;
      cy.edges().filter((x) => x.data('amount') !== undefined).forEach((e) => {
        const p = e.renderedMidpoint();
        const d = Math.min(...nodes.map((q) => Math.hypot(q.x - p.x, q.y - p.y)));
        if (d > bestD) { bestD = d; best = p; }
      });
      const r = document.getElementById('wallet-graph').getBoundingClientRect();
      return { x: r.left + best.x, y: r.top + best.y };
    });
    await page.mouse.move(edgePos.x - 20, edgePos.y - 20);
    await page.mouse.move(edgePos.x, edgePos.y, { steps: 5 });
    await page.waitForSelector('.tip:not([hidden]):has-text("transaction")');
    await shot(page, '05-wallet-launderer');
    // zoom: the wheel changes the graph's zoom
    const z0 = await page.evaluate(() => window.amlrisk.graph.cy.zoom());
    await page.mouse.move(edgePos.x + 40, edgePos.y + 40);
    await page.mouse.wheel(0, -400);
    await page.waitForFunction((z) => window.amlrisk.graph.cy.zoom() !== z, z0);
    // expand the busiest wallet at the edge of the view: its neighbours join
    const n0 = await page.evaluate(() => window.amlrisk.graph.cy.nodes().length);
    const far = await page.evaluate(() => window.amlrisk.graph.cy.nodes()
      .filter((n) => n.data('dist') === 2).sort((a, b) => (b.data('indeg') + b.data('outdeg')) - (a.data('indeg') + a.data('outdeg')))[0].id());
    await page.selectOption('#g-node', far);
    await page.click('#graph-list button:has-text("Expand")');
    await page.waitForFunction((n) => window.amlrisk.graph.cy.nodes().length > n, n0);
    // click a node: its page opens
    await page.locator('#wallet-graph').scrollIntoViewIfNeeded();
    const other = await page.evaluate((w) => {
      const n = window.amlrisk.graph.cy.nodes().filter((x) => x.id() !== w && x.data('known') !== false)[0];
      const p = n.renderedPosition();
      const r = document.getElementById('wallet-graph').getBoundingClientRect();
      return { id: n.id(), x: r.left + p.x, y: r.top + p.y };
    }, WALLET);
    await page.mouse.click(other.x, other.y);
    await page.waitForFunction((w) => decodeURIComponent(location.hash).startsWith('#/wallet/' + w), other.id);
    await page.waitForSelector('#wallet-score');
    assert.equal(await page.locator('#wallet-id').innerText(), other.id);

    // ---- a hop run's wallet page: counts per hop and shortest paths
    st.step = 'wallet-hop';
    await go(page, '#/wallet/' + encodeURIComponent(WALLET) + '?run=' + HOP_RUN);
    await page.waitForSelector('#wallet-score');
    text = await mainText(page);
    assert.ok(text.includes('illicit wallets c_k'), 'hop breakdown');
    assert.ok(text.includes(`explanation is of the latest run (#${newRun})`), 'says the explain is the latest run\'s');
    await shot(page, '06-wallet-hop-run');

    // ---- runs: the list and a comparison
    st.step = 'runs';
    await go(page, '#/runs');
    await page.waitForSelector('table.runs');
    assert.ok(await page.locator('table.runs tbody tr').count() >= 3);
    text = await mainText(page);
    assert.ok(text.includes('flow_exposure/v1') && text.includes('hop_exposure/v1'));
    // the pinned hop run (and it alone) carries the pin marker
    const pinned = await page.locator('table.runs tbody tr:has(.pin)').allInnerTexts();
    assert.equal(pinned.length, 1, 'one pinned run: ' + pinned);
    assert.ok(pinned[0].includes('#' + HOP_RUN), 'the pinned run is the hop run: ' + pinned[0]);
    await page.selectOption('#cmp-a', FLOW_RUN);
    await page.selectOption('#cmp-b', String(newRun));
    await page.fill('#cmp-n', '50');
    await page.click('#compare-form button[type=submit]');
    await page.waitForSelector('#compare-result');
    text = await page.locator('#compare-result').innerText();
    assert.match(text, /Entered the top 50 in run #\d+ \(\d+\)/);
    assert.match(text, /Left the top 50/);
    assert.match(text, /Biggest rank moves/);
    await shot(page, '07-runs');

    // ---- alerts: not enabled here, said from the API's answer
    // (the core serves ListAlerts from risk_alerts; none stored here): the
    // table's empty state and the live stream connected
    st.step = 'alerts';
    st.allowed = ['404', '409']; // 404 for the bad input below
    await go(page, '#/alerts');
    await page.waitForSelector('#alerts-table');
    assert.match(await page.locator('#alerts-table').innerText(), /No alert yet/);
    await page.waitForSelector('#alerts-state:has-text("live: new alerts appear")');
    await shot(page, '08-alerts');

    // ---- the live leaderboard asked for on a core without live scoring: said, not blank
    st.step = 'leaderboard-live-off';
    await go(page, '#/leaderboard?run=live');
    await page.waitForSelector('#lb-live-off');
    assert.match(await page.locator('#lb-live-off').innerText(), /live view is not available[\s\S]*live scoring is off/);

    // ---- bad input: an unknown wallet, a run that does not exist
    st.step = 'bad-input';
    await go(page, '#/wallet/no-such-wallet');
    await page.waitForSelector('#not-found');
    assert.match(await page.locator('#not-found').innerText(), /Unknown wallet no-such-wallet/);
    await shot(page, '09-unknown-wallet');
    await go(page, '#/wallet/' + encodeURIComponent(WALLET) + '?run=987654');
    await page.waitForSelector('#not-found');
    assert.match(await page.locator('#not-found').innerText(), /Run 987654 does not exist/);
    await go(page, '#/leaderboard?run=987654');
    await page.waitForSelector('.msg.error');
    assert.match(await mainText(page), /Run 987654[\s\S]*run 987654 not found/);
    await shot(page, '10-missing-run');
    st.allowed = [];

    // ---- keyboard: the navigation and the search box are reachable with Tab
    st.step = 'keyboard';
    await go(page, '#/');
    await page.waitForSelector('#overview-status .cards');
    const reached = new Set();
    await page.evaluate(() => document.querySelector('.skip').focus()); // the first stop
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.getAttribute('href') || document.activeElement.tagName));
    }
    for (const want of ['#/leaderboard', '#/runs', '#/alerts', 'wallet-search-input', 'token-button']) {
      assert.ok(reached.has(want), `Tab reaches ${want}: ${[...reached]}`);
    }
    // readable at 1280 px: nothing wider than the window
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll at 1280 px');
    await page.setViewportSize({ width: 1366, height: 768 });
    await go(page, '#/wallet/' + encodeURIComponent(WALLET));
    await page.waitForSelector('#graph-illicit');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll at 1366 px');
    await page.screenshot({ path: path.join(OUT, '11-wallet-laptop.png') });

    // ---- the core down: a clear message, not a blank page
    st.step = 'core-down';
    st.allowed = ['503'];
    process.kill(+env('CONSOLE_CORE_PID'), 'SIGTERM');
    await page.waitForFunction(async (b) => (await fetch(b + '/health')).status === 503, BASE, { polling: 200, timeout: 60000 });
    await go(page, '#/');
    await page.waitForSelector('.msg.error');
    assert.match(await mainText(page), /core server is down or unreachable|Core: /);
    await go(page, '#/wallet/' + encodeURIComponent(WALLET));
    await page.waitForSelector('.msg.error');
    assert.match(await mainText(page), /The core server is down or unreachable/);
    await page.waitForFunction(() => /core down/.test(document.getElementById('core-status').innerText), null, { timeout: 15000 });
    await shot(page, '12-core-down');
    st.allowed = [];
  });
}

run();
