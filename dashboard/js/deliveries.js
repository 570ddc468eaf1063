// Deliveries: the chart of the last day (chart.js), the delivery log with
// filters (endpoint, status, event, since) page by page, one delivery
// with its payload and every attempt (request and response), Retry, and
// "Recover since" for an endpoint's failures.  A delivery shown while it
// is pending is read again every few seconds until it is not.
// API: …/deliveries[?…], …/deliveries/{id}[/retry], …/deliveries/stats,
// …/endpoints/{id}/recover (docs/webhooks.md).
import { el, field, select, table, time, dash, facts } from './dom.js';
import { chart } from './chart.js';
import { headersTable } from './endpoints.js';
import { EVENT_TYPES, DELIVERY_STATES, allEndpoints, endpointLabel, takeHandoff } from './webhooks.js';

const PAGE = 20;
const POLL_MS = 2000;

let state = null;

function render(ctx) {
  const h = takeHandoff();
  state = { ctx, filter: { endpoint: h ? h.endpoint : '', status: '', event: '', since: '' },
            cursors: [null], page: 0, next: null, shown: null, timer: null };
  state.chart = el('div', { id: 'delivery-chart' });
  state.detail = el('div', { id: 'delivery-detail' });
  state.list = el('div', { id: 'deliveries-list' });
  state.endpointChoices = [];
  state.filterForm = filterForm();
  state.recoverSlot = el('div', { id: 'recover-slot' });
  ctx.root.append(
    el('h1', { text: 'Deliveries of ' + ctx.session.pool }),
    el('section', { class: 'chart-box' },
      el('div', { class: 'toolbar' }, el('h2', { text: 'The last day' }),
        el('button', { type: 'button', id: 'chart-reload', text: 'Reload chart',
                       on: { click: () => loadChart().catch((e) => ctx.alive() && ctx.notify.error(e)) } })),
      state.chart),
    el('h2', { text: 'Delivery log' }),
    state.filterForm, state.detail, state.list, state.recoverSlot);
  return Promise.all([loadChart(), loadEndpoints(), loadList()]);
}

function leave() {
  if (state) clearTimeout(state.timer);
  state = null;
}

async function loadChart() {
  const st = state;
  const j = await st.ctx.api('GET', st.ctx.poolPath('deliveries', 'stats'));
  if (state !== st || !st.ctx.alive()) return;
  st.chart.replaceChildren(chart(j));
}

// ---------------------------------------------------------------- filters
function filterForm() {
  const f = state.filter;
  const c = {
    endpoint: select('endpoint', [['', 'all endpoints']], ''),
    status: select('status', [['', 'any state'], ...DELIVERY_STATES.map((x) => [x, x])], f.status),
    event: select('event', [['', 'any event'], ...EVENT_TYPES.map((x) => [x, x])], f.event),
    since: el('input', { name: 'since', id: 'dl-since', size: '24', spellcheck: 'false',
                         placeholder: 'RFC 3339 or Unix seconds' }),
  };
  c.endpoint.id = 'dl-endpoint';
  c.status.id = 'dl-status';
  c.event.id = 'dl-event';
  state.filterControls = c;
  return el('form', { class: 'toolbar', id: 'deliveries-filter', on: { submit: (ev) => {
    ev.preventDefault();
    Object.assign(state.filter, { endpoint: c.endpoint.value, status: c.status.value,
                                  event: c.event.value, since: c.since.value.trim() });
    state.cursors = [null];
    state.page = 0;
    reloadList();
  } } },
  field('Endpoint', c.endpoint), field('State', c.status), field('Event', c.event),
  field('Created since', c.since),
  el('button', { type: 'submit', id: 'dl-apply', text: 'Show' }),
  el('button', { type: 'button', id: 'dl-reload', text: 'Reload', on: { click: () => reloadList() } }));
}

async function loadEndpoints() {
  const st = state;
  const eps = await allEndpoints(st.ctx);
  if (state !== st || !st.ctx.alive()) return;
  st.endpointChoices = eps;
  const sel = st.filterControls.endpoint;
  sel.replaceChildren(...[['', 'all endpoints'], ...eps.map((e) => [e.id, endpointLabel(e)])].map(([v, t]) =>
    el('option', { value: v, text: t })));
  sel.value = st.filter.endpoint;
  st.recoverSlot.replaceChildren(recoverForm(eps));
}

function reloadList() {
  if (!state) return;
  state.ctx.notify.clear();
  loadList().catch((e) => state && state.ctx.alive() && state.ctx.notify.error(e));
}

