// Endpoints: the pool's webhook endpoints (url, events, state, rate
// limit), adding and editing one (events, filter, auth, retry schedule,
// rate limit, mapping and success rule as JSON, with a preview of the
// request the mapping makes), its signing secret shown once after create
// and rotate, disabling, enabling and removing (each destructive step is
// confirmed in the page: no window.confirm).
// API: …/endpoints[/{id}[/rotate|/preview]] (docs/webhooks.md).
import { el, field, select, table, time } from './dom.js';
import { EVENT_TYPES, showDeliveriesOf } from './webhooks.js';

const PAGE = 20;
const AUTH_TYPES = [['none', 'none'], ['bearer', 'bearer token'], ['basic', 'basic (user and password)'],
                    ['header', 'a header of theirs']];
const GRACES = [['0', 'none: the old secret stops now'], ['3600', '1 hour'],
                ['86400', '24 hours'], ['604800', '7 days']];

let state = null;

function render(ctx) {
  state = { ctx, pages: [null], page: 0, next: null };
  state.prev = el('button', { type: 'button', id: 'endpoints-prev', text: '← Previous',
                              on: { click: () => { state.page--; reload(); } } });
  state.nextBtn = el('button', { type: 'button', id: 'endpoints-next', text: 'Next →',
                                 on: { click: () => {
                                   state.pages[state.page + 1] = state.next;
                                   state.page++;
                                   reload();
                                 } } });
  state.pageInfo = el('span', { class: 'muted', id: 'endpoints-page' });
  state.secretSlot = el('div', { id: 'endpoint-secret-slot' });
  state.formSlot = el('div', { id: 'endpoint-form-slot' });
  state.list = el('div', { id: 'endpoints-list' });
  ctx.root.append(
    el('h1', { text: 'Endpoints of ' + ctx.session.pool }),
    el('p', { class: 'muted', text: 'Where the pool\'s events are sent. Every event for an endpoint ' +
              'becomes a delivery (see Deliveries), sent by the deliver step of poolctl run.' }),
    el('div', { class: 'toolbar' },
      el('button', { type: 'button', id: 'endpoint-new', text: 'Add an endpoint',
                     on: { click: () => openEditor(null) } }),
      el('button', { type: 'button', id: 'endpoints-reload', text: 'Reload',
                     on: { click: () => reload() } }),
      state.prev, state.nextBtn, state.pageInfo),
    state.secretSlot, state.formSlot, state.list);
  return load();
}

function leave() {
  state = null;   // a secret still shown goes with the page
}

function reload() {
  if (!state) return;
  dismissSecret();
  state.ctx.notify.clear();
  load().catch((e) => state && state.ctx.notify.error(e));
}

async function load() {
  const st = state;
  const { ctx } = st;
  const j = await ctx.api('GET', ctx.poolPath('endpoints'),
                          { query: { limit: PAGE, after: st.pages[st.page] } });
  if (state !== st || !ctx.alive()) return;
  st.next = j.next || null;
  st.prev.disabled = st.page === 0;
  st.nextBtn.disabled = !st.next;
  st.pageInfo.textContent = 'page ' + (st.page + 1);
  const rows = (j.items || []).map((ep) => {
    const tr = el('tr', { dataset: { endpoint: ep.id } });
    fillRow(tr, ep);
    return tr;
  });
  st.list.replaceChildren(rows.length
    ? table(['Endpoint', 'Events', 'State', 'Rate limit', ''], rows, 'grid endpoints')
    : el('p', { class: 'muted', text: 'No endpoints yet.' }));
}

// ---------------------------------------------------------------- the list
function eventsCell(ep) {
  const evs = ep.events || [];
  const filtered = ep.filter && Object.keys(ep.filter).length;
  return el('td', { class: 'events' },
    evs.length ? el('span', { text: evs.join(', ') }) : el('span', { class: 'muted', text: 'every event' }),
    filtered ? el('div', { class: 'muted', text: 'filtered on ' + Object.keys(ep.filter).join(', ') }) : null);
}

