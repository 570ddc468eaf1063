// The deliveries chart: attempts per hour (delivered and failed, stacked
// bars) and their latency (p50 and p95 lines) from …/deliveries/stats,
// drawn as SVG made with createElementNS (no library, nothing parsed as
// markup), with an aria-label summing it up and the numbers as a table.
import { el, table } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 760;           // the viewBox; the svg scales to its box
const LEFT = 48, RIGHT = 12;
const BARS = { top: 24, height: 130 };
const LAT = { top: 196, height: 80 };
const H = 306;

function s(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// "10:00" of a bucket's start (UTC, as the API counts hours).
function hour(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toISOString().slice(11, 16);
}

// A round top for an axis: 1, 2, 5 × 10^n at or above max.
function niceMax(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function axis(panel, top, label) {
  const y0 = panel.top + panel.height;
  return s('g', { class: 'axis' },
    s('line', { x1: LEFT, y1: y0, x2: W - RIGHT, y2: y0 }),
    s('line', { x1: LEFT, y1: panel.top, x2: LEFT, y2: y0 }),
    s('text', { x: LEFT - 6, y: panel.top + 4, 'text-anchor': 'end' }, String(top)),
    s('text', { x: LEFT - 6, y: y0, 'text-anchor': 'end' }, '0'),
    s('text', { x: LEFT, y: panel.top - 8, class: 'panel-title' }, label));
}

function bars(buckets, slot) {
  const top = niceMax(Math.max(0, ...buckets.map((b) => b.attempts)));
  const scale = (n) => (n / top) * BARS.height;
  const y0 = BARS.top + BARS.height;
  const g = s('g', { class: 'bars' }, axis(BARS, top, 'Attempts per hour: delivered and failed'));
  buckets.forEach((b, i) => {
    const x = LEFT + i * slot + slot * 0.15;
    const w = Math.max(slot * 0.7, 1);
    const hd = scale(b.delivered), hf = scale(b.failed);
    const tip = hour(b.start) + 'Z: ' + b.attempts + ' attempts, ' + b.delivered + ' delivered, ' +
      b.failed + ' failed';
    if (b.delivered) {
      g.appendChild(s('rect', { class: 'bar delivered', x, y: y0 - hd, width: w, height: hd,
                                'data-start': b.start, 'data-count': b.delivered }, s('title', null, tip)));
    }
    if (b.failed) {
      g.appendChild(s('rect', { class: 'bar failed', x, y: y0 - hd - hf, width: w, height: hf,
                                'data-start': b.start, 'data-count': b.failed }, s('title', null, tip)));
    }
  });
  return g;
}

// A line through the buckets that have a value, broken where one has none.
function line(buckets, key, slot, scale, cls) {
  const y0 = LAT.top + LAT.height;
  let d = '', pen = false;
  const dots = [];
  buckets.forEach((b, i) => {
    const v = b[key];
    if (v === null || v === undefined) { pen = false; return; }
    const x = LEFT + i * slot + slot / 2, y = y0 - scale(v);
    d += (pen ? ' L' : ' M') + x.toFixed(1) + ' ' + y.toFixed(1);
    pen = true;
    dots.push(s('circle', { class: 'dot ' + cls, cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5 },
      s('title', null, hour(b.start) + 'Z ' + key.replace('latency_ms_', '') + ': ' + v + ' ms')));
  });
  return s('g', { class: 'series ' + cls }, d ? s('path', { class: 'line ' + cls, d: d.trim() }) : null, ...dots);
}

function latency(buckets, slot) {
  const top = niceMax(Math.max(0, ...buckets.map((b) => b.latency_ms_p95 || 0)));
  const scale = (v) => (v / top) * LAT.height;
  return s('g', { class: 'latency' },
    axis(LAT, top + ' ms', 'Latency: median (p50) and p95'),
    line(buckets, 'latency_ms_p95', slot, scale, 'p95'),
    line(buckets, 'latency_ms_p50', slot, scale, 'p50'));
}

function xLabels(buckets, slot) {
  const every = Math.max(1, Math.ceil(buckets.length / 12));
  const g = s('g', { class: 'xlabels' });
  buckets.forEach((b, i) => {
    if (i % every) return;
    const x = LEFT + i * slot + slot / 2;
    g.appendChild(s('text', { x: x.toFixed(1), y: BARS.top + BARS.height + 14, 'text-anchor': 'middle' }, hour(b.start)));
    g.appendChild(s('text', { x: x.toFixed(1), y: LAT.top + LAT.height + 14, 'text-anchor': 'middle' }, hour(b.start)));
  });
  return g;
}

function summary(stats) {
  const b = stats.buckets || [];
  const sum = (k) => b.reduce((n, x) => n + (x[k] || 0), 0);
  const p95 = b.map((x) => x.latency_ms_p95).filter((v) => v !== null && v !== undefined);
  return 'Delivery attempts per hour from ' + stats.since + ' to ' + stats.until + ': ' +
    sum('attempts') + ' attempts, ' + sum('delivered') + ' delivered, ' + sum('failed') + ' failed' +
    (p95.length ? '; the slowest hour\'s p95 latency ' + Math.max(...p95) + ' ms.' : '; no latency measured.');
}

// The numbers of each hour, for screen readers and for reading them.
function numbers(buckets) {
  const ms = (v) => (v === null || v === undefined ? '—' : v + ' ms');
  return table(['Hour (UTC)', 'Attempts', 'Delivered', 'Failed', 'p50', 'p95'],
    buckets.map((b) => el('tr', { class: b.attempts ? 'busy' : 'idle' },
      el('td', { text: String(b.start) }), el('td', { text: String(b.attempts) }),
      el('td', { text: String(b.delivered) }), el('td', { text: String(b.failed) }),
      el('td', { text: ms(b.latency_ms_p50) }), el('td', { text: ms(b.latency_ms_p95) }))),
    'grid chart-table');
}

// The chart of stats (the answer of …/deliveries/stats) as a node.
export function chart(stats) {
  const buckets = stats.buckets || [];
  const slot = (W - LEFT - RIGHT) / Math.max(buckets.length, 1);
  const text = summary(stats);
  const svg = s('svg', { id: 'delivery-chart-svg', class: 'chart', viewBox: '0 0 ' + W + ' ' + H,
                         role: 'img', 'aria-label': text, preserveAspectRatio: 'xMidYMid meet' },
    s('title', null, text),
    bars(buckets, slot), latency(buckets, slot), xLabels(buckets, slot));
  const legend = el('p', { class: 'legend' },
    el('span', { class: 'swatch delivered' }), ' delivered ',
    el('span', { class: 'swatch failed' }), ' failed (retried or final) ',
    el('span', { class: 'swatch p50' }), ' p50 ',
    el('span', { class: 'swatch p95' }), ' p95 latency');
  return el('figure', { class: 'chart-figure' }, svg, legend,
    el('figcaption', { class: 'muted', id: 'chart-summary', text }),
    el('details', { class: 'chart-numbers' }, el('summary', { text: 'The numbers, hour by hour' }),
       numbers(buckets)));
}
