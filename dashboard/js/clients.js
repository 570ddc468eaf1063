// Clients: the pool's clients page by page, adding one (its secret is
// shown once, with a copy button), disabling and enabling.
// API: GET/POST .../clients, PATCH .../clients/{id} (docs/api.md "Clients").
import { el, field, select, table, time } from './dom.js';

const PAGE = 20;
const ROLES = ['uploader', 'listener', 'processor', 'admin'];

let state = null;   // this screen's state while it is shown

function render(ctx) {
  state = { ctx, role: '', pages: [null], page: 0, next: null, secretBox: null };
  const roleFilter = select('role', [['', 'all roles'], ...ROLES.map((r) => [r, r])], '');
  roleFilter.id = 'clients-role';
  roleFilter.addEventListener('change', () => {
    state.role = roleFilter.value;
    state.pages = [null];
    state.page = 0;
    reload();
  });
  state.prev = el('button', { type: 'button', id: 'clients-prev', text: '← Previous',
                              on: { click: () => { state.page--; reload(); } } });
  state.nextBtn = el('button', { type: 'button', id: 'clients-next', text: 'Next →',
                                 on: { click: () => {
                                   state.pages[state.page + 1] = state.next;
                                   state.page++;
                                   reload();
                                 } } });
  state.pageInfo = el('span', { class: 'muted', id: 'clients-page' });
  state.list = el('div', { id: 'clients-list' });
  state.secretSlot = el('div', { id: 'secret-slot' });

  ctx.root.append(
    el('h1', { text: 'Clients of ' + ctx.session.pool }),
    addForm(ctx),
    state.secretSlot,
    el('div', { class: 'toolbar' },
      field('Role', roleFilter),
      el('button', { type: 'button', id: 'clients-reload', text: 'Reload',
                     on: { click: () => reload() } }),
      state.prev, state.nextBtn, state.pageInfo),
    state.list);
  return load();
}

function leave() {
  state = null;   // the secret box and everything else go with the page
}

// A reload by the user also dismisses a secret still shown.
function reload() {
  dismissSecret();
  return load().catch((e) => state && state.ctx.notify.error(e));
}

async function load() {
  const st = state;
  const { ctx } = st;
  const query = { limit: PAGE, role: st.role, after: st.pages[st.page] };
  const j = await ctx.api('GET', ctx.poolPath('clients'), { query });
  if (state !== st || !ctx.alive()) return;
  st.next = j.next || null;
  st.prev.disabled = st.page === 0;
  st.nextBtn.disabled = !st.next;
  st.pageInfo.textContent = 'page ' + (st.page + 1);
  const rows = (j.clients || []).map((c) => row(ctx, c));
  st.list.replaceChildren(rows.length
    ? table(['Name', 'Client id', 'Role', 'State', 'Labels', 'Created', ''], rows, 'grid clients')
    : el('p', { class: 'muted', text: 'No clients.' }));
}

function labels(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return el('span', { class: 'muted', text: '—' });
  return el('ul', { class: 'labels' },
    entries.map(([k, v]) => el('li', null, el('span', { class: 'lk', text: k }), ': ',
                                el('span', { class: 'lv', text: String(v) }))));
}

function row(ctx, c) {
  const tr = el('tr', { dataset: { client: c.client_id } });
  fill(ctx, tr, c);
  return tr;
}

function fill(ctx, tr, c) {
  const self = c.client_id === ctx.session.clientId;
  const button = el('button', {
    type: 'button', class: c.disabled ? 'enable' : 'disable',
    text: c.disabled ? 'Enable' : 'Disable',
    title: self ? 'the client you are signed in with' : null,
    disabled: self,
    on: { click: () => toggle(ctx, tr, c, button) },
  });
  tr.classList.toggle('disabled', !!c.disabled);
  tr.replaceChildren(
    el('td', { class: 'name', text: c.name }),
    el('td', null, el('code', { text: c.client_id })),
    el('td', { text: c.role }),
    el('td', { class: 'state' }, el('span', {
      class: 'badge ' + (c.disabled ? 'state-disabled' : 'state-enabled'),
      text: c.disabled ? 'disabled' : 'enabled' })),
    el('td', null, labels(c.labels)),
    el('td', null, time(c.created_at)),
    el('td', null, button));
}

