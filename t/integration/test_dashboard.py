"""The pool admins' dashboard (docs/dashboard.md): the static files as
httpd serves them (headers, redirects, traversal, methods), and the page
itself in a real browser: Debian's chromium driven by playwright-core
(npm, pinned in t/browser/package-lock.json) through t/browser/dashboard.js,
whose JSON report is asserted here.

DASHBOARD_SCREENSHOTS=DIR (e.g. docs/img) makes the browser scenarios save
dashboard-*.png of the screens they show."""

import http.client
import json
import os
import re
import select
import subprocess
import tempfile
import time
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, assert_problem, node_script, unique
from test_config import configtest
from test_endpoints_api import db_now, emit
from test_webhooks import Receiver
from tus_helpers import SecondHost

BROWSER_DIR = os.path.join(ROOT, "t", "browser")
DASHBOARD_DIR = os.path.join(ROOT, "dashboard")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
XSS = '<img src=x onerror="window.__xss=1;alert(1)">'
# a URL the API takes (no spaces) that is markup all the same
XSS_URL = "http://127.0.0.1:9/<img/src=x/onerror=window.__xss=1;alert(1)>"


# ---------------------------------------------------------------- helpers

def dash_url(stack, rest=""):
    return stack.url("/pool/dashboard" + rest)


def raw_get(stack, path, method="GET"):
    """A request with the path exactly as written (no client-side
    normalisation of dot segments or escapes)."""
    c = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        c.endheaders()
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


@pytest.fixture(scope="module")
def browser_js():
    """[node, dashboard.js], with the pinned playwright-core installed
    (npm ci from the lockfile when node_modules is missing)."""
    assert os.access(CHROMIUM, os.X_OK), \
        "%s is needed (Debian's chromium; scripts/stack.sh installs it)" % CHROMIUM
    return node_script(BROWSER_DIR, "playwright-core", "dashboard.js")


def report(line, stderr, scenario):
    out = json.loads(line)
    assert out.get("ok"), "dashboard.js %s failed:\n%s\npage text:\n%s\n%s" % (
        scenario, out.get("error"), out.get("body", "")[:2000], stderr)
    # nothing the page did may throw, and nothing may open a dialog
    assert out["page_errors"] == [], out["page_errors"]
    assert out["dialogs"] == [], out["dialogs"]
    return out


class Browser:
    """`node dashboard.js --serve`: chromium started once, a scenario per
    request line, a fresh browser context for each."""

    def __init__(self, cmd):
        self.cmd = cmd + ["--serve"]
        self.p = None
        self.start()

    def start(self):
        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen(self.cmd, cwd=BROWSER_DIR, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.log)
        self.buf = b""

    def stderr(self):
        self.log.seek(0)
        return self.log.read()[-3000:].decode("utf-8", "replace")

    def _line(self, timeout):
        """The next line of the reply, or None after timeout seconds."""
        end = time.time() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, "dashboard.js ended:\n" + self.stderr()
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8")

    def run(self, scenario, cfg, timeout=180, while_waiting=None):
        """The scenario's report; while_waiting() is called about every
        second until it arrives (to move the server's jobs on)."""
        req = json.dumps({"scenario": scenario, "cfg": cfg}) + "\n"
        self.p.stdin.write(req.encode("utf-8"))
        self.p.stdin.flush()
        deadline = time.time() + timeout
        while True:
            line = self._line(1.0 if while_waiting else max(deadline - time.time(), 0))
            if line is not None:
                return report(line, self.stderr(), scenario)
            if time.time() >= deadline:
                err = self.stderr()
                self.close()
                self.start()    # the next scenario must not get this one's answer
                raise AssertionError("dashboard.js %s: no answer in %ds\n%s" % (
                    scenario, timeout, err))
            if while_waiting:
                while_waiting()

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        self.log.close()


@pytest.fixture(scope="module")
def browser(browser_js):
    b = Browser(browser_js)
    try:
        yield b
    finally:
        b.close()


