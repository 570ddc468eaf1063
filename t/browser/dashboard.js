#!/usr/bin/env node
// Drives the pool dashboard in Debian's chromium (headless, through
// playwright-core) for t/integration/test_dashboard.py.
//
//   node dashboard.js SCENARIO CONFIG_JSON     one scenario
//   node dashboard.js --serve                  one per line of stdin
//
// CONFIG: {"base": "http://127.0.0.1:PORT", "pool", "client_id", "secret",
// ...what the scenario needs}.  Prints one line of JSON per scenario: what
// the browser saw ({"ok": true, ...}), or {"ok": false, "error": ...}; the
// python test asserts on it.  Every scenario also reports the dialogs the
// page opened, its uncaught errors and console errors.  With --serve, each
// stdin line is {"scenario": NAME, "cfg": CONFIG}: chromium starts once and
// each scenario gets a fresh browser context (no cookies, storage or cache
// of another), which saves a browser start per scenario; EOF ends it.
//
// DASHBOARD_SCREENSHOTS=DIR saves dashboard-*.png of the screens it shows
// into DIR (docs/img/ is made that way; normal test runs leave it unset).
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.DASHBOARD_SCREENSHOTS || '';
const TIMEOUT = 20000;

function launchBrowser() {
  const args = ['--disable-dev-shm-usage'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

async function newPage(browser, cfg) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cfg.base });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const seen = { dialogs: [], pageErrors: [], consoleErrors: [], requests: [], token: null };
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e.message || e)));
  page.on('console', (m) => { if (m.type() === 'error') seen.consoleErrors.push(m.text()); });
  page.on('request', (r) => seen.requests.push(r.url()));
  page.on('response', async (r) => {
    if (r.url().endsWith('/v1/token') && r.status() === 200) {
      try { seen.token = (await r.json()).access_token; } catch (e) { /* gone */ }
    }
  });
  return { context, page, seen };
}

async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'dashboard-' + name + '.png'), fullPage: true });
}

// One element of the page only (a chart, a delivery).
async function shotOf(page, selector, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.locator(selector).screenshot({ path: path.join(SHOTS, 'dashboard-' + name + '.png') });
}

async function open(page, cfg) {
  const res = await page.goto(cfg.base + '/pool/dashboard/');
  await page.waitForSelector('#signin');
  return res;
}

async function fillSignIn(page, cfg, secret) {
  await page.fill('#signin-pool', cfg.pool);
  await page.fill('#signin-client', cfg.client_id);
  await page.fill('#signin-secret', secret);
  await page.click('#signin button[type=submit]');
}

async function signIn(page, cfg) {
  await open(page, cfg);
  await fillSignIn(page, cfg, cfg.secret);
  await page.waitForSelector('#screen-clients #clients-list table, #screen-clients #clients-list p');
}

async function messageText(page) {
  await page.waitForSelector('#message:not([hidden])');
  return { text: await page.textContent('#message'), cls: await page.getAttribute('#message', 'class') };
}

// Everything of the token the page could have left behind.
async function tokenTraces(page, seen) {
  const t = seen.token;
  const where = await page.evaluate(() => ({
    cookie: document.cookie, href: location.href,
    local: JSON.stringify(Object.entries(localStorage)),
    session: JSON.stringify(Object.entries(sessionStorage)),
  }));
  return {
    have_token: !!t,
    in_cookie: !!t && where.cookie.includes(t),
    cookie: where.cookie,
    in_location: !!t && where.href.includes(t),
    in_local_storage: !!t && where.local.includes(t),
    local_storage_items: where.local,
    in_session_storage: !!t && where.session.includes(t),
    in_request_urls: !!t && seen.requests.some((u) => u.includes(t)),
  };
}

async function clientRows(page) {
  return page.$$eval('#clients-list tbody tr', (trs) => trs.map((tr) => ({
    client_id: tr.dataset.client,
    name: tr.querySelector('td.name').textContent,
    state: tr.querySelector('td.state').textContent,
    labels: tr.querySelector('ul.labels') ? tr.querySelector('ul.labels').textContent : '',
  })));
}

// ---------------------------------------------------------------- scenarios
const scenarios = {};