function stateCell(ep) {
  return el('td', { class: 'state' },
    el('span', { class: 'badge ' + (ep.disabled ? 'state-disabled' : 'state-enabled'),
                 text: ep.disabled ? 'disabled' : 'enabled' }),
    ep.disabled && ep.disabled_reason
      ? el('div', { class: 'reason', text: String(ep.disabled_reason) }) : null,
    ep.disabled_at ? el('div', { class: 'muted' }, 'since ', time(ep.disabled_at)) : null);
}

function fillRow(tr, ep) {
  tr.classList.toggle('disabled', !!ep.disabled);
  const btn = (cls, text, fn) => el('button', { type: 'button', class: cls, text, on: { click: fn } });
  const actions = el('td', { class: 'actions' },
    btn('ep-edit', 'Edit', () => openEditor(ep)),
    btn('ep-deliveries', 'Deliveries', () => showDeliveriesOf(ep.id)),
    btn('ep-rotate', 'Rotate secret', () => confirmRotate(tr, ep, actions)),
    btn('ep-toggle ' + (ep.disabled ? 'enable' : 'disable'), ep.disabled ? 'Enable' : 'Disable',
        () => toggle(tr, ep)),
    btn('ep-delete disable', 'Delete', () => confirmDelete(tr, ep, actions)));
  tr.replaceChildren(
    el('td', { class: 'endpoint' },
      el('div', { class: 'url ep-url', text: String(ep.url) }),
      ep.description ? el('div', { class: 'muted ep-description', text: String(ep.description) }) : null,
      el('code', { class: 'muted', text: ep.id }),
      ep.client ? el('div', { class: 'muted', text: 'callback of client ' + ep.client }) : null),
    eventsCell(ep), stateCell(ep),
    el('td', { class: 'rate', text: ep.rate_limit ? ep.rate_limit + ' a second' : 'no limit' }),
    actions);
}

async function toggle(tr, ep) {
  const { ctx } = state;
  ctx.notify.clear();
  try {
    const now = await ctx.api('PATCH', ctx.poolPath('endpoints', ep.id), { body: { disabled: !ep.disabled } });
    if (!ctx.alive()) return;
    fillRow(tr, now);
    ctx.notify.info('Endpoint ' + now.id + ' is now ' + (now.disabled ? 'disabled' : 'enabled') + '.');
  } catch (e) {
    if (ctx.alive()) ctx.notify.error(e);
  }
}

// A question in the row's action cell, answered there: yes runs fn.
function confirmIn(cell, question, yesText, extra, fn) {
  const before = [...cell.childNodes];
  const back = () => cell.replaceChildren(...before);
  cell.replaceChildren(el('div', { class: 'confirm', role: 'group' },
    el('p', { text: question }), extra,
    el('button', { type: 'button', class: 'confirm-yes disable', text: yesText,
                   on: { click: async (ev) => { ev.target.disabled = true; if (await fn() === false) back(); } } }),
    el('button', { type: 'button', class: 'confirm-no', text: 'Cancel', on: { click: back } })));
}

function confirmDelete(tr, ep, cell) {
  confirmIn(cell, 'Remove this endpoint? Its pending deliveries fail; the delivery log stays.',
    'Delete', null, async () => {
      const { ctx } = state;
      try {
        await ctx.api('DELETE', ctx.poolPath('endpoints', ep.id));
      } catch (e) {
        if (ctx.alive()) ctx.notify.error(e);
        return false;
      }
      if (!ctx.alive()) return true;
      tr.remove();
      ctx.notify.info('Endpoint ' + ep.id + ' was removed.');
      return true;
    });
}

function confirmRotate(tr, ep, cell) {
  const grace = select('grace', GRACES, '86400');
  grace.className = 'ep-grace';
  confirmIn(cell, 'Make a new signing secret? The previous one keeps signing (a second signature) for:',
    'Rotate', grace, async () => {
      const { ctx } = state;
      try {
        const now = await ctx.api('POST', ctx.poolPath('endpoints', ep.id, 'rotate'),
                                  { body: { grace_seconds: Number(grace.value) } });
        if (!ctx.alive()) return true;
        fillRow(tr, now);
        showSecret(now, 'The signing secret of ' + now.id + ' was replaced');
        return true;
      } catch (e) {
        if (ctx.alive()) ctx.notify.error(e);
        return false;
      }
    });
}

