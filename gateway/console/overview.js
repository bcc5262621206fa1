// overview.js - the Overview page: the latest run, the graph, ingestion (lag,
// consumers), real-time scoring's state, the distribution of the latest run's
// scores, and the two actions (reload the graph, score a run).
import { api, health, qs } from './api.js';
import { h, card, facts, fmtInt, fmtTime, fmtSecs, fmtScore, errorBox, note, actionButton, clear, modelName } from './ui.js';
import { distributionChart, chartBox } from './charts.js';

function configBlock(cfg) {
  return h('details', { class: 'config' }, h('summary', {}, 'config'), h('pre', {}, JSON.stringify(cfg, null, 2)));
}

export function runFacts(r) {
  return facts([
    ['run', h('a', { href: '#/leaderboard?run=' + r.run_id }, '#' + r.run_id)],
    ['model', modelName(r.model)],
    ['status', r.status],
    ['completed', fmtTime(r.completed_at || r.created_at)],
    ['watermark', fmtInt(r.watermark)],
    ['transactions', fmtInt(r.transactions)],
    ['wallets scored', fmtInt(r.wallets)],
    ['illicit wallets', fmtInt(r.illicit)],
    ['timings', `load ${fmtSecs(r.load_seconds)} · score ${fmtSecs(r.score_seconds)} · store ${fmtSecs(r.store_seconds)}`],
  ]);
}

function latestCard(hl) {
  const r = hl.latest_run;
  if (!r) return card('Latest run', note('No completed run yet: reload the graph and run a scoring below.'));
  return card('Latest run', runFacts(r), configBlock(r.config));
}

function graphCard(hl, ing) {
  const g = hl.graph || {};
  const behind = ing && g.loaded ? Math.max(0, ing.max_sequence - g.watermark) : null;
  return card('Graph in memory', facts([
    ['loaded', g.loaded ? 'yes' : 'no'],
    ['wallets', fmtInt(g.wallets)],
    ['edges', fmtInt(g.edges)],
    ['transactions', fmtInt(g.transactions)],
    ['watermark', fmtInt(g.watermark)],
    ['loaded at', fmtTime(g.loaded_at)],
    behind !== null ? ['behind ingestion', behind === 0 ? 'up to date' : fmtInt(behind) + ' transactions stored since the graph was loaded'] : null,
  ]));
}

function ingestionCard(ing, err) {
  if (err) return card('Ingestion', errorBox(err, 'Ingestion status'));
  const lag = ing.partitions.reduce((s, p) => s + Math.max(0, p.lag || 0), 0);
  const consumers = [...new Set(ing.partitions.map((p) => p.consumer_id))];
  return card('Ingestion', facts([
    ['transactions stored', fmtInt(ing.transactions_total)],
    ['highest sequence', fmtInt(ing.max_sequence)],
    ['consumer lag', ing.partitions.length ? fmtInt(lag) + ' messages over ' + ing.partitions.length + ' partition(s)' : 'no consumer has reported'],
    ['consumers', consumers.length ? consumers.join(', ') : '—'],
    ['consumed / inserted', fmtInt(ing.consumed) + ' / ' + fmtInt(ing.inserted)],
    ['duplicates / dead-lettered', fmtInt(ing.duplicates) + ' / ' + fmtInt(ing.dead_lettered)],
    ['last report', fmtTime(ing.updated_at)],
    ['last error', ing.last_error || 'none'],
  ]));
}

// Real-time scoring (issue 14) reports its live view in /health as "live"
// (LiveInfo); a core without it sends none. The card says how fresh the live
// view is: its watermark against the graph's and the newest committed row.
function liveCard(hl) {
  const live = hl.live;
  if (!live || live.enabled === false) {
    return card('Real-time scoring', h('div', { id: 'live-off' }, note('Real-time scoring is not enabled on this deployment (no LIVE_SCORING_CONFIG on the core): scores change when a run is made (Run scoring below).', 'muted')));
  }
  const lag = live.current ? 'current' : `${fmtInt(live.lag_rows)} rows, ${(live.lag_seconds ?? 0).toFixed(3)} s behind`;
  return card('Real-time scoring', h('div', { id: 'live-card' },
    note(live.current ? 'The live view is current with ingestion.' : 'The live view is catching up with ingestion.', live.current ? 'ok' : 'warn'),
    facts([
      ['model', modelName(live.model)],
      ['live watermark', fmtInt(live.watermark)],
      ['graph watermark', fmtInt(live.graph_watermark)],
      ['newest committed', fmtInt(live.newest_sequence)],
      ['freshness', lag],
      ['updated', fmtTime(live.updated_at)],
      ['alerts not yet published', fmtInt(live.alerts_pending)],
    ]),
    h('p', {}, h('a', { href: '#/leaderboard?run=live' }, 'the live leaderboard'), ' · ', h('a', { href: '#/alerts' }, 'alerts'))));
}

