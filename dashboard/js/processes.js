// Imports and processes.  The API has no list of a pool's imports or
// processes (only GET /processes/{id}), so this screen shows the
// processes of the pool's rounds (each group names its own), the imports
// started from this page in this sign-in, and any process by its id.
// API: POST …/imports, GET /processes/{id}, …/groups (docs/api.md).
import { el, field, table, time, dash } from './dom.js';
import { allGroups, processOf, PROCESS_STATUS } from './groups.js';

const ROUND_PROCESSES = 20;
const POLL_MS = 2000;

// imports started in this sign-in: kept while the page lives, like the token
const imports = [];
let state = null;

function render(ctx) {
  if (imports.length && imports[0].pool !== ctx.session.pool) imports.length = 0;
  state = { ctx, timer: null };
  state.importList = el('div', { id: 'imports-list' });
  state.lookup = el('div', { id: 'process-lookup' });
  state.rounds = el('div', { id: 'round-processes' });
  ctx.root.append(
    el('h1', { text: 'Imports and processes' }),
    el('p', { class: 'muted', text: 'The API lists no imports: shown here are the imports started on this page since you signed in, and the processes of the latest rounds.' }),
    importForm(ctx),
    state.importList,
    lookupForm(ctx),
    state.lookup,
    el('h2', { text: 'Processes of the latest rounds' }),
    state.rounds);
  showImports();
  poll();
  return roundProcesses(ctx);
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
      const p = await ctx.api('POST', ctx.poolPath('imports'), { body });
      imports.unshift({ pool: ctx.session.pool, url: body.url, process: p });
      url.value = ''; name.value = ''; ts.value = '';
      if (ctx.alive()) { showImports(); poll(); }
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

function showImports() {
  if (!state) return;
  state.importList.replaceChildren(imports.length
    ? table(['Process', 'Kind', 'URL', 'Status', 'Progress', 'Message', 'Updated'],
            imports.map((i) => processRow(i.process, el('span', { class: 'url', text: i.url }))), 'grid imports')
    : el('p', { class: 'muted', text: 'No import started from this page yet.' }));
}

// Follows the running imports until each has ended.
function poll() {
  if (!state) return;
  clearTimeout(state.timer);
  const st = state;
  if (!imports.some((i) => i.process.status === 0)) return;
  st.timer = setTimeout(async () => {
    try {
      await Promise.all(imports.filter((i) => i.process.status === 0).map(async (i) => {
        i.process = await processOf(st.ctx, i.process.id);
      }));
    } catch (e) {
      if (st.ctx.alive()) st.ctx.notify.error(e);
      return;
    }
    if (state === st && st.ctx.alive()) { showImports(); poll(); }
  }, POLL_MS);
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
