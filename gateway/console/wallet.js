// wallet.js - the Wallet page: the wallet's score in the chosen run (the
// latest by default), its score per run over time, the per-hop breakdown for
// either model, the explain's contributors with their walks, and the
// interactive graph of its neighbourhood with those walks drawn over it.
import { api, qs, seg, ApiError } from './api.js';
import { h, clear, card, facts, table, fmtScore, fmtShare, fmtInt, fmtTime, walletLink, illicitBadge, errorBox, note, isFlow } from './ui.js';
import { historyChart, chartBox } from './charts.js';
import { WalletGraph, graphLegend } from './graph.js';

const walkChips = (walk) => h('span', { class: 'walk' }, walk.map((w, i) => [i ? h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → ') : null, walletLink(w)]));

function scoreFacts(s, run) {
  const flow = isFlow(s);
  return facts([
    ['risk score', h('strong', { class: 'big', id: 'wallet-score' }, fmtScore(s.risk_score))],
    ['run', h('a', { href: '#/leaderboard?run=' + s.run_id }, '#' + s.run_id)],
    ['model', flow ? 'flow_exposure/v1' : 'hop_exposure/v1'],
    flow ? ['received exposure', fmtShare(s.received_exposure) + ' of the value it received traces back to illicit wallets'] : ['exposures', fmtInt(s.exposures) + ' illicit wallets within reach'],
    flow ? ['sent exposure', fmtShare(s.sent_exposure) + ' of the value it sent ends up with illicit wallets'] : null,
    ['in-degree / out-degree', fmtInt(s.in_degree) + ' / ' + fmtInt(s.out_degree)],
    ['illicit', s.is_illicit ? h('span', { class: 'badge bad' }, 'yes: in the run\'s illicit set') : 'no'],
    run ? ['run completed', fmtTime(run.completed_at)] : null,
  ]);
}

// Per-hop: hop c_k with weights (and the explain's contribution when there),
// flow R_k and S_k as shares.
function hopsTable(s, ex) {
  if (isFlow(s)) {
    return table([
      { label: 'hop', num: true, cell: (r) => r.hop },
      { label: 'received R_k', num: true, cell: (r) => fmtShare(r.received) },
      { label: 'sent S_k', num: true, cell: (r) => fmtShare(r.sent) },
      { label: '', cell: (r) => h('span', { class: 'bar' }, h('span', { class: 'in', style: `width:${(50 * r.received).toFixed(1)}%` }), h('span', { class: 'out', style: `width:${(50 * r.sent).toFixed(1)}%` })) },
    ], s.hops, { caption: 'Share of the value received from / sent to illicit wallets within k hops (the score uses hop K, the last).', class: 'hops' });
  }
  const contrib = new Map((ex && ex.hops ? ex.hops : []).map((x) => [x.hop, x]));
  return table([
    { label: 'hop', num: true, cell: (r) => r.hop },
    { label: 'weight', num: true, cell: (r) => fmtScore(r.weight) },
    { label: 'illicit wallets c_k', num: true, cell: (r) => fmtInt(r.illicit_count) },
    { label: 'contribution', num: true, cell: (r) => (contrib.has(r.hop) ? fmtScore(contrib.get(r.hop).contribution) : '—') },
  ], s.hops, { caption: 'Illicit wallets counted at each hop, weighted and divided by the normaliser.', class: 'hops' });
}

function explainFlow(ex) {
  const parts = [];
  parts.push(h('p', {}, `The score ${fmtScore(ex.risk_score)} is made of ${ex.contributors.length} listed illicit source(s)` +
    (ex.others > 1e-12 ? ` and ${fmtScore(ex.others)} from others` : '') + '.'));
  if (ex.capped) parts.push(note('The tracing stopped at its work bound: the listed parts are those of the walks traced; the rest is under "others".', 'warn'));
  if (ex.truncated) parts.push(note('More sources contributed than are listed: their part is under "others".', 'warn'));
  if (ex.contributors.length === 0) parts.push(note('No illicit source contributes to this wallet\'s score.'));
  else {
    parts.push(table([
      { label: 'illicit source', cell: (c) => walletLink(c.source) },
      { label: 'side', cell: (c) => (c.side === 'received' ? 'money it received' : 'money it sent') },
      { label: 'contribution', num: true, cell: (c) => fmtScore(c.contribution) },
      { label: 'heaviest walk (direction of the money)', cell: (c) => walkChips(c.walk) },
      { label: 'walk weight', num: true, cell: (c) => fmtShare(c.walk_weight) },
    ], ex.contributors, { class: 'contributors' }));
  }
  return parts;
}

function explainHop(ex) {
  const parts = [h('p', {}, `Normaliser ${fmtScore(ex.normaliser)} (square root of the number of counterparties).`)];
  const rows = [];
  for (const hp of ex.hops) for (const s of hp.sources) rows.push(Object.assign({ hop: hp.hop }, s));
  if (ex.hops.some((x) => x.truncated)) parts.push(note('Some hops have more illicit wallets than are listed.', 'warn'));
  if (rows.length === 0) parts.push(note('No illicit wallet within reach.'));
  else {
    parts.push(table([
      { label: 'hop', num: true, cell: (r) => r.hop },
      { label: 'illicit wallet', cell: (r) => walletLink(r.wallet) },
      { label: 'reached', cell: (r) => r.direction },
      { label: 'a shortest path', cell: (r) => walkChips(r.path) },
    ], rows, { class: 'contributors' }));
  }
  return parts;
}

// The walks of the explain, in the money's direction, and their sources.
function explainWalks(ex) {
  if (ex.contributors) return { walks: ex.contributors.map((c) => c.walk), sources: ex.contributors.map((c) => c.source) };
  const walks = [];
  const sources = [];
  for (const hp of ex.hops || []) for (const s of hp.sources) { walks.push(s.path); sources.push(s.wallet); }
  return { walks, sources };
}

// Edges asked for: enough that every wallet kept keeps its links (hubs make
// dense neighbourhoods), within the core's bound of 10000.
const edgeLimit = (nodes) => Math.min(10000, nodes * 50);

async function graphSection(section, wallet, model, ex, ctx, opts) {
  const controls = h('form', { class: 'toolbar', id: 'graph-controls' },
    h('label', { for: 'g-hops' }, 'Hops'),
    h('select', { id: 'g-hops', name: 'hops' }, [1, 2, 3].map((n) => h('option', { value: n, selected: n === opts.hops }, n))),
    h('label', { for: 'g-nodes' }, 'Nodes at most'),
    h('select', { id: 'g-nodes', name: 'nodes' }, [50, 100, 200, 500].map((n) => h('option', { value: n, selected: n === opts.nodes }, n))),
    h('button', { type: 'submit' }, 'Redraw'));
  const box = h('div', { class: 'graph', id: 'wallet-graph', tabindex: '0', 'aria-label': 'neighbourhood graph; the wallet list below it has the same nodes' });
  const info = h('div', { id: 'graph-info' });
  const list = h('div', { id: 'graph-list' });
  section.append(controls, graphLegend(model), info, box, list);
  const g = await api('/graph/wallet/' + seg(wallet) + qs({ hops: opts.hops, node_limit: opts.nodes, edge_limit: edgeLimit(opts.nodes) }));
  if (!ctx.isCurrent()) return null;
  const view = new WalletGraph(box, wallet, model, (w) => ctx.go('#/wallet/' + encodeURIComponent(w)));
  view.add(g);
  const wk = ex ? explainWalks(ex) : { walks: [], sources: [] };
  view.walks(wk.walks, wk.sources);
  view.layout();
  const every = h('input', { type: 'checkbox', id: 'g-every' });
  every.addEventListener('change', () => {
    view.every = every.checked;
    view.drawEdges();
    view.layout();
    describe();
  });
  const describe = () => {
    const c = view.edgeCounts();
    clear(info).append(
      g.truncated ? note(`This neighbourhood is larger than the API's limits asked here (${opts.nodes} wallets, ${edgeLimit(opts.nodes)} edges within ${opts.hops} hops): the closest, illicit and riskiest wallets are kept. Raise "Nodes at most", or expand a wallet.`, 'warn') : null,
      h('p', { class: 'muted' }, `${fmtInt(view.cy.nodes().length)} wallets; ${fmtInt(c.drawn)} of their ${fmtInt(c.all)} edges drawn` +
        (view.every ? '. ' : ' (every edge of this wallet, for each other wallet its heaviest link towards this one, then the heaviest others). '),
        h('label', {}, every, ' draw every edge'), '. Click a wallet to open it; right-click or Shift+click to expand it; hover for amounts and counts; scroll to zoom, drag to pan.'));
    const sel = h('select', { id: 'g-node', 'aria-label': 'a wallet of the graph' }, view.nodes().map((n) => h('option', { value: n.id }, `${n.id} · score ${fmtScore(n.score)}${n.illicit ? ' · illicit' : ''}${n.known === false ? ' · on a walk' : ''}`)));
    const illicit = view.nodes().filter((n) => n.illicit || view.cy.getElementById(n.id).hasClass('illicit'));
    clear(list).append(h('div', { class: 'toolbar' }, h('label', { for: 'g-node' }, 'Wallet in view'), sel,
      h('button', { type: 'button', onclick: () => ctx.go('#/wallet/' + encodeURIComponent(sel.value)) }, 'Open'),
      h('button', { type: 'button', onclick: () => view.expand(sel.value) }, 'Expand')),
    h('p', { id: 'graph-illicit' }, illicit.length ? ['Illicit wallets in view: ', illicit.map((n, i) => [i ? ', ' : '', walletLink(n.id)])] : 'No illicit wallet in view.'));
  };
  describe();
  box.addEventListener('graphchange', describe);
  controls.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams(location.hash.split('?')[1] || '');
    q.set('hops', controls.elements.hops.value);
    q.set('nodes', controls.elements.nodes.value);
    ctx.go('#/wallet/' + encodeURIComponent(wallet) + '?' + q.toString());
  });
  return view;
}

export async function render(main, route, ctx) {
  const wallet = route.rest.join('/');
  const runParam = route.params.get('run') || '';
  const opts = {
    hops: [1, 2, 3].includes(+route.params.get('hops')) ? +route.params.get('hops') : 2,
    nodes: [50, 100, 200, 500].includes(+route.params.get('nodes')) ? +route.params.get('nodes') : 100,
  };
  main.append(h('h1', { class: 'wallet-title' }, 'Wallet ', h('code', { id: 'wallet-id' }, wallet)));
  if (!wallet) {
    main.append(note('Give a wallet id in the search box above.'));
    return null;
  }
  let s;
  try {
    s = await api('/scores/' + seg(wallet) + qs({ run_id: runParam }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      const what = /run \d+ not found/.test(e.message) ? `Run ${runParam} does not exist` : `Unknown wallet ${wallet}`;
      main.append(h('div', { class: 'msg error', role: 'alert', id: 'not-found' }, h('strong', {}, what), h('p', {}, e.message),
        h('p', { class: 'muted' }, runParam ? 'Try the latest run (drop ?run=) or another wallet.' : 'No completed run scored this wallet: check the id, or whether its transactions have been ingested and a run made since.')));
      return null;
    }
    throw e;
  }
  if (s.is_illicit) main.querySelector('h1').append(' ', illicitBadge(true));
  const [runInfo, hist, ex] = await Promise.all([
    api('/runs/' + s.run_id).catch(() => null),
    api('/scores/' + seg(wallet) + '/history' + qs({ limit: 50 })).catch((e) => e),
    api('/scores/explain/' + seg(wallet) + qs({ max_sources: 10 })).catch((e) => e),
  ]);
  if (!ctx.isCurrent()) return null;
  const explainOk = !(ex instanceof Error) && ex.run_id === s.run_id;
  let drawHist = null;
  let chart = null;
  let view = null;

  const top = h('div', { class: 'cards' });
  main.append(top);
  top.append(card('Score', scoreFacts(s, runInfo)));

  const histCard = card('Score per run');
  top.append(histCard);
  if (hist instanceof Error) histCard.append(errorBox(hist, 'History'));
  else {
    const box = chartBox('risk score per run');
    histCard.append(box, h('p', { class: 'muted', id: 'history-summary' },
      `In ${hist.found} of the last ${hist.entries.length} completed runs` + (hist.next_before_run_id ? ' (older runs not shown)' : '') + '.'));
    drawHist = () => historyChart(box, hist.entries);
  }

  main.append(card('Per-hop breakdown', hopsTable(s, explainOk ? ex : null)));
  const exCard = card('Why: contributors');
  exCard.id = 'explain';
  main.append(exCard);
  if (ex instanceof Error) exCard.append(errorBox(ex, 'Explain'));
  else if (!explainOk) exCard.append(note(`The explanation is of the latest run (#${ex.run_id}); this page shows run #${s.run_id}. Open the latest run's page for its contributors.`, 'warn'));
  else exCard.append(...(isFlow(s) ? explainFlow(ex) : explainHop(ex)));

  const gCard = card('Neighbourhood graph');
  gCard.id = 'graph';
  main.append(gCard);
  if (s.run_id !== (explainOk ? ex.run_id : s.run_id)) gCard.append(note('The graph is the latest run\'s.', 'warn'));
  if (drawHist) chart = drawHist();
  try {
    view = await graphSection(gCard, wallet, isFlow(s) ? 'flow_exposure/v1' : 'hop_exposure/v1', explainOk ? ex : null, ctx, opts);
  } catch (e) {
    gCard.append(errorBox(e, 'Graph'));
  }
  return () => {
    if (chart) chart.destroy();
    if (view) view.destroy();
  };
}
