// app.js - the console's shell: hash routing to the pages, the token dialog,
// the core status in the header, and the wallet search box. Each page is a
// module exporting render(main, params, ctx) that fills main and may return a
// cleanup function (timers, streams, charts).
import { setToken, token, health } from './api.js';
import { clear, errorBox, h } from './ui.js';
import * as overview from './overview.js';
import * as leaderboard from './leaderboard.js';
import * as wallet from './wallet.js';
import * as runs from './runs.js';
import * as alerts from './alerts.js';

const main = document.getElementById('main');
const statusEl = document.getElementById('core-status');
const dialog = document.getElementById('token-dialog');
let cleanup = null;
let renderSeq = 0;

// #/path?query -> {page, rest, params}
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  return { page: parts[0] || 'overview', rest: parts.slice(1).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}

const PAGES = { overview, leaderboard, wallet, runs, alerts };

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const seq = ++renderSeq;
  const r = parseHash();
  if (cleanup) {
    try { cleanup(); } catch (e) { /* the old page is gone anyway */ }
    cleanup = null;
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.toggleAttribute('aria-current', a.dataset.nav === r.page);
  }
  const page = PAGES[r.page];
  clear(main);
  if (!page) {
    main.append(errorBox(new Error(`no page "${r.page}"`), 'Unknown page'));
    return;
  }
  main.dataset.page = r.page;
  main.setAttribute('aria-busy', 'true');
  try {
    const c = await page.render(main, r, { go, isCurrent: () => seq === renderSeq });
    if (seq === renderSeq) cleanup = typeof c === 'function' ? c : null;
    else if (typeof c === 'function') c();
  } catch (e) {
    if (seq === renderSeq) main.append(errorBox(e, 'This page could not be shown', route));
  } finally {
    if (seq === renderSeq) main.setAttribute('aria-busy', 'false');
  }
}

// The header's core status, refreshed every 10 s.
async function pollStatus() {
  try {
    const hl = await health();
    const ok = hl.status === 'ok';
    statusEl.textContent = hl.status === 'down' ? 'core down' : ok ? 'core ok' : 'core ' + hl.status;
    statusEl.className = 'pill ' + (ok ? 'good' : 'bad');
    statusEl.title = hl.detail || hl.database_error || '';
  } catch (e) {
    statusEl.textContent = e.status === 0 ? 'gateway down' : e.status === 401 ? 'token needed' : 'status unknown';
    statusEl.className = 'pill bad';
    statusEl.title = e.message;
  }
}

function askToken(why) {
  document.getElementById('token-why').textContent = why ||
    'This deployment needs a bearer token (AML_READ_TOKEN or AML_API_TOKEN) for its data.';
  document.getElementById('token-input').value = token();
  if (!dialog.open) dialog.showModal();
}

dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') setToken(document.getElementById('token-input').value.trim());
  else if (dialog.returnValue === 'clear') setToken('');
  if (dialog.returnValue === 'save' || dialog.returnValue === 'clear') {
    route();
    pollStatus();
  }
});

window.addEventListener('amlrisk:auth', (ev) => {
  askToken(token() ? 'The gateway refused the token (' + ev.detail.message + '). Enter the right one.'
    : 'This deployment needs a bearer token for ' + ev.detail.path.split('?')[0] + '.');
});

document.getElementById('token-button').addEventListener('click', () => askToken(token() ? 'A token is set for this tab.' : ''));
document.getElementById('wallet-search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = document.getElementById('wallet-search-input');
  const w = input.value.trim();
  if (w) go('#/wallet/' + encodeURIComponent(w));
});

window.addEventListener('hashchange', route);
window.addEventListener('unhandledrejection', (ev) => {
  // every page handles its own errors; show a stray one instead of losing it
  ev.preventDefault();
  main.prepend(errorBox(ev.reason, 'Unexpected error'));
});
window.amlrisk = Object.assign(window.amlrisk || {}, { go });
route();
pollStatus();
setInterval(pollStatus, 10000);