// ---------------------------------------------------------------- the secret
function showSecret(ep, heading) {
  dismissSecret();
  const secret = el('input', { class: 'secret', id: 'endpoint-secret', readonly: true,
                               value: ep.secret, size: '64', 'aria-label': 'signing secret' });
  const status = el('span', { class: 'muted', 'aria-live': 'polite' });
  state.secretSlot.replaceChildren(el('div', { class: 'secret-box', id: 'endpoint-secret-box', role: 'status',
                                               dataset: { endpoint: ep.id } },
    el('h2', { text: heading }),
    el('p', { text: 'Its signing secret (Standard Webhooks, the webhook-signature header) is shown ' +
                    'only now: give it to the receiver. It is never shown again; rotate to get a new one.' }),
    el('div', { class: 'secret-row' }, secret,
      el('button', { type: 'button', id: 'copy-endpoint-secret', text: 'Copy secret', on: { click: async () => {
        try {
          await navigator.clipboard.writeText(secret.value);
        } catch (e) {
          secret.select();
          document.execCommand('copy');
        }
        status.textContent = 'Copied.';
      } } }), status),
    ep.secret_rotated_until
      ? el('p', { class: 'muted' }, 'The previous secret signs too until ', time(ep.secret_rotated_until), '.')
      : null,
    el('button', { type: 'button', id: 'endpoint-secret-done', text: 'Done', on: { click: dismissSecret } })));
}

function dismissSecret() {
  if (state) state.secretSlot.replaceChildren();
}

// ---------------------------------------------------------------- the editor
function jsonText(v) {
  return v === null || v === undefined ? '' : JSON.stringify(v, null, 2);
}

// The form's controls, filled from ep (null: a new endpoint).
function controls(ep) {
  const auth = (ep && ep.auth) || { type: 'none' };
  const c = {
    url: el('input', { id: 'ep-url', name: 'url', required: true, size: '60', spellcheck: 'false',
                       inputmode: 'url', placeholder: 'https://…', value: ep ? ep.url : '' }),
    description: el('input', { id: 'ep-description', name: 'description', size: '60',
                               value: ep ? ep.description : '' }),
    events: EVENT_TYPES.map((t) => el('input', { type: 'checkbox', name: 'events', value: t,
                                                 id: 'ep-event-' + t.replace('.', '-'),
                                                 checked: !!(ep && (ep.events || []).includes(t)) })),
    filter: el('textarea', { id: 'ep-filter', class: 'code', rows: '3', spellcheck: 'false',
                             placeholder: '{"/data/file/content_type": ["application/pdf"]}',
                             value: ep && ep.filter && Object.keys(ep.filter).length ? jsonText(ep.filter) : '' }),
    authType: select('auth_type', AUTH_TYPES, auth.type),
    authName: el('input', { id: 'ep-auth-name', name: 'auth_name', spellcheck: 'false',
                            value: auth.name || auth.username || '' }),
    authSecret: el('input', { id: 'ep-auth-secret', name: 'auth_secret', type: 'password',
                              autocomplete: 'new-password' }),
    retry: el('input', { id: 'ep-retry', name: 'retry_schedule', size: '40', spellcheck: 'false',
                         placeholder: 'default: 5, 300, 1800, 7200, 18000, 36000, 36000',
                         value: ep ? (ep.retry_schedule || []).join(', ') : '' }),
    rate: el('input', { id: 'ep-rate', name: 'rate_limit', type: 'number', min: '1', max: '100000', size: '8',
                        placeholder: 'no limit', value: ep && ep.rate_limit ? ep.rate_limit : '' }),
    mapping: el('textarea', { id: 'ep-mapping', class: 'code', rows: '12', spellcheck: 'false',
                              placeholder: '{"method": "PUT", "path": "/docs/{{/data/file/id}}",\n "body": {"id": {"$ptr": "/data/file/id"}}}',
                              value: ep ? jsonText(ep.mapping) : '' }),
    success: el('textarea', { id: 'ep-success', class: 'code', rows: '12', spellcheck: 'false',
                              placeholder: '{"status": ["2xx"], "body": {"pointer": "/ok", "equals": true}}',
                              value: ep ? jsonText(ep.success) : '' }),
  };
  c.authType.id = 'ep-auth-type';
  return c;
}

