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

// The edges of a neighbourhood worth drawing: every edge of the centre, for
// every other wallet its heaviest edge towards a wallet nearer the centre (so
// each is linked), then the heaviest of the rest up to max. A neighbourhood
// of 100 wallets has hundreds of edges; all of them at once is a hairball.
function readableEdges(g, max) {
  const dist = new Map(g.nodes.map((n) => [n.wallet, n.distance]));
  const order = g.edges.map((e, i) => i).sort((x, y) => (g.edges[y].total_amount || 0) - (g.edges[x].total_amount || 0));
  const keep = new Set();
  const link = new Map();
  for (const i of order) {
    const e = g.edges[i];
    if (e.sender === g.center || e.receiver === g.center) {
      keep.add(i);
      continue;
    }
    for (const [a, b] of [[e.sender, e.receiver], [e.receiver, e.sender]]) {
      if (dist.get(b) < dist.get(a) && !link.has(a)) link.set(a, i);
    }
  }
  for (const i of link.values()) keep.add(i);
  for (const i of order) {
    if (keep.size >= max) break;
    keep.add(i);
  }
  return [...keep].map((i) => g.edges[i]);
}

const short = (w) => (w.length > 14 ? w.slice(0, 12) + '…' : w);

export class WalletGraph {
  // el: the container; centre: the wallet; model: the run's model (colour scale).
  constructor(el, centre, model, onOpen) {
    this.el = el;
    this.centre = centre;
    this.model = model;
    this.onOpen = onOpen;
    this.graphs = []; // every GET /graph/wallet answer merged in
    this.walkList = [];
    this.sourceList = [];
    this.every = false; // draw every edge, not the readable subset
    this.truncated = false;
    this.maxScore = 0;
    this.tip = h('div', { class: 'tip', role: 'tooltip', hidden: true });
    el.appendChild(this.tip);
    this.cy = cytoscape({ container: el, style: STYLE, minZoom: 0.1, maxZoom: 4 });
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
    this.graphs.push(g);
    this.truncated = this.truncated || g.truncated;
    for (const n of g.nodes) this.maxScore = Math.max(this.maxScore, n.risk_score || 0);
    for (const n of g.nodes) {
      const data = { score: n.risk_score, illicit: n.is_illicit, indeg: n.in_degree, outdeg: n.out_degree, known: true };
      if (g.center === this.centre) data.dist = n.distance; /* hops from this page's wallet */
      const have = this.cy.getElementById(n.wallet);
      if (have.nonempty()) {
        have.removeClass('outside');
        if (n.is_illicit) have.addClass('illicit');
        have.data(Object.assign(have.data(), data));
        continue;
      }
      this.cy.add({ group: 'nodes', data: Object.assign({ id: n.wallet, short: short(n.wallet), size: n.wallet === this.centre ? 34 : 22 }, data),
        classes: (n.is_illicit ? 'illicit ' : '') + (n.wallet === this.centre ? 'centre' : '') });
    }
    this.drawEdges();
  }

  // (Re)draws the edges of every answer merged in, then the walks over them.
  drawEdges() {
    this.cy.edges().remove();
    const els = [];
    const seen = new Set();
    for (const g of this.graphs) {
      for (const e of this.every ? g.edges : readableEdges(g, 2 * g.nodes.length)) {
        const id = e.sender + '\u2192' + e.receiver;
        if (seen.has(id)) continue;
        seen.add(id);
        els.push({ group: 'edges', data: { id, source: e.sender, target: e.receiver, amount: e.total_amount, count: e.tx_count, w: 1 } });
      }
    }
    this.cy.add(els);
    this.drawWalks();
    this.restyle();
  }

  // Edges of the answers merged in: drawn, and in all.
  edgeCounts() {
    const all = new Set();
    for (const g of this.graphs) for (const e of g.edges) all.add(e.sender + '\u2192' + e.receiver);
    return { drawn: this.cy.edges().filter((e) => e.data('amount') !== undefined).length, all: all.size };
  }

  restyle() {
    const amounts = this.cy.edges().map((e) => e.data('amount') || 0);
    const top = Math.log1p(Math.max(1, ...amounts));
    this.cy.edges().forEach((e) => {
      if (e.data('amount') !== undefined) e.data('w', 1 + 7 * Math.log1p(e.data('amount') || 0) / top);
    });
    this.cy.nodes().forEach((n) => n.data('colour', n.data('known') === false ? '#eeeeee' : riskColour(this.scale(n.data('score') || 0))));
  }

  // Draws the contributors' walks (arrays of wallets, in the money's direction)
  // and marks their sources; wallets of a walk outside the view are added.
  walks(walks, sources) {
    this.walkList = walks;
    this.sourceList = sources;
    this.drawWalks();
    this.restyle();
  }

  drawWalks() {
    for (const walk of this.walkList) {
      for (const w of walk) {
        if (this.cy.getElementById(w).empty()) {
          this.cy.add({ group: 'nodes', data: { id: w, short: short(w), size: 22, known: false }, classes: 'outside' });
        }
      }
      for (let i = 0; i + 1 < walk.length; i++) {
        const id = walk[i] + '\u2192' + walk[i + 1];
        let e = this.cy.getElementById(id);
        if (e.empty()) e = this.cy.add({ group: 'edges', data: { id, source: walk[i], target: walk[i + 1], w: 2 }, classes: 'walkonly' });
        e.addClass('walk');
      }
    }
    for (const s of this.sourceList) {
      const n = this.cy.getElementById(s);
      n.addClass('source');
      if (n.data('known') === false) n.addClass('illicit');
    }
  }

  layout() {
    // force-directed (cytoscape's own cose): hubs and their clusters spread
    // apart, the centre kept near the middle
    this.cy.layout({
      name: 'cose', animate: false, randomize: false, nodeDimensionsIncludeLabels: true,
      idealEdgeLength: () => 80, nodeRepulsion: () => 9000, numIter: 600, padding: 24,
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
