// ui.js - small DOM and formatting helpers shared by the pages. Every piece of
// data reaches the page as text nodes (h() never parses HTML), so a wallet id
// can hold any characters.
import { ApiError } from './api.js';

// h('div', {class: 'x', onclick: fn}, child, ...): children are nodes, strings
// or arrays of them; null/false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const isFlow = (row) => row && row.model === 'flow_exposure/v1';
export const modelName = (m) => m || 'hop_exposure/v1';

export function fmtScore(v) {
  if (v === null || v === undefined) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.001 ? v.toExponential(3) : v.toPrecision(4).replace(/\.?0+$/, '');
}

export function fmtShare(v) {
  if (v === null || v === undefined) return '—';
  return (v * 100).toFixed(v >= 0.1 ? 1 : 2) + '%';
}

export function fmtInt(v) {
  return v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US');
}

export function fmtAmount(v) {
  if (v === null || v === undefined) return '—';
  return Number(v).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

export function fmtSecs(v) {
  if (v === null || v === undefined) return '—';
  return v < 1 ? (v * 1000).toFixed(0) + ' ms' : v.toFixed(2) + ' s';
}

// An RFC 3339 time as local date and time, with how long ago.
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }) + ' (' + ago(d) + ')';
}

export function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 0) return 'just now';
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  if (s < 129600) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' days ago';
}

export function walletHref(w, run) {
  return '#/wallet/' + encodeURIComponent(w) + (run ? '?run=' + run : '');
}

export function walletLink(w, run) {
  return h('a', { href: walletHref(w, run), class: 'wallet', title: w }, w);
}

export function illicitBadge(flag) {
  return flag ? h('span', { class: 'badge bad' }, 'illicit') : null;
}

// A key/value grid: pairs of [label, value node or text].
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

// The page-level message for a failed call: what happened in words an analyst
// can act on, and the gateway's detail.
export function errorBox(err, what, retry) {
  let title = 'Something went wrong';
  let hint = '';
  const status = err instanceof ApiError ? err.status : -1;
  if (status === 0) {
    title = 'The gateway is not answering';
    hint = 'Check that amlrisk-gateway is running, then retry.';
  } else if (status === 503) {
    title = 'The core server is down or unreachable';
    hint = 'The gateway is up but cannot reach amlrisk-core; data shows again once the core is back.';
  } else if (status === 504) {
    title = 'The core did not answer in time';
    hint = 'It may be busy with a reload or a run; retry in a moment.';
  } else if (status === 401) {
    title = 'A token is needed';
    hint = 'Enter the API token (Token button, top right).';
  } else if (status === 404) {
    title = 'Not found';
  } else if (status === 422) {
    title = 'The request was refused';
  }
  return h('div', { class: 'msg error', role: 'alert', 'data-status': status },
    h('strong', {}, what ? `${what}: ${title}` : title),
    h('p', {}, err && err.message ? err.message : String(err)),
    hint ? h('p', { class: 'muted' }, hint) : null,
    retry ? h('button', { type: 'button', onclick: retry }, 'Retry') : null);
}

export function note(text, kind) {
  return h('div', { class: 'msg ' + (kind || 'info'), role: 'status' }, text);
}

// A table: columns [{key, label, cell(row) -> node|text, num}], rows.
export function table(columns, rows, opts = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.head || c.label)));
  const body = rows.map((r, i) => h('tr', { class: opts.rowClass ? opts.rowClass(r) : null },
    columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r, i)))));
  return h('table', { class: 'grid' + (opts.class ? ' ' + opts.class : '') },
    opts.caption ? h('caption', {}, opts.caption) : null, h('thead', {}, head), h('tbody', {}, body));
}

// A button that runs an async action, shows it is busy and its elapsed time,
// and reports the result or the error in out.
export function actionButton(label, run, out) {
  const btn = h('button', { type: 'button' }, label);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    const t0 = performance.now();
    const tick = () => {
      clear(out).append(h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        ` ${label}: working… ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };
    tick();
    out.className = 'msg info';
    const timer = setInterval(tick, 200);
    try {
      const res = await run();
      clearInterval(timer);
      out.className = 'msg ok';
      clear(out).append(res);
    } catch (e) {
      clearInterval(timer);
      out.className = '';
      clear(out).append(errorBox(e, label));
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}