function actionsCard(refresh) {
  const out = h('div', { class: 'msg', role: 'status', 'aria-live': 'polite' });
  const model = h('select', { id: 'run-model', 'aria-label': 'model' },
    h('option', { value: '' }, 'the deployment default (SCORING_MODEL)'),
    h('option', { value: 'hop_exposure/v1' }, 'hop_exposure/v1'),
    h('option', { value: 'flow_exposure/v1' }, 'flow_exposure/v1'));
  const extra = h('textarea', { id: 'run-overrides', rows: 2, placeholder: '{"illicit_ratio": 0.01}', 'aria-label': 'config overrides (JSON)' });
  const reload = actionButton('Reload graph', async () => {
    const r = await api('/reload-graph', { method: 'POST' });
    refresh();
    return `Graph reloaded: ${fmtInt(r.wallets)} wallets, ${fmtInt(r.edges)} edges, ${fmtInt(r.transactions)} transactions up to sequence ${fmtInt(r.watermark)} in ${fmtSecs(r.elapsed_seconds)}.`;
  }, out);
  reload.id = 'reload-graph';
  const score = actionButton('Run scoring', async () => {
    let body = {};
    const text = extra.value.trim();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { throw new Error('config overrides: not JSON (' + e.message + ')'); }
    }
    if (model.value) body.model = model.value;
    const r = await api('/run-score', { method: 'POST', body: JSON.stringify(body) });
    refresh();
    return h('span', {}, 'Run ', h('a', { href: '#/leaderboard?run=' + r.run_id }, '#' + r.run_id),
      ` (${r.run.model}) ${r.status}: ${fmtInt(r.wallets_scored)} wallets, ${fmtInt(r.illicit_count)} illicit, in ${fmtSecs(r.elapsed_seconds)}.`);
  }, out);
  score.id = 'run-score';
  return card('Actions',
    h('div', { class: 'row' }, reload),
    h('div', { class: 'row' }, h('label', { for: 'run-model' }, 'Model'), model),
    h('div', { class: 'row' }, h('label', { for: 'run-overrides' }, 'Overrides'), extra, score),
    out);
}

async function distributionCard(run) {
  const box = chartBox('distribution of risk scores');
  const c = card('Score distribution' + (run ? ' of run #' + run.run_id : ''), box);
  if (!run) return { el: c, chart: null };
  const d = await api('/runs/' + run.run_id + '/distribution' + qs({ bins: 40 }));
  c.append(h('p', { class: 'muted' },
    `${fmtInt(d.wallets)} wallets, ${fmtInt(d.zero)} with score 0 (${(100 * d.zero / Math.max(1, d.wallets)).toFixed(1)}%), ` +
    `${fmtInt(d.illicit)} illicit; highest score ${fmtScore(d.max)}; ${d.bins.length} bins of width ${fmtScore(d.width)}.`));
  return { el: c, draw: () => distributionChart(box, d) };
}

// The status cards and the chart, drawn into box (replaced on each call).
async function status(box, ctx, charts) {
  const hl = await health();
  const next = h('div', {});
  if (hl.status === 'down') {
    next.append(errorBox(Object.assign(new Error(hl.detail || 'core unavailable'), { status: 503 }), 'Core', () => ctx.go('#/')));
  } else {
    let ing = null;
    let ingErr = null;
    try {
      ing = await api('/ingestion/status');
    } catch (e) {
      ingErr = e;
    }
    next.append(h('div', { class: 'cards' }, latestCard(hl), graphCard(hl, ing), ingestionCard(ing, ingErr), liveCard(hl)));
    let draw = null;
    try {
      const d = await distributionCard(hl.latest_run);
      next.append(d.el);
      draw = d.draw;
    } catch (e) {
      next.append(errorBox(e, 'Score distribution'));
    }
    if (!ctx.isCurrent()) return;
    clear(box).append(next);
    while (charts.length) charts.pop().destroy();
    if (draw) charts.push(draw());
    return;
  }
  if (ctx.isCurrent()) clear(box).append(next);
}

export async function render(main, route, ctx) {
  const charts = [];
  const box = h('div', { id: 'overview-status' });
  main.append(h('h1', {}, 'Overview'), box);
  await status(box, ctx, charts);
  main.append(actionsCard(() => status(box, ctx, charts).catch((e) => box.prepend(errorBox(e, 'Refresh')))));
  return () => { while (charts.length) charts.pop().destroy(); };
}
