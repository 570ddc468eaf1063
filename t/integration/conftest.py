"""Integration test harness for mod_pool.

A session-wide private stack: a PostgreSQL cluster (unix socket only) and an
httpd with the built module on a free loopback port, both under a temporary
directory, set up and torn down through the shell functions of
scripts/stack.sh (the same ones scripts/run-local uses).

Run with Debian's interpreter after building:  /usr/bin/python3 -m pytest t/integration

Every test is checked against the httpd error log: new lines at [error] level
or worse (or sanitizer / crash text) fail the test unless the test declared
them with the `allow_errors(regex, ...)` fixture.

POOL_TEST_STORE=dav runs the stack with the WebDAV store: a WebDAV server of
its own (Debian's apache2 with mod_dav_fs, scripts/stack.sh
store_server_start) in VAR/store, PoolStorage its URL and
PoolStorageCredentials its password file.  The Stack's storage helpers
(stored_paths, stored_bytes, spool_entries, result_ids, upload_files, ...)
then look at the store through that server (PROPFIND, GET, PUT).
"""

import base64
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STACK_SH = os.path.join(ROOT, "scripts", "stack.sh")
POOLCTL = os.path.join(ROOT, "jobs", "poolctl")
MODULE = os.path.join(ROOT, "mod_pool", ".libs", "mod_pool.so")
LOG_KEEP_DIR = os.path.join(ROOT, "var", "test-logs")  # (+ "-dav": see below)

MAX_FILE_SIZE = 8 * 1024 * 1024  # PoolMaxFileSize of the test stack ("8M")
STORE = os.environ.get("POOL_TEST_STORE", "fs")  # "fs" or "dav"
DAV_STORE = STORE == "dav"
if DAV_STORE:
    LOG_KEEP_DIR += "-dav"

# tests that look at what only the directory store has (its files, the
# read-only /dav Alias of the storage tree, file times set by hand)
fs_store_only = pytest.mark.skipif(
    DAV_STORE, reason="needs the directory store (POOL_TEST_STORE=dav)")
HTTP_TIMEOUT = 30

BAD_LOG_RE = re.compile(
    r"\[(?:[\w.-]+:)?(?:error|crit|alert|emerg)\]"
    r"|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:"
    r"|exit signal|double free|stack smashing"
)


# ---------------------------------------------------------------- helpers

def etag_of(sha256_hex: str) -> str:
    """The ETag of stored bytes: their SHA-256 in base64, quoted."""
    return '"%s"' % base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    """(header, claims) of a JWT, without verifying it."""
    h, c, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(c))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unique(prefix="p"):
    """A pool or client name that no other test uses: [a-z0-9][a-z0-9_-]*"""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


