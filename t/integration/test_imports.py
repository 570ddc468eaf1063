"""Upload by URL: POST .../imports -> 202 + process; `poolctl run fetch`
downloads with libcurl (deny list, size limit, same-host redirects, stalls,
retries with backoff) and the result is an ordinary file record."""

import hashlib
import json
import http.server
import os
import socketserver
import subprocess
import threading
import time

import pytest

from conftest import POOLCTL, assert_problem

BIG = 9 * 1024 * 1024           # over the test stack's PoolMaxFileSize (8M)


class Source:
    """A small HTTP server on 127.0.0.1 the imports download from."""

    def __init__(self):
        self.body = os.urandom(300000)
        self.hits = {}
        self.fail_first = 0
        src = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def send(self, code, body=b"", headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0]
                src.hits[path] = src.hits.get(path, 0) + 1
                if path == "/data/report%20one.csv" or path == "/file.bin":
                    self.send(200, src.body, [("Content-Type", "text/csv")])
                elif path == "/flaky":
                    if src.hits[path] <= src.fail_first:
                        self.send(503, b"busy")
                    else:
                        self.send(200, src.body)
                elif path == "/redirect-same":
                    self.send(302, b"moved", [("Location", "/file.bin")])
                elif path == "/redirect-other":
                    self.send(302, b"moved", [
                        ("Location", "http://localhost:%d/file.bin" % src.port)])
                elif path == "/big":
                    self.send_response(200)
                    self.send_header("Content-Length", str(BIG))
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        for _ in range(BIG // len(chunk)):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                elif path == "/big-chunked":
                    # no Content-Length: the limit must hold while streaming
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"y" * 65536
                    try:
                        for _ in range(BIG // len(chunk)):
                            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        pass
                elif path == "/stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    try:
                        self.wfile.write(b"z" * 1000)
                        self.wfile.flush()
                        time.sleep(12)
                    except OSError:
                        pass
                elif path == "/slow":
                    # 1 MB over about 4 s, so progress can be watched
                    self.send_response(200)
                    self.send_header("Content-Length", str(1 << 20))
                    self.end_headers()
                    try:
                        for _ in range(16):
                            self.wfile.write(b"s" * 65536)
                            self.wfile.flush()
                            time.sleep(0.25)
                    except OSError:
                        pass
                elif path == "/gone":
                    self.send(404, b"no")
                else:
                    self.send(404, b"no")

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = S(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def source():
    s = Source()
    yield s
    s.close()


def poolctl_conf(stack, directory, extra=""):
    """A config for poolctl: the stack's, with outbound requests allowed to
    127.0.0.0/8 only (so ::1 stays denied) and any extra directives."""
    p = os.path.join(directory, "fetch.conf")
    with open(p, "w") as f:
        f.write('Include %s\nPoolOutboundAllow "127.0.0.0/8"\n%s' % (stack.conf, extra))
    return p


@pytest.fixture
def fetch_conf(stack, tmp_path):
    return poolctl_conf(stack, str(tmp_path))


@pytest.fixture
def short_conf(stack, tmp_path):
    return poolctl_conf(stack, str(tmp_path), "PoolImportTimeout 5\n")


def imports_url(stack, pool):
    return stack.url("/pool/v1/pools/%s/imports" % pool)


def create(c, body):
    return c.s.post(imports_url(c.stack, c.pool), json=body)


def create_ok(c, body):
    r = create(c, body)
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.headers["Location"] == "/pool/v1/processes/" + r.json()["id"]
    j = r.json()
    assert j["status"] == 0 and j["kind"] == "import"
    return j["id"]


def process(c, pid):
    r = c.s.get(c.stack.url("/pool/v1/processes/" + pid))
    assert r.status_code == 200, r.text
    return r.json()


def run_fetch(stack, conf):
    p = stack.poolctl("-c", conf, "run", "--once", "fetch", conf=False,
                      timeout=120)
    assert p.returncode == 0, p.stderr
    return p


def make_due(stack, pid):
    stack.psql("UPDATE imports SET next_attempt_at = now() WHERE process_id = '%s'" % pid)


def test_import_success_is_an_ordinary_file(stack, uploader, source, fetch_conf):
    pid = create_ok(uploader, {"url": source.url("/data/report%20one.csv"),
                               "ts": "2026-11-21T10:15:00Z"})
    assert process(uploader, pid)["status"] == 0
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 1 and pr["percent"] == 100, pr
    f = pr["result"]
    assert f["name"] == "report one.csv"
    assert f["size"] == len(source.body)
    assert f["sha256"] == hashlib.sha256(source.body).hexdigest()
    assert f["ts"] == "2026-11-21T10:15:00Z"
    assert f["content_type"] == "text/csv"
    assert f["client"] == uploader.client_id
    # the same record as a direct upload: listed and downloadable
    ids = [x["id"] for x in stack.list_all(uploader.pool)]
    assert f["id"] in ids
    r = uploader.get("/" + f["id"])
    assert r.status_code == 200 and r.content == source.body
    # a second run has nothing to do and changes nothing
    run_fetch(stack, fetch_conf)
    assert [x["id"] for x in stack.list_all(uploader.pool)] == ids


def test_import_with_name_and_unix_ts(stack, uploader, source, fetch_conf):
    pid = create_ok(uploader, {"url": source.url("/file.bin"), "name": "x.bin",
                               "ts": 1795256100})
    run_fetch(stack, fetch_conf)
    f = process(uploader, pid)["result"]
    assert f["name"] == "x.bin" and f["ts"] == "2026-11-21T10:15:00Z"


def test_same_host_redirect_followed(stack, uploader, source, fetch_conf):
    pid = create_ok(uploader, {"url": source.url("/redirect-same")})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 1, pr
    assert pr["result"]["sha256"] == hashlib.sha256(source.body).hexdigest()


def test_redirect_to_other_host_refused(stack, uploader, source, fetch_conf):
    before = stack.snapshot(uploader.pool)
    pid = create_ok(uploader, {"url": source.url("/redirect-other")})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2 and "another host" in pr["message"], pr
    stack.assert_nothing_stored(uploader.pool, before)


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_over_the_size_limit_fails(stack, uploader, source, path, fetch_conf):
    before = stack.snapshot(uploader.pool)
    pid = create_ok(uploader, {"url": source.url(path)})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2 and "larger than the limit" in pr["message"], pr
    stack.assert_nothing_stored(uploader.pool, before)


def test_denied_network_by_name(stack, uploader, source, tmp_path):
    """With no exemption, localhost resolves only to denied networks: the
    connection is refused before it is made, and the source sees nothing."""
    conf = poolctl_conf(stack, str(tmp_path), 'PoolOutboundAllow ""\n')
    before = stack.snapshot(uploader.pool)
    hits = dict(source.hits)
    pid = create_ok(uploader, {"url": "http://localhost:%d/file.bin" % source.port})
    run_fetch(stack, conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2, pr
    assert "denied" in pr["message"], pr
    assert "127.0.0.1" in pr["message"] or "::1" in pr["message"], pr
    assert source.hits == hits
    stack.assert_nothing_stored(uploader.pool, before)


def test_denied_network(stack, uploader, source, fetch_conf):
    """::1 is not exempted by the test config (only 127.0.0.0/8 is)."""
    before = stack.snapshot(uploader.pool)
    hits = dict(source.hits)
    pid = create_ok(uploader, {"url": "http://[::1]:%d/file.bin" % source.port})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2, pr
    assert "denied" in pr["message"] and "::1" in pr["message"], pr
    assert source.hits == hits
    stack.assert_nothing_stored(uploader.pool, before)


def test_transient_failure_retries_then_succeeds(stack, uploader, source, fetch_conf):
    source.fail_first = source.hits.get("/flaky", 0) + 2
    pid = create_ok(uploader, {"url": source.url("/flaky")})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 0 and pr["message"].startswith("retrying"), pr
    row = stack.psql("SELECT attempts, next_attempt_at > now() FROM imports "
                     "WHERE process_id = '%s'" % pid).strip()
    assert row == "1|t", row
    run_fetch(stack, fetch_conf)          # not due yet: nothing happens
    assert stack.psql("SELECT attempts FROM imports WHERE process_id = '%s'" % pid).strip() == "1"
    make_due(stack, pid)
    run_fetch(stack, fetch_conf)
    make_due(stack, pid)
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 1, pr
    assert stack.psql("SELECT attempts FROM imports WHERE process_id = '%s'" % pid).strip() == "3"


def test_percent_while_downloading(stack, uploader, source, fetch_conf):
    pid = create_ok(uploader, {"url": source.url("/slow")})
    p = subprocess.Popen([POOLCTL, "-c", fetch_conf, "run", "--once", "fetch"])
    seen = set()
    try:
        deadline = time.time() + 30
        while p.poll() is None and time.time() < deadline:
            pr = process(uploader, pid)
            if pr["status"] == 0 and pr["percent"] is not None:
                seen.add(pr["percent"])
            time.sleep(0.2)
    finally:
        assert p.wait(timeout=60) == 0
    assert any(0 < x < 100 for x in seen), seen
    pr = process(uploader, pid)
    assert pr["status"] == 1 and pr["percent"] == 100 and pr["result"]["size"] == 1 << 20


def test_permanent_http_error_fails_at_once(stack, uploader, source, fetch_conf):
    pid = create_ok(uploader, {"url": source.url("/gone")})
    run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2 and "404" in pr["message"], pr


def test_gives_up_after_max_attempts(stack, uploader, source, fetch_conf):
    source.fail_first = 10 ** 6
    pid = create_ok(uploader, {"url": source.url("/flaky")})
    for _ in range(5):
        make_due(stack, pid)
        run_fetch(stack, fetch_conf)
    pr = process(uploader, pid)
    assert pr["status"] == 2 and "503" in pr["message"], pr
    source.fail_first = 0


def test_stalled_server_times_out(stack, uploader, source, short_conf):
    before = stack.snapshot(uploader.pool)
    pid = create_ok(uploader, {"url": source.url("/stall")})
    t0 = time.time()
    run_fetch(stack, short_conf)
    assert time.time() - t0 < 11
    pr = process(uploader, pid)
    assert pr["status"] == 0 and "retrying" in pr["message"], pr
    assert "timeout" in pr["message"].lower() or "timed out" in pr["message"].lower(), pr
    stack.assert_nothing_stored(uploader.pool, before)
    # keep later runs of the step from meeting this import again
    stack.psql("UPDATE imports SET state = 'failed' WHERE process_id = '%s'" % pid)


def test_two_runners_fetch_each_import_once(stack, uploader, source, fetch_conf):
    pids = [create_ok(uploader, {"url": source.url("/file.bin"), "name": "n%d" % i})
            for i in range(12)]
    cmd = [POOLCTL, "-c", fetch_conf, "run", "--once", "fetch"]
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    files = [f for f in stack.list_all(uploader.pool)]
    assert len(files) == 12
    assert sorted(f["name"] for f in files) == sorted("n%d" % i for i in range(12))
    for pid in pids:
        assert process(uploader, pid)["status"] == 1


@pytest.mark.parametrize("body,field", [
    ({}, "url"),
    ({"url": 5}, "url"),
    ({"url": "ftp://example.org/x"}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "http://"}, "url"),
    ({"url": "http:///x"}, "url"),
    ({"url": "http:/example.org/x"}, "url"),
    ({"url": "https:example.org/x"}, "url"),
    ({"url": "http:\\\\example.org/x"}, "url"),
    ({"url": "http://user:pw@example.org/x"}, "url"),
    ({"url": "http://example.org/" + "a" * 2100}, "url"),
    ({"url": "http://example.org/a b"}, "url"),
    ({"url": "http://example.org/x", "name": "a/b"}, "name"),
    ({"url": "http://example.org/x", "name": ""}, "name"),
    ({"url": "http://example.org/x", "ts": "yesterday"}, "ts"),
    ({"url": "http://example.org/x", "ts": -5}, "ts"),
    ({"url": "http://example.org/x", "callback_url": "gopher://x"}, "callback_url"),
    ({"url": "http://example.org/x", "colour": "red"}, "colour"),
])
def test_bad_fields_are_422(stack, uploader, body, field):
    before = stack.psql("SELECT count(*) FROM imports").strip()
    r = create(uploader, body)
    assert_problem(r, 422, field=field)
    assert stack.psql("SELECT count(*) FROM imports").strip() == before


def test_bad_bodies(stack, uploader):
    url = imports_url(stack, uploader.pool)
    r = uploader.s.post(url, data="{", headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    r = uploader.s.post(url, data="[]", headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    r = uploader.s.post(url, data='{"url":"http://a/x","url":"http://b/y"}',
                        headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    r = uploader.s.post(url, data="url=http://a/x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415)
    r = uploader.s.post(url, data=b"{" + b" " * 20000 + b"}",
                        headers={"Content-Type": "application/json"})
    assert_problem(r, 413)
    r = uploader.s.put(url, json={})
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET, HEAD, POST"


def test_roles_and_isolation(stack, pool, client_of, source):
    listener = client_of(pool, "listener")
    r = create(listener, {"url": source.url("/file.bin")})
    assert_problem(r, 403)
    admin = client_of(pool, "admin")
    pid = create_ok(admin, {"url": source.url("/file.bin")})
    # another pool sees neither the import nor the pool
    other = client_of(stack.create_pool(), "admin")
    r = other.s.get(stack.url("/pool/v1/processes/" + pid))
    assert_problem(r, 404)
    r = other.s.post(imports_url(stack, pool), json={"url": source.url("/file.bin")})
    assert_problem(r, 404)
    assert pool not in r.text
    # a malformed process id is simply not found
    r = admin.s.get(stack.url("/pool/v1/processes/not-a-uuid"))
    assert_problem(r, 404)
    r = admin.s.get(stack.url("/pool/v1/processes/" + pid))
    assert r.status_code == 200
    # unauthenticated
    import requests
    r = requests.get(stack.url("/pool/v1/processes/" + pid), timeout=30)
    assert_problem(r, 401)


def test_list_newest_first_paged_and_filtered(stack, pool, client_of, source,
                                              fetch_conf):
    """GET .../imports: an admin sees the pool's, anyone else its own;
    newest first, paged by `next`, filtered by client and state; the URL
    without its query (a presigned URL's signature is a secret)."""
    up1, up2 = client_of(pool, "uploader"), client_of(pool, "uploader")
    admin = client_of(pool, "admin")
    ok = create_ok(up1, {"url": source.url("/file.bin?X-Amz-Signature=s3cr3t")})
    bad = create_ok(up1, {"url": source.url("/missing")})
    other = create_ok(up2, {"url": source.url("/file.bin")})
    run_fetch(stack, fetch_conf)
    # wait for the states the list must show (a 404 fails at once)
    assert process(up1, ok)["status"] == 1 and process(up1, bad)["status"] == 2

    def listing(c, **q):
        r = c.s.get(imports_url(stack, pool), params=q)
        assert r.status_code == 200, r.text
        assert r.headers["Cache-Control"] == "no-store"
        return r.json()

    got = listing(admin)        # the pool may have older imports too
    assert [i["id"] for i in got["items"]][:3] == [other, bad, ok]
    first = {i["id"]: i for i in got["items"]}[ok]
    assert first["client"] == up1.client_id and first["state"] == "done"
    assert first["url"] == source.url("/file.bin")      # no query
    assert "s3cr3t" not in json.dumps(got)
    assert first["file_id"] == process(up1, ok)["result"]["id"]
    assert first["process"]["status"] == 1 and first["attempts"] == 1
    failed = {i["id"]: i for i in got["items"]}[bad]
    assert failed["state"] == "failed" and failed["last_error"]
    assert failed["process"]["status"] == 2 and failed["file_id"] is None
    # filters and paging
    assert [i["id"] for i in listing(admin, state="failed",
                                     client=up1.client_id)["items"]] == [bad]
    assert listing(admin, client=up1.client_id)["next"] is None
    assert [i["id"] for i in listing(admin, client=up2.client_id)["items"]] == [other]
    page = listing(admin, limit=1)
    assert [i["id"] for i in page["items"]] == [other] and page["next"] == other
    page = listing(admin, limit=1, before=page["next"])
    assert [i["id"] for i in page["items"]] == [bad]
    # anyone else: its own only
    assert [i["id"] for i in listing(up1)["items"]] == [bad, ok]
    assert listing(up2, client=up2.client_id)["items"][0]["id"] == other
    r = up1.s.get(imports_url(stack, pool), params={"client": up2.client_id})
    assert_problem(r, 403)
    assert listing(client_of(pool, "listener"))["items"] == []
    # bad input
    for q, field in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                     ({"state": "lost"}, "state"), ({"before": "nope"}, "before"),
                     ({"before": "00000000-0000-4000-8000-000000000000"}, "before")):
        r = admin.s.get(imports_url(stack, pool), params=q)
        assert_problem(r, 422)
        assert r.json()["field"] == field
    # another pool's import is not a place to page from, nor visible
    elsewhere = client_of(stack.create_pool(), "admin")
    theirs = create_ok(elsewhere, {"url": source.url("/file.bin")})
    r = admin.s.get(imports_url(stack, pool), params={"before": theirs})
    assert_problem(r, 422)
    assert theirs not in json.dumps(listing(admin))
    r = elsewhere.s.get(imports_url(stack, elsewhere.pool))
    assert r.status_code == 200
    assert [i["id"] for i in r.json()["items"]] == [theirs]
    r = elsewhere.s.get(imports_url(stack, pool))
    assert_problem(r, 404)


# ---------------------------------------------------------------- callbacks

@pytest.fixture(scope="module")
def receiver():
    from test_webhooks import Receiver
    r = Receiver()
    yield r
    r.close()


def run_deliver(stack, conf):
    p = stack.poolctl("-c", conf, "run", "--once", "deliver", conf=False,
                      timeout=120)
    assert p.returncode == 0, p.stderr


def test_callback_needs_a_webhook_secret(stack, uploader, source):
    before = stack.psql("SELECT count(*) FROM imports").strip()
    r = create(uploader, {"url": source.url("/file.bin"),
                          "callback_url": "http://127.0.0.1:9/cb"})
    j = assert_problem(r, 409, field="callback_url")
    assert "clients/me/callback" in j["detail"]
    assert stack.psql("SELECT count(*) FROM imports").strip() == before


@pytest.mark.parametrize("path,event,status", [
    ("/file.bin", "import.completed", 1),
    ("/gone", "import.failed", 2),
])
def test_callback_is_signed_and_delivered(stack, uploader, source, fetch_conf,
                                          receiver, path, event, status):
    from test_webhooks import hook
    hook_path = hook(uploader, receiver)       # registers; keeps the secret
    cb_path = hook_path + "/import"
    receiver.secrets[cb_path] = receiver.secrets[hook_path]
    pid = create_ok(uploader, {"url": source.url(path),
                               "callback_url": receiver.url(cb_path)})
    run_fetch(stack, fetch_conf)
    assert process(uploader, pid)["status"] == status
    run_deliver(stack, fetch_conf)
    got = receiver.received(cb_path)
    assert len(got) == 1, got
    rec = got[0]
    assert rec["verified"], rec["headers"]
    import json
    body = json.loads(rec["body"])
    assert body["type"] == event
    assert body["data"]["id"] == pid and body["data"]["status"] == status
    # delivered once: another round sends nothing more
    run_deliver(stack, fetch_conf)
    assert len(receiver.received(cb_path)) == 1
