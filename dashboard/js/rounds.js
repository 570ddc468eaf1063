// Rounds: the pool's settings in one line, a timeline of its groups
// (windows) newest first with state, file and client counts, late files,
// attempts and the progress of their processes, and who has received the
// latest result.  API: …/settings, …/groups[/{gid}], /processes/{id},
// …/results/latest[/receipts] (docs/rounds.md).
import { el, facts, table, time, bytes, dash, duration, select, field } from './dom.js';
import { allGroups, groupDetails, processOf, PROCESS_STATUS } from './groups.js';

const SHOWN = 20;       // groups per timeline page
const STATES = ['open', 'closed', 'skipped', 'triggered', 'claimed', 'done', 'failed'];

let state = null;

function render(ctx) {
  state = { ctx, filter: '', first: 0, groups: [] };
  const filter = select('state', [['', 'all states'], ...STATES.map((s) => [s, s])], '');
  filter.id = 'rounds-state';
  filter.addEventListener('change', () => { state.filter = filter.value; state.first = 0; reload(); });
  state.settings = el('div', { id: 'rounds-settings' });
  state.timeline = el('ol', { class: 'timeline', id: 'timeline' });
  state.info = el('p', { class: 'muted', id: 'rounds-info' });
  state.newer = el('button', { type: 'button', text: '← Newer', id: 'rounds-newer',
                               on: { click: () => { state.first -= SHOWN; show(); } } });
  state.older = el('button', { type: 'button', text: 'Older →', id: 'rounds-older',
                               on: { click: () => { state.first += SHOWN; show(); } } });
  state.latest = el('div', { id: 'latest-result' });
  ctx.root.append(
    el('h1', { text: 'Rounds of ' + ctx.session.pool }),
    state.settings,
    el('h2', { text: 'Latest result' }), state.latest,
    el('h2', { text: 'Timeline' }),
    el('div', { class: 'toolbar' }, field('State', filter),
       el('button', { type: 'button', text: 'Reload', id: 'rounds-reload',
                      on: { click: () => reload() } }),
       state.newer, state.older),
    state.info, state.timeline);
  return Promise.all([settings(ctx), latest(ctx), loadGroups()]);
}

function leave() {
  state = null;
}

function reload() {
  const { ctx } = state;
  ctx.notify.clear();
  Promise.all([latest(ctx), loadGroups()]).catch((e) => ctx.alive() && ctx.notify.error(e));
}

async function settings(ctx) {
  const j = await ctx.api('GET', ctx.poolPath('settings'));
  if (!ctx.alive()) return;
  const s = j.settings || {};
  const secs = (v) => (v === null || v === undefined ? 'not set' : duration(v));
  state.settings.replaceChildren(facts([
    ['Window', secs(s.window)], ['Lateness', secs(s.lateness)],
    ['Quorum', dash(s.min_files) + ' files, ' + dash(s.min_clients) + ' clients (' + dash(s.quorum_policy) + ')'],
    ['Processor', s.processor_url ? 'push to ' + s.processor_url : 'pull'],
    ['Result timeout', secs(s.result_timeout)], ['Attempts', dash(s.max_attempts)],
    ['Late files', dash(s.late_policy)],
  ], 'facts settings'));
}

async function loadGroups() {
  const st = state;
  st.info.textContent = 'Loading…';
  const { groups, complete } = await allGroups(st.ctx, st.filter);
  if (state !== st || !st.ctx.alive()) return;
  st.groups = groups;
  st.complete = complete;
  st.first = Math.min(st.first, Math.max(0, groups.length - 1));
  return show();
}

