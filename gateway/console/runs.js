// runs.js - the Runs page: every stored run with its config and timings (paged
// with before_id, pinned runs marked), and a comparison of two runs: the wallets that entered or
// left the top N, and the biggest rank moves (GET /scores/top with compare=).
import { api, qs } from './api.js';
import { h, table, fmtInt, fmtSecs, fmtScore, walletLink, errorBox, note, modelName } from './ui.js';

// A pinned run (amlctl runs pin ID) is never pruned by retention: marked.
function pinMark(r) {
  return r.pinned ? h('span', { class: 'pin', title: 'pinned: never pruned', 'aria-label': 'pinned' }, '📌 ') : null;
}

function compareForm(completed, p, ctx) {
  const pick = (name, sel) => h('select', { id: 'cmp-' + name, name, 'aria-label': name === 'a' ? 'earlier run' : 'later run' },
    completed.map((r) => h('option', { value: r.run_id, selected: String(r.run_id) === sel }, `#${r.run_id} · ${modelName(r.model)}`)));
  const a = p.get('a') || (completed[1] ? String(completed[1].run_id) : '');
  const b = p.get('b') || (completed[0] ? String(completed[0].run_id) : '');
  const form = h('form', { class: 'toolbar', id: 'compare-form' },
    h('label', { for: 'cmp-a' }, 'Compare run'), pick('a', a),
    h('label', { for: 'cmp-b' }, 'with run'), pick('b', b),
    h('label', { for: 'cmp-n' }, 'top'),
    h('input', { id: 'cmp-n', name: 'n', type: 'number', min: 1, max: 1000, value: p.get('n') || 100 }),
    h('button', { type: 'submit' }, 'Compare'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.go('#/runs?' + new URLSearchParams({ a: form.elements.a.value, b: form.elements.b.value, n: form.elements.n.value }).toString());
  });
  return form;
}

async function comparison(a, b, n, byId) {
  const [tb, ta] = await Promise.all([
    api('/scores/top' + qs({ run_id: b, n, compare: a })),
    api('/scores/top' + qs({ run_id: a, n, compare: b })),
  ]);
  const inTop = (rank) => rank !== null && rank !== undefined && rank <= n;
  const entered = tb.scores.map((r, i) => Object.assign({ rank: i + 1 }, r)).filter((r) => !inTop(r.compare_rank));
  const left = ta.scores.map((r, i) => Object.assign({ rank: i + 1 }, r)).filter((r) => !inTop(r.compare_rank));
  const moves = tb.scores.map((r, i) => Object.assign({ rank: i + 1 }, r))
    .filter((r) => r.compare_rank !== null && r.compare_rank <= tb.compare_rank_cap && r.compare_rank !== r.rank)
    .sort((x, y) => Math.abs(y.compare_rank - y.rank) - Math.abs(x.compare_rank - x.rank)).slice(0, 20);
  const before = (r) => (r.compare_rank === null ? 'not in the run' : r.compare_rank > tb.compare_rank_cap ? `beyond ${fmtInt(tb.compare_rank_cap)}` : '#' + fmtInt(r.compare_rank));
  const after = (r) => (r.compare_rank === null ? 'not in the run' : r.compare_rank > ta.compare_rank_cap ? `beyond ${fmtInt(ta.compare_rank_cap)}` : '#' + fmtInt(r.compare_rank));
  const out = h('div', { id: 'compare-result' });
  const ma = modelName((byId.get(+a) || {}).model);
  const mb = modelName((byId.get(+b) || {}).model);
  if (ma !== mb) out.append(note(`Run #${a} is ${ma} and run #${b} is ${mb}: their scores are on different scales, only the ranks compare.`, 'warn'));
  out.append(
    h('h3', {}, `Entered the top ${n} in run #${b} (${entered.length})`),
    entered.length ? table([
      { label: `rank in #${b}`, num: true, cell: (r) => '#' + r.rank },
      { label: 'wallet', cell: (r) => walletLink(r.wallet, b) },
      { label: 'score', num: true, cell: (r) => fmtScore(r.risk_score) },
      { label: `rank in #${a}`, num: true, cell: before },
    ], entered, { class: 'entered' }) : note('None.'),
    h('h3', {}, `Left the top ${n} (in run #${a}'s, not in run #${b}'s) (${left.length})`),
    left.length ? table([
      { label: `rank in #${a}`, num: true, cell: (r) => '#' + r.rank },
      { label: 'wallet', cell: (r) => walletLink(r.wallet, a) },
      { label: 'score', num: true, cell: (r) => fmtScore(r.risk_score) },
      { label: `rank in #${b}`, num: true, cell: after },
    ], left, { class: 'left' }) : note('None.'),
    h('h3', {}, `Biggest rank moves within run #${b}'s top ${n}`),
    moves.length ? table([
      { label: 'wallet', cell: (r) => walletLink(r.wallet, b) },
      { label: `rank in #${a}`, num: true, cell: (r) => '#' + fmtInt(r.compare_rank) },
      { label: `rank in #${b}`, num: true, cell: (r) => '#' + fmtInt(r.rank) },
      { label: 'move', num: true, cell: (r) => (r.compare_rank > r.rank ? '▲ ' : '▼ ') + fmtInt(Math.abs(r.compare_rank - r.rank)) },
    ], moves, { class: 'moves' }) : note('No wallet of the top changed rank.'));
  return out;
}

