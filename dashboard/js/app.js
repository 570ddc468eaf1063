// The dashboard's shell: sign-in, sign-out, the navigation and the
// message line.  Each screen is a module of its own (SCREENS below) with
//   id, title, render(ctx) and optionally leave()
// where ctx = {root, api, poolPath, session, notify, alive}.  render()
// fills root; alive() turns false once the user has moved on, so late
// answers and timers can stop.  To add a screen: write its module and
// add it to SCREENS.
import { api, poolPath, currentSession, signIn, signOut, setUnauthorizedHandler } from './api.js';
import { el, field } from './dom.js';
import clients from './clients.js';
import rounds from './rounds.js';
import processes from './processes.js';
import endpoints from './endpoints.js';
import deliveries from './deliveries.js';

const SCREENS = [clients, rounds, processes, endpoints, deliveries];

const $ = (id) => document.getElementById(id);
let current = null;      // {screen, token}: the screen shown
let expiryTimer = null;

// ---------------------------------------------------------------- messages
const notify = {
  error(err) { show(err && err.message ? err.message : String(err), 'error'); },
  info(text) { show(text, 'info'); },
  clear() { const m = $('message'); m.hidden = true; m.textContent = ''; },
};

function show(text, kind) {
  const m = $('message');
  m.className = 'message ' + kind;
  m.textContent = text;
  m.hidden = false;
}

// ---------------------------------------------------------------- sign-in
function signInForm() {
  const pool = el('input', { name: 'pool', required: true, autocomplete: 'off',
                             spellcheck: 'false', id: 'signin-pool' });
  const id = el('input', { name: 'client_id', required: true, autocomplete: 'username',
                           spellcheck: 'false', id: 'signin-client' });
  const secret = el('input', { name: 'secret', type: 'password', required: true,
                               autocomplete: 'current-password', id: 'signin-secret' });
  const button = el('button', { type: 'submit', text: 'Sign in' });
  const form = el('form', { class: 'signin', id: 'signin', on: { submit } },
    el('h1', { text: 'Sign in' }),
    el('p', { class: 'muted', text: 'With the client id and secret of an admin client of the pool.' }),
    field('Pool', pool), field('Client id', id), field('Secret', secret), button);

  async function submit(ev) {
    ev.preventDefault();
    notify.clear();
    button.disabled = true;
    try {
      const s = await signIn(pool.value.trim(), id.value.trim(), secret.value);
      secret.value = '';
      signedIn(s);
    } catch (e) {
      secret.value = '';
      notify.error('Sign-in failed: ' + e.message);
      secret.focus();
    } finally {
      button.disabled = false;
    }
  }
  return form;
}

function showSignIn() {
  leaveScreen();
  $('nav').hidden = true;
  $('who').hidden = true;
  $('signout').hidden = true;
  $('main').replaceChildren(signInForm());
  $('signin-pool').focus();
}

function signedIn(s) {
  $('who').textContent = s.pool + ' · ' + (s.name || s.clientId) + ' (admin)';
  $('who').hidden = false;
  $('signout').hidden = false;
  $('nav').hidden = false;
  clearTimeout(expiryTimer);
  if (s.exp) {
    const ms = s.exp * 1000 - Date.now();
    expiryTimer = setTimeout(() => end('Your session has expired: sign in again.'), Math.max(ms, 0));
  }
  if (!SCREENS.some((x) => '#' + x.id === location.hash)) {
    history.replaceState(null, '', '#' + SCREENS[0].id);
  }
  route();
}

// Forgets the token and everything shown.
function end(message) {
  clearTimeout(expiryTimer);
  signOut();
  history.replaceState(null, '', location.pathname);
  showSignIn();
  if (message) notify.info(message);
  else notify.clear();
}

// ---------------------------------------------------------------- screens
function leaveScreen() {
  if (current && current.screen.leave) current.screen.leave();
  current = null;
}

function route() {
  const s = currentSession();
  if (!s) {
    if (!$('signin')) showSignIn();
    return;
  }
  const screen = SCREENS.find((x) => '#' + x.id === location.hash) || SCREENS[0];
  leaveScreen();
  notify.clear();
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.getAttribute('href') === '#' + screen.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = el('section', { class: 'screen', id: 'screen-' + screen.id });
  $('main').replaceChildren(root);
  const me = { screen };
  current = me;
  const ctx = { root, api, poolPath, session: s, notify, alive: () => current === me };
  Promise.resolve().then(() => screen.render(ctx)).catch((e) => {
    if (current === me) notify.error(e);
  });
}

function init() {
  $('nav').replaceChildren(...SCREENS.map((x) => el('a', { href: '#' + x.id, text: x.title })));
  $('signout').addEventListener('click', () => end('You have signed out.'));
  setUnauthorizedHandler((err) => end('Signed out: ' + err.message));
  window.addEventListener('hashchange', route);
  showSignIn();
}

init();