// wrong secret, then sign in, token traces, sign out
scenarios.signin = async (cfg, { page, seen }) => {
  const out = {};
  const res = await open(page, cfg);
  out.page_headers = res.headers();
  await page.fill('#signin-pool', cfg.pool);
  await page.fill('#signin-client', cfg.client_id);
  await shot(page, 'signin');
  await fillSignIn(page, cfg, cfg.secret + 'x');
  out.wrong = await messageText(page);
  out.wrong_secret_field = await page.inputValue('#signin-secret');
  await fillSignIn(page, cfg, cfg.secret);
  await page.waitForSelector('#clients-list table');
  out.who = await page.textContent('#who');
  out.hash = await page.evaluate(() => location.hash);
  out.rows = await clientRows(page);
  out.traces = await tokenTraces(page, seen);
  await shot(page, 'clients');
  // a reload forgets the token: it lived in the page's memory only
  await page.reload();
  await page.waitForSelector('#signin');
  out.after_reload_signin = await page.isVisible('#signin');
  await fillSignIn(page, cfg, cfg.secret);
  await page.waitForSelector('#clients-list table');
  await page.click('#signout');
  await page.waitForSelector('#signin');
  out.signout_message = await page.textContent('#message');
  out.who_hidden = await page.isHidden('#who');
  out.nav_hidden = await page.isHidden('#nav');
  await page.evaluate(() => { location.hash = '#rounds'; });
  await page.waitForTimeout(300);
  out.after_signout_signin = await page.isVisible('#signin');
  out.after_signout_screens = await page.$$eval('section.screen', (s) => s.length);
  out.traces_after = await tokenTraces(page, seen);
  return out;
};

// a client that is not an admin is turned away
scenarios.signin_refused = async (cfg, { page }) => {
  await open(page, cfg);
  await fillSignIn(page, cfg, cfg.secret);
  const m = await messageText(page);
  return { message: m.text, signin_visible: await page.isVisible('#signin'),
           nav_hidden: await page.isHidden('#nav') };
};

// a page of clients, the next and back
scenarios.paging = async (cfg, { page }) => {
  await signIn(page, cfg);
  const out = { pages: [] };
  const record = async () => out.pages.push({
    rows: (await clientRows(page)).map((r) => r.name),
    prev_disabled: await page.isDisabled('#clients-prev'),
    next_disabled: await page.isDisabled('#clients-next'),
  });
  await record();
  const first = out.pages[0].rows[0];
  await page.click('#clients-next');
  await page.waitForFunction((f) => {
    const td = document.querySelector('#clients-list tbody tr td.name');
    return td && td.textContent !== f;
  }, first);
  await record();
  await page.click('#clients-prev');
  await page.waitForFunction((f) => {
    const td = document.querySelector('#clients-list tbody tr td.name');
    return td && td.textContent === f;
  }, first);
  await record();
  return out;
};

// add a client: its secret once, copied, gone after a reload of the list
scenarios.add = async (cfg, { page }) => {
  await signIn(page, cfg);
  await page.fill('#add-name', cfg.name);
  await page.selectOption('#add-role', cfg.role);
  await page.fill('#add-labels', cfg.labels || '');
  await page.click('#add-submit');
  await page.waitForSelector('#secret-box');
  const out = {};
  out.secret = await page.inputValue('#new-secret');
  out.client_id = await page.textContent('#new-client-id');
  out.box_text = await page.textContent('#secret-box');
  await page.click('#copy-secret');
  await page.waitForSelector('#copy-status:has-text("Copied")');
  out.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  await page.waitForSelector('#clients-list tr[data-client="' + out.client_id + '"]');
  out.rows = await clientRows(page);
  await shot(page, 'client-added');
  await page.click('#clients-reload');
  await page.waitForSelector('#secret-box', { state: 'detached' });
  await page.waitForSelector('#clients-list tr[data-client="' + out.client_id + '"]');
  out.after_reload_text_has_secret = (await page.evaluate(() => document.body.innerText)).includes(out.secret);
  out.after_reload_inputs_have_secret = await page.$$eval('input, textarea',
    (els, s) => els.some((e) => e.value.includes(s)), out.secret);
  out.after_reload_html_has_secret = (await page.content()).includes(out.secret);
  return out;
};