// Shows the name and secret fields the auth type has, labelled for it.
function authFields(c, ep, nameLabel, secretLabel, secretNote) {
  const t = c.authType.value;
  const names = { basic: 'Username', header: 'Header name' };
  const secrets = { bearer: 'Token', basic: 'Password', header: 'Header value' };
  nameLabel.parentNode.hidden = !names[t];
  nameLabel.textContent = names[t] || '';
  secretLabel.parentNode.hidden = !secrets[t];
  secretLabel.textContent = secrets[t] || '';
  const kept = ep && ep.auth && ep.auth.type === t && ep.auth.secret_set;
  secretNote.textContent = 'Write-only: it is never shown again, not even here.' +
    (kept ? ' Leave it empty to keep the one stored.' : '');
}

function parseJson(text, name) {
  const s = text.trim();
  if (!s) return null;
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new Error(name + ': not JSON: ' + e.message);
  }
}

function parseSchedule(text) {
  const s = text.trim();
  if (!s) return null;
  return s.split(/[\s,]+/).map((x) => {
    if (!/^\d+$/.test(x)) throw new Error('retry schedule: "' + x + '" is not a number of seconds');
    return Number(x);
  });
}

function authOf(c) {
  const type = c.authType.value;
  const secret = c.authSecret.value;
  const a = { type };
  if (type === 'bearer' && secret) a.token = secret;
  if (type === 'basic') {
    a.username = c.authName.value;
    if (secret) a.password = secret;
  }
  if (type === 'header') {
    a.name = c.authName.value.trim();
    if (secret) a.value = secret;
  }
  return a;
}

// The document to send; throws an Error saying which field is wrong.
function documentOf(c, creating) {
  const doc = {
    url: c.url.value.trim(),
    description: c.description.value,
    events: c.events.filter((x) => x.checked).map((x) => x.value),
    filter: parseJson(c.filter.value, 'filter'),
    auth: authOf(c),
    retry_schedule: parseSchedule(c.retry.value),
    rate_limit: c.rate.value.trim() ? Number(c.rate.value) : null,
    mapping: parseJson(c.mapping.value, 'mapping'),
    success: parseJson(c.success.value, 'success rule'),
  };
  if (creating) {   // null means "the default": left out when making one
    for (const k of Object.keys(doc)) if (doc[k] === null) delete doc[k];
  }
  return doc;
}

function openEditor(ep) {
  const { ctx } = state;
  ctx.notify.clear();
  const c = controls(ep);
  const nameLabel = el('span');
  const secretLabel = el('span');
  const secretNote = el('small', { class: 'muted', id: 'ep-auth-secret-note' });
  const preview = el('div', { id: 'ep-preview', class: 'preview', 'aria-live': 'polite' });
  const save = el('button', { type: 'submit', id: 'ep-save', text: ep ? 'Save' : 'Add endpoint' });
  c.authType.addEventListener('change', () => authFields(c, ep, nameLabel, secretLabel, secretNote));
  const form = el('form', { class: 'editor', id: 'endpoint-form', on: { submit: (ev) => {
    ev.preventDefault();
    submit(ep, c, save);
  } } },
    el('h2', { text: ep ? 'Edit ' + ep.id : 'Add an endpoint' }),
    field('URL', c.url), field('Description', c.description),
    el('fieldset', { class: 'events-checks', id: 'ep-events' },
      el('legend', { text: 'Events (none ticked: every event)' }),
      c.events.map((x) => el('label', null, x, ' ' + x.value))),
    field('Filter (JSON: pointer → value or [values])', c.filter),
    el('fieldset', { class: 'auth' },
      el('legend', { text: 'How we authenticate to it (besides the signature)' }),
      field('Type', c.authType),
      el('label', { class: 'field' }, nameLabel, c.authName),
      el('label', { class: 'field' }, secretLabel, c.authSecret, secretNote)),
    el('div', { class: 'field-stack' },
      field('Retry schedule (seconds after each failure)', c.retry),
      field('Rate limit (attempts a second)', c.rate)),
    field('Mapping template (JSON; empty: the event as it is)', c.mapping),
    field('Success rule (JSON; empty: any 2xx within 15 s)', c.success),
    el('div', { class: 'editor-buttons' }, save,
      ep ? el('button', { type: 'button', id: 'ep-preview-button', text: 'Preview',
                          on: { click: () => runPreview(ep, c, preview) } })
        : el('span', { class: 'muted', text: 'Save it first to preview its requests.' }),
      el('button', { type: 'button', id: 'ep-cancel', text: 'Cancel',
                     on: { click: () => state.formSlot.replaceChildren() } })),
    preview);
  authFields(c, ep, nameLabel, secretLabel, secretNote);
  state.formSlot.replaceChildren(form);
  c.url.focus();
}

