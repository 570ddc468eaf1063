"""Webhook endpoints at delivery time (lib/pool_deliver.c): an admin's
endpoint gets the events it subscribed to, through its mapping (method,
path, body), authenticated as it says, judged by its success rule, retried
on its schedule, limited to its rate, signed with both secrets during a
rotation's grace period; every attempt keeps its request and response.
The receiver (test_webhooks.Receiver) checks signatures on its own."""

import json
import threading
import time

import pytest

from conftest import unique
from test_webhooks import Receiver, run_deliver, sw_verify, wait_for


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def admin(stack, pool):
    return stack.client_session(pool, "admin")[0]


def ep_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/endpoints%s" % (pool, rest))


def make_endpoint(stack, pool, admin, receiver, answer=None, **doc):
    """Creates an endpoint at a fresh receiver path; returns (endpoint, path)."""
    path = receiver.path()
    doc.setdefault("url", receiver.url(path))
    r = admin.post(ep_url(stack, pool), json=doc)
    assert r.status_code == 201, (r.status_code, r.text)
    ep = r.json()
    assert ep["secret"].startswith("whsec_")
    receiver.secrets[path] = ep["secret"]
    if answer:
        receiver.answers[path] = answer
    return ep, path


def got_under(receiver, path):
    """What the receiver got at path or below it (mapped paths)."""
    with receiver.lock:
        return [r for r in receiver.got
                if r["path"] == path or r["path"].startswith(path + "/")
                or r["path"].startswith(path + "?")]


def deliveries(stack, endpoint_id):
    """[(state, attempts, last_status, last_error)] of an endpoint, oldest first."""
    out = stack.psql(
        "SELECT d.state, d.attempts, coalesce(d.last_status, 0),"
        " coalesce(d.last_error, '') FROM deliveries d"
        " JOIN endpoints e ON e.id = d.endpoint_id"
        " WHERE e.public_id = '%s' ORDER BY d.created_at, d.id" % endpoint_id)
    return [tuple(line.split("|", 3)) for line in out.strip().splitlines()
            if line]


def attempts(stack, endpoint_id):
    """Every attempt of an endpoint's deliveries, as dicts, oldest first."""
    out = stack.psql(
        "SELECT coalesce(json_agg(json_build_object("
        " 'outcome', a.outcome, 'status', a.status, 'error', a.error,"
        " 'method', a.method, 'url', a.url, 'req_headers', a.request_headers,"
        " 'req_body', a.request_body, 'resp_headers', a.response_headers,"
        " 'resp_body', a.response_body, 'truncated', a.response_truncated,"
        " 'payload', d.payload::text, 'at', extract(epoch FROM a.at))"
        " ORDER BY a.at, a.id), '[]') FROM delivery_attempts a"
        " JOIN deliveries d ON d.id = a.delivery_id"
        " JOIN endpoints e ON e.id = d.endpoint_id"
        " WHERE e.public_id = '%s'" % endpoint_id)
    return json.loads(out.strip())