// press Disable (or Enable) on cfg.target and wait for the row to say so
scenarios.toggle = async (cfg, { page }) => {
  await signIn(page, cfg);
  const row = '#clients-list tr[data-client="' + cfg.target + '"]';
  await page.waitForSelector(row);
  const out = { before: await page.textContent(row + ' td.state') };
  await page.click(row + ' button');
  await page.waitForSelector(row + ' td.state:has-text("' + cfg.expect + '")');
  out.after = await page.textContent(row + ' td.state');
  out.button = await page.textContent(row + ' button');
  out.message = await page.textContent('#message');
  return out;
};

// a label that is markup shows as text; nothing of it runs
scenarios.xss = async (cfg, { page, seen }) => {
  await signIn(page, cfg);
  const row = '#clients-list tr[data-client="' + cfg.target + '"]';
  await page.waitForSelector(row);
  const out = {};
  out.label_text = await page.textContent(row + ' ul.labels');
  // the same through the form: a new client labelled with the payload
  await page.fill('#add-name', cfg.name);
  await page.fill('#add-labels', 'note=' + cfg.payload);
  await page.click('#add-submit');
  await page.waitForSelector('#secret-box');
  const row2 = '#clients-list tr[data-client="' + (await page.textContent('#new-client-id')) + '"]';
  await page.waitForSelector(row2);
  out.form_label_text = await page.textContent(row2 + ' ul.labels');
  out.secret_box_text = await page.textContent('#secret-box');
  await page.waitForTimeout(500);   // time for an image error to fire, were it one
  out.imgs_in_main = await page.$$eval('#main img', (l) => l.length);
  out.flag = await page.evaluate(() => window.__xss === undefined ? null : String(window.__xss));
  out.dialogs = seen.dialogs.slice();
  return out;
};

// the Content-Security-Policy blocks inline script and inline style
scenarios.csp = async (cfg, { page }) => {
  const res = await open(page, cfg);
  const out = { header: res.headers()['content-security-policy'] || null };
  out.result = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener('securitypolicyviolation',
      (e) => violations.push(e.violatedDirective + ' ' + (e.blockedURI || '')));
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1;';
    document.body.appendChild(s);
    const d = document.createElement('div');
    d.setAttribute('style', 'color: rgb(255, 0, 0)');
    d.textContent = 'styled?';
    document.body.appendChild(d);
    const h = document.createElement('div');
    h.innerHTML = '<img src="data:," onerror="window.__handler = 1">';
    document.body.appendChild(h);
    await new Promise((r) => setTimeout(r, 500));
    return {
      inline_ran: window.__inline !== undefined,
      handler_ran: window.__handler !== undefined,
      color: getComputedStyle(d).color,
      violations,
    };
  });
  return out;
};

// the rounds screen, once every group's details have arrived
scenarios.rounds = async (cfg, { page }) => {
  await signIn(page, cfg);
  await page.click('#nav a[href="#rounds"]');
  await page.waitForSelector('#timeline li.round');
  await page.waitForSelector('#latest-result dl, #latest-result p');
  await page.waitForFunction((n) => {
    const items = [...document.querySelectorAll('#timeline li.round')];
    return items.length >= n && items.every((li) => !li.textContent.includes('…'));
  }, cfg.groups || 1);
  const out = {};
  out.groups = await page.$$eval('#timeline li.round', (lis) => lis.map((li) => {
    const facts = {};
    const dts = li.querySelectorAll('dt');
    dts.forEach((dt) => { facts[dt.textContent] = dt.nextElementSibling.textContent; });
    const p = li.querySelector('progress');
    return { id: li.dataset.group, seq: li.dataset.seq,
             state: li.querySelector('.badge').textContent, facts,
             progress: p ? Number(p.value) : null };
  }));
  out.settings = await page.textContent('#rounds-settings');
  out.latest = await page.textContent('#latest-result dl');
  out.receipts = await page.$$eval('#latest-result tbody tr', (trs) => trs.map((tr) => ({
    client_id: tr.querySelector('code').textContent,
    received: tr.className === 'received',
    text: tr.textContent })));
  await shot(page, 'rounds');
  return out;
};