class Pool:
    """A pool with an admin client (the one that signs in) and its API session."""

    def __init__(self, stack, prefix="dash"):
        self.stack = stack
        self.name = stack.create_pool(unique(prefix))
        self.admin_id, self.admin_secret = stack.make_client(self.name, "admin", "boss")
        self.s = stack.session(token=stack.token(self.admin_id, self.admin_secret))

    def cfg(self, **kw):
        c = {"base": self.stack.base, "pool": self.name,
             "client_id": self.admin_id, "secret": self.admin_secret}
        c.update(kw)
        return c

    def api(self, rest):
        return self.stack.url("/pool/v1/pools/%s%s" % (self.name, rest))

    def client(self, cid):
        r = self.s.get(self.api("/clients/" + cid))
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()


@pytest.fixture(scope="module")
def dash(stack):
    return Pool(stack)


# ---------------------------------------------------------------- HTTP

def test_no_slash_redirects_to_the_directory(stack):
    r = stack.session().get(dash_url(stack), allow_redirects=False)
    assert r.status_code == 301, (r.status_code, r.text)
    assert urlsplit(r.headers["Location"]).path == "/pool/dashboard/"


def test_index_and_security_headers(stack):
    r = stack.session().get(dash_url(stack, "/"))
    assert r.status_code == 200, r.status_code
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "<script type=\"module\" src=\"js/app.js\"></script>" in r.text


@pytest.mark.parametrize("rest,ctype", [
    ("/index.html", "text/html; charset=utf-8"),
    ("/js/app.js", "text/javascript; charset=utf-8"),
    ("/js/api.js", "text/javascript; charset=utf-8"),
    ("/dashboard.css", "text/css; charset=utf-8"),
    ("/favicon.svg", "image/svg+xml"),
])
def test_content_types_and_conditional_get(stack, rest, ctype):
    s = stack.session()
    r = s.get(dash_url(stack, rest), headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200, (rest, r.status_code)
    assert r.headers["Content-Type"] == ctype
    with open(os.path.join(DASHBOARD_DIR, rest.lstrip("/")), "rb") as f:
        assert r.content == f.read()
    etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
    r2 = s.get(dash_url(stack, rest), headers={"If-None-Match": etag,
                                               "Accept-Encoding": "identity"})
    assert r2.status_code == 304, r2.status_code
    assert r2.content == b""
    assert r2.headers["ETag"] == etag
    assert "Content-Security-Policy" in r2.headers
    r3 = s.get(dash_url(stack, rest), headers={"If-Modified-Since": lm,
                                               "Accept-Encoding": "identity"})
    assert r3.status_code == 304, r3.status_code
    h = s.head(dash_url(stack, rest), headers={"Accept-Encoding": "identity"})
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(r.content)


@pytest.mark.parametrize("path", [
    "/pool/dashboard/../x",
    "/pool/dashboard/%2e%2e/x",
    "/pool/dashboard/%2E%2E/dashboard/%2e%2e/x",
    "/pool/dashboard/..%2f..%2fconf",
    "/pool/dashboard/js%2Fapp.js",
    "/pool/dashboard/js/..%2Fapi.js",
    "/pool/dashboard/%2fetc%2fpasswd",
    "/pool/dashboard/..\\x.js",
    "/pool/dashboard/.hidden.js",
    "/pool/dashboard/js/",
    "/pool/dashboard/index.html/",
    "/pool/dashboard/index.html%00.js",
    "/pool/dashboard/index.html.bak",
    "/pool/dashboard/nope.html",
    "/pool/dashboard/a%20b.js",
    "/pool/dashboard/a/b/c/d.js",
])
def test_traversal_and_odd_names_are_404(stack, path):
    status, headers, body = raw_get(stack, path)
    assert status == 404, (path, status, body[:300])
    assert b"root:" not in body and b"PoolDatabase" not in body
    if "%00" not in path:   # (a decoded NUL: httpd's own 404, before any module)
        assert headers["Content-Type"] == "application/problem+json", (path, headers)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(stack, method):
    r = stack.session().request(method, dash_url(stack, "/"), data=b"x")
    j = assert_problem(r, 405)
    assert r.headers["Allow"] == "GET, HEAD", r.headers
    assert "GET" in j["detail"]
    assert "Content-Security-Policy" in r.headers


def test_dashboard_files_hold_no_html_sinks_or_inline_code():
    """Values reach the page as text only: no HTML sinks in the scripts,
    no inline script, style or event handler in the HTML."""
    for dirpath, _, names in os.walk(DASHBOARD_DIR):
        for n in names:
            text = open(os.path.join(dirpath, n), encoding="utf-8").read()
            if n.endswith(".js"):
                for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML",
                             "document.write", "eval(", "new Function", "localStorage",
                             "sessionStorage", "document.cookie"):
                    assert sink not in text, (n, sink)
            if n.endswith(".html"):
                assert not re.search(r"<script(?![^>]*\bsrc=)", text), n
                assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text, re.I), n
                assert not re.search(r"(src|href)=\"(https?:)?//", text), n


