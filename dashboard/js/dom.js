// Building the page: every value goes in as text (textContent or a text
// node), never as HTML, so whatever a client or a label says is shown as
// it is and never runs.

// el('tag', {class, text, on: {click: fn}, ...attributes}, ...children):
// children are nodes, strings (as text), arrays of them, or null (skipped).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
    } else if (k === 'value') node.value = String(v);
    else if (k.startsWith('on')) throw new Error('use on: {} for ' + k);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

// A timestamp as UTC text ("2026-11-21 10:15:00Z"); the raw value as title.
export function time(iso) {
  if (!iso) return el('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  const text = isNaN(d) ? String(iso)
    : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return el('time', { datetime: String(iso), title: String(iso), text });
}

export function bytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

// Seconds in the largest unit that divides them: 90 s, 5 min, 1 h, 7 d.
export function duration(sec) {
  const n = Number(sec);
  if (!Number.isFinite(n)) return String(sec);
  for (const [u, name] of [[86400, 'd'], [3600, 'h'], [60, 'min']]) {
    if (n >= u && n % u === 0) return n / u + ' ' + name;
  }
  return n + ' s';
}

export function dash(v) {
  return v === null || v === undefined || v === '' ? '—' : String(v);
}

// A definition list from [term, value] pairs (value: text or a node).
export function facts(pairs, cls) {
  return el('dl', { class: cls || 'facts' },
    pairs.map(([k, v]) => [el('dt', { text: k }), el('dd', null, v)]));
}

export function table(headings, rows, cls) {
  return el('table', { class: cls || 'grid' },
    el('thead', null, el('tr', null, headings.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', null, rows));
}

// A form field: label + control.
export function field(label, control) {
  return el('label', { class: 'field' }, el('span', { text: label }), control);
}

export function select(name, options, value) {
  return el('select', { name },
    options.map(([v, t]) => {
      const o = el('option', { value: v, text: t });
      if (v === value) o.selected = true;
      return o;
    }));
}
