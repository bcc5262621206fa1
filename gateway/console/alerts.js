// alerts.js - the Alerts page: the latest risk alerts (GET /alerts) and new
// ones as they fire (the server-sent events of GET /alerts/stream), when the
// deployment has real-time scoring. Whether it has is the API's answer: 409
// when the core has no live scoring, 404 (or 501) from an older gateway.
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
    { label: 'rank', num: true, cell: (a) => (a.rank ?? '—') },
    { label: 'model', cell: (a) => a.model || '—' },
    { label: 'watermark', num: true, cell: (a) => (a.watermark ?? '—') },
  ];
}

const RETRY_MS = 2000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function render(main, route, ctx) {
  main.append(h('h1', {}, 'Alerts'));
  let first;
  try {
    first = await api('/alerts' + qs({ limit: 100 }));
  } catch (e) {
    // 409: the core has no live scoring (it answers UNIMPLEMENTED or
    // FAILED_PRECONDITION); 404/501: a gateway or core older than alerts
    if (e instanceof ApiError && (e.status === 404 || e.status === 409 || e.status === 501)) {
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
  // the stream resumes after the newest alert shown: nothing between the page
  // and the stream is missed, nothing is shown twice
  let lastId = rows.length ? rows[0].alert_id : (first.last_id ?? null);
  const ctl = new AbortController();
  (async () => {
    while (ctx.isCurrent() && !ctl.signal.aborted) {
      let closed = null;
      try {
        state.textContent = 'live: new alerts appear as they fire';
        await stream('/alerts/stream', (name, data) => {
          if (name === 'close') {
            try { closed = JSON.parse(data).reason; } catch (e) { closed = data; }
            return;
          }
          if (name !== 'alert') return;
          let a;
          try { a = JSON.parse(data); } catch (e) { return; }
          if (lastId !== null && a.alert_id <= lastId) return;
          lastId = a.alert_id;
          rows.unshift(a);
          rows.length = Math.min(rows.length, ROWS_MAX);
          draw();
        }, ctl.signal, lastId !== null ? { 'Last-Event-ID': String(lastId) } : undefined);
      } catch (e) {
        if (!ctx.isCurrent() || ctl.signal.aborted) return;
        if (e instanceof ApiError && e.status === 503) {
          state.textContent = `the live stream is busy (${e.message}); retrying`;
          await sleep(5 * RETRY_MS);
          continue;
        }
        state.replaceWith(errorBox(e, 'Live stream'));
        return;
      }
      if (!ctx.isCurrent() || ctl.signal.aborted) return;
      state.textContent = closed ? `the live stream closed (${closed}); reconnecting…` : 'the live stream closed; reconnecting…';
      await sleep(RETRY_MS);
    }
  })();
  return () => ctl.abort();
}
