// Imports and processes: the pool's latest imports (GET …/imports, an
// admin sees every client's), the processes of the pool's rounds (each
// group names its own), and any process by its id.
// API: GET and POST …/imports, GET /processes/{id}, …/groups (docs/api.md).
import { el, field, table, time, dash } from './dom.js';
import { allGroups, processOf, PROCESS_STATUS } from './groups.js';

const ROUND_PROCESSES = 20;
const IMPORTS_SHOWN = 50;
const POLL_MS = 2000;

let state = null;

function render(ctx) {
  state = { ctx, timer: null, imports: [] };
  state.importList = el('div', { id: 'imports-list' });
  state.lookup = el('div', { id: 'process-lookup' });
  state.rounds = el('div', { id: 'round-processes' });
  ctx.root.append(
    el('h1', { text: 'Imports and processes' }),
    el('p', { class: 'muted', text: 'The latest ' + IMPORTS_SHOWN + ' imports of the pool (followed until they end), and the processes of the latest rounds.' }),
    importForm(ctx),
    state.importList,
    lookupForm(ctx),
    state.lookup,
    el('h2', { text: 'Processes of the latest rounds' }),
    state.rounds);
  return Promise.all([loadImports(), roundProcesses(ctx)]);
}

function leave() {
  if (state) clearTimeout(state.timer);
  state = null;
}

function statusCell(p) {
  return el('span', { class: 'badge status-' + p.status, text: PROCESS_STATUS[p.status] || String(p.status) });
}

function percent(p) {
  const pct = typeof p.percent === 'number' ? p.percent : 0;
  return el('span', { class: 'progress' },
    el('progress', { max: '100', value: String(pct) }), ' ' + pct + '%');
}

function processRow(p, extra) {
  return el('tr', { dataset: { process: p.id } },
    el('td', null, el('code', { text: p.id })), el('td', { text: dash(p.kind) }),
    extra ? el('td', null, extra) : null,
    el('td', null, statusCell(p)), el('td', null, percent(p)),
    el('td', { class: 'pmsg', text: dash(p.message) }), el('td', null, time(p.updated_at)));
}

// ---------------------------------------------------------------- imports
function importForm(ctx) {
  const url = el('input', { name: 'url', type: 'url', required: true, id: 'import-url',
                            placeholder: 'https://…', size: '50' });
  const name = el('input', { name: 'name', id: 'import-name', placeholder: 'from the URL' });
  const ts = el('input', { name: 'ts', id: 'import-ts', placeholder: 'now (RFC 3339 or Unix seconds)' });
  const button = el('button', { type: 'submit', text: 'Import', id: 'import-submit' });
  return el('form', { class: 'inline-form', id: 'import-form', on: { submit: async (ev) => {
    ev.preventDefault();
    ctx.notify.clear();
    const body = { url: url.value.trim() };
    if (name.value.trim()) body.name = name.value.trim();
    if (ts.value.trim()) body.ts = /^\d+$/.test(ts.value.trim()) ? Number(ts.value.trim()) : ts.value.trim();
    button.disabled = true;
    try {
      await ctx.api('POST', ctx.poolPath('imports'), { body });
      url.value = ''; name.value = ''; ts.value = '';
      if (ctx.alive()) await loadImports();
    } catch (e) {
      if (ctx.alive()) ctx.notify.error(e);
    } finally {
      button.disabled = false;
    }
  } } },
  el('h2', { text: 'Upload by URL' }),
  el('p', { class: 'muted', text: 'The file is downloaded by the fetch step of poolctl run, into your own folder.' }),
  field('URL', url), field('Name', name), field('Timestamp', ts), button);
}

// The import as a process row: its process's status, with its client and URL.
function importRow(i) {
  const p = { id: i.id, kind: 'import', status: i.process.status, percent: i.process.percent,
              message: i.process.message, updated_at: i.process.updated_at };
  return processRow(p, el('span', null, el('code', { text: i.client }), ' ',
                          el('span', { class: 'url', text: dash(i.url) })));
}

function showImports() {
  if (!state) return;
  state.importList.replaceChildren(state.imports.length
    ? table(['Process', 'Kind', 'Client, URL', 'Status', 'Progress', 'Message', 'Updated'],
            state.imports.map(importRow), 'grid imports')
    : el('p', { class: 'muted', text: 'No import yet.' }));
}

// Reads the latest imports, then again every POLL_MS while one is running.
async function loadImports() {
  const st = state;
  if (!st) return;
  clearTimeout(st.timer);
  const page = await st.ctx.api('GET', st.ctx.poolPath('imports'), { query: { limit: IMPORTS_SHOWN } });
  if (state !== st || !st.ctx.alive()) return;
  st.imports = page.items;
  showImports();
  if (st.imports.some((i) => i.process.status === 0)) {
    st.timer = setTimeout(() => {
      loadImports().catch((e) => { if (st.ctx.alive()) st.ctx.notify.error(e); });
    }, POLL_MS);
  }
}

// ---------------------------------------------------------------- lookup
function lookupForm(ctx) {
  const id = el('input', { name: 'id', required: true, id: 'lookup-id', size: '40',
                           spellcheck: 'false', placeholder: 'process id' });
  return el('form', { class: 'inline-form', id: 'lookup-form', on: { submit: async (ev) => {
    ev.preventDefault();
    ctx.notify.clear();
    try {
      const p = await processOf(ctx, id.value.trim());
      if (!ctx.alive()) return;
      state.lookup.replaceChildren(
        table(['Process', 'Kind', 'Status', 'Progress', 'Message', 'Updated'], [processRow(p)], 'grid'),
        p.result ? el('pre', { class: 'json', text: JSON.stringify(p.result, null, 2) }) : null);
    } catch (e) {
      if (ctx.alive()) ctx.notify.error(e);
    }
  } } },
  el('h2', { text: 'Look up a process' }), field('Id', id),
  el('button', { type: 'submit', text: 'Look up' }));
}

// ---------------------------------------------------------------- rounds
async function roundProcesses(ctx) {
  const { groups } = await allGroups(ctx, '');
  const withProcess = groups.filter((g) => g.process).slice(0, ROUND_PROCESSES);
  const rows = await Promise.all(withProcess.map(async (g) => {
    const p = await processOf(ctx, g.process);
    return processRow(p, el('span', null, '#' + g.seq + ' ', time(g.window.start)));
  }));
  if (!ctx.alive()) return;
  state.rounds.replaceChildren(rows.length
    ? table(['Process', 'Kind', 'Group', 'Status', 'Progress', 'Message', 'Updated'], rows, 'grid')
    : el('p', { class: 'muted', text: 'No round has been triggered yet.' }));
}

export default { id: 'processes', title: 'Imports & processes', render, leave };