// ---------------------------------------------------------------- the list
async function loadList() {
  const st = state;
  const { ctx, filter } = st;
  const query = { limit: PAGE, before: st.cursors[st.page], ...filter };
  const j = await ctx.api('GET', ctx.poolPath('deliveries'), { query });
  if (state !== st || !ctx.alive()) return;
  st.next = j.next || null;
  const rows = (j.items || []).map((d) => {
    const tr = el('tr', { dataset: { delivery: d.id } });
    fillRow(tr, d);
    return tr;
  });
  const prev = el('button', { type: 'button', id: 'dl-prev', text: '← Newer', disabled: st.page === 0,
                              on: { click: () => { st.page--; reloadList(); } } });
  const next = el('button', { type: 'button', id: 'dl-next', text: 'Older →', disabled: !st.next,
                              on: { click: () => { st.cursors[st.page + 1] = st.next; st.page++; reloadList(); } } });
  st.list.replaceChildren(
    rows.length ? table(['Created', 'Event', 'Endpoint', 'State', 'Attempts', 'Last answer', ''], rows,
                        'grid deliveries')
      : el('p', { class: 'muted', text: 'No deliveries' + (Object.values(filter).some((v) => v) ? ' match.' : ' yet.') }),
    el('div', { class: 'toolbar' }, prev, next, el('span', { class: 'muted', text: 'page ' + (st.page + 1) + ', newest first' })));
}

function stateBadge(d) {
  return el('span', { class: 'badge dstate-' + d.state, text: d.state });
}

function fillRow(tr, d) {
  tr.replaceChildren(
    el('td', null, time(d.created_at)),
    el('td', { text: d.event }),
    el('td', null, d.endpoint ? el('code', { text: d.endpoint }) : el('span', { class: 'muted', text: 'removed' }),
       el('div', { class: 'url muted', text: String(d.url) })),
    el('td', { class: 'state' }, stateBadge(d)),
    el('td', { class: 'attempts', text: String(d.attempts) }),
    el('td', { class: 'last' }, d.last_status ? el('span', { text: String(d.last_status) + ' ' }) : null,
       d.last_error ? el('span', { class: 'last-error', text: String(d.last_error) }) : null,
       !d.last_status && !d.last_error ? el('span', { class: 'muted', text: '—' }) : null),
    el('td', null, el('button', { type: 'button', class: 'dl-open', text: 'Details',
                                  on: { click: () => openDetail(d.id) } })));
}

// ---------------------------------------------------------------- one delivery
// polled: read again while pending (the user's message line stays)
async function openDetail(id, polled) {
  const st = state;
  clearTimeout(st.timer);
  st.shown = id;
  if (!polled) st.ctx.notify.clear();
  try {
    const d = await st.ctx.api('GET', st.ctx.poolPath('deliveries', id));
    if (state === st && st.ctx.alive() && st.shown === id) showDetail(d);
  } catch (e) {
    if (st.ctx.alive()) st.ctx.notify.error(e);
  }
}

function closeDetail() {
  clearTimeout(state.timer);
  state.shown = null;
  state.detail.replaceChildren();
}

function showDetail(d) {
  const st = state;
  const retry = el('button', { type: 'button', id: 'delivery-retry', text: 'Retry now',
                               disabled: d.state === 'delivered',
                               title: d.state === 'delivered' ? 'delivered: nothing to retry' : null,
                               on: { click: () => retryIt(d, retry) } });
  st.detail.replaceChildren(el('article', { class: 'delivery', dataset: { delivery: d.id, state: d.state } },
    el('div', { class: 'toolbar' },
      el('h2', null, 'Delivery ', el('code', { text: d.id }), ' ', stateBadge(d)),
      retry, el('button', { type: 'button', id: 'delivery-close', text: 'Close', on: { click: closeDetail } })),
    facts([
      ['Event', d.event], ['Endpoint', d.endpoint ? d.endpoint : 'removed'], ['URL', el('span', { class: 'url', text: String(d.url) })],
      ['Attempts', String(d.attempts)], ['Last status', dash(d.last_status)], ['Last error', dash(d.last_error)],
      ['Created', time(d.created_at)], ['Next attempt', time(d.next_attempt_at)], ['Delivered', time(d.delivered_at)],
    ], 'facts delivery-facts'),
    el('details', { class: 'payload' }, el('summary', { text: 'Payload (the event as queued)' }),
       el('pre', { class: 'json', id: 'delivery-payload', text: JSON.stringify(d.payload, null, 2) })),
    el('h3', { text: 'Attempts, oldest first' }),
    (d.history || []).length
      ? el('ol', { class: 'attempts', id: 'delivery-history' }, d.history.map(attempt))
      : el('p', { class: 'muted', text: 'Not attempted yet.' })));
  // follow it while it is pending (the deliver step will send it)
  clearTimeout(st.timer);
  if (d.state === 'pending') st.timer = setTimeout(() => st.shown === d.id && openDetail(d.id, true), POLL_MS);
  const tr = st.list.querySelector('tr[data-delivery="' + CSS.escape(d.id) + '"]');
  if (tr) fillRow(tr, d);
}