def test_dashboard_off_answers_404(stack):
    class Off(SecondHost):
        def render(self):
            super().render()
            with open(self.pool_conf, "a") as f:
                f.write("\nPoolDashboard Off\n")

    h = Off(stack, tag="dashoff")
    h.start()
    try:
        s = stack.session()
        r = s.get(h.base + "/pool/dashboard/")
        assert_problem(r, 404)
        assert "Content-Security-Policy" not in r.headers
        r = s.get(h.base + "/pool/dashboard/js/app.js")
        assert_problem(r, 404)
        # the API is there all the same
        r = s.post(h.base + "/pool/v1/token", data={"grant_type": "client_credentials"})
        assert r.status_code == 401
    finally:
        h.stop()
    assert not h.bad_log_lines(), h.bad_log_lines()


@pytest.mark.parametrize("line", [
    "PoolDashboardDir /nonexistent/dashboard",
    "PoolDashboard maybe",
])
def test_bad_dashboard_directive_fails_configtest(stack, tmp_path, line):
    p = configtest(stack, open(stack.conf).read() + "\n" + line + "\n", tmp_path)
    assert p.returncode != 0, p.stdout
    assert line.split()[0] in p.stdout, p.stdout


def test_rendered_config_serves_the_source_tree(stack):
    text = open(stack.conf).read()
    assert re.search(r'^PoolDashboardDir "%s"$' % re.escape(DASHBOARD_DIR), text, re.M), text


# ---------------------------------------------------------------- the browser

def test_sign_in_wrong_secret_then_out(stack, dash, browser):
    out = browser.run("signin", dash.cfg())
    assert "frame-ancestors 'none'" in out["page_headers"]["content-security-policy"]
    # a wrong secret: a visible error, the secret field emptied
    assert out["wrong"]["cls"] == "message error"
    assert "Sign-in failed" in out["wrong"]["text"] and "401" in out["wrong"]["text"], out["wrong"]
    assert out["wrong_secret_field"] == ""
    # signed in: the clients screen, with the admin itself
    assert out["hash"] == "#clients"
    assert dash.name in out["who"] and "boss" in out["who"]
    assert [r["client_id"] for r in out["rows"]].count(dash.admin_id) == 1
    # the token: in the page's memory only
    for t in (out["traces"], out["traces_after"]):
        assert t["have_token"]
        assert not t["in_cookie"] and t["cookie"] == ""
        assert not t["in_location"]
        assert not t["in_local_storage"] and t["local_storage_items"] == "[]"
        assert not t["in_session_storage"]
        assert not t["in_request_urls"]
    assert out["after_reload_signin"], "a reload must forget the token"
    # signed out: the sign-in form, nothing of the pool
    assert out["signout_message"] == "You have signed out."
    assert out["who_hidden"] and out["nav_hidden"]
    assert out["after_signout_signin"] and out["after_signout_screens"] == 0


def test_sign_in_refuses_a_client_that_is_not_an_admin(stack, dash, browser):
    cid, secret = stack.make_client(dash.name, "uploader")
    out = browser.run("signin_refused", dash.cfg(client_id=cid, secret=secret))
    assert "only the admins" in out["message"], out["message"]
    assert out["signin_visible"]