// imports and processes: the rounds' processes, then an import followed
// until it ends (the python test runs the fetch step meanwhile)
scenarios.processes = async (cfg, { page }) => {
  await signIn(page, cfg);
  await page.click('#nav a[href="#processes"]');
  await page.waitForSelector('#round-processes table, #round-processes p');
  const out = {};
  out.round_processes = await page.$$eval('#round-processes tbody tr',
    (trs) => trs.map((tr) => ({ id: tr.dataset.process, text: tr.textContent })));
  await page.fill('#import-url', cfg.url);
  await page.fill('#import-name', cfg.name);
  await page.click('#import-submit');
  await page.waitForSelector('#imports-list tbody tr');
  out.process = await page.getAttribute('#imports-list tbody tr', 'data-process');
  process.stderr.write('process ' + out.process + '\n');
  await page.waitForSelector('#imports-list tbody tr .badge:not(.status-0)', { timeout: 90000 });
  out.import_row = await page.textContent('#imports-list tbody tr');
  out.import_status = await page.textContent('#imports-list tbody tr .badge');
  await page.fill('#lookup-id', out.process);
  await page.click('#lookup-form button[type=submit]');
  await page.waitForSelector('#process-lookup pre.json');
  out.lookup_result = JSON.parse(await page.textContent('#process-lookup pre.json'));
  await shot(page, 'processes');
  return out;
};

// ---------------------------------------------------------------- webhooks

async function screen(page, id, ready) {
  await page.click('#nav a[href="#' + id + '"]');
  await page.waitForSelector(ready);
}

// Everything of markup that could have run: <img> elements in the page,
// the payload's flag, the dialogs.
async function xssTraces(page, seen) {
  await page.waitForTimeout(500);   // time for an image error to fire, were it one
  return {
    imgs_in_main: await page.$$eval('#main img', (l) => l.length),
    flag: await page.evaluate(() => window.__xss === undefined ? null : String(window.__xss)),
    dialogs: seen.dialogs.slice(),
  };
}

function epRow(id) {
  return '#endpoints-list tr[data-endpoint="' + id + '"]';
}

// endpoints: markup shown as text; add one through the form (its secret
// once), rotate, disable, delete (confirmed in the page, cancelled once)
scenarios.endpoints = async (cfg, { page, seen }) => {
  await signIn(page, cfg);
  await screen(page, 'endpoints', epRow(cfg.target));
  const out = {};
  const target = epRow(cfg.target);
  out.target_url = await page.textContent(target + ' .ep-url');
  out.target_description = await page.textContent(target + ' .ep-description');

  await page.click('#endpoint-new');
  await page.waitForSelector('#endpoint-form');
  await page.fill('#ep-url', cfg.url);
  await page.fill('#ep-description', cfg.payload);
  await page.check('#ep-event-file-received');
  await page.check('#ep-event-group-closed');
  await page.selectOption('#ep-auth-type', 'bearer');
  out.secret_note = await page.textContent('#ep-auth-secret-note');
  await page.fill('#ep-auth-secret', cfg.token);
  await page.fill('#ep-retry', '10, 60');
  await page.fill('#ep-rate', '5');
  await page.click('#ep-save');
  await page.waitForSelector('#endpoint-secret-box');
  out.id = await page.getAttribute('#endpoint-secret-box', 'data-endpoint');
  out.secret = await page.inputValue('#endpoint-secret');
  out.secret_box_text = await page.textContent('#endpoint-secret-box');
  const row = epRow(out.id);
  await page.waitForSelector(row);
  out.row = await page.textContent(row);
  out.row_description = await page.textContent(row + ' .ep-description');
  await shot(page, 'endpoints');
  await page.click('#endpoint-secret-done');
  await page.waitForSelector('#endpoint-secret-box', { state: 'detached' });
  out.secret_in_page_after_done = (await page.content()).includes(out.secret);

  await page.click(row + ' .ep-rotate');
  await page.waitForSelector(row + ' .confirm');
  out.rotate_question = await page.textContent(row + ' .confirm p');
  await page.click(row + ' .confirm-yes');
  await page.waitForSelector('#endpoint-secret-box');
  out.rotated_secret = await page.inputValue('#endpoint-secret');
  out.rotated_box_text = await page.textContent('#endpoint-secret-box');

  await page.click(row + ' .ep-toggle');
  await page.waitForSelector(row + ' td.state:has-text("disabled")');
  out.disabled_state = await page.textContent(row + ' td.state');

  // delete: cancelled first, then confirmed
  await page.click(target + ' .ep-delete');
  await page.waitForSelector(target + ' .confirm');
  out.delete_question = await page.textContent(target + ' .confirm p');
  await page.click(target + ' .confirm-no');
  await page.waitForSelector(target + ' .ep-delete');
  out.after_cancel_rows = await page.$$eval('#endpoints-list tbody tr', (l) => l.length);
  await page.click(target + ' .ep-delete');
  await page.click(target + ' .confirm-yes');
  await page.waitForSelector(target, { state: 'detached' });
  out.message = await page.textContent('#message');
  Object.assign(out, await xssTraces(page, seen));
  // an endpoint's Deliveries: the deliveries screen, filtered on it
  await page.click(row + ' .ep-deliveries');
  await page.waitForSelector('#screen-deliveries #dl-endpoint option[value="' + out.id + '"]',
                             { state: 'attached' });
  await page.waitForSelector('#deliveries-list p, #deliveries-list table');
  out.deliveries_hash = await page.evaluate(() => location.hash);
  out.deliveries_filter = await page.inputValue('#dl-endpoint');
  return out;
};

