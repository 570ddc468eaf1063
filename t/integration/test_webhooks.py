"""Signed webhooks (Standard Webhooks): a client registers its endpoint with
PUT .../clients/me/callback, events are queued as deliveries, and
`poolctl run deliver` sends them in parallel, records every attempt and
retries with backoff.  The receiver below verifies every signature on its own
(hmac/base64 of the standard library), and counts deliveries by webhook-id."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socketserver
import subprocess
import threading
import time
import uuid

import pytest

from conftest import POOLCTL, assert_problem, free_port


# ---------------------------------------------------------------- receiver

def sw_verify(secret, msg_id, ts, body, sig_header):
    """Standard Webhooks verification, written from the spec."""
    if not secret.startswith("whsec_"):
        return False
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected)
               for s in (sig_header or "").split())


class Receiver:
    """An HTTP server on 127.0.0.1 that records webhooks.

    answers[path] is a function(record) -> (status, headers, delay_seconds)
    or (status, headers, delay_seconds, body);
    secrets[path] is the secret its signatures are checked with."""

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.got = []
        self.gets = []
        self.connections = 0
        self.answers = {}
        self.secrets = {}
        rcv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                path = self.path
                h = {k.lower(): v for k, v in self.headers.items()}
                rec = {
                    "method": self.command,
                    "path": path,
                    "id": h.get("webhook-id"),
                    "ts": h.get("webhook-timestamp"),
                    "sig": h.get("webhook-signature"),
                    "headers": h,
                    "body": body,
                    "at": time.time(),
                }
                secret = rcv.secrets.get(path)
                rec["verified"] = bool(secret) and sw_verify(
                    secret, rec["id"], rec["ts"], body, rec["sig"])
                with rcv.lock:
                    rcv.got.append(rec)
                answer = rcv.answers.get(path)
                got = answer(rec) if answer else (200, [], 0)
                status, headers, delay = got[:3]
                out = got[3] if len(got) > 3 else b"ok"
                if status in (204, 304):
                    out = b""       # no body, or a reused connection breaks
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    if status not in (204, 304):
                        self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

            do_PUT = do_POST        # an endpoint's mapping may say PUT

            def do_GET(self):
                with rcv.lock:
                    rcv.gets.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def verify_request(self, request, client_address):
                with rcv.lock:
                    rcv.connections += 1
                return True

        self.httpd = S(("127.0.0.1", port), H)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def path(self):
        """A path of its own for one test."""
        return "/hook/" + uuid.uuid4().hex

    def received(self, path):
        with self.lock:
            return [r for r in self.got if r["path"] == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


# ---------------------------------------------------------------- helpers

def cb_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/clients/me/callback%s" % (pool, rest))


def register(c, url, status=(200, 201)):
    r = c.s.put(cb_url(c.stack, c.pool), json={"url": url})
    assert r.status_code in status, (r.status_code, r.text)
    j = r.json()
    assert j["url"] == url
    assert j["secret"].startswith("whsec_")
    return j["secret"]


def hook(c, receiver, answer=None):
    """Registers a fresh receiver path for client c; returns the path."""
    path = receiver.path()
    receiver.secrets[path] = register(c, receiver.url(path))
    if answer:
        receiver.answers[path] = answer
    return path


def send_test(c):
    r = c.s.post(cb_url(c.stack, c.pool, "/test"))
    assert r.status_code == 202, (r.status_code, r.text)
    j = r.json()
    assert j["event"] == "webhook.test"
    uuid.UUID(j["delivery_id"])
    return j["delivery_id"]


def run_deliver(stack, conf=None, timeout=120):
    if conf:
        p = stack.poolctl("-c", conf, "run", "--once", "deliver", conf=False,
                          timeout=timeout)
    else:
        p = stack.poolctl("run", "--once", "deliver", timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p


def show(stack, did):
    """poolctl deliveries show --json; each attempt's reason also as
    "error", the name the tests below were written for."""
    p = stack.poolctl_ok("deliveries", "show", did, "--json")
    d = json.loads(p.stdout)
    d["history"] = [dict(a, error=a["reason"]) for a in d["history"]]
    return d


def seconds_until_next(stack, did):
    out = stack.psql("SELECT extract(epoch FROM next_attempt_at - now())"
                     " FROM deliveries WHERE id = '%s'" % did).strip()
    return float(out)


def make_due(stack, did):
    stack.poolctl_ok("deliveries", "retry", did)


def wait_for(cond, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


# ---------------------------------------------------------------- registration

def test_register_shows_secret_once_and_rotates(stack, uploader, receiver):
    url = receiver.url(receiver.path())
    r = uploader.s.put(cb_url(stack, uploader.pool), json={"url": url})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/pool/v1/pools/%s/clients/me/callback" % uploader.pool
    assert r.headers.get("Cache-Control") == "no-store"
    first = r.json()
    assert set(first) == {"url", "secret"}
    assert first["url"] == url
    key = base64.b64decode(first["secret"][len("whsec_"):], validate=True)
    assert len(key) == 32

    # reading it back never shows the secret
    r = uploader.s.get(cb_url(stack, uploader.pool))
    assert r.status_code == 200, r.text
    j = r.json()
    assert j == {"url": url, "enabled": True, "disabled_at": None,
                 "endpoint": j["endpoint"]}
    assert j["endpoint"].startswith("ep_")
    assert "whsec_" not in r.text

    # every PUT rotates the secret; 200 now that one exists
    r = uploader.s.put(cb_url(stack, uploader.pool), json={"url": url + "x"})
    assert r.status_code == 200, r.text
    assert r.json()["secret"] != first["secret"]
    assert r.json()["url"] == url + "x"

    # unregister, then it is gone; a new PUT is a creation again
    r = uploader.s.delete(cb_url(stack, uploader.pool))
    assert r.status_code == 204 and r.content == b""
    assert_problem(uploader.s.get(cb_url(stack, uploader.pool)), 404)
    assert_problem(uploader.s.delete(cb_url(stack, uploader.pool)), 404)
    assert_problem(uploader.s.post(cb_url(stack, uploader.pool, "/test")), 409)
    register(uploader, url, status=(201,))


@pytest.mark.parametrize("role", ["listener", "processor", "admin"])
def test_any_role_may_register(stack, pool, client_of, receiver, role):
    c = client_of(pool, role)
    register(c, receiver.url(receiver.path()), status=(201,))


@pytest.mark.parametrize("body,field", [
    ({}, "url"),
    ({"url": 5}, "url"),
    ({"url": None}, "url"),
    ({"url": ""}, "url"),
    ({"url": "ftp://example.org/hook"}, "url"),
    ({"url": "/relative/hook"}, "url"),
    ({"url": "http://"}, "url"),
    ({"url": "http://user:pw@example.org/hook"}, "url"),
    ({"url": "http://example.org/a b"}, "url"),
    ({"url": "http://example.org/" + "a" * 2048}, "url"),
    ({"url": "http://example.org/hook", "secret": "whsec_x"}, "secret"),
])
def test_register_bad_fields_422(stack, uploader, body, field):
    r = uploader.s.put(cb_url(stack, uploader.pool), json=body)
    j = assert_problem(r, 422, field=field)
    assert field in j["detail"]
    assert_problem(uploader.s.get(cb_url(stack, uploader.pool)), 404)


def test_register_bad_requests(stack, uploader, pool, client_of):
    u = cb_url(stack, uploader.pool)
    assert_problem(uploader.s.put(u, data='{"url": "http://example.org/"}',
                                  headers={"Content-Type": "text/plain"}), 415)
    assert_problem(uploader.s.put(u, data='{"url": "http://example.org/"}'), 415)
    assert_problem(uploader.s.put(u, data="{not json",
                                  headers={"Content-Type": "application/json"}), 400)
    assert_problem(uploader.s.put(u, data='["http://example.org/"]',
                                  headers={"Content-Type": "application/json"}), 400)
    assert_problem(uploader.s.put(u, data='{"url": "http://a/", "url": "http://b/"}',
                                  headers={"Content-Type": "application/json"}), 400)
    big = json.dumps({"url": "http://example.org/", "pad": "x" * 17000})
    assert_problem(uploader.s.put(u, data=big,
                                  headers={"Content-Type": "application/json"}), 413)
    r = uploader.s.post(u, json={"url": "http://example.org/"})
    assert_problem(r, 405)
    assert "PUT" in r.headers["Allow"]
    assert_problem(uploader.s.get(cb_url(stack, uploader.pool, "/test")), 405)
    # only "me": other clients' endpoints are not reachable (the clients
    # themselves are the admins' business)
    other = client_of(pool)
    assert_problem(uploader.s.put(
        stack.url("/pool/v1/pools/%s/clients/%s/callback" % (pool, other.client_id)),
        json={"url": "http://example.org/"}), 403)
    assert_problem(uploader.s.get(stack.url("/pool/v1/pools/%s/clients" % pool)), 403)
    admin = client_of(pool, "admin")
    assert_problem(admin.s.put(
        stack.url("/pool/v1/pools/%s/clients/%s/callback" % (pool, other.client_id)),
        json={"url": "http://example.org/"}), 404)
    # no credentials
    r = stack.session().put(u, json={"url": "http://example.org/"})
    assert_problem(r, 401)
    assert_problem(uploader.s.get(u), 404)      # nothing was registered


def test_other_pool_is_404(stack, uploader, client_of):
    other_pool = stack.create_pool()
    client_of(other_pool)
    r = uploader.s.put(cb_url(stack, other_pool), json={"url": "http://example.org/"})
    assert_problem(r, 404)
    r = uploader.s.post(cb_url(stack, other_pool, "/test"))
    assert_problem(r, 404)
    r = uploader.s.put(cb_url(stack, "no-such-pool"), json={"url": "http://example.org/"})
    assert_problem(r, 404)


# ---------------------------------------------------------------- delivery

def test_test_event_delivered_signed(stack, uploader, receiver):
    path = hook(uploader, receiver)
    secret = receiver.secrets[path]
    did = send_test(uploader)
    d = show(stack, did)
    assert d["state"] == "pending" and d["attempts"] == 0
    assert d["event"] == "webhook.test" and d["pool"] == uploader.pool
    assert d["client"] == uploader.client_id

    t0 = int(time.time())
    run_deliver(stack)
    got = receiver.received(path)
    assert len(got) == 1
    rec = got[0]
    assert rec["verified"], rec
    assert sw_verify(secret, rec["id"], rec["ts"], rec["body"], rec["sig"])
    assert rec["id"] == did
    assert t0 - 5 <= int(rec["ts"]) <= time.time() + 5
    assert rec["headers"]["content-type"] == "application/json"
    assert rec["headers"]["user-agent"].startswith("mod_pool")
    body = json.loads(rec["body"])
    assert body["type"] == "webhook.test"
    assert body["data"]["client_id"] == uploader.client_id
    assert body["data"]["pool"] == uploader.pool
    assert body["timestamp"].endswith("Z")
    # a different secret does not verify it
    assert not sw_verify("whsec_" + base64.b64encode(b"k" * 32).decode(),
                         rec["id"], rec["ts"], rec["body"], rec["sig"])

    d = show(stack, did)
    assert d["state"] == "delivered" and d["attempts"] == 1
    assert d["last_status"] == 200 and d["last_error"] is None
    assert d["delivered_at"] and d["next_attempt_at"] is None
    assert len(d["history"]) == 1
    assert d["history"][0]["status"] == 200
    assert d["history"][0]["duration_ms"] >= 0

    # nothing is sent twice
    run_deliver(stack)
    assert len(receiver.received(path)) == 1
    p = stack.poolctl("deliveries", "retry", did)
    assert p.returncode == 1 and "delivered already" in p.stderr


def test_receiver_down_then_up(stack, uploader):
    port = free_port()          # nothing listens there yet
    path = "/down/" + uuid.uuid4().hex
    secret = register(uploader, "http://127.0.0.1:%d%s" % (port, path))
    did = send_test(uploader)

    run_deliver(stack)
    d = show(stack, did)
    assert d["state"] == "pending" and d["attempts"] == 1, d
    assert d["last_status"] is None
    assert "no answer" in d["last_error"] and "onnect" in d["last_error"], d
    wait = seconds_until_next(stack, did)
    assert 3.5 < wait <= 5, wait        # the schedule's first wait: 5 s
    assert len(d["history"]) == 1 and d["history"][0]["status"] is None

    # not due yet: a second run leaves it alone
    run_deliver(stack)
    assert show(stack, did)["attempts"] == 1

    rcv = Receiver(port)
    try:
        rcv.secrets[path] = secret
        make_due(stack, did)
        assert seconds_until_next(stack, did) <= 1
        run_deliver(stack)
        got = rcv.received(path)
        assert len(got) == 1 and got[0]["id"] == did and got[0]["verified"]
        d = show(stack, did)
        assert d["state"] == "delivered" and d["attempts"] == 2
        assert [h["status"] for h in d["history"]] == [None, 200]
        assert d["history"][0]["error"]
        # delivered exactly once, however often the step runs
        run_deliver(stack)
        run_deliver(stack)
        assert len(rcv.received(path)) == 1
    finally:
        rcv.close()


def test_backoff_grows_and_gives_up(stack, uploader, receiver):
    path = hook(uploader, receiver, lambda rec: (500, [], 0))
    did = send_test(uploader)
    waits = []
    for i in range(8):
        make_due(stack, did)
        run_deliver(stack)
        d = show(stack, did)
        assert d["attempts"] == i + 1
        assert d["last_status"] == 500
        if i < 7:
            assert d["state"] == "pending", d
            waits.append(seconds_until_next(stack, did))
    assert d["state"] == "failed", d
    assert "gave up after 8 attempts" in d["last_error"]
    assert len(receiver.received(path)) == 8
    # each attempt carried the same webhook-id, signed anew
    assert {r["id"] for r in receiver.received(path)} == {did}
    assert all(r["verified"] for r in receiver.received(path))
    # a callback is an endpoint: its default schedule (docs/webhooks.md)
    base = [5, 300, 1800, 7200, 18000, 36000, 36000]
    for w, b in zip(waits, base):
        assert b - 2 <= w <= b, (waits, base)
    # an operator may still retry a failed delivery: one more attempt
    receiver.answers[path] = lambda rec: (204, [], 0)
    make_due(stack, did)
    assert show(stack, did)["state"] == "pending"
    run_deliver(stack)
    d = show(stack, did)
    assert d["state"] == "delivered" and d["attempts"] == 9


def test_410_disables_endpoint(stack, uploader, receiver):
    path = hook(uploader, receiver, lambda rec: (410, [], 0))
    did = send_test(uploader)
    run_deliver(stack)
    d = show(stack, did)
    assert d["state"] == "failed" and d["last_status"] == 410, d
    assert "410" in d["last_error"]
    j = uploader.s.get(cb_url(stack, uploader.pool)).json()
    assert j["enabled"] is False and j["disabled_at"]
    # later events are not queued
    r = uploader.s.post(cb_url(stack, uploader.pool, "/test"))
    pj = assert_problem(r, 409)
    assert "410" in pj["detail"]
    # registering again enables it
    receiver.answers[path] = lambda rec: (200, [], 0)
    receiver.secrets[path] = register(uploader, receiver.url(path), status=(200,))
    assert uploader.s.get(cb_url(stack, uploader.pool)).json()["enabled"] is True
    did2 = send_test(uploader)
    run_deliver(stack)
    assert show(stack, did2)["state"] == "delivered"
    assert receiver.received(path)[-1]["verified"]


def test_queued_events_fail_once_endpoint_is_gone(stack, pool, client_of, receiver):
    # unregistered before the delivery ran: nothing is sent
    a = client_of(pool)
    pa = hook(a, receiver)
    da = send_test(a)
    assert a.s.delete(cb_url(stack, pool)).status_code == 204
    # disabled by a 410 on an earlier event while this one was queued
    b = client_of(pool)
    pb = hook(b, receiver)
    db1 = send_test(b)
    db2 = send_test(b)
    stack.psql("UPDATE endpoints SET disabled_at = now() WHERE client_id ="
               " (SELECT id FROM clients WHERE client_id = '%s')" % b.client_id)
    run_deliver(stack)
    assert receiver.received(pa) == [] and receiver.received(pb) == []
    d = show(stack, da)
    assert d["state"] == "failed" and "removed" in d["last_error"]
    for did in (db1, db2):
        d = show(stack, did)
        assert d["state"] == "failed" and "disabled" in d["last_error"]


def test_rotated_secret_signs_retries(stack, uploader, receiver):
    answers = iter([(503, [], 0)])
    path = hook(uploader, receiver, lambda rec: next(answers, (200, [], 0)))
    did = send_test(uploader)
    run_deliver(stack)
    assert show(stack, did)["state"] == "pending"
    old = receiver.secrets[path]
    new = register(uploader, receiver.url(path), status=(200,))
    receiver.secrets[path] = new
    make_due(stack, did)
    run_deliver(stack)
    got = receiver.received(path)
    assert len(got) == 2 and got[1]["id"] == did
    assert sw_verify(new, got[1]["id"], got[1]["ts"], got[1]["body"], got[1]["sig"])
    assert not sw_verify(old, got[1]["id"], got[1]["ts"], got[1]["body"], got[1]["sig"])
    # the body is the same bytes on every attempt
    assert got[0]["body"] == got[1]["body"]
    assert show(stack, did)["state"] == "delivered"


@pytest.mark.parametrize("status,retry_after,expect", [
    (503, "3600", 3600),
    (429, "120", 120),
    (503, "http-date+7200", 7200),
    (429, "999999", 86400),                 # capped at a day
    (500, "3600", None),                    # only with 429/503
    (503, "soon", None),                    # malformed: backoff
])
def test_retry_after_honoured(stack, uploader, receiver, status, retry_after, expect):
    def answer(rec):
        v = retry_after
        if v.startswith("http-date+"):
            v = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                              time.gmtime(time.time() + int(v.split("+")[1])))
        return (status, [("Retry-After", v)], 0)
    hook(uploader, receiver, answer)
    did = send_test(uploader)
    run_deliver(stack)
    d = show(stack, did)
    assert d["state"] == "pending" and d["last_status"] == status, d
    wait = seconds_until_next(stack, did)
    if expect is None:
        assert 3.5 < wait <= 5, wait            # the schedule's first wait
    else:
        assert expect - 10 <= wait <= expect + 2, (wait, expect)


def test_redirect_not_followed(stack, uploader, receiver):
    target = "/target/" + uuid.uuid4().hex
    path = hook(uploader, receiver,
                lambda rec: (302, [("Location", receiver.url(target))], 0))
    did = send_test(uploader)
    run_deliver(stack)
    assert len(receiver.received(path)) == 1
    assert target not in receiver.gets and receiver.received(target) == []
    d = show(stack, did)
    assert d["state"] == "pending" and d["last_status"] == 302, d
    assert "redirects are not followed" in d["last_error"]


def test_large_response_is_capped(stack, uploader, receiver):
    """A receiver that answers with a huge body: the status counts, the body
    is read only so far."""
    port = free_port()
    srv_ready = threading.Event()
    sent = [0]

    def serve():
        import socket as s
        ls = s.socket()
        ls.setsockopt(s.SOL_SOCKET, s.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(1)
        srv_ready.set()
        ls.settimeout(30)
        try:
            conn, _ = ls.accept()
        except OSError:
            ls.close()
            return
        conn.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        n = int([l.split(b":")[1] for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length")][0])
        while len(rest) < n:
            rest += conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
        try:
            chunk = b"z" * 65536
            for _ in range(50000000 // 65536):
                conn.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass
        conn.close()
        ls.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    srv_ready.wait(5)
    register(uploader, "http://127.0.0.1:%d/big" % port)
    did = send_test(uploader)
    run_deliver(stack)
    t.join(30)
    d = show(stack, did)
    assert d["state"] == "delivered" and d["last_status"] == 200, d
    assert sent[0] < 50000000


# ---------------------------------------------------------------- network policy

def test_denied_network_refused_before_connecting(stack, uploader, receiver, tmp_path):
    """With loopback not exempted, the receiver is never connected to."""
    conf = tmp_path / "deny.conf"
    conf.write_text('Include %s\nPoolOutboundAllow ""\n' % stack.conf)
    path = hook(uploader, receiver)
    did = send_test(uploader)
    before = receiver.connections
    run_deliver(stack, conf=str(conf))
    assert receiver.connections == before
    assert receiver.received(path) == []
    d = show(stack, did)
    assert d["state"] == "failed", d
    assert "denied" in d["last_error"] and "127.0.0.1" in d["last_error"], d
    assert d["last_status"] is None


def test_private_address_refused(stack, uploader):
    register(uploader, "http://10.255.255.1:9/hook")
    did = send_test(uploader)
    t0 = time.time()
    run_deliver(stack)
    assert time.time() - t0 < 8            # no connect timeout was waited for
    d = show(stack, did)
    assert d["state"] == "failed", d
    assert "denied" in d["last_error"] and "10.255.255.1" in d["last_error"]


# ---------------------------------------------------------------- concurrency, leases

def test_two_runners_deliver_each_exactly_once(stack, pool, client_of, receiver):
    path = receiver.path()
    clients = [client_of(pool, "listener") for _ in range(5)]
    secrets = {}
    for c in clients:
        secrets[c.client_id] = register(c, receiver.url(path))
    # every client's events are signed with its own secret
    receiver.answers[path] = lambda rec: (200, [], 1.0)
    # more than one runner holds at once (64 in flight and at most 64
    # claimed ahead), so the second, started meanwhile, gets some
    ids = set()
    for c in clients:
        for _ in range(40):
            ids.add(send_test(c))
    assert len(ids) == 200

    results = [None, None]

    def go(i):
        results[i] = stack.poolctl("run", "--once", "deliver", timeout=120)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(150)
    assert all(r is not None and r.returncode == 0 for r in results), results
    got = receiver.received(path)
    counts = {}
    for rec in got:
        counts[rec["id"]] = counts.get(rec["id"], 0) + 1
        body = json.loads(rec["body"])
        assert sw_verify(secrets[body["data"]["client_id"]], rec["id"],
                         rec["ts"], rec["body"], rec["sig"])
    assert set(counts) == ids
    assert all(n == 1 for n in counts.values()), counts
    # both runners took part (the receiver is slow enough for them to meet)
    done = [r.stderr for r in results]
    assert all("deliver: " in s and "webhook deliveries handled" in s for s in done), done
    out = stack.psql("SELECT state, count(*), max(attempts) FROM deliveries"
                     " WHERE id IN (%s) GROUP BY state"
                     % ",".join("'%s'" % i for i in ids)).strip()
    assert out == "delivered|200|1", out


def test_killed_runner_retried_after_lease(stack, uploader, receiver):
    slow = {"delay": 20}
    path = hook(uploader, receiver, lambda rec: (200, [], slow["delay"]))
    did = send_test(uploader)
    proc = subprocess.Popen([POOLCTL, "-c", stack.conf, "run", "--once", "deliver"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: len(receiver.received(path)) == 1), "not sent"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    d = show(stack, did)
    assert d["state"] == "pending" and d["attempts"] == 1, d
    assert "runner stopped" in d["history"][0]["error"]
    # the lease still holds: another run does not send it again
    run_deliver(stack)
    assert len(receiver.received(path)) == 1
    left = float(stack.psql("SELECT extract(epoch FROM locked_until - now())"
                            " FROM deliveries WHERE id = '%s'" % did))
    assert 0 < left <= 300     # the lease: twice the longest time limit (120 s) and a margin
    # once the lease has expired it is sent again, with the same webhook-id
    stack.psql("UPDATE deliveries SET locked_until = now() - interval '1 second'"
               " WHERE id = '%s'" % did)
    slow["delay"] = 0
    run_deliver(stack)
    got = receiver.received(path)
    assert len(got) == 2 and got[0]["id"] == got[1]["id"] == did
    assert all(r["verified"] for r in got)
    d = show(stack, did)
    assert d["state"] == "delivered" and d["attempts"] == 2


# ---------------------------------------------------------------- poolctl deliveries

def test_deliveries_list_and_retry_cli(stack, uploader, receiver):
    hook(uploader, receiver, lambda rec: (410, [], 0))
    failed = send_test(uploader)
    run_deliver(stack)

    p = stack.poolctl_ok("deliveries", "list", "--failed", "--json")
    rows = json.loads(p.stdout)
    assert isinstance(rows, list)
    assert all(r["state"] == "failed" for r in rows)
    mine = [r for r in rows if r["id"] == failed]
    assert len(mine) == 1
    r = mine[0]
    for k in ("id", "pool", "event", "url", "state", "attempts", "last_status",
              "last_error", "next_attempt_at", "created_at"):
        assert k in r, k
    assert r["pool"] == uploader.pool and r["last_status"] == 410

    p = stack.poolctl_ok("deliveries", "list", "--pool", uploader.pool, "--json")
    rows = json.loads(p.stdout)
    assert rows and all(x["pool"] == uploader.pool for x in rows)
    p = stack.poolctl_ok("deliveries", "list", "--pool", uploader.pool)
    assert failed in p.stdout and "LAST_ERROR" in p.stdout.splitlines()[0]
    p = stack.poolctl_ok("deliveries", "show", failed)
    assert "410" in p.stdout

    p = stack.poolctl("deliveries", "list", "--pool", "no-such-pool")
    assert p.returncode == 1 and "no such pool" in p.stderr
    p = stack.poolctl("deliveries", "retry", str(uuid.uuid4()))
    assert p.returncode == 1 and "not found" in p.stderr
    p = stack.poolctl("deliveries", "retry", "nope")
    assert p.returncode == 2
    p = stack.poolctl("deliveries", "show", str(uuid.uuid4()))
    assert p.returncode == 1
    p = stack.poolctl("deliveries", "frob")
    assert p.returncode == 2
    p = stack.poolctl("deliveries", "list", "--limit", "0")
    assert p.returncode == 2

    stack.poolctl_ok("deliveries", "retry", failed)
    assert show(stack, failed)["state"] == "pending"
    p = stack.poolctl_ok("--help")
    assert "deliveries list" in p.stdout and "deliver" in p.stdout


def test_one_call_sends_a_fan_out_and_records_each_outcome(stack, pool, client_of,
                                                           receiver):
    """More deliveries than one claim takes (32): one `run deliver` sends them
    all, and the outcomes written together keep each its own status and
    error text (quotes, backslashes, braces and commas included)."""
    body = b'he said "no" \\ {a,b} NULL'
    clients, paths = [], []
    for i in range(45):
        c = client_of(pool, "listener")
        kind = i % 3
        answer = {0: lambda rec: (500, [], 0, body),
                  1: lambda rec: (410, [], 0),
                  2: lambda rec: (204, [], 0)}[kind]
        paths.append(hook(c, receiver, answer))
        clients.append((c, kind, send_test(c)))
    run_deliver(stack)
    # the failing ones wait for their backoff (30 s at least): a second call
    # right away sends none of this test's again
    sent = [len(receiver.received(path)) for path in paths]
    run_deliver(stack)
    assert [len(receiver.received(path)) for path in paths] == sent
    for (c, kind, did), path in zip(clients, paths):
        row = stack.psql("SELECT state, attempts, last_status, coalesce(last_error, '')"
                         " FROM deliveries WHERE id = '%s'" % did).strip()
        state, attempts, status, error = row.split("|", 3)
        assert attempts == "1", row
        assert len(receiver.received(path)) == 1
        if kind == 0:
            assert (state, status) == ("pending", "500"), row
            assert error == "the endpoint answered 500: " + body.decode(), row
        elif kind == 1:
            assert (state, status) == ("failed", "410"), row
            assert stack.psql("SELECT e.disabled_at IS NOT NULL FROM endpoints e"
                              " JOIN clients c ON c.id = e.client_id"
                              " WHERE c.client_id = '%s'" % c.client_id).strip() == "t"
        else:
            assert (state, status, error) == ("delivered", "204", ""), row
        hist = show(stack, did)["history"]
        assert [h["status"] for h in hist] == [int(status)], hist
    stack.psql("UPDATE deliveries SET state = 'failed' WHERE state = 'pending'"
               " AND pool_id = (SELECT id FROM pools WHERE name = '%s')" % pool)