def deliver_until(stack, cond, timeout=30.0):
    """Runs the deliver step until cond() holds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        run_deliver(stack)
        if cond():
            return True
        time.sleep(0.2)
    return cond()


# ---------------------------------------------------------------- mapping, auth

def test_mapping_method_path_body_and_bearer_seen_by_receiver(
        stack, pool, admin, uploader, receiver):
    mapping = {
        "method": "PUT",
        "path": "/docs/{{/data/file/id}}",
        "body": {
            "doc_id": {"$ptr": "/data/file/id"},
            "title": "{{/data/file/name}} ({{/data/file/size}} bytes)",
            "size": {"$ptr": "/data/file/size"},
            "owner": {"$ptr": "/data/file/labels/owner", "default": "nobody"},
            "source": "mod_pool",
        },
    }
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"], mapping=mapping,
                             auth={"type": "bearer", "token": "tok-123"})
    f = uploader.upload_ok("scan 7.pdf", b"x" * 321)
    run_deliver(stack)
    got = got_under(receiver, path)
    assert len(got) == 1, got
    rec = got[0]
    assert rec["method"] == "PUT"
    assert rec["path"] == "%s/docs/%s" % (path, f["id"])
    assert json.loads(rec["body"]) == {
        "doc_id": f["id"], "title": "scan 7.pdf (321 bytes)", "size": 321,
        "owner": "nobody", "source": "mod_pool"}
    # members in the template's order, compact
    assert rec["body"].startswith(b'{"doc_id":')
    assert rec["headers"]["authorization"] == "Bearer tok-123"
    assert rec["headers"]["content-type"] == "application/json"
    # the signature covers what was sent
    assert sw_verify(ep["secret"], rec["id"], rec["ts"], rec["body"], rec["sig"])
    [a] = attempts(stack, ep["id"])
    assert a["outcome"] == "delivered" and a["status"] == 200
    assert a["method"] == "PUT" and a["url"].endswith("/docs/" + f["id"])
    # the log keeps the request without the secret, and the answer
    assert a["req_headers"]["Authorization"] == "Bearer (secret)"
    assert "tok-123" not in json.dumps(a)
    assert json.loads(a["req_body"])["doc_id"] == f["id"]
    assert a["resp_body"] == "ok"
    assert a["resp_headers"]["Content-Length"] == "2"


@pytest.mark.parametrize("auth,header,value", [
    ({"type": "basic", "username": "svc", "password": "p:w"},
     "authorization", "Basic c3ZjOnA6dw=="),
    ({"type": "header", "name": "X-Api-Key", "value": "k 1"},
     "x-api-key", "k 1"),
    ({"type": "none"}, "authorization", None),
])
def test_auth_modes_seen_by_receiver(stack, pool, admin, uploader, receiver,
                                     auth, header, value):
    ep, path = make_endpoint(stack, pool, admin, receiver, auth=auth,
                             events=["file.received"])
    uploader.upload_ok("a.txt", b"a")
    run_deliver(stack)
    [rec] = got_under(receiver, path)
    assert rec["headers"].get(header) == value
    assert rec["verified"]
    # the event as it is, without a mapping
    ev = json.loads(rec["body"])
    assert ev["type"] == "file.received" and ev["data"]["pool"] == pool
    if value:
        shown = json.dumps(attempts(stack, ep["id"]))
        assert "p:w" not in shown and "k 1" not in shown


def test_file_received_carries_the_api_file(stack, pool, admin, uploader,
                                            receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"])
    f = uploader.upload_ok("b.bin", b"\x00\x01" * 50)
    run_deliver(stack)
    [rec] = got_under(receiver, path)
    ev = json.loads(rec["body"])
    # the event's file is the API's file (one shape, docs/webhooks.md)
    assert ev["data"]["file"] == f


# ---------------------------------------------------------------- success rules

@pytest.mark.parametrize("rule,answer,reason", [
    ({"status": [201]}, (200, [], 0, b"ok"), "status 200 is not in 201"),
    ({"body": {"equals": "OK"}}, (200, [], 0, b"ok"),
     'status 200 but the body is not "OK"'),
    ({"body": {"regex": "^accepted"}}, (200, [], 0, b"rejected"),
     "status 200 but the body does not match ^accepted"),
    ({"body": {"pointer": "/ok", "equals": True}},
     (200, [("Content-Type", "application/json")], 0, b'{"ok":false}'),
     "status 200 but body /ok was false (expected true)"),
    ({"timeout_ms": 500}, (200, [], 2, b"ok"), "no answer within 500 ms"),
    ({"status": ["2xx"]}, (500, [], 0, b"boom"), "status 500 is not in 2xx"),
])
def test_success_rule_failure_reason_recorded(stack, pool, admin, uploader,
                                              receiver, rule, answer, reason):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             answer=lambda rec: answer,
                             events=["file.received"], success=rule,
                             retry_schedule=[])
    uploader.upload_ok("r.txt", b"r")
    run_deliver(stack)
    [(state, n, status, err)] = deliveries(stack, ep["id"])
    assert state == "failed" and n == "1", (state, n, err)
    assert err.startswith(reason), err
    assert err.endswith("gave up after 1 attempt"), err
    [a] = attempts(stack, ep["id"])
    assert a["outcome"] == "failed" and a["error"] == err


def test_success_rule_met_is_delivered(stack, pool, admin, uploader, receiver):
    ep, path = make_endpoint(
        stack, pool, admin, receiver,
        answer=lambda rec: (202, [], 0, b'{"ok": true, "id": 7}'),
        events=["file.received"],
        success={"status": ["200-202"], "body": {"pointer": "/ok",
                                                  "equals": True}})
    uploader.upload_ok("s.txt", b"s")
    run_deliver(stack)
    assert deliveries(stack, ep["id"]) == [("delivered", "1", "202", "")]


def test_retry_schedule_then_gives_up(stack, pool, admin, uploader, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             answer=lambda rec: (500, [], 0, b"down"),
                             events=["file.received"], retry_schedule=[1, 2])
    uploader.upload_ok("t.txt", b"t")
    assert deliver_until(stack, lambda: deliveries(stack, ep["id"])[0][0]
                         == "failed", timeout=30)
    [(state, n, status, err)] = deliveries(stack, ep["id"])
    assert n == "3" and status == "500"
    assert err.endswith("gave up after 3 attempts"), err
    a = attempts(stack, ep["id"])
    assert [x["outcome"] for x in a] == ["retry", "retry", "failed"]
    # the waits of the schedule, at least
    at = [x["at"] for x in a]
    assert at[1] - at[0] >= 1 and at[2] - at[1] >= 2, at
    assert len(got_under(receiver, path)) == 3


def test_410_disables_then_enable_and_recover(stack, pool, admin, uploader,
                                              receiver):
    state = {"gone": True}
    ep, path = make_endpoint(
        stack, pool, admin, receiver,
        answer=lambda rec: (410, [], 0) if state["gone"] else (200, [], 0),
        events=["file.received"])
    uploader.upload_ok("g1.txt", b"1")
    run_deliver(stack)
    j = admin.get(ep_url(stack, pool, "/" + ep["id"])).json()
    assert j["disabled"] is True and "410" in j["disabled_reason"]
    # a disabled endpoint is not sent events
    uploader.upload_ok("g2.txt", b"2")
    run_deliver(stack)
    assert len(got_under(receiver, path)) == 1
    assert [d[0] for d in deliveries(stack, ep["id"])] == ["failed"]
    # enabled again and recovered: the failed one goes out
    state["gone"] = False
    r = admin.patch(ep_url(stack, pool, "/" + ep["id"]), json={"disabled": False})
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is False and r.json()["disabled_reason"] is None
    since = stack.psql("SELECT pool_rfc3339(now() - interval '1 hour')").strip()
    r = admin.post(ep_url(stack, pool, "/%s/recover" % ep["id"]),
                   params={"since": since})
    assert r.status_code == 202, r.text
    assert r.json()["recovered"] == 1
    run_deliver(stack)
    assert [d[0] for d in deliveries(stack, ep["id"])] == ["delivered"]
    assert len(got_under(receiver, path)) == 2


# ---------------------------------------------------------------- signing

def test_rotation_signs_with_both_during_grace_then_new_only(
        stack, pool, admin, uploader, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"])
    old = ep["secret"]
    r = admin.post(ep_url(stack, pool, "/%s/rotate" % ep["id"]),
                   json={"grace_seconds": 2})
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and r.json()["secret_rotated_until"]
    uploader.upload_ok("k1.txt", b"1")
    run_deliver(stack)
    [rec] = got_under(receiver, path)
    sigs = rec["sig"].split()
    assert len(sigs) == 2
    assert sw_verify(old, rec["id"], rec["ts"], rec["body"], rec["sig"])
    assert sw_verify(new, rec["id"], rec["ts"], rec["body"], rec["sig"])
    # after the grace period: the new one only
    assert wait_for(lambda: admin.get(ep_url(stack, pool, "/" + ep["id"]))
                    .json()["secret_rotated_until"] is None, timeout=10)
    uploader.upload_ok("k2.txt", b"2")
    run_deliver(stack)
    rec = got_under(receiver, path)[1]
    assert len(rec["sig"].split()) == 1
    assert sw_verify(new, rec["id"], rec["ts"], rec["body"], rec["sig"])
    assert not sw_verify(old, rec["id"], rec["ts"], rec["body"], rec["sig"])


# ---------------------------------------------------------------- routing

def test_event_types_and_filter(stack, pool, admin, client_of, receiver):
    a = client_of(pool)
    b = client_of(pool)
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"],
                             filter={"/data/file/client": [a.client_id]})
    other, opath = make_endpoint(stack, pool, admin, receiver,
                                 events=["client.enrolled"])
    a.upload_ok("x.txt", b"x")
    b.upload_ok("y.txt", b"y")
    run_deliver(stack)
    got = got_under(receiver, path)
    assert [json.loads(r["body"])["data"]["file"]["name"] for r in got] == ["x.txt"]
    assert got_under(receiver, opath) == []
    assert len(deliveries(stack, ep["id"])) == 1


def test_other_pools_events_never_reach(stack, admin, pool, client_of, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver)
    elsewhere = client_of(stack.create_pool(unique("o")))
    elsewhere.upload_ok("z.txt", b"z")
    run_deliver(stack)
    assert got_under(receiver, path) == []


def test_client_enrolled_event(stack, pool, admin, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["client.enrolled"])
    p = stack.poolctl_ok("enroll", "create", pool, "--role", "uploader",
                         "--json")
    key = json.loads(p.stdout)["key"]
    r = stack.session(token=key).post(
        stack.url("/pool/v1/pools/%s/clients" % pool), json={"name": "app-7"})
    assert r.status_code == 201, r.text
    run_deliver(stack)
    [rec] = got_under(receiver, path)
    ev = json.loads(rec["body"])
    assert ev["type"] == "client.enrolled"
    assert ev["data"]["client"]["client_id"] == r.json()["client_id"]
    assert ev["data"]["client"]["name"] == "app-7"
    assert ev["data"]["enrollment_key"] == key[:19]     # ek_ + 16 hex


# ---------------------------------------------------------------- rate, runners

def test_rate_limit_spreads_attempts(stack, pool, admin, uploader, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"], rate_limit=2)
    for i in range(6):
        uploader.upload_ok("rl%d.txt" % i, b"r")
    run_deliver(stack)      # one call waits for the next seconds
    assert [d[0] for d in deliveries(stack, ep["id"])] == ["delivered"] * 6
    per_second = stack.psql(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM delivery_attempts a"
        " JOIN deliveries d ON d.id = a.delivery_id"
        " JOIN endpoints e ON e.id = d.endpoint_id"
        " WHERE e.public_id = '%s' GROUP BY date_trunc('second', a.at)) x"
        % ep["id"]).strip()
    assert int(per_second) <= 2


def test_two_runners_send_each_endpoint_delivery_once(stack, pool, admin,
                                                      uploader, receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             answer=lambda rec: (200, [], 0.2),
                             events=["file.received"])
    for i in range(30):
        uploader.upload_ok("two%d.txt" % i, b"2")
    results = [None, None]

    def go(i):
        results[i] = stack.poolctl("run", "--once", "deliver", timeout=120)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(150)
    assert all(r is not None and r.returncode == 0 for r in results), results
    got = got_under(receiver, path)
    ids = [r["id"] for r in got]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert all(r["verified"] for r in got)
    assert [d[:2] for d in deliveries(stack, ep["id"])] == [("delivered", "1")] * 30


def test_two_deliver_loops_send_each_event_once(stack, pool, admin, uploader,
                                                receiver):
    """Two `poolctl run --every 1 deliver` loops (two hosts' cron jobs) while
    events keep coming, a third of them answered 500 once: every event
    arrives, each delivered exactly once, each failure retried once."""
    import subprocess
    from conftest import POOLCTL
    seen = {}

    def flaky(rec):
        n = seen[rec["id"]] = seen.get(rec["id"], 0) + 1
        name = json.loads(rec["body"])["data"]["file"]["name"]
        return (500 if n == 1 and int(name[4:-4]) % 3 == 0 else 200, [], 0)

    ep, path = make_endpoint(stack, pool, admin, receiver, answer=flaky,
                             events=["file.received"], retry_schedule=[1])
    loops = [subprocess.Popen([POOLCTL, "-c", stack.conf, "run", "--every", "1",
                               "deliver"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for i in range(30):
            uploader.upload_ok("loop%d.txt" % i, b"l")
            if i % 10 == 9:
                time.sleep(0.5)     # the loops run between the uploads
        assert wait_for(lambda: [d[0] for d in deliveries(stack, ep["id"])]
                        == ["delivered"] * 30, timeout=90), \
            deliveries(stack, ep["id"])
    finally:
        for lp in loops:
            lp.terminate()
        errs = [lp.communicate(timeout=60)[1] for lp in loops]
    assert [lp.returncode for lp in loops] == [0, 0], errs
    got = got_under(receiver, path)
    assert len(got) == 40       # 30 events + the 10 first answered 500
    assert all(r["verified"] for r in got)
    assert len({r["id"] for r in got}) == 30
    attempts = sorted(int(d[1]) for d in deliveries(stack, ep["id"]))
    assert attempts == [1] * 20 + [2] * 10
    assert sorted(seen.values()) == [1] * 20 + [2] * 10


# ---------------------------------------------------------------- usage, retention

def test_usage_counts_sent_and_failed_by_outcome(stack, pool, admin, uploader,
                                                 receiver):
    make_endpoint(stack, pool, admin, receiver, events=["file.received"])
    make_endpoint(stack, pool, admin, receiver,
                  answer=lambda rec: (200, [], 0, b"no"),
                  events=["file.received"], retry_schedule=[],
                  success={"body": {"equals": "yes"}})
    uploader.upload_ok("u.txt", b"u")
    run_deliver(stack)
    out = stack.psql(
        "SELECT metric, sum(amount) FROM usage_deltas u JOIN pools p"
        " ON p.id = u.pool_id WHERE p.name = '%s' AND u.client_id = 0"
        " AND metric LIKE 'deliveries_%%' GROUP BY metric ORDER BY metric"
        % pool).strip()
    assert out.splitlines() == ["deliveries_failed|1", "deliveries_sent|1"], out


def test_retention_sweeps_finished_deliveries(stack, pool, admin, uploader,
                                              receiver):
    ep, path = make_endpoint(stack, pool, admin, receiver,
                             events=["file.received"])
    stack.poolctl_ok("pool", "set", pool, "delivery_retention=1h")
    uploader.upload_ok("old.txt", b"o")
    run_deliver(stack)
    uploader.upload_ok("new.txt", b"n")          # pending, not sent yet
    stack.psql("UPDATE deliveries SET created_at = now() - interval '2 hours'"
               " WHERE endpoint_id = (SELECT id FROM endpoints"
               " WHERE public_id = '%s')" % ep["id"])
    stack.poolctl_ok("sweep")
    # the delivered one went with its attempts; the pending one stays
    assert [d[0] for d in deliveries(stack, ep["id"])] == ["pending"]
    assert attempts(stack, ep["id"]) == []
