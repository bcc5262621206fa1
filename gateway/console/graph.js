// graph.js - the wallet's neighbourhood as an interactive graph (cytoscape.js,
// embedded from npm): nodes coloured by risk (illicit wallets red diamonds),
// edges as wide as their value and pointing the way the money went; click a
// node to open it, right-click or Shift+click (or the Expand button) to add
// its own neighbourhood, hover for amounts and counts, wheel/drag to zoom and
// pan. Walks of the explain's contributors are drawn over it.
import { api, seg, qs } from './api.js';
import { h, clear, fmtScore, fmtAmount, fmtInt, errorBox } from './ui.js';

// Colour from white-ish to deep orange by t in [0, 1].
function riskColour(t) {
  const x = Math.max(0, Math.min(1, t));
  const r = Math.round(255 - 20 * x), g = Math.round(240 - 170 * x), b = Math.round(200 - 170 * x);
  return `rgb(${r},${g},${b})`;
}

const STYLE = [
  { selector: 'node', style: {
    'background-color': 'data(colour)', 'border-color': '#6b7785', 'border-width': 1,
    label: 'data(short)', 'font-size': 9, color: '#1d2733', 'text-valign': 'bottom', 'text-margin-y': 3,
    width: 'data(size)', height: 'data(size)' } },
  { selector: 'node.illicit', style: { 'background-color': '#c62828', shape: 'diamond', 'border-color': '#5c0000', 'border-width': 2 } },
  { selector: 'node.centre', style: { 'border-color': '#0b5cad', 'border-width': 4 } },
  { selector: 'node.source', style: { 'outline-color': '#c62828', 'outline-width': 3, 'font-weight': 'bold' } },
  { selector: 'node.outside', style: { 'border-style': 'dashed', 'background-opacity': 0.6 } },
  { selector: 'node:selected', style: { 'border-color': '#111', 'border-width': 4 } },
  { selector: 'edge', style: {
    width: 'data(w)', 'line-color': '#9aa5b1', 'target-arrow-color': '#9aa5b1', 'target-arrow-shape': 'triangle',
    'curve-style': 'bezier', 'arrow-scale': 0.9, opacity: 0.85 } },
  { selector: 'edge.walk', style: { 'line-color': '#c62828', 'target-arrow-color': '#c62828', opacity: 1 } },
  { selector: 'edge.walkonly', style: { 'line-style': 'dashed', width: 2 } },
];

export class WalletGraph {
  // el: the container; centre: the wallet; model: the run's model (colour scale).
  constructor(el, centre, model, onOpen) {
    this.el = el;
    this.centre = centre;
    this.model = model;
    this.onOpen = onOpen;
    this.truncated = false;
    this.maxScore = 0;
    this.tip = h('div', { class: 'tip', role: 'tooltip', hidden: true });
    el.appendChild(this.tip);
    this.cy = cytoscape({ container: el, style: STYLE, wheelSensitivity: 0.3, minZoom: 0.1, maxZoom: 4 });
    window.amlrisk = Object.assign(window.amlrisk || {}, { graph: this });
    this.cy.on('tap', 'node', (ev) => {
      if (ev.originalEvent && ev.originalEvent.shiftKey) this.expand(ev.target.id());
      else this.onOpen(ev.target.id());
    });
    this.cy.on('cxttap', 'node', (ev) => this.expand(ev.target.id()));
    this.cy.on('mouseover', 'node', (ev) => this.showTip(ev, this.nodeTip(ev.target)));
    this.cy.on('mouseover', 'edge', (ev) => this.showTip(ev, this.edgeTip(ev.target)));
    this.cy.on('mouseout', 'node, edge', () => { this.tip.hidden = true; });
  }

  destroy() {
    this.cy.destroy();
  }

  scale(score) {
    const top = this.model === 'flow_exposure/v1' ? 2 : this.maxScore || 1;
    return score / top;
  }

  // Merges a GET /graph/wallet answer into the view.
  add(g) {
    this.truncated = this.truncated || g.truncated;
    for (const n of g.nodes) this.maxScore = Math.max(this.maxScore, n.risk_score || 0);
    const els = [];
    for (const n of g.nodes) {
      const have = this.cy.getElementById(n.wallet);
      if (have.nonempty()) {
        have.removeClass('outside');
        have.data(Object.assign(have.data(), { score: n.risk_score, indeg: n.in_degree, outdeg: n.out_degree, illicit: n.is_illicit, known: true }));
        continue;
      }
      els.push({ group: 'nodes', data: {
        id: n.wallet, short: n.wallet.length > 14 ? n.wallet.slice(0, 12) + '…' : n.wallet,
        score: n.risk_score, illicit: n.is_illicit, indeg: n.in_degree, outdeg: n.out_degree, known: true,
        size: n.wallet === this.centre ? 34 : 22, dist: g.center === this.centre ? n.distance : 9,
      }, classes: (n.is_illicit ? 'illicit ' : '') + (n.wallet === this.centre ? 'centre' : '') });
    }
    const maxAmt = Math.max(1, ...g.edges.map((e) => e.total_amount || 0), ...this.cy.edges().map((e) => e.data('amount') || 0));
    for (const e of g.edges) {
      const id = e.sender + '\u2192' + e.receiver;
      const have = this.cy.getElementById(id);
      if (have.nonempty()) {
        have.data('amount', e.total_amount);
        have.data('count', e.tx_count);
        have.removeClass('walkonly');
        continue;
      }
      els.push({ group: 'edges', data: { id, source: e.sender, target: e.receiver, amount: e.total_amount, count: e.tx_count, w: 1 } });
    }
    this.cy.add(els);
    this.restyle(maxAmt);
  }

