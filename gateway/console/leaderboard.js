// leaderboard.js - the Leaderboard: a run's wallets in rank order, a page at a
// time (GET /scores/top?offset=&n=&compare=previous), each with its rank
// change against the previous run of the same model, sortable within the
// loaded page, filtered by text, and an exact wallet lookup.
import { api, qs, seg, health, ApiError } from './api.js';
import { h, clear, table, fmtScore, fmtInt, fmtShare, walletLink, illicitBadge, errorBox, note, isFlow, modelName } from './ui.js';

const SIZES = [25, 50, 100, 250];

function rankChange(row, rank, cap) {
  if (row.compare_rank === undefined) return '—';
  if (row.compare_rank === null) return h('span', { class: 'new', title: 'not in the previous run' }, 'new');
  if (row.compare_rank > cap) return h('span', { class: 'up', title: `ranked beyond ${fmtInt(cap)} before` }, `▲ from >${fmtInt(cap)}`);
  const d = row.compare_rank - rank;
  if (d === 0) return h('span', { class: 'same', title: 'same rank' }, '=');
  return d > 0 ? h('span', { class: 'up', title: `was #${fmtInt(row.compare_rank)}` }, '▲ ' + fmtInt(d))
    : h('span', { class: 'down', title: `was #${fmtInt(row.compare_rank)}` }, '▼ ' + fmtInt(-d));
}

const SORTS = {
  rank: { label: 'rank', key: (r) => r._rank, asc: true },
  score: { label: 'risk score', key: (r) => r.risk_score ?? -Infinity },
  exposures: { label: 'exposures', key: (r) => r.exposures ?? -1 },
  received: { label: 'received exposure', key: (r) => r.received_exposure ?? -1 },
  sent: { label: 'sent exposure', key: (r) => r.sent_exposure ?? -1 },
  in: { label: 'in-degree', key: (r) => r.in_degree },
  out: { label: 'out-degree', key: (r) => r.out_degree },
  change: { label: 'rank change', key: (r) => (r.compare_rank ? r.compare_rank - r._rank : r.compare_rank === null ? 1e12 : -1e12) },
};

function runLabel(r) {
  return `#${r.run_id} · ${modelName(r.model)} · ${fmtInt(r.wallets)} wallets · ${(r.completed_at || r.created_at || '').slice(0, 19).replace('T', ' ')}`;
}