async function toggle(ctx, tr, c, button) {
  button.disabled = true;
  try {
    const updated = await ctx.api('PATCH', ctx.poolPath('clients', c.client_id),
                                  { body: { disabled: !c.disabled } });
    if (!ctx.alive()) return;
    fill(ctx, tr, updated);
    ctx.notify.info('Client ' + updated.name + ' is now ' + (updated.disabled ? 'disabled' : 'enabled') + '.');
  } catch (e) {
    if (ctx.alive()) { ctx.notify.error(e); button.disabled = false; }
  }
}

// "key=value" lines (or commas) -> an object; throws on a bad line.
function parseLabels(text) {
  const out = {};
  for (const part of text.split(/\n/)) {
    const line = part.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error('labels: "' + line + '" is not key=value');
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

function addForm(ctx) {
  const name = el('input', { name: 'name', required: true, id: 'add-name', autocomplete: 'off',
                             spellcheck: 'false', placeholder: 'e.g. sensor-12' });
  const role = select('role', ROLES.map((r) => [r, r]), 'uploader');
  role.id = 'add-role';
  const lab = el('textarea', { name: 'labels', id: 'add-labels', rows: '2',
                               placeholder: 'key=value, one per line' });
  const button = el('button', { type: 'submit', text: 'Add client', id: 'add-submit' });
  const form = el('form', { class: 'inline-form', id: 'add-client', on: { submit } },
    el('h2', { text: 'Add a client' }),
    field('Name', name), field('Role', role), field('Labels', lab), button);

  async function submit(ev) {
    ev.preventDefault();
    ctx.notify.clear();
    let body;
    try {
      body = { name: name.value.trim(), role: role.value };
      const l = parseLabels(lab.value);
      if (Object.keys(l).length) body.labels = l;
    } catch (e) {
      ctx.notify.error(e);
      return;
    }
    button.disabled = true;
    try {
      const c = await ctx.api('POST', ctx.poolPath('clients'), { body });
      if (!ctx.alive()) return;
      name.value = '';
      lab.value = '';
      showSecret(c);
      await load();
    } catch (e) {
      if (ctx.alive()) ctx.notify.error(e);
    } finally {
      button.disabled = false;
    }
  }
  return form;
}

// The new client's secret, shown this once: copy it, then Done.
function showSecret(c) {
  dismissSecret();
  const secret = el('input', { class: 'secret', id: 'new-secret', readonly: true,
                               value: c.secret, size: '48', 'aria-label': 'secret' });
  const status = el('span', { class: 'muted', id: 'copy-status', 'aria-live': 'polite' });
  const copy = el('button', { type: 'button', id: 'copy-secret', text: 'Copy secret',
                              on: { click: async () => {
                                try {
                                  await navigator.clipboard.writeText(secret.value);
                                } catch (e) {
                                  secret.select();  // older browsers, no permission
                                  document.execCommand('copy');
                                }
                                status.textContent = 'Copied.';
                              } } });
  const box = el('div', { class: 'secret-box', id: 'secret-box', role: 'status' },
    el('h2', { text: 'Client ' + c.name + ' was added' }),
    el('p', { text: 'Its secret is shown only now: copy it and keep it safe. ' +
                    'If it is lost, the client needs a new secret.' }),
    el('p', null, 'Client id ', el('code', { id: 'new-client-id', text: c.client_id })),
    el('div', { class: 'secret-row' }, secret, copy, status),
    el('button', { type: 'button', id: 'secret-done', text: 'Done',
                   on: { click: () => dismissSecret() } }));
  state.secretSlot.replaceChildren(box);
  state.secretBox = box;
}

function dismissSecret() {
  if (!state || !state.secretBox) return;
  state.secretSlot.replaceChildren();
  state.secretBox = null;
}

export default { id: 'clients', title: 'Clients', render, leave };