  restyle(maxAmt) {
    const top = Math.log1p(maxAmt || 1);
    this.cy.edges().forEach((e) => {
      if (e.data('amount') !== undefined) e.data('w', 1 + 7 * Math.log1p(e.data('amount') || 0) / top);
    });
    this.cy.nodes().forEach((n) => n.data('colour', riskColour(this.scale(n.data('score') || 0))));
  }

  // Draws the contributors' walks (arrays of wallets, in the money's direction)
  // and marks their sources; wallets of a walk outside the view are added.
  walks(walks, sources) {
    const els = [];
    for (const walk of walks) {
      for (const w of walk) {
        if (this.cy.getElementById(w).empty() && !els.some((x) => x.data.id === w)) {
          els.push({ group: 'nodes', data: { id: w, short: w.length > 14 ? w.slice(0, 12) + '…' : w, size: 22, colour: '#eee', known: false }, classes: 'outside' });
        }
      }
    }
    this.cy.add(els);
    for (const walk of walks) {
      for (let i = 0; i + 1 < walk.length; i++) {
        const id = walk[i] + '\u2192' + walk[i + 1];
        let e = this.cy.getElementById(id);
        if (e.empty()) e = this.cy.add({ group: 'edges', data: { id, source: walk[i], target: walk[i + 1], w: 2 }, classes: 'walkonly' });
        e.addClass('walk');
      }
    }
    for (const s of sources) {
      const n = this.cy.getElementById(s);
      n.addClass('source');
      if (n.data('known') === false) n.addClass('illicit');
    }
  }

  layout() {
    const centre = this.centre;
    this.cy.layout({
      name: 'concentric', animate: false, minNodeSpacing: 18,
      concentric: (n) => (n.id() === centre ? 100 : n.hasClass('outside') ? 1 : 100 - (n.data('dist') || 0) * 10 - (n.degree() > 3 ? 0 : 1)),
      levelWidth: () => 1,
    }).run();
    this.cy.fit(undefined, 24);
  }

  async expand(wallet) {
    try {
      const g = await api('/graph/wallet/' + seg(wallet) + qs({ hops: 1, node_limit: 60, edge_limit: 200 }));
      this.add(g);
      this.layout();
      this.el.dispatchEvent(new CustomEvent('graphchange'));
    } catch (e) {
      this.el.parentNode.insertBefore(errorBox(e, 'Expand ' + wallet), this.el);
    }
  }

  showTip(ev, text) {
    const p = ev.renderedPosition || ev.target.renderedMidpoint();
    clear(this.tip).append(...text.map((t) => h('div', {}, t)));
    this.tip.style.left = Math.round(p.x + 12) + 'px';
    this.tip.style.top = Math.round(p.y + 12) + 'px';
    this.tip.hidden = false;
  }

  nodeTip(n) {
    const d = n.data();
    if (d.known === false) return [d.id, 'on a contributor\'s walk, outside the neighbourhood shown', 'right-click to expand'];
    return [d.id, `risk score ${fmtScore(d.score)}${d.illicit ? ' · illicit' : ''}`,
      `in-degree ${fmtInt(d.indeg)} · out-degree ${fmtInt(d.outdeg)}`, 'click: open · right-click or Shift+click: expand'];
  }

  edgeTip(e) {
    const d = e.data();
    const head = `${d.source} \u2192 ${d.target}`;
    if (d.amount === undefined) return [head, 'a step of a contributor\'s heaviest walk (expand a node for its amounts)'];
    return [head, `total ${fmtAmount(d.amount)} in ${fmtInt(d.count)} transaction${d.count === 1 ? '' : 's'}`];
  }

  // Wallets in the view, for the keyboard list beside the graph.
  nodes() {
    return this.cy.nodes().map((n) => n.data()).sort((a, b) => (b.score || 0) - (a.score || 0));
  }
}

export function graphLegend(model) {
  return h('p', { class: 'legend' },
    h('span', { class: 'key', style: 'background:' + riskColour(0.05) }), ' low risk ',
    h('span', { class: 'key', style: 'background:' + riskColour(1) }), model === 'flow_exposure/v1' ? ' score 2 ' : ' highest in view ',
    h('span', { class: 'key diamond' }), ' illicit ',
    h('span', { class: 'key walk' }), ' a contributor\'s walk · edge width: value · arrows: direction of the money');
}
