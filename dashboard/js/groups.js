// Data of rounds shared by the screens: the pool's groups (newest first),
// a group's details, process status words.

// The API lists groups in ascending seq only (…/groups?after=SEQ): the
// newest are found by reading every page.  At most MAX_PAGES pages.
const PAGE = 1000;
const MAX_PAGES = 20;

export async function allGroups(ctx, stateFilter) {
  let after = null;
  const out = [];
  for (let i = 0; i < MAX_PAGES; i++) {
    const j = await ctx.api('GET', ctx.poolPath('groups'),
                            { query: { limit: PAGE, after, state: stateFilter } });
    out.push(...(j.groups || []));
    after = j.next;
    if (!after) return { groups: out.reverse(), complete: true };
  }
  return { groups: out.reverse(), complete: false };
}

// What the manifest adds to a group's summary: files received so far
// (the summary counts only those in time, and only once closed), late
// files and distinct uploading clients.
export async function groupDetails(ctx, g) {
  const m = await ctx.api('GET', ctx.poolPath('groups', g.id));
  const files = m.files || [];
  return {
    received: files.length,
    late: files.filter((f) => f.late).length,
    clients: new Set(files.map((f) => f.client)).size,
    truncated: !!m.files_truncated,
    result: m.result || null,
  };
}

export async function processOf(ctx, id) {
  return ctx.api('GET', 'processes/' + encodeURIComponent(id));
}

export const PROCESS_STATUS = { 0: 'running', 1: 'succeeded', 2: 'failed' };
