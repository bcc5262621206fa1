// charts.js - the console's two charts, drawn by uPlot (embedded from npm):
// the distribution of a run's scores (bars, log-scaled counts, since most
// wallets score 0) and one wallet's score per run.
import { h, fmtScore, fmtInt } from './ui.js';

const W = (el) => Math.max(320, Math.min(el.clientWidth || 640, 1100));

// bins: [{lo, hi, count}] of GET /runs/{id}/distribution.
export function distributionChart(el, dist) {
  const xs = dist.bins.map((b) => (b.lo + b.hi) / 2);
  const ys = dist.bins.map((b) => (b.count > 0 ? b.count : null));
  const opts = {
    width: W(el),
    height: 240,
    scales: { x: { time: false, range: () => [0, dist.max || 1] }, y: { distr: 3 } },
    axes: [
      { label: 'risk score', values: (u, v) => v.map(fmtScore) },
      { label: 'wallets (log scale)', values: (u, v) => v.map((x) => (x == null ? '' : fmtInt(x))) },
    ],
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    series: [{}, {
      label: 'wallets',
      fill: 'rgba(11, 92, 173, 0.55)',
      stroke: '#0b5cad',
      paths: uPlot.paths.bars({ size: [0.95, Infinity], align: 0 }),
      points: { show: false },
    }],
  };
  return new uPlot(opts, [xs, ys], el);
}

// entries of GET /scores/{wallet}/history (newest first): score per run, one
// line per model (their scales differ: hop is unbounded, flow is 0 to 2).
const MODEL_STYLE = {
  'hop_exposure/v1': { stroke: '#6a3d9a', label: 'hop_exposure/v1' },
  'flow_exposure/v1': { stroke: '#b3261e', label: 'flow_exposure/v1' },
};

export function historyChart(el, entries) {
  const pts = entries.filter((e) => e.score).slice().reverse();
  if (pts.length === 0) return null;
  const models = [...new Set(pts.map((e) => e.run.model))];
  const xs = pts.map((e) => e.run.run_id);
  const data = [xs, ...models.map((m) => pts.map((e) => (e.run.model === m ? e.score.risk_score : null)))];
  const opts = {
    width: W(el),
    height: 220,
    scales: { x: { time: false } },
    axes: [
      { label: 'run', values: (u, v) => v.map((x) => (Number.isInteger(x) ? '#' + x : '')) },
      { label: 'risk score', values: (u, v) => v.map(fmtScore) },
    ],
    series: [{ label: 'run', value: (u, v) => (v == null ? '' : '#' + v) }, ...models.map((m) => ({
      label: (MODEL_STYLE[m] || { label: m }).label,
      stroke: (MODEL_STYLE[m] || { stroke: '#333' }).stroke,
      width: 2,
      spanGaps: true,
      points: { show: true, size: 7 },
      value: (u, v) => (v == null ? '—' : fmtScore(v)),
    }))],
  };
  return new uPlot(opts, data, el);
}

export function chartBox(label) {
  return h('div', { class: 'chart', role: 'img', 'aria-label': label });
}