async function show() {
  const st = state;
  const { ctx, groups } = st;
  const page = groups.slice(st.first, st.first + SHOWN);
  st.newer.disabled = st.first === 0;
  st.older.disabled = st.first + SHOWN >= groups.length;
  st.info.textContent = groups.length
    ? 'Groups ' + (st.first + 1) + '–' + (st.first + page.length) + ' of ' + groups.length +
      (st.complete ? '' : '+ (only the first ' + groups.length + ' were read)') + ', newest first.'
    : (st.filter ? 'No group is ' + st.filter + '.' : 'No groups yet: set a window (poolctl pool set) and upload files.');
  const items = page.map((g) => {
    const li = el('li', { class: 'round state-' + g.state, dataset: { group: g.id, seq: g.seq } });
    fillRound(li, g, null, null);
    return li;
  });
  st.timeline.replaceChildren(...items);
  // details of the groups shown, each as it arrives
  await Promise.all(page.map(async (g, i) => {
    let d = null, p = null;
    try {
      [d, p] = await Promise.all([groupDetails(ctx, g), g.process ? processOf(ctx, g.process) : null]);
    } catch (e) {
      if (ctx.alive()) ctx.notify.error(e);
    }
    if (state === st && ctx.alive()) fillRound(items[i], g, d, p);
  }));
}

function progress(p) {
  if (!p) return el('span', { class: 'muted', text: 'no process yet' });
  const pct = typeof p.percent === 'number' ? p.percent : 0;
  return el('span', { class: 'progress' },
    el('progress', { max: '100', value: String(pct), class: 'status-' + p.status }),
    ' ', pct + '% · ' + (PROCESS_STATUS[p.status] || String(p.status)),
    p.message ? ' · ' : null, p.message ? el('span', { class: 'pmsg', text: p.message }) : null);
}

// The summary counts files and clients in time, once closed; the manifest
// (d) adds what has been received so far, late files included.
function counts(g, d) {
  const open = g.files === null;
  if (!d) return [open ? 'open' : g.files + ' in time', open ? '—' : g.clients + ' in time'];
  const files = open ? d.received + (d.truncated ? '+' : '') + ' so far'
    : g.files + ' in time at close, ' + d.received + (d.truncated ? '+' : '') + ' received';
  const clients = open ? d.clients + ' so far'
    : g.clients + ' in time at close, ' + d.clients + ' sent files';
  return [files, clients];
}

function fillRound(li, g, d, p) {
  const [files, clients] = counts(g, d);
  li.replaceChildren(
    el('div', { class: 'round-head' },
      el('span', { class: 'badge state-' + g.state, text: g.state }), ' ',
      el('span', { class: 'window' }, time(g.window.start), ' – ', time(g.window.end)),
      el('span', { class: 'muted', text: ' #' + g.seq })),
    facts([
      ['Files', files],
      ['Clients', clients],
      ['Late files', d ? String(d.late) : '…'],
      ['Attempts', g.attempts + ' of ' + g.max_attempts],
      ['Closes', time(g.closes_at)],
      ['Deadline', time(g.deadline)],
      ['Result', g.result_seq !== null ? 'published #' + g.result_seq
        : (d && d.result ? 'received, not yet published' : '—')],
      ['Progress', g.process ? (p ? progress(p) : '…') : progress(null)],
    ], 'facts round-facts'));
}

async function latest(ctx) {
  let r;
  try {
    r = await ctx.api('GET', ctx.poolPath('results', 'latest'));
  } catch (e) {
    if (e.status === 404) {
      if (ctx.alive()) state.latest.replaceChildren(el('p', { class: 'muted', text: 'Nothing published yet.' }));
      return;
    }
    throw e;
  }
  const rc = await ctx.api('GET', ctx.poolPath('results', String(r.seq), 'receipts'));
  if (!ctx.alive()) return;
  const list = rc.clients || [];
  const got = list.filter((c) => c.received_at).length;
  const rows = list.map((c) => el('tr', { class: c.received_at ? 'received' : 'waiting' },
    el('td', { text: c.name }), el('td', null, el('code', { text: c.client_id })),
    el('td', { text: c.role }),
    el('td', null, c.received_at ? time(c.received_at) : el('span', { class: 'muted', text: 'not yet' })),
    el('td', { text: String(c.reads) })));
  state.latest.replaceChildren(
    facts([['Result', '#' + r.seq + ' ' + r.name + ' (' + bytes(r.size) + ')'],
           ['Window', el('span', null, time(r.window && r.window.start), ' – ', time(r.window && r.window.end))],
           ['Published', time(r.published_at)],
           ['Received by', got + ' of ' + list.length + ' clients']]),
    table(['Client', 'Client id', 'Role', 'Received', 'Downloads'], rows, 'grid receipts'));
}

export default { id: 'rounds', title: 'Rounds', render, leave };