function bodyBlock(cls, body) {
  if (body === null || body === undefined) return el('p', { class: 'muted', text: 'no body' });
  return el('pre', { class: 'body ' + cls, text: String(body) });
}

function attempt(a) {
  const req = a.request || {}, res = a.response || {};
  const outcome = a.outcome || 'in flight';
  return el('li', { class: 'attempt outcome-' + (a.outcome || 'none'), dataset: { attempt: a.id } },
    el('div', { class: 'attempt-head' }, time(a.at), ' ',
      el('span', { class: 'badge outcome', text: outcome }), ' ',
      el('span', { class: 'status', text: a.status === null ? 'no answer' : 'status ' + a.status }), ' · ',
      el('span', { class: 'duration', text: a.duration_ms === null ? '—' : a.duration_ms + ' ms' }),
      a.reason ? el('div', { class: 'reason', text: String(a.reason) }) : null),
    el('div', { class: 'exchange' },
      el('section', { class: 'request' }, el('h4', { text: 'Request' }),
        el('p', { class: 'request-line' }, el('strong', { text: dash(req.method) }), ' ',
           el('span', { class: 'url', text: dash(req.url) })),
        headersTable(req.headers), bodyBlock('req-body', req.body)),
      el('section', { class: 'response' }, el('h4', { text: 'Response' }),
        el('p', { text: res.status === null || res.status === undefined ? 'No HTTP answer.' : 'Status ' + res.status }),
        headersTable(res.headers), bodyBlock('resp-body', res.body),
        res.truncated ? el('p', { class: 'warn truncated', text: 'Truncated: only the first 64 KB of the body were kept.' }) : null)));
}

async function retryIt(d, button) {
  const { ctx } = state;
  button.disabled = true;
  ctx.notify.clear();
  try {
    const now = await ctx.api('POST', ctx.poolPath('deliveries', d.id, 'retry'));
    if (!ctx.alive()) return;
    ctx.notify.info('Delivery ' + d.id + ' is due now: the deliver step sends it.');
    if (state.shown === d.id) showDetail(now);
  } catch (e) {
    if (ctx.alive()) { ctx.notify.error(e); button.disabled = false; }
  }
}

// ---------------------------------------------------------------- recover
function recoverForm(eps) {
  const { ctx } = state;
  const ep = select('endpoint', eps.map((e) => [e.id, endpointLabel(e)]), state.filter.endpoint || '');
  ep.id = 'recover-endpoint';
  ep.required = true;
  const since = el('input', { name: 'since', id: 'recover-since', size: '24', required: true, spellcheck: 'false',
                              value: new Date(Date.now() - 86400000).toISOString().replace(/\.\d+Z$/, 'Z') });
  const button = el('button', { type: 'submit', id: 'recover-submit', text: 'Recover', disabled: !eps.length });
  return el('form', { class: 'inline-form', id: 'recover-form', on: { submit: async (ev) => {
    ev.preventDefault();
    ctx.notify.clear();
    button.disabled = true;
    try {
      const j = await ctx.api('POST', ctx.poolPath('endpoints', ep.value, 'recover'),
                              { query: { since: since.value.trim() } });
      if (!ctx.alive()) return;
      ctx.notify.info(j.recovered + ' failed deliveries of ' + ep.value + ' are pending again, ' +
                      'each with the whole retry schedule.');
      await loadList();
    } catch (e) {
      if (ctx.alive()) ctx.notify.error(e);
    } finally {
      button.disabled = false;
    }
  } } },
  el('h2', { text: 'Recover since' }),
  el('p', { class: 'muted', text: 'Every failed delivery of the endpoint made since then is sent again, ' +
            'with its whole retry schedule (a disabled endpoint is enabled).' }),
  field('Endpoint', ep), field('Since', since), button);
}

export default { id: 'deliveries', title: 'Deliveries', render, leave };