// the mapping editor: a preview of a new template, an invalid one's
// error with its position, JSON that does not parse, then saved
scenarios.mapping = async (cfg, { page }) => {
  await signIn(page, cfg);
  const row = epRow(cfg.target);
  await screen(page, 'endpoints', row);
  await page.click(row + ' .ep-edit');
  await page.waitForSelector('#endpoint-form');
  const out = {};
  out.mapping_before = JSON.parse(await page.inputValue('#ep-mapping'));
  out.secret_note = await page.textContent('#ep-auth-secret-note');
  await page.fill('#ep-mapping', cfg.mapping);
  await page.click('#ep-preview-button');
  await page.waitForSelector('#ep-preview .preview-result');
  out.preview = {
    method: await page.textContent('#ep-preview .pv-method'),
    url: await page.textContent('#ep-preview .pv-url'),
    body: await page.textContent('#ep-preview .pv-body'),
    missing: await page.textContent('#ep-preview .pv-missing'),
    headers: await page.$$eval('#ep-preview table.headers tr',
      (trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])),
  };
  await shot(page, 'endpoint-preview');
  await page.fill('#ep-mapping', cfg.invalid);
  await page.click('#ep-preview-button');
  await page.waitForSelector('#ep-preview .preview-error');
  out.invalid_error = await page.textContent('#ep-preview .preview-error');
  await page.fill('#ep-mapping', '{"body": ');
  await page.click('#ep-preview-button');
  await page.waitForSelector('#ep-preview .preview-error:has-text("not JSON")');
  out.json_error = await page.textContent('#ep-preview .preview-error');
  await page.fill('#ep-mapping', cfg.mapping);
  await page.click('#ep-save');
  await page.waitForSelector('#endpoint-form', { state: 'detached' });
  await page.waitForSelector('#message:has-text("was saved")');
  out.message = await page.textContent('#message');
  return out;
};

async function chartFacts(page) {
  return page.$eval('#delivery-chart', (c) => {
    const svg = c.querySelector('svg');
    return {
      svg: !!svg,
      ns: svg ? svg.namespaceURI : null,
      label: svg ? svg.getAttribute('aria-label') : null,
      delivered_bars: [...c.querySelectorAll('rect.bar.delivered')].map((r) => Number(r.dataset.count)),
      failed_bars: [...c.querySelectorAll('rect.bar.failed')].map((r) => Number(r.dataset.count)),
      bar_heights: [...c.querySelectorAll('rect.bar')].map((r) => Number(r.getAttribute('height'))),
      lines: c.querySelectorAll('path.line').length,
      dots: c.querySelectorAll('circle.dot').length,
      table_rows: c.querySelectorAll('table.chart-table tbody tr').length,
      busy_rows: [...c.querySelectorAll('table.chart-table tbody tr.busy')].map((tr) => tr.textContent),
    };
  });
}

function dlRow(id) {
  return '#deliveries-list tr[data-delivery="' + id + '"]';
}