async function submit(ep, c, button) {
  const { ctx } = state;
  ctx.notify.clear();
  let doc;
  try {
    doc = documentOf(c, !ep);
  } catch (e) {
    ctx.notify.error(e);
    return;
  }
  button.disabled = true;
  try {
    const out = ep ? await ctx.api('PATCH', ctx.poolPath('endpoints', ep.id), { body: doc })
      : await ctx.api('POST', ctx.poolPath('endpoints'), { body: doc });
    if (!ctx.alive()) return;
    state.formSlot.replaceChildren();
    if (ep) ctx.notify.info('Endpoint ' + out.id + ' was saved.');
    else showSecret(out, 'Endpoint ' + out.id + ' was added');
    await load();
  } catch (e) {
    if (ctx.alive()) ctx.notify.error(e);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- preview
async function runPreview(ep, c, out) {
  const { ctx } = state;
  out.replaceChildren(el('p', { class: 'muted', text: 'Rendering…' }));
  let body;
  try {
    // the unsaved template; empty: the stored one
    body = { mapping: parseJson(c.mapping.value, 'mapping') };
  } catch (e) {
    out.replaceChildren(el('p', { class: 'preview-error', role: 'alert', text: e.message }));
    return;
  }
  try {
    const r = await ctx.api('POST', ctx.poolPath('endpoints', ep.id, 'preview'), { body });
    if (ctx.alive()) out.replaceChildren(previewOf(r));
  } catch (e) {
    if (ctx.alive()) {
      out.replaceChildren(el('p', { class: 'preview-error', role: 'alert',
                                    text: 'The template is refused: ' + e.message }));
    }
  }
}

export function headersTable(h) {
  const rows = Object.entries(h || {}).map(([k, v]) =>
    el('tr', null, el('th', { scope: 'row', text: k }), el('td', { text: String(v) })));
  return rows.length ? el('table', { class: 'headers' }, el('tbody', null, rows))
    : el('span', { class: 'muted', text: 'none' });
}

function previewOf(r) {
  const missing = r.missing || [];
  return el('div', { class: 'preview-result' },
    el('h3', { text: 'The request it would send (not sent)' }),
    el('p', { class: 'request-line' }, el('strong', { class: 'pv-method', text: String(r.method) }), ' ',
       el('span', { class: 'url pv-url', text: String(r.url) })),
    headersTable(r.headers),
    el('pre', { class: 'body pv-body', text: r.body === null || r.body === undefined ? '' : String(r.body) }),
    el('p', { class: 'pv-missing' + (missing.length ? ' warn' : ' muted'),
              text: missing.length ? 'Missing in the event (sent as null): ' + missing.join(', ')
                : 'Every pointer was found in the event.' }),
    el('details', null, el('summary', { text: 'The event it rendered (' + (r.event && r.event.type) + ')' }),
       el('pre', { class: 'json', text: JSON.stringify(r.event, null, 2) })));
}

export default { id: 'endpoints', title: 'Endpoints', render, leave };