class Stack:
    """A running private PostgreSQL + httpd + mod_pool."""

    def __init__(self, var, port):
        self.var = var
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.conf = os.path.join(var, "httpd-pool.conf")
        self.httpd_conf = os.path.join(var, "httpd.conf")
        self.storage = os.path.join(var, "storage")
        self.spool = os.path.join(var, "storage", ".spool")
        self.key_file = os.path.join(var, "pool-keys")
        self.error_log = os.path.join(var, "log", "error_log")
        self.pg_log = os.path.join(var, "pg", "postgresql.log")
        self.issuer = self.base
        self.env = dict(os.environ)
        self.env.update({
            "POOL_ROOT": ROOT,
            "POOL_VAR": var,
            "POOL_PORT": str(port),
            "POOL_MAX_FILE_SIZE": "8M",
            # outbound requests (webhooks, imports) may reach the tests'
            # receivers on loopback
            "POOL_OUTBOUND_ALLOW": "127.0.0.0/8 ::1/128",
            "POOL_PG_FAST": "1",
        })
        self._pools = set()
        self._admins = {}
        self.dav = DAV_STORE
        self.store_dir = os.path.join(var, "store")
        self.store_url = None       # the WebDAV store's URL (dav)
        self.store_auth = None      # (user, password)

    # -- shell functions of scripts/stack.sh
    def sh(self, *args, check=True, timeout=180):
        p = subprocess.run(["bash", STACK_SH] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("stack.sh %s failed (%d):\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def up(self):
        if self.dav:
            self.sh("store_server_start", self.store_dir)
            with open(os.path.join(self.store_dir, "url")) as f:
                self.store_url = f.read().strip()
            creds = os.path.join(self.store_dir, "credentials")
            with open(creds) as f:
                user, pw = f.readline().strip().split(":", 1)
            self.store_auth = (user, pw)
            self.env["POOL_STORE_URL"] = self.store_url
            self.env["POOL_STORE_CREDENTIALS"] = creds
        self.sh("stack_up", timeout=300)

    def down(self):
        p = self.sh("stack_down", check=False, timeout=120)
        if self.dav:
            self.sh("store_server_stop", self.store_dir, check=False)
        return p

    def pg_stop(self):
        self.sh("pg_stop")

    def pg_start(self):
        self.sh("pg_start")

    def graceful(self):
        self.sh("httpd_graceful")

    def httpd_pid(self):
        with open(os.path.join(self.var, "run", "httpd.pid")) as f:
            return int(f.read().strip())

    def psql(self, sql, db="mod_pool"):
        p = self.sh("pg_psql", db, "-tAc", sql)
        return p.stdout

    def pg_dump(self):
        """The whole mod_pool database as SQL text."""
        bindir = self.sh("pg_bindir").stdout.strip()
        return subprocess.run(
            [os.path.join(bindir, "pg_dump"), "-h", os.path.join(self.var, "pg", "run"),
             "-U", "postgres", "mod_pool"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            check=True).stdout

    # -- poolctl
    def poolctl(self, *args, conf=True, timeout=60):
        cmd = [POOLCTL] + (["-c", self.conf] if conf else []) + [str(a) for a in args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        # a sanitizer report fails the test even when poolctl was expected
        # to fail (UBSan reports go to stderr only)
        for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
            assert marker not in p.stderr, "sanitizer report from poolctl:\n" + p.stderr
        return p

    def poolctl_ok(self, *args):
        p = self.poolctl(*args)
        if p.returncode != 0:
            raise AssertionError("poolctl %s failed (%d): %s" % (
                " ".join(map(str, args)), p.returncode, p.stderr))
        return p

    def create_pool(self, name=None):
        name = name or unique("pool")
        if name not in self._pools:
            self.poolctl_ok("pool", "create", name)
            self._pools.add(name)
        return name

    def make_client(self, pool, role="uploader", name=None):
        """Creates (pool if needed and) a client; returns (client_id, secret)."""
        if pool not in self._pools:
            p = self.poolctl("pool", "show", pool)
            if p.returncode != 0:
                self.poolctl_ok("pool", "create", pool)
            self._pools.add(pool)
        p = self.poolctl_ok("client", "add", pool, name or unique(role[:4]),
                            "--role", role, "--json")
        j = json.loads(p.stdout)
        return j["client_id"], j["secret"]

    def admin(self, pool):
        """A cached admin client of pool, for looking at its listing."""
        if pool not in self._admins:
            self._admins[pool] = self.make_client(pool, "admin")
        return self._admins[pool]

    # -- HTTP
    def url(self, path):
        return self.base + path

    def session(self, token=None, basic=None):
        s = requests.Session()
        if token:
            s.headers["Authorization"] = "Bearer " + token
        if basic:
            s.auth = basic
        s.request = _with_timeout(s.request)
        return s

    def token_response(self, client_id, secret, **kw):
        return requests.post(self.url("/pool/v1/token"),
                             data={"grant_type": "client_credentials"},
                             auth=(client_id, secret), timeout=HTTP_TIMEOUT, **kw)

    def token(self, client_id, secret):
        r = self.token_response(client_id, secret)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["access_token"]

    def client_session(self, pool, role="uploader"):
        """(session with a Bearer token, client_id, secret) for a new client."""
        cid, secret = self.make_client(pool, role)
        return self.session(token=self.token(cid, secret)), cid, secret

    def files_url(self, pool, rest=""):
        return self.url("/pool/v1/pools/%s/files%s" % (pool, rest))

    def upload(self, s, pool, name, data, ts=None, headers=None, quote_name=True):
        from urllib.parse import quote
        n = quote(name, safe="") if quote_name else name
        params = {"ts": ts} if ts is not None else None
        return s.put(self.files_url(pool, "/" + n), data=data, params=params,
                     headers=headers or {})

    def list_all(self, pool):
        """Every file of pool as the pool's admin sees it (follows paging)."""
        cid, secret = self.admin(pool)
        s = self.session(basic=(cid, secret))
        out, after = [], None
        for _ in range(1000):
            params = {"limit": 1000}
            if after:
                params["after"] = after
            r = s.get(self.files_url(pool), params=params)
            assert r.status_code == 200, (r.status_code, r.text)
            j = r.json()
            out.extend(j["files"])
            after = j.get("next")
            if not after:
                return out
        raise AssertionError("paging does not end")

    # -- storage: the directory store's tree, or the WebDAV store through
    #    its server
    def dav_request(self, method, rel, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.store_url + rel,
                                auth=self.store_auth, **kw)

    def dav_list(self, rel):
        """[(name, is_collection, size)] of a collection of the WebDAV
        store (PROPFIND Depth 1); [] when it does not exist."""
        r = self.dav_request("PROPFIND", rel, headers={"Depth": "1"})
        if r.status_code == 404:
            return []
        assert r.status_code == 207, (rel, r.status_code, r.text[:300])
        ns = {"D": "DAV:"}
        self_path = urlsplit(self.store_url + rel).path.rstrip("/")
        out = []
        for resp in ET.fromstring(r.content).findall("D:response", ns):
            path = unquote(urlsplit(resp.findtext("D:href", "", ns)).path)
            if path.rstrip("/") == self_path:
                continue
            is_coll = resp.find(".//D:resourcetype/D:collection", ns) is not None
            size = resp.findtext(".//D:getcontentlength", None, ns)
            out.append((path.rstrip("/").rsplit("/", 1)[-1], is_coll,
                        int(size) if size else 0))
        return out

    def stored_paths(self, pool):
        if not self.dav:
            return sorted(glob.glob(os.path.join(self.storage, pool, "files", "*", "*")))
        out = []
        for shard, is_coll, _ in self.dav_list("objects/%s/" % pool):
            if is_coll:
                out.extend("objects/%s/%s/%s" % (pool, shard, name)
                           for name, c, _ in self.dav_list("objects/%s/%s/" % (pool, shard))
                           if not c)
        return sorted(out)

    def stored_bytes(self, pool, fid):
        """The stored bytes of file fid of pool."""
        if not self.dav:
            with open(os.path.join(self.storage, pool, "files", fid[:2], fid), "rb") as f:
                return f.read()
        r = self.dav_request("GET", "objects/%s/%s/%s" % (pool, fid[:2], fid))
        assert r.status_code == 200, (fid, r.status_code)
        return r.content

    def spool_entries(self):
        if self.dav:
            return sorted(n for n, c, _ in self.dav_list("staging/")
                          if not c and not n.startswith("."))
        try:
            return sorted(os.listdir(self.spool))
        except FileNotFoundError:
            return []

    def storage_top(self):
        """The names at the top of the store."""
        if self.dav:
            return sorted(n for n, _, _ in self.dav_list(""))
        return sorted(os.listdir(self.storage))

    def result_ids(self):
        """The ids of the stored results."""
        if not self.dav:
            try:
                return sorted(os.listdir(os.path.join(self.storage, ".results")))
            except FileNotFoundError:
                return []
        out = []
        for shard, is_coll, _ in self.dav_list("results/"):
            if is_coll:
                out.extend(n for n, c, _ in self.dav_list("results/%s/" % shard) if not c)
        return sorted(out)

    def upload_files(self):
        """The ids of the tus uploads that have data in the store."""
        if self.dav:
            return sorted(n for n, c, _ in self.dav_list("uploads/") if c)
        try:
            return sorted(os.listdir(os.path.join(self.storage, ".uploads")))
        except FileNotFoundError:
            return []

    def upload_size(self, uid):
        """Bytes of upload uid's data in the store, None when it has none."""
        if self.dav:
            if uid not in self.upload_files():
                return None
            return sum(size for _, c, size in self.dav_list("uploads/%s/" % uid) if not c)
        path = os.path.join(self.storage, ".uploads", uid)
        return os.path.getsize(path) if os.path.exists(path) else None

    def append_upload_data(self, uid, data):
        """Bytes written to upload uid's data but never recorded (as a
        crash between the write and the database leaves them)."""
        if self.dav:
            end = self.upload_size(uid) or 0
            r = self.dav_request("PUT", "uploads/%s/%020d" % (uid, end), data=data)
            assert r.status_code in (201, 204), r.status_code
            return
        with open(os.path.join(self.storage, ".uploads", uid), "ab") as f:
            f.write(data)

    def snapshot(self, pool):
        """What a 'nothing was stored' check compares."""
        return {
            "ids": sorted(f["id"] for f in self.list_all(pool)),
            "paths": self.stored_paths(pool),
        }

    def assert_nothing_stored(self, pool, before, wait=3.0):
        """Listing and storage tree unchanged, spool empty (waits a moment for
        the server to finish cleaning up)."""
        deadline = time.time() + wait
        while True:
            after = self.snapshot(pool)
            spool = self.spool_entries()
            if (after == before and not spool) or time.time() > deadline:
                break
            time.sleep(0.1)
        assert after["ids"] == before["ids"], "listing changed"
        assert after["paths"] == before["paths"], "files appeared in storage"
        assert spool == [], "spool not empty: %r" % spool

    # -- tokens forged in the test (the key file format is "<kid> <b64url>")
    def keys(self):
        out = []
        with open(self.key_file) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                kid, secret = line.split()[:2]
                out.append((kid, b64url_decode(secret)))
        return out

    def forge(self, claims=None, header=None, key=None, kid=None, drop=(),
              alg="HS256"):
        """A JWT signed with the signing key (or `key`); claims/header
        override the defaults, `drop` removes claims."""
        keys = self.keys()
        skid, skey = keys[-1]
        now = int(time.time())
        c = {"iss": self.issuer, "aud": "mod_pool", "sub": "cl_forged",
             "pool": "nopool", "role": "uploader", "iat": now,
             "exp": now + 300, "jti": uuid.uuid4().hex}
        c.update(claims or {})
        for k in drop:
            c.pop(k, None)
        h = {"alg": alg, "typ": "at+jwt", "kid": kid or skid}
        h.update(header or {})
        signing_input = b64url(json.dumps(h, separators=(",", ":")).encode()) + "." + \
            b64url(json.dumps(c, separators=(",", ":")).encode())
        if alg == "none":
            sig = ""
        else:
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                      "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
            sig = b64url(hmac.new(key if key is not None else skey,
                                  signing_input.encode(), digest).digest())
        return signing_input + "." + sig

    # -- error log
    def error_log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except FileNotFoundError:
            return 0

    def error_log_since(self, offset):
        """Bytes of the error log from offset on, decoded."""
        try:
            with open(self.error_log, "rb") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return b""


def _with_timeout(fn):
    def request(method, url, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return fn(method, url, **kw)
    return request


def node_script(directory, package, script):
    """[node, directory/script], with the npm packages of directory installed
    from its lockfile (npm ci) when package is missing from node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed (scripts/stack.sh installs them)"
    if not os.path.isdir(os.path.join(directory, "node_modules", package)):
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=600)
        assert p.returncode == 0, "npm ci in %s failed:\n%s" % (directory, p.stdout[-3000:])
    return [node, os.path.join(directory, script)]


def assert_problem(r, status, field=None):
    """r is an RFC 9457 problem with the given status; returns its JSON."""
    assert r.status_code == status, (r.status_code, r.headers, r.text[:500])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", (ctype, r.text[:300])
    j = r.json()
    for k in ("type", "title", "status", "detail", "request_id"):
        assert k in j, "problem lacks %r: %r" % (k, j)
    assert j["status"] == status
    rid = r.headers.get("X-Request-Id")
    assert rid, "no X-Request-Id header"
    assert j["request_id"] == rid
    if field is not None:
        assert j.get("field") == field, j
    return j


def assert_oauth_error(r, status, error):
    """r is an RFC 6749 §5.2 error of the token endpoint (application/json,
    error + error_description, our request_id); returns its JSON."""
    assert r.status_code == status, (r.status_code, r.headers, r.text[:500])
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/json", (ctype, r.text[:300])
    j = r.json()
    assert j.get("error") == error, j
    assert isinstance(j.get("error_description"), str) and j["error_description"], j
    rid = r.headers.get("X-Request-Id")
    assert rid and j.get("request_id") == rid, (rid, j)
    assert "no-store" in r.headers.get("Cache-Control", "")
    if status == 401:
        assert r.headers.get("WWW-Authenticate", "").startswith("Basic"), r.headers
    if status == 503:
        assert r.headers.get("Retry-After"), r.headers
    return j


# ---------------------------------------------------------------- fixtures

_STACK = None
_LOG_OFFSET = [0]
_SHUTDOWN_BAD = []


@pytest.fixture(scope="session")
def stack():
    global _STACK
    for path, what in ((MODULE, "the module"), (POOLCTL, "poolctl")):
        if not os.path.exists(path):
            pytest.exit("%s is not built (%s): run scripts/test, or build first" % (what, path),
                        returncode=3)
    var = os.environ.get("POOL_TEST_VAR") or \
        tempfile.mkdtemp(prefix="mod_pool-test-", dir="/tmp")
    os.makedirs(var, exist_ok=True)
    os.chmod(var, 0o755)  # the postgres and www-data users must reach it
    st = Stack(var, free_port())
    try:
        st.up()
    except Exception:
        _keep_logs(st)
        st.down()
        raise
    _STACK = st
    _LOG_OFFSET[0] = 0  # start-up lines are checked with the first test
    try:
        yield st
    finally:
        p = st.down()
        # what httpd logged after the last test (at shutdown: crashes,
        # sanitizer reports) fails the session
        _SHUTDOWN_BAD.extend(_unexpected_log_lines(None))
        _STACK = None
        _keep_logs(st)
        if p.returncode != 0:
            print("stack_down failed:", p.stderr)
        if not os.environ.get("POOL_KEEP_TEST_VAR"):
            shutil.rmtree(var, ignore_errors=True)


def _keep_logs(st):
    """Copies the logs to var/test-logs/ for scripts/test to show."""
    try:
        os.makedirs(LOG_KEEP_DIR, exist_ok=True)
        for src, name in ((st.error_log, "error_log"),
                          (os.path.join(st.var, "log", "access_log"), "access_log"),
                          (st.pg_log, "postgresql.log"),
                          (os.path.join(st.store_dir, "log", "error_log"), "store_error_log"),
                          (os.path.join(st.store_dir, "log", "access_log"), "store_access_log")):
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(LOG_KEEP_DIR, name))
    except OSError:
        pass


@pytest.fixture
def allow_errors(request):
    """allow_errors(regex, ...): error-log lines matching any regex are
    expected in this test and do not fail it."""
    def allow(*regexes):
        request.node._pool_allowed.extend(re.compile(r) for r in regexes)
    return allow


@pytest.fixture(autouse=True)
def _error_log_guard(request, stack):
    request.node._pool_allowed = []
    request.node._pool_log_checked = True
    yield


def _unexpected_log_lines(item):
    st = _STACK
    if st is None:
        return []
    time.sleep(0.05)  # lines written as the response went out
    if st.error_log_size() < _LOG_OFFSET[0]:
        _LOG_OFFSET[0] = 0
    data = st.error_log_since(_LOG_OFFSET[0])
    _LOG_OFFSET[0] += len(data)
    text = data.decode("utf-8", "replace")
    allowed = getattr(item, "_pool_allowed", []) if item is not None else []
    bad = []
    for line in text.splitlines():
        if BAD_LOG_RE.search(line) and not any(a.search(line) for a in allowed):
            bad.append(line)
    return bad


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and getattr(item, "_pool_log_checked", False):
        bad = _unexpected_log_lines(item)
        if bad and rep.outcome == "passed":
            rep.outcome = "failed"
            rep.longrepr = ("unexpected lines in the httpd error log "
                            "(declare them with allow_errors(regex) if expected):\n"
                            + "\n".join(bad[:30]))
        elif bad:
            rep.sections.append(("httpd error log", "\n".join(bad[:30])))


class Client:
    """A client of a pool with a Bearer-token session."""

    def __init__(self, stack, pool, role):
        self.stack = stack
        self.pool = pool
        self.role = role
        # its own folder in the pool's tree is named after it
        self.name = unique(role[:4])
        self.client_id, self.secret = stack.make_client(pool, role, self.name)
        self.token = stack.token(self.client_id, self.secret)
        self.s = stack.session(token=self.token)

    def upload(self, name, data, **kw):
        return self.stack.upload(self.s, self.pool, name, data, **kw)

    def upload_ok(self, name, data, **kw):
        r = self.upload(name, data, **kw)
        assert r.status_code == 201, (r.status_code, r.text[:500])
        return r.json()

    def get(self, rest="", **kw):
        return self.s.get(self.stack.files_url(self.pool, rest), **kw)


@pytest.fixture
def pool(stack):
    """A fresh pool, unique to the test."""
    return stack.create_pool(unique("t"))


@pytest.fixture
def client_of(stack):
    """client_of(pool, role="uploader") -> Client"""
    def make(pool, role="uploader"):
        return Client(stack, pool, role)
    return make


@pytest.fixture
def uploader(stack, pool):
    return Client(stack, pool, "uploader")


def pytest_sessionfinish(session, exitstatus):
    if _SHUTDOWN_BAD:
        print("\nunexpected lines in the httpd error log after the last test:\n"
              + "\n".join(_SHUTDOWN_BAD[:30]))
        session.exitstatus = 1
