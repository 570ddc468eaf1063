"""Rounds (docs/rounds.md): files are grouped by time window, a processor
claims a group (pull) or is sent it (push), returns one result, and the
result is published to the pool's feed and webhooks.

Time is moved on with SQL where a test would otherwise wait for a window to
end: fast_forward() sets an open group's closes_at to now, as if its window
and lateness had passed.  Tests that look at open groups give their pools
lateness=1h, so that the real clock never closes a group under them."""

import base64
import hashlib
import hmac
import http.client
import json
import signal
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, parse_qsl, urlencode

import pytest
import requests

from conftest import POOLCTL, assert_problem
from test_webhooks import Receiver, register, sw_verify, wait_for


# ---------------------------------------------------------------- helpers

def settings(stack, pool, *pairs):
    p = stack.poolctl("pool", "set", pool, *pairs)
    assert p.returncode == 0, p.stderr
    return p.stdout


def run(stack, *steps, timeout=120):
    p = stack.poolctl("run", "--once", *steps, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return p


def window_ts(offset_minutes=0):
    """A ts one second into the current minute's window (minus offset)."""
    now = int(time.time())
    return (now - now % 60) - 60 * offset_minutes + 1


def fast_forward(stack, pool):
    stack.psql("UPDATE groups SET closes_at = now() WHERE state = 'open'"
               " AND pool_id = (SELECT id FROM pools WHERE name = '%s')" % pool)


def api(stack, pool, rest):
    return stack.url("/pool/v1/pools/%s%s" % (pool, rest))


def groups(c, state=None):
    params = {"state": state} if state else {}
    r = c.s.get(api(c.stack, c.pool, "/groups"), params=params)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["groups"]


def only_group(c, state=None):
    g = groups(c, state)
    assert len(g) == 1, g
    return g[0]


def manifest(c, gid):
    r = c.s.get(api(c.stack, c.pool, "/groups/" + gid))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def vector(i):
    return ("%d %d %d\n" % (i, 2 * i, 3 * i)).encode()


def upload_round(client_of, pool, n=3, ts=None):
    ts = ts if ts is not None else window_ts()
    ups = [client_of(pool, "uploader") for _ in range(n)]
    for i, u in enumerate(ups):
        u.upload_ok("v%d.txt" % i, vector(i + 1), ts=str(ts))
    return ups


def drop_pending(stack, pool):
    """Deliveries of a test's pool to receivers that are gone: never due
    again, so that later tests' deliver runs do not wait behind them."""
    stack.psql("UPDATE deliveries SET state = 'failed', next_attempt_at = now()"
               " WHERE state = 'pending' AND pool_id = (SELECT id FROM pools"
               " WHERE name = '%s')" % pool)


def pool_row(stack, pool, col):
    return stack.psql("SELECT %s FROM pools WHERE name = '%s'" % (col, pool)).strip()


def sign_link(stack, method, path, expires, kid=None, key=None):
    """A signed link's query, computed here from docs/rounds.md."""
    keys = stack.keys()
    skid, skey = keys[-1]
    kid = kid or skid
    key = key if key is not None else dict(keys).get(kid, skey)
    lk = hmac.new(key, b"mod_pool signed link v1", hashlib.sha256).digest()
    msg = ("%s\n%s\n%d\n%s" % (method, path, expires, kid)).encode()
    sig = base64.urlsafe_b64encode(hmac.new(lk, msg, hashlib.sha256).digest())
    return "expires=%d&kid=%s&sig=%s" % (expires, kid, sig.decode().rstrip("="))


# ---------------------------------------------------------------- settings

def test_grouping_is_off_until_a_window_is_set(stack, pool, client_of):
    up = client_of(pool)
    up.upload_ok("a.txt", b"a", ts=str(window_ts()))
    run(stack, "group")
    adm = client_of(pool, "admin")
    assert groups(adm) == []
    settings(stack, pool, "window=1m", "lateness=1h")
    run(stack, "group")
    assert only_group(adm)["state"] == "open"
    fast_forward(stack, pool)
    run(stack, "group")
    g = only_group(adm)
    assert (g["state"], g["files"]) == ("closed", 1)


def test_offline_batch_of_old_files_is_late(stack, pool, client_of):
    """Files received after their window closed (window end + lateness) are
    late: their group is made and closed at once, and they do not count for
    quorum."""
    settings(stack, pool, "window=1m")
    up = client_of(pool)
    up.upload_ok("old.txt", b"a", ts=str(window_ts(30)))
    run(stack, "group")
    adm = client_of(pool, "admin")
    g = only_group(adm)
    assert (g["state"], g["files"]) == ("skipped", 0)
    assert manifest(adm, g["id"])["files"][0]["late"] is True


# ---------------------------------------------------------------- pull round

def test_pull_round_end_to_end(stack, pool, client_of):
    settings(stack, pool, "window=1m", "lateness=1h", "min_clients=3", "min_files=3")
    ups = upload_round(client_of, pool)
    adm = client_of(pool, "admin")
    proc = client_of(pool, "processor")
    listener = client_of(pool, "listener")

    run(stack, "group")
    g = only_group(adm)
    assert g["state"] == "open" and g["files"] is None
    fast_forward(stack, pool)
    run(stack, "group")
    g = only_group(adm)
    assert (g["state"], g["files"], g["clients"]) == ("closed", 3, 3)
    gid = g["id"]

    # not claimable before the trigger step
    r = proc.s.post(api(stack, pool, "/groups/%s/claim" % gid))
    assert_problem(r, 409)
    assert "closed" in r.json()["detail"]

    run(stack, "trigger")
    assert only_group(proc, "triggered")["id"] == gid
    r = proc.s.post(api(stack, pool, "/groups/%s/claim" % gid))
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["state"] == "claimed" and m["deadline"] and m["attempts"] == 1
    assert len(m["files"]) == 3 and not any(f["late"] for f in m["files"])

    # every file through its signed link, with no credentials
    for f in m["files"]:
        d = requests.get(f["url"], timeout=30)
        assert d.status_code == 200, d.text
        assert hashlib.sha256(d.content).hexdigest() == f["sha256"]
        assert len(d.content) == f["size"]
    got = sorted(requests.get(f["url"], timeout=30).content for f in m["files"])
    assert got == sorted(vector(i + 1) for i in range(3))

    r = proc.s.post(api(stack, pool, "/groups/%s/progress" % gid),
                    json={"percent": 40, "message": "averaging"})
    assert r.status_code == 200, r.text
    assert r.json()["percent"] == 40 and r.json()["message"] == "averaging"

    result = b"2 4 6\n"
    r = requests.put(m["result_url"] + "&name=avg.txt", data=result,
                     headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["seq"] is None
    # the same bytes again: 200, the same result
    r2 = requests.put(m["result_url"] + "&name=avg.txt", data=result,
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert r2.status_code == 200, r2.text
    assert r2.json()["sha256"] == r.json()["sha256"]
    # other bytes: 409, nothing replaced
    r3 = proc.s.put(api(stack, pool, "/groups/%s/result" % gid), data=b"9 9 9\n")
    assert_problem(r3, 409)
    assert len(stack.result_ids()) >= 1

    # not in the feed before publish
    r = listener.s.get(api(stack, pool, "/results/latest"))
    assert_problem(r, 404)
    run(stack, "publish")
    r = listener.s.get(api(stack, pool, "/results"))
    assert r.status_code == 200
    feed = r.json()["results"]
    assert [x["seq"] for x in feed] == [1] and feed[0]["group"] == gid
    assert feed[0]["sha256"] == hashlib.sha256(result).hexdigest()

    r = listener.s.get(api(stack, pool, "/results/latest"))
    assert r.status_code == 200 and r.json()["seq"] == 1
    etag = r.headers["ETag"]
    assert etag == '"result-1"'
    r = listener.s.get(api(stack, pool, "/results/latest"),
                       headers={"If-None-Match": etag})
    assert r.status_code == 304

    for u in ups[:2]:
        d = u.s.get(api(stack, pool, "/results/1"))
        assert d.status_code == 200 and d.content == result
        assert d.headers["Content-Type"].startswith("text/plain")
        assert "Content-Encoding" not in d.headers      # mod_deflate is on
    d = ups[2].s.get(api(stack, pool, "/results/1"), headers={"Range": "bytes=0-1"})
    assert d.status_code == 206 and d.content == result[:2]

    r = adm.s.get(api(stack, pool, "/results/latest/receipts"))
    assert r.status_code == 200, r.text
    rec = {c["client_id"]: c for c in r.json()["clients"]}
    assert all(rec[u.client_id]["received_at"] for u in ups)
    assert rec[listener.client_id]["received_at"] is None
    assert r.json()["received"] == 3
    r = ups[0].s.get(api(stack, pool, "/results/1/receipts"))
    assert_problem(r, 403)

    p = requests.get(stack.url("/pool/v1/processes/%s" % m["process"]),
                     headers={"Authorization": "Bearer " + proc.token}, timeout=30)
    assert p.status_code == 200 and p.json()["status"] == 1, p.text
    assert only_group(adm)["state"] == "done"
    assert only_group(adm)["result_seq"] == 1

    # the WebDAV view of the pool lists it (on either store)
    r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % pool),
                         headers={"Depth": "1"},
                         auth=(ups[0].client_id, ups[0].secret), timeout=30)
    assert r.status_code == 207 and "result-000001-avg.txt" in r.text
    # and a download through it is a read receipt, as on the API
    d = requests.get(stack.url("/dav/%s/results/result-000001-avg.txt" % pool),
                     auth=(listener.client_id, listener.secret), timeout=30)
    assert d.status_code == 200 and d.content == result
    r = adm.s.get(api(stack, pool, "/results/latest/receipts"))
    rec = {c["client_id"]: c for c in r.json()["clients"]}
    assert rec[listener.client_id]["received_at"] is not None
    assert r.json()["received"] == 4


def test_roles_and_views(stack, pool, client_of):
    settings(stack, pool, "window=1m", "lateness=1h")
    a, b = client_of(pool), client_of(pool)
    ts = str(window_ts())
    a.upload_ok("a.txt", b"a", ts=ts)
    b.upload_ok("b.txt", b"b", ts=ts)
    c = client_of(pool)
    listener = client_of(pool, "listener")
    run(stack, "group")
    gid = only_group(a)["id"]
    # an uploader sees its own membership only, without links
    m = manifest(a, gid)
    assert [f["name"] for f in m["files"]] == ["a.txt"]
    assert "url" not in m["files"][0] and "result_url" not in m
    assert groups(c) == []
    assert_problem(c.s.get(api(stack, pool, "/groups/" + gid)), 404)
    assert_problem(listener.s.get(api(stack, pool, "/groups")), 403)
    assert_problem(a.s.post(api(stack, pool, "/groups/%s/claim" % gid)), 403)
    assert_problem(a.s.put(api(stack, pool, "/groups/%s/result" % gid),
                           data=b"x"), 403)
    assert_problem(a.s.get(api(stack, pool, "/groups"),
                           params={"state": "bogus"}), 422, "state")
    assert_problem(a.s.get(api(stack, pool, "/groups"),
                           params={"limit": "0"}), 422, "limit")
    assert_problem(a.s.get(api(stack, pool, "/groups/not-a-uuid")), 404)
    assert_problem(a.s.get(api(stack, pool, "/results/0")), 404)
    assert_problem(a.s.get(api(stack, pool, "/results/latest")), 404)
    proc = client_of(pool, "processor")
    # a result for an open group: 409, nothing kept
    before = stack.result_ids()
    assert_problem(proc.s.put(api(stack, pool, "/groups/%s/result" % gid),
                              data=b"x"), 409)
    assert stack.result_ids() == before
    # bad progress bodies
    for body, field in (({"percent": 101}, "percent"),
                        ({"percent": "5"}, "percent"),
                        ({"percent": 5, "message": "x" * 2001}, "message")):
        assert_problem(proc.s.post(api(stack, pool, "/groups/%s/progress" % gid),
                                   json=body), 422, field)
    assert_problem(proc.s.post(api(stack, pool, "/groups/%s/progress" % gid),
                               json={"percent": 5}), 409)


def test_other_pools_see_nothing(stack, client_of):
    p1 = stack.create_pool()
    p2 = stack.create_pool()
    settings(stack, p1, "window=1m", "lateness=1h")
    up = client_of(p1)
    up.upload_ok("a.txt", b"a", ts=str(window_ts()))
    run(stack, "group")
    gid = only_group(up)["id"]
    other = client_of(p2, "processor")
    assert_problem(other.s.get(api(stack, p1, "/groups")), 404)
    assert_problem(other.s.get(api(stack, p2, "/groups/" + gid)), 404)
    assert_problem(other.s.post(api(stack, p2, "/groups/%s/claim" % gid)), 404)
    assert groups(other) == []


# ---------------------------------------------------------------- push round

def test_push_round_with_signed_webhooks(stack, pool, client_of):
    rcv = Receiver()
    try:
        path = rcv.path()
        out = settings(stack, pool, "window=1m", "lateness=1h", "processor_url=" + rcv.url(path))
        secret = [w for w in out.split() if w.startswith("whsec_")][0]
        rcv.secrets[path] = secret
        ups = upload_round(client_of, pool, n=2)
        hooks = []
        for u in ups:
            hp = rcv.path()
            rcv.secrets[hp] = register(u, rcv.url(hp))
            hooks.append(hp)
        run(stack, "group")
        fast_forward(stack, pool)
        run(stack, "group", "trigger", "deliver")
        assert wait_for(lambda: len(rcv.received(path)) == 1)
        ev = rcv.received(path)[0]
        assert ev["verified"], "group.ready signature does not verify"
        body = json.loads(ev["body"])
        assert body["type"] == "group.ready"
        m = body["data"]
        assert m["state"] == "triggered" and len(m["files"]) == 2
        assert m["attempts"] == 1 and m["deadline"]
        for f in m["files"]:
            assert requests.get(f["url"], timeout=30).status_code == 200
        r = requests.put(m["result_url"], data=b"result bytes", timeout=30)
        assert r.status_code == 201, r.text
        run(stack, "publish", "deliver")
        for hp, u in zip(hooks, ups):
            assert wait_for(lambda: len(rcv.received(hp)) == 1)
            rec = rcv.received(hp)[0]
            assert rec["verified"]
            ev = json.loads(rec["body"])
            assert ev["type"] == "result.published"
            assert ev["data"]["seq"] == 1 and ev["data"]["pool"] == pool
            d = u.s.get(stack.url(ev["data"]["url"]))
            assert d.status_code == 200 and d.content == b"result bytes"
        # the trigger is a delivery like any other
        p = stack.poolctl_ok("deliveries", "list", "--json")
        events = [d for d in json.loads(p.stdout)
                  if d["pool"] == pool and d["event"] == "group.ready"]
        assert len(events) == 1 and events[0]["state"] == "delivered"
    finally:
        rcv.close()
        drop_pending(stack, pool)


def test_published_webhook_retried_until_receiver_is_up(stack, pool, client_of):
    rcv = Receiver()
    try:
        settings(stack, pool, "window=1m", "lateness=1h")
        up = upload_round(client_of, pool, n=1)[0]
        state = {"up": False}
        hp = rcv.path()
        rcv.secrets[hp] = register(up, rcv.url(hp))
        rcv.answers[hp] = lambda rec: ((200, [], 0) if state["up"]
                                       else (503, [], 0))
        proc = client_of(pool, "processor")
        run(stack, "group")
        fast_forward(stack, pool)
        run(stack, "group", "trigger")
        gid = only_group(proc)["id"]
        assert proc.s.post(api(stack, pool, "/groups/%s/claim" % gid)).status_code == 200
        assert proc.s.put(api(stack, pool, "/groups/%s/result" % gid),
                          data=b"r").status_code == 201
        run(stack, "publish", "deliver")
        assert len(rcv.received(hp)) == 1
        did = stack.psql("SELECT id FROM deliveries WHERE event = 'result.published'"
                         " AND client_id = (SELECT id FROM clients WHERE"
                         " client_id = '%s')" % up.client_id).strip()
        state["up"] = True
        stack.poolctl_ok("deliveries", "retry", did)
        run(stack, "deliver")
        run(stack, "deliver")
        assert len(rcv.received(hp)) == 2
        assert len({r["id"] for r in rcv.received(hp)}) == 1
        j = json.loads(stack.poolctl_ok("deliveries", "show", did, "--json").stdout)
        assert j["state"] == "delivered" and j["attempts"] == 2
    finally:
        rcv.close()
        drop_pending(stack, pool)


# ---------------------------------------------------------------- policies

@pytest.mark.parametrize("policy", ["keep", "reject"])
def test_late_files(stack, pool, client_of, policy):
    settings(stack, pool, "window=1m", "lateness=1h", "late_policy=" + policy)
    ts = str(window_ts())
    up = client_of(pool)
    up.upload_ok("early.txt", b"early", ts=ts)
    run(stack, "group")
    fast_forward(stack, pool)
    run(stack, "group")
    adm = client_of(pool, "admin")
    gid = only_group(adm)["id"]
    if policy == "keep":
        up.upload_ok("late.txt", b"late", ts=ts)
        m = manifest(adm, gid)
        late = {f["name"]: f["late"] for f in m["files"]}
        assert late == {"early.txt": False, "late.txt": True}
        assert m["files"] and m["files_truncated"] is False
        assert only_group(adm)["files"] == 1   # counted at close: in time only
    else:
        before = stack.snapshot(pool)
        r = up.upload("late.txt", b"late", ts=ts)
        assert_problem(r, 409)
        assert "late_policy=reject" in r.json()["detail"]
        stack.assert_nothing_stored(pool, before)
        # a batch with one late part: nothing of it is stored
        future = str(int(time.time()) + 180)
        files = [("a", ("ok.txt", b"ok", "text/plain", {"Pool-Ts": future})),
                 ("b", ("late.txt", b"late", "text/plain", {"Pool-Ts": ts}))]
        r = up.s.post(stack.files_url(pool), files=files)
        assert_problem(r, 409)
        assert "file 1 of the batch" in r.json()["detail"]
        stack.assert_nothing_stored(pool, before)
        # a file of a window still open is fine
        up.upload_ok("next.txt", b"next", ts=future)
        assert [f["name"] for f in manifest(adm, gid)["files"]] == ["early.txt"]


def test_quorum_missed(stack, client_of):
    skip, trig = stack.create_pool(), stack.create_pool()
    settings(stack, skip, "window=1m", "lateness=1h", "min_clients=2")
    settings(stack, trig, "window=1m", "lateness=1h", "min_clients=2", "quorum_policy=trigger")
    for pool in (skip, trig):
        client_of(pool).upload_ok("a.txt", b"a", ts=str(window_ts()))
    run(stack, "group")
    fast_forward(stack, skip)
    fast_forward(stack, trig)
    run(stack, "group", "trigger")
    s = only_group(client_of(skip, "admin"))
    assert (s["state"], s["files"], s["clients"]) == ("skipped", 1, 1)
    t = only_group(client_of(trig, "admin"))
    assert t["state"] == "triggered"


def test_silent_processor_retriggered_then_failed(stack, pool, client_of):
    rcv = Receiver()
    try:
        path = rcv.path()
        settings(stack, pool, "window=1m", "lateness=1h", "result_timeout=1s", "max_attempts=2",
                 "processor_url=" + rcv.url(path))
        # the processor's endpoint is down: triggers stay pending (retried)
        rcv.answers[path] = lambda rec: (503, [], 0)
        upload_round(client_of, pool, n=1)
        adm = client_of(pool, "admin")
        run(stack, "group")
        fast_forward(stack, pool)
        run(stack, "group", "trigger", "deliver")
        g = only_group(adm)
        assert (g["state"], g["attempts"]) == ("triggered", 1)
        time.sleep(1.2)
        run(stack, "expire")
        assert only_group(adm)["state"] == "closed"
        run(stack, "trigger", "deliver")
        g = only_group(adm)
        assert (g["state"], g["attempts"]) == ("triggered", 2)
        assert wait_for(lambda: len(rcv.received(path)) == 2)
        assert len({r["id"] for r in rcv.received(path)}) == 2
        # the first attempt's trigger is not retried any more
        states = stack.psql(
            "SELECT d.state, d.last_error FROM deliveries d JOIN pools p"
            " ON p.id = d.pool_id WHERE p.name = '%s' AND d.event = 'group.ready'"
            " ORDER BY d.created_at" % pool).split("\n")
        assert states[0].startswith("failed|superseded"), states
        assert states[1].startswith("pending"), states
        time.sleep(1.2)
        run(stack, "expire", "trigger")
        g = only_group(adm)
        assert g["state"] == "failed"
        p = adm.s.get(stack.url("/pool/v1/processes/" + g["process"]))
        assert p.json()["status"] == 2 and "2 attempt" in p.json()["message"]
        # a result that comes too late is refused
        proc = client_of(pool, "processor")
        r = proc.s.put(api(stack, pool, "/groups/%s/result" % g["id"]), data=b"x")
        assert_problem(r, 409)
        assert "failed" in r.json()["detail"]
    finally:
        rcv.close()
        drop_pending(stack, pool)


def test_pull_lease_expires_and_another_processor_claims(stack, pool, client_of):
    settings(stack, pool, "window=1m", "lateness=1h", "result_timeout=1s", "max_attempts=2")
    upload_round(client_of, pool, n=1)
    p1, p2 = client_of(pool, "processor"), client_of(pool, "processor")
    run(stack, "group")
    fast_forward(stack, pool)
    run(stack, "group", "trigger")
    gid = only_group(p1)["id"]
    claim = "/groups/%s/claim" % gid
    assert p1.s.post(api(stack, pool, claim)).status_code == 200
    r = p2.s.post(api(stack, pool, claim))
    assert_problem(r, 409)
    assert "another processor" in r.json()["detail"]
    # the holder renews its lease: not another attempt
    r = p1.s.post(api(stack, pool, claim))
    assert r.status_code == 200 and r.json()["attempts"] == 1
    time.sleep(1.2)
    run(stack, "expire")
    assert only_group(p1)["state"] == "triggered"
    r = p2.s.post(api(stack, pool, claim))
    assert r.status_code == 200 and r.json()["attempts"] == 2
    time.sleep(1.2)
    run(stack, "expire")
    assert only_group(p1)["state"] == "failed"
    assert_problem(p1.s.post(api(stack, pool, claim)), 409)


# ---------------------------------------------------------------- signed links

def test_signed_links_forged_and_expired(stack, pool, client_of):
    settings(stack, pool, "window=1m", "lateness=1h")
    up = client_of(pool)
    f = up.upload_ok("a.txt", b"secret bytes", ts=str(window_ts()))
    path = "/pool/v1/pools/%s/files/%s" % (pool, f["id"])
    now = int(time.time())

    ok = requests.get(stack.url(path + "?" + sign_link(stack, "GET", path, now + 600)),
                      timeout=30)
    assert ok.status_code == 200 and ok.content == b"secret bytes"
    head = requests.head(stack.url(path + "?" + sign_link(stack, "GET", path, now + 600)),
                         timeout=30)
    assert head.status_code == 200

    good = sign_link(stack, "GET", path, now + 600)
    q = dict(parse_qsl(good))
    bad = []
    # another file of the same pool
    f2 = up.upload_ok("b.txt", b"b", ts=str(window_ts()))
    bad.append(stack.url("/pool/v1/pools/%s/files/%s?%s" % (pool, f2["id"], good)))
    # expiry moved
    bad.append(stack.url(path + "?" + urlencode(dict(q, expires=str(now + 601)))))
    # one character of the signature
    s = q["sig"]
    bad.append(stack.url(path + "?" + urlencode(
        dict(q, sig=("A" if s[0] != "A" else "B") + s[1:]))))
    # truncated signature, unknown kid, missing expires
    bad.append(stack.url(path + "?" + urlencode(dict(q, sig=s[:-1]))))
    bad.append(stack.url(path + "?" + urlencode(dict(q, kid="nokey"))))
    bad.append(stack.url(path + "?" + urlencode({"kid": q["kid"], "sig": s})))
    # expired, and longer than 7 days
    bad.append(stack.url(path + "?" + sign_link(stack, "GET", path, now - 1)))
    bad.append(stack.url(path + "?" + sign_link(stack, "GET", path, now + 8 * 86400)))
    # signed with a key that is not ours
    bad.append(stack.url(path + "?" + sign_link(stack, "GET", path, now + 600,
                                                key=b"k" * 32)))
    for u in bad:
        r = requests.get(u, timeout=30)
        assert r.status_code == 403, (bad.index(u), u[-80:], r.text)
        assert_problem(r, 403)
        assert "signed link" in r.json()["detail"]
    # another method on the same path
    r = requests.put(stack.url(path + "?" + good), data=b"x", timeout=30)
    assert_problem(r, 403)
    # a link for a path of another kind gives nothing either
    lp = "/pool/v1/pools/%s/files" % pool
    r = requests.get(stack.url(lp + "?" + sign_link(stack, "GET", lp, now + 600)),
                     timeout=30)
    assert_problem(r, 403)


def raw_get(stack, target):
    """GET with the request target exactly as written (requests/urllib3
    would remove dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def test_signed_link_path_is_the_normalised_path(stack, pool, client_of):
    """docs/rounds.md: the signature covers the path as httpd normalises
    it, so spellings of the same path pass and others do not."""
    settings(stack, pool, "window=1m", "lateness=1h")
    up = client_of(pool)
    f = up.upload_ok("n.txt", b"normal", ts=str(window_ts()))
    path = "/pool/v1/pools/%s/files/%s" % (pool, f["id"])
    q = sign_link(stack, "GET", path, int(time.time()) + 600)
    same = [
        path,
        "/pool/v1/pools/%s/./files/%s" % (pool, f["id"]),
        "/pool/v1/pools/%s/x/../files/%s" % (pool, f["id"]),
        path.replace("-", "%2D"),
    ]
    for p in same:
        status, body = raw_get(stack, p + "?" + q)
        assert (status, body) == (200, b"normal"), (p, status, body[:200])
    # a link signed over a spelling that httpd rewrites matches nothing
    odd = "/pool/v1/pools/%s/./files/%s" % (pool, f["id"])
    status, body = raw_get(stack, odd + "?" + sign_link(stack, "GET", odd,
                                                          int(time.time()) + 600))
    assert status == 403, (status, body[:200])
    assert b"signed link" in body


# ---------------------------------------------------------------- concurrency

def seed_groups(stack, pool, client_id, n):
    """n file rows in n different past windows, received in time (metadata
    only: the group and trigger steps read rows)."""
    stack.psql(
        "INSERT INTO files (id, pool_id, client_id, name, size, sha256, ts,"
        "                   received_at)"
        " SELECT gen_random_uuid(), p.id, c.id, 'f' || i, 1, repeat('0', 64),"
        "        t, t"
        " FROM (SELECT i, date_trunc('minute', now())"
        "          - (i + 10) * interval '1 minute' + interval '1 second' AS t"
        "       FROM generate_series(1, %d) i) s,"
        "      pools p JOIN clients c ON c.pool_id = p.id AND c.client_id = '%s'"
        " WHERE p.name = '%s'" % (n, client_id, pool))


def test_two_runners_trigger_and_publish_exactly_once(stack, pool, client_of):
    rcv = Receiver()
    try:
        n = 200
        path = rcv.path()
        settings(stack, pool, "window=1m", "processor_url=" + rcv.url(path))
        up = client_of(pool)
        hp = rcv.path()
        rcv.secrets[hp] = register(up, rcv.url(hp))
        seed_groups(stack, pool, up.client_id, n)

        def both(*steps):
            ps = [subprocess.Popen([POOLCTL, "-c", stack.conf, "run", "--once"]
                                   + list(steps), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]
            for p in ps:
                out, err = p.communicate(timeout=300)
                assert p.returncode == 0, err

        for _ in range(5):
            both("group", "trigger")
        q = ("SELECT count(*), count(DISTINCT (payload->'data'->>'id'))"
             " FROM deliveries d JOIN pools p ON p.id = d.pool_id"
             " WHERE p.name = '%s' AND d.event = 'group.ready'" % pool)
        assert stack.psql(q).strip() == "%d|%d" % (n, n)
        assert stack.psql("SELECT count(*) FROM groups g JOIN pools p ON"
                          " p.id = g.pool_id WHERE p.name = '%s' AND"
                          " g.state = 'triggered' AND g.attempts = 1" % pool
                          ).strip() == str(n)
        proc = client_of(pool, "processor")
        gids = stack.psql("SELECT g.id FROM groups g JOIN pools p ON"
                          " p.id = g.pool_id WHERE p.name = '%s'" % pool).split()
        for gid in gids:
            r = proc.s.put(api(stack, pool, "/groups/%s/result" % gid), data=gid.encode())
            assert r.status_code == 201, r.text
        for _ in range(3):
            both("publish")
        seqs = stack.psql("SELECT r.seq FROM results r JOIN pools p ON"
                          " p.id = r.pool_id WHERE p.name = '%s' ORDER BY 1"
                          % pool).split()
        assert [int(s) for s in seqs] == list(range(1, n + 1))
        assert stack.psql(
            "SELECT count(*), count(DISTINCT payload->'data'->>'seq')"
            " FROM deliveries d JOIN pools p ON p.id = d.pool_id"
            " WHERE p.name = '%s' AND d.event = 'result.published'" % pool
        ).strip() == "%d|%d" % (n, n)
        # the WebDAV view lists each once
        cid, secret = stack.admin(pool)
        r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % pool),
                             headers={"Depth": "1"}, auth=(cid, secret), timeout=30)
        assert r.status_code == 207
        assert r.text.count("<D:href>") == n + 1
    finally:
        rcv.close()
        drop_pending(stack, pool)


def test_killed_runner_rerun_triggers_each_group_once(stack, pool, client_of):
    rcv = Receiver()
    try:
        n = 150
        settings(stack, pool, "window=1m", "processor_url=" + rcv.url(rcv.path()))
        up = client_of(pool)
        seed_groups(stack, pool, up.client_id, n)
        run(stack, "group")
        p = subprocess.Popen([POOLCTL, "-c", stack.conf, "run", "--once", "trigger"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # kill it somewhere in the middle of its work
        wait_for(lambda: int(stack.psql(
            "SELECT count(*) FROM groups g JOIN pools p ON p.id = g.pool_id"
            " WHERE p.name = '%s' AND g.state = 'triggered'" % pool).strip()) > 0,
            timeout=60)
        p.send_signal(signal.SIGKILL)
        p.wait()
        int(stack.psql(
            "SELECT count(*) FROM groups g JOIN pools p ON p.id = g.pool_id"
            " WHERE p.name = '%s' AND g.state = 'triggered'" % pool).strip())
        run(stack, "trigger")
        run(stack, "trigger")
        q = ("SELECT count(*), count(DISTINCT (payload->'data'->>'id'))"
             " FROM deliveries d JOIN pools p ON p.id = d.pool_id"
             " WHERE p.name = '%s' AND d.event = 'group.ready'" % pool)
        assert stack.psql(q).strip() == "%d|%d" % (n, n)
        assert stack.psql("SELECT count(*) FROM groups g JOIN pools p ON"
                          " p.id = g.pool_id WHERE p.name = '%s' AND"
                          " (g.state <> 'triggered' OR g.attempts <> 1"
                          "  OR g.process_id IS NULL)" % pool).strip() == "0"
    finally:
        rcv.close()
        drop_pending(stack, pool)


# ---------------------------------------------------------------- window change

def test_changed_window_fills_gaps_between_existing_groups(stack, pool, client_of):
    """Groups keep their windows when the window setting changes; a file in
    an aligned window that an older group partly covers gets the gap."""
    now = int(time.time())
    base = now - now % 120 - 120           # aligned for 1m and 2m windows
    settings(stack, pool, "window=1m", "lateness=1h")
    up = client_of(pool)
    up.upload_ok("a.txt", b"a", ts=str(base + 1))
    run(stack, "group")
    settings(stack, pool, "window=2m")
    up.upload_ok("b.txt", b"b", ts=str(base + 10))    # in the old group
    up.upload_ok("c.txt", b"c", ts=str(base + 70))    # beside it
    up.upload_ok("d.txt", b"d", ts=str(base + 130))   # a new 2m window
    run(stack, "group")
    adm = client_of(pool, "admin")

    def epoch(s):
        return int(time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
                   - time.timezone)

    got = sorted((epoch(g["window"]["start"]) - base,
                  epoch(g["window"]["end"]) - base,
                  sorted(f["name"] for f in manifest(adm, g["id"])["files"]))
                 for g in groups(adm))
    assert got == [(0, 60, ["a.txt", "b.txt"]),
                   (60, 120, ["c.txt"]),
                   (120, 240, ["d.txt"])]
    # and again: nothing new
    run(stack, "group")
    assert len(groups(adm)) == 3


# ---------------------------------------------------------------- admin API

def test_settings_admin_api(stack, pool, client_of):
    adm = client_of(pool, "admin")
    url = api(stack, pool, "/settings")
    r = adm.s.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["window"] is None
    r = adm.s.patch(url, json={"window": "5m", "min_clients": 2,
                               "processor_url": "https://proc.example/hook"})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["settings"]["window"] == 300 and j["settings"]["min_clients"] == 2
    assert j["processor_secret"].startswith("whsec_")
    # shown once
    r = adm.s.get(url)
    assert "processor_secret" not in r.json() and r.json()["processor_secret_set"]
    # the same as poolctl sees
    show = json.loads(stack.poolctl_ok("pool", "show", pool, "--json").stdout)
    assert show["settings"]["window"] == 300
    # null resets; bad values name the key and change nothing
    before = adm.s.get(url).json()
    for body, field in (({"window": "10s"}, "window"),
                        ({"bogus": 1}, "bogus"),
                        ({"window": 1.5}, "window"),
                        ({"late_policy": "maybe"}, "late_policy")):
        assert_problem(adm.s.patch(url, json=body), 422, field)
    assert adm.s.get(url).json() == before
    assert_problem(adm.s.patch(url, data="window=5m",
                               headers={"Content-Type": "text/plain"}), 415)
    assert_problem(adm.s.patch(url, json={}), 400)
    r = adm.s.patch(url, json={"processor_url": None, "min_clients": None})
    assert r.status_code == 200
    assert r.json()["settings"]["processor_url"] is None
    assert r.json()["settings"]["min_clients"] == 1
    assert r.json()["processor_secret_set"] is False
    for role in ("uploader", "processor", "listener"):
        c = client_of(pool, role)
        assert_problem(c.s.get(url), 403)
        assert_problem(c.s.patch(url, json={"window": "1m"}), 403)
    other = client_of(stack.create_pool(), "admin")
    assert_problem(other.s.get(url), 404)


def test_latest_ts_keeps_its_group_within_year_9999(stack, pool, client_of):
    """The last ts accepted, in the longest window with the longest
    lateness: the group's times are still written with four-digit years
    (issue 11: 9999-12-31 gave a window ending in year 10000)."""
    settings(stack, pool, "window=30d", "lateness=30d")
    up = client_of(pool)
    f = up.upload_ok("last.txt", b"z\n", ts="9998-12-31T23:59:59.999999Z")
    assert f["ts"].startswith("9998-12-31T23:59:59")
    run(stack, "group")
    (g,) = groups(client_of(pool, "admin"))
    for t in (g["window"]["start"], g["window"]["end"], g.get("closes_at")):
        if t is not None:
            assert t[:4] in ("9998", "9999") and t[4] == "-", g
