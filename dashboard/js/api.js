// The API as the dashboard uses it: the session (kept in this module's
// memory only: never in a URL, a cookie or web storage, so a reload or
// closing the tab signs out) and api(), which adds the Bearer token and
// turns problem+json (RFC 9457) and OAuth errors into an ApiError whose
// message can be shown as it is.

// The dashboard is served at {API path}/dashboard/, the API at {API path}/v1/.
const API_BASE = new URL('../v1/', document.baseURI);

let session = null;         // {token, pool, clientId, role, name, exp}
let onUnauthorized = null;  // set by the app: what a 401 does

export class ApiError extends Error {
  constructor(status, title, detail, field, requestId) {
    let msg = status ? status + ' ' + (title || 'Error') : (title || 'Error');
    if (detail) msg += ': ' + detail;
    if (field) msg += ' (field: ' + field + ')';
    if (requestId) msg += ' [request ' + requestId + ']';
    super(msg);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.field = field;
    this.requestId = requestId;
  }
}

export function currentSession() {
  return session;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// The path of a pool's resource: each segment percent-encoded.
export function poolPath(...segments) {
  return ['pools', session ? session.pool : '', ...segments]
    .map((s) => encodeURIComponent(String(s))).join('/');
}

async function errorOf(res) {
  const rid = res.headers.get('X-Request-Id');
  let j = null;
  try {
    j = await res.json();
  } catch (e) {
    // not JSON (a proxy's page): the status says enough
  }
  if (j && typeof j === 'object') {
    if ('error' in j && !('status' in j)) {   // OAuth (the token endpoint)
      return new ApiError(res.status, String(j.error),
        j.error_description ? String(j.error_description) : '', null,
        j.request_id ? String(j.request_id) : rid);
    }
    return new ApiError(res.status, j.title ? String(j.title) : res.statusText,
      j.detail ? String(j.detail) : '', j.field ? String(j.field) : null,
      j.request_id ? String(j.request_id) : rid);
  }
  return new ApiError(res.status, res.statusText || 'Error', '', null, rid);
}

function url(path, query) {
  const u = new URL(path, API_BASE);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    }
  }
  return u;
}

// api(method, path, {query, body}): the parsed JSON answer (null for an
// empty one).  path is relative to /v1/ ("pools/p/clients", or poolPath()).
// body is sent as JSON.  Errors throw an ApiError; a 401 also runs the
// unauthorized handler (the token expired or the client was disabled).
export async function api(method, path, opts = {}) {
  if (!session) throw new ApiError(0, 'Not signed in', '', null, null);
  const headers = {
    'Authorization': 'Bearer ' + session.token,
    'Accept': 'application/json, application/problem+json',
  };
  const init = { method, headers, credentials: 'omit', cache: 'no-store',
                 redirect: 'error', referrerPolicy: 'no-referrer' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url(path, opts.query), init);
  } catch (e) {
    throw new ApiError(0, 'Network error', 'the server could not be reached', null, null);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// The claims of a JWT, unverified (the server verifies it; this only
// reads the pool, role and expiry the server put in it).
function claimsOf(token) {
  const part = String(token).split('.')[1] || '';
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// Exchanges client credentials for a token (POST /v1/token) and checks
// that the client is an admin of the pool named.  The secret is used for
// this one request and not kept.
export async function signIn(pool, clientId, secret) {
  const body = new URLSearchParams({ grant_type: 'client_credentials',
                                     client_id: clientId, client_secret: secret });
  let res;
  try {
    res = await fetch(new URL('token', API_BASE), {
      method: 'POST', body, credentials: 'omit', cache: 'no-store',
      redirect: 'error', referrerPolicy: 'no-referrer',
      headers: { 'Accept': 'application/json' },
    });
  } catch (e) {
    throw new ApiError(0, 'Network error', 'the server could not be reached', null, null);
  }
  if (!res.ok) throw await errorOf(res);
  const j = await res.json();
  const claims = claimsOf(j.access_token);
  if (claims.pool !== pool) {
    throw new ApiError(0, 'Sign-in refused', 'this client is not a client of pool ' + pool, null, null);
  }
  if (claims.role !== 'admin') {
    throw new ApiError(0, 'Sign-in refused', 'only the admins of a pool can use the dashboard (this client is ' + claims.role + ')', null, null);
  }
  session = { token: j.access_token, pool: claims.pool, clientId: claims.sub,
              role: claims.role, name: null, exp: Number(claims.exp) || 0 };
  try {
    const me = await api('GET', poolPath('clients', 'me'));
    session.name = me && me.name ? String(me.name) : null;
  } catch (e) {
    session = null;
    throw e;
  }
  return session;
}

export function signOut() {
  session = null;
}
