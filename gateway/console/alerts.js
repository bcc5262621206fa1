// alerts.js - the Alerts page: the latest risk alerts (GET /alerts) and new
// ones as they fire (the server-sent events of GET /alerts/stream), when the
// deployment has real-time scoring. Whether it has is the API's answer: a
// gateway without alerts answers 404 (or 501) for GET /alerts.
import { api, qs, stream, ApiError } from './api.js';
import { h, clear, table, fmtScore, fmtTime, walletLink, errorBox, note } from './ui.js';

const ROWS_MAX = 500;

function alertList(body) {
  if (Array.isArray(body)) return body;
  return (body && (body.alerts || body.items)) || [];
}

function columns() {
  return [
    { label: 'time', cell: (a) => fmtTime(a.time || a.created_at || a.fired_at) },
    { label: 'wallet', cell: (a) => (a.wallet ? walletLink(a.wallet) : '—') },
    { label: 'rule', cell: (a) => (typeof a.rule === 'object' && a.rule ? JSON.stringify(a.rule) : a.rule || '—') },
    { label: 'score', num: true, cell: (a) => fmtScore(a.score ?? a.risk_score) },
    { label: 'previous', num: true, cell: (a) => fmtScore(a.previous_score) },
    { label: 'model', cell: (a) => a.model || '—' },
    { label: 'watermark', num: true, cell: (a) => (a.watermark ?? '—') },
  ];
}

export async function render(main, route, ctx) {
  main.append(h('h1', {}, 'Alerts'));
  let first;
  try {
    first = await api('/alerts' + qs({ limit: 100 }));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 501)) {
      main.append(h('div', { class: 'msg muted', id: 'alerts-off', role: 'status' },
        h('strong', {}, 'Real-time alerts are not enabled on this deployment.'),
        h('p', {}, `The gateway answered ${e.status} for GET /alerts (${e.message}). Alerts fire when real-time scoring runs (LIVE_SCORING_CONFIG and alert rules on the core); until then risk changes show run by run on the Leaderboard.`)));
      return null;
    }
    throw e;
  }
  const rows = alertList(first).slice(0, ROWS_MAX);
  const state = h('p', { id: 'alerts-state', role: 'status', 'aria-live': 'polite', class: 'muted' }, 'connecting to the live stream…');
  const box = h('div', { id: 'alerts-table' });
  main.append(state, box);
  const draw = () => clear(box).append(rows.length ? table(columns(), rows, { class: 'alerts' }) : note('No alert yet.'));
  draw();
  const ctl = new AbortController();
  (async () => {
    try {
      state.textContent = 'live: new alerts appear as they fire';
      await stream('/alerts/stream', (name, data) => {
        let a;
        try { a = JSON.parse(data); } catch (e) { return; }
        if (name !== 'message' && name !== 'alert') return;
        rows.unshift(a);
        rows.length = Math.min(rows.length, ROWS_MAX);
        draw();
      }, ctl.signal);
      if (ctx.isCurrent()) state.textContent = 'the live stream closed; reload the page to reconnect';
    } catch (e) {
      if (ctx.isCurrent()) state.replaceWith(errorBox(e, 'Live stream'));
    }
  })();
  return () => ctl.abort();
}