export async function render(main, route, ctx) {
  const p = route.params;
  const before = p.get('before') || '';
  main.append(h('h1', {}, 'Runs'));
  const list = await api('/runs' + qs({ limit: 50, before_id: before }));
  const all = before ? (await api('/runs' + qs({ limit: 100 }))).runs : list.runs;
  const completed = all.filter((r) => r.status === 'completed');
  const byId = new Map(all.map((r) => [r.run_id, r]));

  const cmpCard = h('section', { class: 'card' }, h('h2', {}, 'Compare two runs'));
  main.append(cmpCard);
  if (completed.length < 2) cmpCard.append(note('Two completed runs are needed for a comparison.'));
  else {
    cmpCard.append(compareForm(completed, p, ctx));
    if (p.get('a') && p.get('b')) {
      const n = Math.max(1, Math.min(1000, parseInt(p.get('n'), 10) || 100));
      try {
        cmpCard.append(await comparison(p.get('a'), p.get('b'), n, byId));
      } catch (e) {
        cmpCard.append(errorBox(e, 'Comparison'));
      }
    }
  }

  const cols = [
    { label: 'run', num: true, cell: (r) => [pinMark(r), r.status === 'completed' ? h('a', { href: '#/leaderboard?run=' + r.run_id }, '#' + r.run_id) : '#' + r.run_id] },
    { label: 'status', cell: (r) => h('span', { class: 'status ' + r.status }, r.status, r.error ? ': ' + r.error : '') },
    { label: 'model', cell: (r) => modelName(r.model) },
    { label: 'completed', cell: (r) => (r.completed_at || r.created_at || '').slice(0, 19).replace('T', ' ') },
    { label: 'watermark', num: true, cell: (r) => fmtInt(r.watermark) },
    { label: 'transactions', num: true, cell: (r) => fmtInt(r.transactions) },
    { label: 'wallets', num: true, cell: (r) => fmtInt(r.wallets) },
    { label: 'illicit', num: true, cell: (r) => fmtInt(r.illicit) },
    { label: 'load / score / store', num: true, cell: (r) => `${fmtSecs(r.load_seconds)} / ${fmtSecs(r.score_seconds)} / ${fmtSecs(r.store_seconds)}` },
    { label: 'config', cell: (r) => h('details', {}, h('summary', {}, 'show'), h('pre', {}, JSON.stringify(r.config, null, 2))) },
  ];
  const runsCard = h('section', { class: 'card', id: 'runs-list' }, h('h2', {}, 'Stored runs'));
  main.append(runsCard);
  if (list.runs.length === 0) runsCard.append(note('No run stored yet.'));
  else runsCard.append(table(cols, list.runs, { class: 'runs' }));
  runsCard.append(h('nav', { class: 'pager' },
    before ? h('a', { href: '#/runs' }, '← newest runs') : null, ' ',
    list.next_before_id ? h('a', { href: '#/runs?before=' + list.next_before_id, id: 'runs-older' }, 'older runs →') : null));
  return null;
}