export async function render(main, route, ctx) {
  const p = route.params;
  const size = SIZES.includes(+p.get('size')) ? +p.get('size') : 50;
  const page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
  const sort = SORTS[p.get('sort')] ? p.get('sort') : 'rank';
  const desc = p.get('dir') ? p.get('dir') === 'desc' : !SORTS[sort].asc;
  main.append(h('h1', {}, 'Leaderboard'));

  const [hl, runs] = await Promise.all([health(), api('/runs' + qs({ limit: 100 }))]);
  const completed = runs.runs.filter((r) => r.status === 'completed');
  const latest = hl.latest_run ? hl.latest_run.run_id : completed.length ? completed[0].run_id : null;
  const live = hl.live && hl.live.enabled !== false;
  const runParam = p.get('run') || (latest ? String(latest) : '');
  if (!runParam) {
    main.append(note('No completed run yet: make one on the Overview page.'));
    return null;
  }
  const set = (changes) => {
    const q = new URLSearchParams(p);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') q.delete(k);
      else q.set(k, v);
    }
    ctx.go('#/leaderboard?' + q.toString());
  };

  // controls
  const runSel = h('select', { id: 'lb-run', 'aria-label': 'run' },
    live ? h('option', { value: 'live', selected: runParam === 'live' }, 'the live view (real-time scoring)') : null,
    completed.map((r) => h('option', { value: r.run_id, selected: String(r.run_id) === runParam }, runLabel(r) + (r.run_id === latest ? ' (latest)' : ''))));
  if (runParam !== 'live' && !completed.some((r) => String(r.run_id) === runParam)) {
    runSel.prepend(h('option', { value: runParam, selected: true }, '#' + runParam));
  }
  runSel.addEventListener('change', () => set({ run: runSel.value, page: null }));
  const sizeSel = h('select', { id: 'lb-size', 'aria-label': 'rows per page' }, SIZES.map((s) => h('option', { value: s, selected: s === size }, s + ' a page')));
  sizeSel.addEventListener('change', () => set({ size: sizeSel.value, page: null }));
  const sortSel = h('select', { id: 'lb-sort', 'aria-label': 'sort the page by' }, Object.entries(SORTS).map(([k, s]) => h('option', { value: k, selected: k === sort }, s.label)));
  sortSel.addEventListener('change', () => set({ sort: sortSel.value, dir: null }));
  const dirBtn = h('button', { type: 'button', class: 'ghost', id: 'lb-dir', title: 'reverse the order' }, desc ? '↓ descending' : '↑ ascending');
  dirBtn.addEventListener('click', () => set({ dir: desc ? 'asc' : 'desc' }));
  const filter = h('input', { id: 'lb-filter', type: 'search', placeholder: 'filter this page by wallet id', value: p.get('q') || '', 'aria-label': 'filter this page by wallet id' });
  const find = h('form', { class: 'inline', id: 'lb-find' },
    h('input', { name: 'w', placeholder: 'exact wallet id', 'aria-label': 'find a wallet in this run', required: true }),
    h('button', { type: 'submit' }, 'Find in run'));
  const found = h('div', { id: 'lb-found' });
  main.append(h('div', { class: 'toolbar' },
    h('label', { for: 'lb-run' }, 'Run'), runSel, sizeSel,
    h('label', { for: 'lb-sort' }, 'Sort page by'), sortSel, dirBtn), h('div', { class: 'toolbar' }, filter, find), found);

  const out = h('div', { id: 'lb-table' });
  main.append(out);
  const offset = (page - 1) * size;
  let top;
  try {
    top = await api('/scores/top' + qs(runParam === 'live' ? { view: 'live', n: size, offset }
      : { run_id: runParam, n: size, offset, compare: 'previous' }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      out.append(errorBox(e, `Run ${runParam}`), note('Choose another run above.'));
      return null;
    }
    if (e instanceof ApiError && e.status === 409 && runParam === 'live') {
      out.append(h('div', { id: 'lb-live-off' }, note(`The live view is not available: ${e.message}. Choose a run above.`, 'muted')));
      return null;
    }
    throw e;
  }
  const isLive = runParam === 'live';
  const rows = top.scores.map((r, i) => Object.assign({ _rank: offset + i + 1 }, r));
  const flow = rows.some(isFlow) || (isLive ? (top.live || {}).model : (completed.find((r) => r.run_id === top.run_id) || {}).model) === 'flow_exposure/v1';
  const pages = Math.max(1, Math.ceil((top.total || 0) / size));
  const cmp = top.compare_run_id;
  find.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const w = find.elements.w.value.trim();
    clear(found);
    try {
      const s = await api('/scores/' + seg(w) + qs(isLive ? { view: 'live' } : { run_id: top.run_id }));
      const where = isLive ? ` in the live view (watermark ${fmtInt(s.watermark)})` : ` in run #${top.run_id}`;
      found.append(note(h('span', {}, walletLink(w, isLive ? undefined : top.run_id), `${where}: risk score ${fmtScore(s.risk_score)}`, s.is_illicit ? ' (illicit)' : '')));
    } catch (e) {
      found.append(errorBox(e, `Wallet ${w}`));
    }
  });

  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const key = SORTS[sort].key;
    const shown = rows.filter((r) => !q || r.wallet.toLowerCase().includes(q))
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a._rank - b._rank) * (desc ? -1 : 1));
    const sortHead = (k, label) => {
      const b = h('button', { type: 'button', class: 'th-sort' + (k === sort ? ' on' : ''), title: 'sort this page by ' + SORTS[k].label }, label, k === sort ? (desc ? ' ↓' : ' ↑') : '');
      b.addEventListener('click', () => set({ sort: k, dir: k === sort ? (desc ? 'asc' : 'desc') : null }));
      return b;
    };
    const cols = [
      { label: 'rank', head: sortHead('rank', '#'), num: true, cell: (r) => fmtInt(r._rank) },
      { label: 'wallet', cell: (r) => [walletLink(r.wallet, isLive ? undefined : top.run_id), ' ', illicitBadge(r.is_illicit)] },
      { label: 'score', head: sortHead('score', 'risk score'), num: true, cell: (r) => fmtScore(r.risk_score) },
      ...(flow ? [
        { label: 'received', head: sortHead('received', 'received'), num: true, cell: (r) => fmtShare(r.received_exposure) },
        { label: 'sent', head: sortHead('sent', 'sent'), num: true, cell: (r) => fmtShare(r.sent_exposure) },
      ] : [{ label: 'exposures', head: sortHead('exposures', 'exposures'), num: true, cell: (r) => fmtInt(r.exposures) }]),
      { label: 'in', head: sortHead('in', 'in'), num: true, cell: (r) => fmtInt(r.in_degree) },
      { label: 'out', head: sortHead('out', 'out'), num: true, cell: (r) => fmtInt(r.out_degree) },
      { label: 'change', head: sortHead('change', cmp ? `vs run #${cmp}` : 'rank change'), num: true, cell: (r) => rankChange(r, r._rank, top.compare_rank_cap) },
    ];
    clear(out).append(
      h('p', { class: 'muted', id: 'lb-summary' },
        isLive ? `The live view (${flow ? 'flow_exposure/v1' : 'hop_exposure/v1'}) at watermark ${fmtInt(top.watermark)}${top.live && !top.live.current ? ` (${fmtInt(top.live.lag_rows)} rows behind ingestion)` : ''}: `
          : `Run #${top.run_id} (${flow ? 'flow_exposure/v1' : 'hop_exposure/v1'}): `,
        `wallets ${fmtInt(offset + 1)}–${fmtInt(offset + rows.length)} of ${fmtInt(top.total)}. `,
        isLive ? 'The live view follows ingestion; reload the page for its newest state. '
          : cmp ? `Rank change against run #${cmp}, the previous run of the same model. ` : 'No earlier run of this model to compare ranks with. ',
        'Sorting and the filter apply to the rows loaded on this page; the ranks are the run\'s.'),
      shown.length ? table(cols, shown, { class: 'leaderboard', rowClass: (r) => (r.is_illicit ? 'illicit' : null) })
        : note(rows.length ? 'No wallet on this page matches the filter.' : 'This page is past the end of the run.'),
      h('nav', { class: 'pager', 'aria-label': 'pages' },
        h('button', { type: 'button', id: 'lb-prev', disabled: page <= 1, onclick: () => set({ page: page - 1 }) }, '← previous'),
        h('span', {}, ` page ${fmtInt(page)} of ${fmtInt(pages)} `),
        h('button', { type: 'button', id: 'lb-next', disabled: page >= pages, onclick: () => set({ page: page + 1 }) }, 'next →')));
  };
  filter.addEventListener('input', draw);
  draw();
  return null;
}