// deliveries: the chart, the failed delivery's detail with the answer's
// body, Retry until delivered (the test runs the deliver step meanwhile),
// the event filter, Recover since
scenarios.deliveries = async (cfg, { page }) => {
  await signIn(page, cfg);
  await screen(page, 'deliveries', '#delivery-chart svg');
  const out = {};
  out.chart = await chartFacts(page);
  await page.waitForSelector(dlRow(cfg.delivery));
  await page.selectOption('#dl-status', 'failed');
  await page.click('#dl-apply');
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('#deliveries-list td.state')];
    return b.length && b.every((td) => td.textContent === 'failed');
  });
  out.failed_rows = await page.$$eval('#deliveries-list tbody tr', (l) => l.map((tr) => tr.dataset.delivery));
  const row = dlRow(cfg.delivery);
  await page.click(row + ' .dl-open');
  await page.waitForSelector('#delivery-detail article[data-delivery="' + cfg.delivery + '"]');
  const detail = '#delivery-detail article';
  out.detail_state = await page.getAttribute(detail, 'data-state');
  out.response_bodies = await page.$$eval(detail + ' pre.resp-body', (l) => l.map((x) => x.textContent));
  out.request_bodies = await page.$$eval(detail + ' pre.req-body', (l) => l.map((x) => x.textContent));
  out.reasons = await page.$$eval(detail + ' .attempt .reason', (l) => l.map((x) => x.textContent));
  out.payload = JSON.parse(await page.textContent('#delivery-payload'));
  await shotOf(page, '#delivery-detail', 'delivery');

  await page.click('#delivery-retry');
  await page.waitForSelector(detail + '[data-state="delivered"]', { timeout: 90000 });
  out.outcomes = await page.$$eval(detail + ' li.attempt', (l) => l.map((x) => x.className));
  out.last_response = await page.$$eval(detail + ' pre.resp-body', (l) => l[l.length - 1].textContent);
  out.retry_disabled = await page.isDisabled('#delivery-retry');
  out.row_state_after = await page.textContent(row + ' td.state');

  // the chart again: a delivered bar now
  await page.click('#chart-reload');
  await page.waitForSelector('#delivery-chart rect.bar.delivered');
  out.chart_after = await chartFacts(page);
  await shotOf(page, '.chart-box', 'delivery-chart');

  // one event type
  await page.selectOption('#dl-status', '');
  await page.selectOption('#dl-event', cfg.event);
  await page.click('#dl-apply');
  await page.waitForFunction((ev) => {
    const r = [...document.querySelectorAll('#deliveries-list tbody tr')];
    return r.length && r.every((tr) => tr.children[1].textContent === ev);
  }, cfg.event);
  out.event_rows = await page.$$eval('#deliveries-list tbody tr', (l) => l.map((tr) => tr.dataset.delivery));

  // recover the endpoint's failures since cfg.since
  await page.selectOption('#recover-endpoint', cfg.endpoint);
  await page.fill('#recover-since', cfg.since);
  await page.click('#recover-submit');
  await page.waitForSelector('#message:has-text("pending again")');
  out.recover_message = await page.textContent('#message');
  return out;
};

// Runs one scenario in a fresh context of browser; its report.
async function runScenario(browser, name, cfg) {
  const scenario = scenarios[name];
  if (!scenario) return { ok: false, error: 'no scenario ' + name };
  const b = await newPage(browser, cfg);
  let out;
  try {
    out = await scenario(cfg, b);
    out.ok = true;
  } catch (e) {
    out = { ok: false, error: String(e && e.stack ? e.stack : e) };
    try { out.body = await b.page.evaluate(() => document.body.innerText); } catch (e2) { /* gone */ }
  }
  out.dialogs = b.seen.dialogs;
  out.page_errors = b.seen.pageErrors;
  out.console_errors = b.seen.consoleErrors;
  await b.context.close();
  return out;
}

async function serve(browser) {
  const rl = require('readline').createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let out;
    try {
      const req = JSON.parse(line);
      out = await runScenario(browser, req.scenario, req.cfg);
    } catch (e) {
      out = { ok: false, error: String(e && e.stack ? e.stack : e) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}

async function main() {
  const [name, json] = process.argv.slice(2);
  if (name !== '--serve' && (!scenarios[name] || !json)) {
    throw new Error('usage: dashboard.js {' + Object.keys(scenarios).join('|') +
                    '} CONFIG_JSON, or dashboard.js --serve');
  }
  const browser = await launchBrowser();
  try {
    if (name === '--serve') await serve(browser);
    else process.stdout.write(JSON.stringify(await runScenario(browser, name, JSON.parse(json))) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack ? e.stack : e) }) + '\n');
  process.exit(1);
});