def test_clients_paging(stack, browser):
    p = Pool(stack, "page")
    for i in range(22):
        stack.make_client(p.name, "listener", "c%02d" % i)
    out = browser.run("paging", p.cfg())
    first, second, back = out["pages"]
    # by name: boss, c00..c18 | c19..c21
    assert first["rows"] == ["boss"] + ["c%02d" % i for i in range(19)]
    assert first["prev_disabled"] and not first["next_disabled"]
    assert second["rows"] == ["c19", "c20", "c21"]
    assert not second["prev_disabled"] and second["next_disabled"]
    assert back == first


def test_add_client_secret_shown_once(stack, dash, browser):
    name = unique("new")
    out = browser.run("add", dash.cfg(name=name, role="processor",
                                             labels="site=north\nrack=r7"))
    cid, secret = out["client_id"], out["secret"]
    assert cid.startswith("cl_") and len(secret) >= 40
    assert "shown only now" in out["box_text"]
    assert out["clipboard"] == secret
    assert any(r["client_id"] == cid and r["name"] == name for r in out["rows"])
    # gone once the list is reloaded: nowhere in the page
    assert not out["after_reload_text_has_secret"]
    assert not out["after_reload_inputs_have_secret"]
    assert not out["after_reload_html_has_secret"]
    # the API has the client, and the secret works
    c = dash.client(cid)
    assert (c["name"], c["role"], c["disabled"]) == (name, "processor", False)
    assert c["labels"] == {"site": "north", "rack": "r7"}
    assert "secret" not in c
    stack.token(cid, secret)


def test_disable_and_enable_a_client(stack, dash, browser):
    cid, secret = stack.make_client(dash.name, "uploader", unique("tgl"))
    out = browser.run("toggle", dash.cfg(target=cid, expect="disabled"))
    assert (out["before"], out["after"], out["button"]) == ("enabled", "disabled", "Enable")
    assert "is now disabled" in out["message"]
    assert dash.client(cid)["disabled"] is True
    assert stack.token_response(cid, secret).status_code == 401
    out = browser.run("toggle", dash.cfg(target=cid, expect="enabled"))
    assert (out["before"], out["after"], out["button"]) == ("disabled", "enabled", "Disable")
    assert dash.client(cid)["disabled"] is False
    stack.token(cid, secret)


def test_markup_in_a_label_shows_as_text(stack, dash, browser):
    r = dash.s.post(dash.api("/clients"), json={"name": unique("xss"), "role": "listener",
                                                 "labels": {"note": XSS}})
    assert r.status_code == 201, r.text
    target = r.json()["client_id"]
    out = browser.run("xss", dash.cfg(target=target, name=unique("xss"), payload=XSS))
    assert out["label_text"] == "note: " + XSS
    assert out["form_label_text"] == "note: " + XSS
    assert out["imgs_in_main"] == 0
    assert out["flag"] is None, "the payload's handler ran"
    assert out["dialogs"] == []


def test_csp_blocks_inline_script_and_style(stack, dash, browser):
    out = browser.run("csp", dash.cfg())
    assert "script-src 'self'" in out["header"]
    res = out["result"]
    assert res["inline_ran"] is False
    assert res["handler_ran"] is False
    assert res["color"] != "rgb(255, 0, 0)"
    kinds = " ".join(res["violations"])
    assert "script-src" in kinds and "style-src" in kinds, res["violations"]


# ---------------------------------------------------------------- rounds

def run(stack, *steps):
    p = stack.poolctl("run", "--once", *steps, timeout=120)
    assert p.returncode == 0, p.stderr


def window_ts(minutes_ago):
    now = int(time.time())
    return (now - now % 60) - 60 * minutes_ago + 1


