// Data shared by the endpoints and deliveries screens: the event types,
// every endpoint of the pool, and the filter one screen hands to the
// other ("Deliveries" on an endpoint's row).

// The event types the API sends (docs/webhooks.md, "events").
export const EVENT_TYPES = [
  'file.received', 'group.closed', 'group.ready', 'group.failed',
  'result.published', 'import.completed', 'import.failed',
  'client.enrolled', 'message.received', 'webhook.test',
];

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'];

const PAGE = 1000;
const MAX_PAGES = 10;

// Every endpoint of the pool by id (for the filters' choices), at most
// MAX_PAGES pages of PAGE.
export async function allEndpoints(ctx) {
  const out = [];
  let after = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const j = await ctx.api('GET', ctx.poolPath('endpoints'), { query: { limit: PAGE, after } });
    out.push(...(j.items || []));
    after = j.next;
    if (!after) break;
  }
  return out;
}

// An endpoint's name in a list: its description, else its URL.
export function endpointLabel(ep) {
  const d = ep.description ? String(ep.description) : '';
  const name = d || String(ep.url);
  return (name.length > 60 ? name.slice(0, 59) + '…' : name) + ' (' + ep.id + ')';
}

// The deliveries screen reads this once when it is shown.
let handoff = null;

export function showDeliveriesOf(endpointId) {
  handoff = { endpoint: endpointId };
  location.hash = '#deliveries';
}

export function takeHandoff() {
  const h = handoff;
  handoff = null;
  return h;
}