@pytest.fixture(scope="module")
def rounds_pool(stack):
    """A pool with three groups: A done and published (3 files in time, 1
    late), B claimed with its process at 50%, C open; uploader 0 has
    downloaded A's result.  Time is moved on with SQL (as test_rounds.py
    does) instead of waiting for windows to end; lateness=1h keeps the real
    clock from closing anything."""
    p = Pool(stack, "rnd")
    pool = p.name
    stack.poolctl_ok("pool", "set", pool, "window=1m", "lateness=1h")
    ups = []
    for i in range(3):
        cid, secret = stack.make_client(pool, "uploader", "up%d" % i)
        ups.append(stack.session(token=stack.token(cid, secret)))
    pid, psecret = stack.make_client(pool, "processor", "proc")
    proc = stack.session(token=stack.token(pid, psecret))
    ts_a, ts_b = window_ts(3), window_ts(6)
    for i, s in enumerate(ups):
        assert stack.upload(s, pool, "a%d.txt" % i, b"%d" % i, ts=ts_a).status_code == 201
    for s in ups[:2]:
        assert stack.upload(s, pool, "b.txt", b"b", ts=ts_b).status_code == 201
    run(stack, "group")
    stack.psql("UPDATE groups SET closes_at = now() WHERE state = 'open' AND pool_id = "
               "(SELECT id FROM pools WHERE name = '%s')" % pool)
    run(stack, "group")
    run(stack, "trigger")
    assert stack.upload(ups[0], pool, "late.txt", b"late", ts=ts_a).status_code == 201
    assert stack.upload(ups[2], pool, "c.txt", b"c", ts=window_ts(1)).status_code == 201
    run(stack, "group")
    groups = {g["window"]["start"]: g for g in
              p.s.get(p.api("/groups")).json()["groups"]}
    assert len(groups) == 3, groups
    by_ts = sorted(groups.values(), key=lambda g: g["window"]["start"])
    b, a, c = by_ts
    r = proc.post(p.api("/groups/%s/claim" % b["id"]))
    assert r.status_code == 200, r.text
    r = proc.post(p.api("/groups/%s/progress" % b["id"]),
                  json={"percent": 50, "message": "averaging <b>vectors</b>"})
    assert r.status_code == 200, r.text
    r = proc.post(p.api("/groups/%s/claim" % a["id"]))
    assert r.status_code == 200, r.text
    r = proc.put(p.api("/groups/%s/result" % a["id"]), params={"name": "avg.txt"},
                 data=b"1 2 3\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    run(stack, "publish")
    r = ups[0].get(p.api("/results/1"))
    assert r.status_code == 200, r.text
    p.groups = {"a": a["id"], "b": b["id"], "c": c["id"]}
    return p


def test_rounds_timeline_and_receipts(stack, rounds_pool, browser):
    p = rounds_pool
    out = browser.run("rounds", p.cfg(groups=3))
    g = {x["id"]: x for x in out["groups"]}
    # newest first: C was grouped last
    assert len(g) == 3 and list(g)[0] == p.groups["c"], list(g)
    a, b, c = g[p.groups["a"]], g[p.groups["b"]], g[p.groups["c"]]
    assert a["state"] == "done"
    assert a["facts"]["Files"] == "3 in time at close, 4 received"
    assert a["facts"]["Clients"] == "3 in time at close, 3 sent files"
    assert a["facts"]["Late files"] == "1"
    assert a["facts"]["Attempts"] == "1 of 3"
    assert a["facts"]["Result"] == "published #1"
    assert b["state"] == "claimed"
    assert b["facts"]["Files"] == "2 in time at close, 2 received"
    assert b["facts"]["Late files"] == "0"
    assert b["progress"] == 50
    assert "50% · running · averaging <b>vectors</b>" in b["facts"]["Progress"]
    assert c["state"] == "open"
    assert c["facts"]["Files"] == "1 so far"
    assert c["facts"]["Progress"] == "no process yet"
    assert "Window1 min" in out["settings"] and "Lateness1 h" in out["settings"]
    assert "#1 avg.txt" in out["latest"]
    received = [r for r in out["receipts"] if r["received"]]
    assert len(received) == 1 and "up0" in received[0]["text"], out["receipts"]
    assert "1 of %d clients" % len(out["receipts"]) in out["latest"]


def test_processes_and_an_import(stack, rounds_pool, browser):
    """The rounds' processes, and an import started on the page and
    followed until the fetch step (run here meanwhile) has stored it."""
    p = rounds_pool
    cfg = p.cfg(url=stack.base + "/pool/dashboard/favicon.svg", name="icon.svg")
    out = browser.run("processes", cfg, while_waiting=lambda: run(stack, "fetch"))
    ids = {r["id"] for r in out["round_processes"]}
    groups = p.s.get(p.api("/groups")).json()["groups"]
    assert ids == {g["process"] for g in groups if g["process"]}, (ids, groups)
    assert out["import_status"] == "succeeded", out["import_row"]
    assert out["lookup_result"]["name"] == "icon.svg"
    files = [f for f in stack.list_all(p.name) if f["name"] == "icon.svg"]
    assert len(files) == 1
    with open(os.path.join(DASHBOARD_DIR, "favicon.svg"), "rb") as f:
        assert files[0]["size"] == len(f.read())


# ---------------------------------------------------------------- webhooks

@pytest.fixture(scope="module")
def rcv():
    r = Receiver()
    yield r
    r.close()


def make_endpoint(p, body):
    r = p.s.post(p.api("/endpoints"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_endpoints_screen(stack, browser, rcv):
    """Markup in an endpoint's URL and description shows as text; an
    endpoint added through the form (its signing secret once), rotated,
    disabled; another removed after a confirmation in the page."""
    p = Pool(stack, "eps")
    path = rcv.path()
    target = make_endpoint(p, {"url": XSS_URL, "description": XSS})["id"]
    token = "tok-" + unique("t")
    out = browser.run("endpoints", p.cfg(target=target, payload=XSS,
                                         url=rcv.url(path), token=token))
    assert out["target_url"] == XSS_URL
    assert out["target_description"] == XSS
    assert out["imgs_in_main"] == 0 and out["flag"] is None
    assert "never shown again" in out["secret_note"], out["secret_note"]
    new, secret = out["id"], out["secret"]
    assert new.startswith("ep_") and secret.startswith("whsec_")
    assert "shown only now" in out["secret_box_text"]
    assert out["row_description"] == XSS
    assert "file.received, group.closed" in out["row"] and "5 a second" in out["row"]
    assert not out["secret_in_page_after_done"]
    rotated = out["rotated_secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    assert "previous secret signs too" in out["rotated_box_text"]
    assert "disabled by an admin" in out["disabled_state"], out["disabled_state"]
    assert "pending deliveries fail" in out["delete_question"]
    assert out["after_cancel_rows"] == 2, "Cancel must keep the endpoint"
    assert "was removed" in out["message"]
    assert out["deliveries_hash"] == "#deliveries"
    assert out["deliveries_filter"] == new

    # the API agrees
    assert_problem(p.s.get(p.api("/endpoints/" + target)), 404)
    ep = p.s.get(p.api("/endpoints/" + new)).json()
    assert (ep["url"], ep["description"]) == (rcv.url(path), XSS)
    assert ep["events"] == ["file.received", "group.closed"]
    assert ep["auth"] == {"type": "bearer", "secret_set": True}
    assert (ep["retry_schedule"], ep["rate_limit"]) == ([10, 60], 5)
    assert ep["disabled"] is True and ep["disabled_reason"] == "disabled by an admin"
    assert ep["secret_rotated_until"]
    # the rotated secret signs, and the token typed is sent
    r = p.s.patch(p.api("/endpoints/" + new), json={"disabled": False})
    assert r.status_code == 200, r.text
    rcv.secrets[path] = rotated
    assert emit(stack, p.name, "file.received") == 1
    run(stack, "deliver")
    got = rcv.received(path)
    assert len(got) == 1 and got[0]["verified"], got
    assert got[0]["headers"]["authorization"] == "Bearer " + token


def test_mapping_preview_and_its_errors(stack, browser):
    p = Pool(stack, "map")
    ep = make_endpoint(p, {"url": "https://hooks.example.com/api", "events": ["file.received"],
                           "auth": {"type": "header", "name": "X-Key", "value": "k-secret-9"},
                           "mapping": {"body": {"id": {"$ptr": "/data/file/id"}}}})
    mapping = {"method": "PUT", "path": "/docs/{{/data/file/id}}",
               "body": {"doc": {"$ptr": "/data/file/id"},
                        "owner": {"$ptr": "/data/file/labels/owner"},
                        "title": "{{/data/file/name}}"}}
    invalid = '{"body": {"t": "x {{/data/file/name"}}'
    out = browser.run("mapping", p.cfg(target=ep["id"], mapping=json.dumps(mapping, indent=2),
                                       invalid=invalid))
    assert out["mapping_before"] == ep["mapping"]
    assert "Leave it empty to keep" in out["secret_note"]
    pv = out["preview"]
    assert pv["method"] == "PUT"
    assert pv["url"].startswith("https://hooks.example.com/api/docs/"), pv
    body = json.loads(pv["body"])
    assert list(body) == ["doc", "owner", "title"] and body["owner"] is None
    assert pv["url"].endswith("/" + body["doc"])
    assert "/data/file/labels/owner" in pv["missing"]
    headers = dict(pv["headers"])
    assert "webhook-signature" in {k.lower() for k in headers}
    assert "k-secret-9" not in json.dumps(pv)
    # the API's error, with where it is: the member and the character
    err = out["invalid_error"]
    assert "422" in err and "/body/t" in err and "character" in err, err
    assert "not JSON" in out["json_error"]
    assert "was saved" in out["message"]
    assert p.s.get(p.api("/endpoints/" + ep["id"])).json()["mapping"] == mapping


def test_deliveries_failed_then_retried_and_the_chart(stack, browser, rcv):
    """A delivery the receiver refused (500 with a body of its own) shows
    that body; once the receiver answers 200, Retry delivers it (the
    deliver step runs while the page waits); the chart draws its bars."""
    p = Pool(stack, "dlv")
    path = rcv.path()
    marker = "database down " + unique("m")
    fixed = []
    rcv.answers[path] = lambda rec: (200, [], 0, b"thanks") if fixed \
        else (500, [("Content-Type", "text/plain")], 0, marker.encode())
    ep = make_endpoint(p, {"url": rcv.url(path), "retry_schedule": [],
                           "description": XSS})
    rcv.secrets[path] = ep["secret"]
    t0 = db_now(stack)
    assert emit(stack, p.name, "file.received", {"file": {"id": "f-1"}}) == 1
    assert emit(stack, p.name, "group.closed", {"group": {"id": "g-1"}}) == 1
    run(stack, "deliver")
    items = p.s.get(p.api("/deliveries")).json()["items"]
    assert [d["state"] for d in items] == ["failed", "failed"], items
    first = [d for d in items if d["event"] == "file.received"][0]["id"]
    other = [d for d in items if d["event"] == "group.closed"][0]["id"]
    fixed.append(True)

    out = browser.run("deliveries", p.cfg(delivery=first, event="group.closed",
                                          endpoint=ep["id"], since=t0),
                      while_waiting=lambda: run(stack, "deliver"))
    c = out["chart"]
    assert c["svg"] and c["ns"] == "http://www.w3.org/2000/svg"
    assert sum(c["failed_bars"]) == 2 and c["delivered_bars"] == [], c
    assert all(h > 0 for h in c["bar_heights"])
    assert c["table_rows"] in (24, 25) and len(c["busy_rows"]) >= 1
    assert "2 attempts, 0 delivered, 2 failed" in c["label"], c["label"]
    assert sorted(out["failed_rows"]) == sorted([first, other])
    assert out["detail_state"] == "failed"
    assert out["response_bodies"] == [marker]
    assert "500" in out["reasons"][0]
    assert out["payload"]["data"] == {"file": {"id": "f-1"}}
    assert json.loads(out["request_bodies"][0]) == out["payload"]
    # retried: delivered, with both attempts
    assert out["outcomes"] == ["attempt outcome-failed", "attempt outcome-delivered"]
    assert out["last_response"] == "thanks"
    assert out["retry_disabled"] and out["row_state_after"] == "delivered"
    ca = out["chart_after"]
    assert sum(ca["delivered_bars"]) == 1 and sum(ca["failed_bars"]) == 2, ca
    assert ca["lines"] >= 1 and ca["dots"] >= 2
    assert out["event_rows"] == [other]
    assert "1 failed deliveries" in out["recover_message"], out["recover_message"]

    # the API agrees; the recovered one goes out at the next deliver step
    d = p.s.get(p.api("/deliveries/" + first)).json()
    assert d["state"] == "delivered" and len(d["history"]) == 2
    run(stack, "deliver")
    d = p.s.get(p.api("/deliveries/" + other)).json()
    assert d["state"] == "delivered", d
    assert all(g["verified"] for g in rcv.received(path))
