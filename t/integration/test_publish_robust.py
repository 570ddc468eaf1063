"""One bad result never blocks publication (docs/rounds.md, "When a
publication fails").

The publish step takes results in the order they arrived, in one
transaction each.  A result whose publication fails (its name, the store,
anything) is recorded on its row and skipped until its next attempt (a
backoff), and the results after it, in its pool and in others, are
published in the same run.  A failing result takes no seq: the feed stays
gap-free and in publication order.

Time is moved on with SQL where a test would otherwise wait for a backoff:
due_now() sets a result's next_publish_at to now."""

import os
import subprocess
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
import requests

from conftest import POOLCTL, assert_problem, unique
from test_rounds import (api, fast_forward, groups, run, seed_groups,
                         settings, window_ts)

MAX_ATTEMPTS = 10  # POOL_PUBLISH_MAX_ATTEMPTS, docs/rounds.md


# ---------------------------------------------------------------- helpers

def triggered_groups(stack, pool, client_of, n=1):
    """n groups of pool (pull mode) waiting for their result, oldest window
    first, and a processor of the pool."""
    settings(stack, pool, "window=1m", "lateness=1h")
    up = client_of(pool)
    for i in range(n):
        up.upload_ok("v%d.txt" % i, b"%d\n" % i, ts=str(window_ts(2 * i)))
    run(stack, "group")
    fast_forward(stack, pool)
    run(stack, "group", "trigger")
    proc = client_of(pool, "processor")
    gs = sorted(groups(proc, "triggered"), key=lambda g: g["window"]["start"])
    assert len(gs) == n, gs
    return proc, [g["id"] for g in gs]


def put_result(proc, gid, name, data=b"result\n"):
    return proc.s.put(api(proc.stack, proc.pool, "/groups/%s/result" % gid),
                      params={"name": name}, data=data,
                      headers={"Content-Type": "text/plain"})


def put_result_ok(proc, gid, name, data=b"result\n"):
    r = put_result(proc, gid, name, data)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def publish(stack):
    """poolctl run --once publish: it succeeds whatever one result does."""
    p = stack.poolctl("run", "--once", "publish", timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stderr


def feed(c):
    r = c.s.get(api(c.stack, c.pool, "/results"))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["results"]


def result_id(stack, gid):
    rid = stack.psql("SELECT id FROM results WHERE group_id = '%s'" % gid).strip()
    assert rid, "no result for group %s" % gid
    return rid


def result_row(stack, rid):
    """(seq or None, publish_attempts, publish_error, due later?, failed for
    good?) of result rid."""
    out = stack.psql(
        "SELECT coalesce(seq::text, ''), publish_attempts,"
        " coalesce(publish_error, ''), coalesce(next_publish_at > now(), false),"
        " publish_failed_at IS NOT NULL FROM results WHERE id = '%s'" % rid)
    seq, attempts, error, later, failed = out.strip().split("|")
    return (int(seq) if seq else None, int(attempts), error, later == "t",
            failed == "t")


def due_now(stack, rid):
    """As if the result's backoff had passed."""
    stack.psql("UPDATE results SET next_publish_at = now() WHERE id = '%s'" % rid)


def process_status(proc, gid):
    g = proc.s.get(api(proc.stack, proc.pool, "/groups/" + gid)).json()
    r = proc.s.get(proc.stack.url("/pool/v1/processes/" + g["process"]))
    assert r.status_code == 200, r.text
    return r.json()["status"], r.json()["message"]


def hide_result(stack, rid):
    """The result's stored bytes go aside, so that publishing it fails;
    returns what puts them back."""
    stored = os.path.join(stack.storage, ".results", rid)
    os.rename(stored, stored + ".aside")
    return lambda: os.rename(stored + ".aside", stored)


def published_names(stack, pool):
    """Names the WebDAV view lists in the pool's results/ (hrefs decoded as
    UTF-8, strictly), to an admin of the pool."""
    cid, secret = stack.admin(pool)
    r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % pool),
                         headers={"Depth": "1"}, auth=(cid, secret), timeout=30)
    assert r.status_code == 207, (r.status_code, r.text[:300])
    hrefs = [e.text for e in ET.fromstring(r.content).iter("{DAV:}href")]
    return sorted(unquote(h.rstrip("/").rsplit("/", 1)[1], errors="strict")
                  for h in hrefs if not h.endswith("/results/"))


def dav_results(stack, c):
    """Names the WebDAV view lists in the pool's results/ (hrefs decoded
    as UTF-8, strictly)."""
    r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % c.pool),
                         headers={"Depth": "1"}, auth=(c.client_id, c.secret),
                         timeout=30)
    assert r.status_code == 207, (r.status_code, r.text[:300])
    hrefs = [e.text for e in ET.fromstring(r.content).iter("{DAV:}href")]
    return [unquote(h.rstrip("/").rsplit("/", 1)[1], errors="strict")
            for h in hrefs if not h.endswith("/results/")]


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("query, status", [
    ("name=a%00b", 422),
    ("name=%00", 422),
    ("name=a&name=b", 400),
])
def test_result_name_with_nul_or_twice_is_refused(stack, pool, client_of, query, status):
    """?name=a%00b was stored as "a" (issue 11): now the name is refused
    whole, and the group still takes a good result."""
    proc, (gid,) = triggered_groups(stack, pool, client_of)
    r = proc.s.put(api(stack, pool, "/groups/%s/result" % gid) + "?" + query,
                   data=b"result\n", headers={"Content-Type": "text/plain"})
    assert_problem(r, status, "name")
    assert stack.psql("SELECT count(*) FROM results WHERE group_id = '%s'"
                      % gid).strip() == "0"
    put_result_ok(proc, gid, "good.txt")
    publish(stack)
    assert [(x["seq"], x["name"]) for x in feed(proc)] == [(1, "good.txt")]


@pytest.mark.parametrize("name", [
    "a" * 199 + "\u00e9",           # the defect: a cut at 200 bytes splits é
    "\u00e9" * 127 + "a",           # 255 bytes of 2-byte characters
    "\U0001f600" * 63 + "abc",      # 255 bytes of 4-byte characters
    "\u65e5" * 85,                  # 255 bytes of 3-byte characters
])
def test_long_utf8_name_never_blocks_other_pools(stack, client_of, name):
    pool_a = stack.create_pool(unique("t"))
    pool_b = stack.create_pool(unique("t"))
    assert len(name.encode()) <= 255
    proc_a, (gid_a,) = triggered_groups(stack, pool_a, client_of)
    proc_b, (gid_b,) = triggered_groups(stack, pool_b, client_of)
    # A's result arrives first: it is at the head of the queue
    r = put_result(proc_a, gid_a, name)
    if r.status_code != 201:
        # the other acceptable answer: refused at PUT, naming the field
        assert_problem(r, 422, "name")
    put_result_ok(proc_b, gid_b, "b.txt")

    publish(stack)
    fb = feed(proc_b)
    assert [(x["seq"], x["name"]) for x in fb] == [(1, "b.txt")]
    if r.status_code != 201:
        return
    fa = feed(proc_a)
    assert [(x["seq"], x["name"]) for x in fa] == [(1, name)]
    # the published name is the name cut on a character boundary: valid
    # UTF-8, at most 200 bytes of the name
    published = published_names(stack, pool_a)
    assert len(published) == 1
    kept = published[0][len("result-000001-"):]
    assert published[0].startswith("result-000001-") and name.startswith(kept)
    assert 196 < len(kept.encode()) <= 200
    assert dav_results(stack, proc_a) == published
    d = proc_a.s.get(api(stack, pool_a, "/results/1"))
    assert d.status_code == 200 and d.content == b"result\n"


def test_store_failure_is_recorded_skipped_and_published_later(stack, pool, client_of):
    other = stack.create_pool(unique("t"))
    proc_a, (gid_a,) = triggered_groups(stack, pool, client_of)
    proc_b, (gid_b,) = triggered_groups(stack, other, client_of)
    put_result_ok(proc_a, gid_a, "a.txt")
    put_result_ok(proc_b, gid_b, "b.txt")
    rid = result_id(stack, gid_a)
    restore = hide_result(stack, rid)
    try:
        err = publish(stack)
        # the other pool's result, behind it in the queue, is published
        assert [x["seq"] for x in feed(proc_b)] == [1]
        # this one is recorded, reported, and holds no seq
        assert feed(proc_a) == []
        seq, attempts, error, later, failed = result_row(stack, rid)
        assert (seq, attempts, later, failed) == (None, 1, True, False)
        assert "not readable in the store" in error, error
        assert "warning: publish: result %s of pool %s: attempt 1 of %d failed" \
            % (rid, pool, MAX_ATTEMPTS) in err, err
        assert "next attempt in" in err
        status, message = process_status(proc_a, gid_a)
        assert status == 0 and "tried again" in message
        assert "not readable in the store" not in message  # the error is the operator's

        # not due yet: the next run leaves it alone, and says it waits
        err = publish(stack)
        assert result_row(stack, rid)[1] == 1
        assert "wait for another attempt" in err
    finally:
        restore()

    # the cause is gone; once its backoff has passed it is published
    due_now(stack, rid)
    err = publish(stack)
    assert [(x["seq"], x["name"]) for x in feed(proc_a)] == [(1, "a.txt")]
    seq, attempts, _, later, failed = result_row(stack, rid)
    assert (seq, later, failed) == (1, False, False)
    assert process_status(proc_a, gid_a)[0] == 1
    assert published_names(stack, pool) == ["result-000001-a.txt"]
    assert "wait for another attempt" not in publish(stack)


def test_failing_result_takes_no_seq_and_its_pool_goes_on(stack, pool, client_of):
    """Two results of one pool: the first cannot be published (its stored
    bytes are away), the second is, with seq 1; the first gets seq 2 when it
    is published later.  The feed never has a gap."""
    proc, (gid1, gid2) = triggered_groups(stack, pool, client_of, n=2)
    put_result_ok(proc, gid1, "first.txt", b"1\n")
    put_result_ok(proc, gid2, "second.txt", b"2\n")
    rid1 = result_id(stack, gid1)
    stored = os.path.join(stack.storage, ".results", rid1)
    aside = stored + ".aside"
    os.rename(stored, aside)
    try:
        err = publish(stack)
        assert [(x["seq"], x["name"]) for x in feed(proc)] == [(1, "second.txt")]
        seq, attempts, error, later, _ = result_row(stack, rid1)
        assert (seq, attempts, later) == (None, 1, True)
        assert "No such file" in error, error
        assert rid1 in err
        g = proc.s.get(api(stack, pool, "/groups/" + gid1)).json()
        assert g["state"] == "done" and g["result_seq"] is None
    finally:
        os.rename(aside, stored)
    due_now(stack, rid1)
    publish(stack)
    assert [(x["seq"], x["name"]) for x in feed(proc)] == \
        [(1, "second.txt"), (2, "first.txt")]
    d = proc.s.get(api(stack, pool, "/results/2"))
    assert d.status_code == 200 and d.content == b"1\n"
    assert published_names(stack, pool) == ["result-000001-second.txt",
                                            "result-000002-first.txt"]


def test_attempts_run_out_reported_every_run_then_retried(stack, pool, client_of):
    proc, (gid,) = triggered_groups(stack, pool, client_of)
    put_result_ok(proc, gid, "a.txt")
    rid = result_id(stack, gid)
    restore = hide_result(stack, rid)
    try:
        # as if the earlier attempts had failed: this run makes the last one
        stack.psql("UPDATE results SET publish_attempts = %d WHERE id = '%s'"
                   % (MAX_ATTEMPTS - 1, rid))
        err = publish(stack)
        assert "attempt %d of %d failed" % (MAX_ATTEMPTS, MAX_ATTEMPTS) in err, err
        seq, attempts, _, later, failed = result_row(stack, rid)
        assert (seq, attempts, later, failed) == (None, MAX_ATTEMPTS, False, True)
        assert process_status(proc, gid)[0] == 2

        # it stays failed, is named by every run, and blocks nothing
        other = stack.create_pool(unique("t"))
        proc_b, (gid_b,) = triggered_groups(stack, other, client_of)
        put_result_ok(proc_b, gid_b, "b.txt")
        for _ in range(2):
            err = publish(stack)
            assert "result %s of pool %s (group %s) failed for good after %d" \
                % (rid, pool, gid, MAX_ATTEMPTS) in err, err
            assert "poolctl results retry %s" % rid in err
            assert result_row(stack, rid)[1] == MAX_ATTEMPTS
        assert [x["seq"] for x in feed(proc_b)] == [1]

        # a retry before the cause is fixed: one more attempt, failed again
        p = stack.poolctl("results", "retry", rid)
        assert p.returncode == 0, p.stderr
        publish(stack)
        seq, attempts, _, later, failed = result_row(stack, rid)
        assert (seq, attempts, later, failed) == (None, MAX_ATTEMPTS + 1,
                                                  False, True)
    finally:
        restore()

    p = stack.poolctl("results", "retry", rid)
    assert p.returncode == 0, p.stderr
    assert process_status(proc, gid)[0] == 0
    err = publish(stack)
    assert "failed for good" not in err
    assert [(x["seq"], x["name"]) for x in feed(proc)] == [(1, "a.txt")]
    assert process_status(proc, gid)[0] == 1

    # published already, unknown, not an id
    p = stack.poolctl("results", "retry", rid)
    assert p.returncode == 1 and "published already" in p.stderr
    p = stack.poolctl("results", "retry", str(uuid.uuid4()))
    assert p.returncode == 1 and "not found" in p.stderr
    p = stack.poolctl("results", "retry", "nope")
    assert p.returncode == 2
    p = stack.poolctl("results", "retry", "--all")
    assert p.returncode == 0, p.stderr


def test_two_runners_with_a_failing_result_publish_each_once(stack, pool, client_of):
    """Two runners at once: every good result gets exactly one seq, and the
    failing one is attempted once (its lock is kept while its failure is
    recorded, and it is not due again before its backoff)."""
    n = 20
    other = stack.create_pool(unique("t"))
    proc_a, (gid_a,) = triggered_groups(stack, pool, client_of)
    settings(stack, other, "window=1m")
    up = client_of(other)
    seed_groups(stack, other, up.client_id, n)
    run(stack, "group", "trigger")
    proc_b = client_of(other, "processor")
    gids = [g["id"] for g in groups(proc_b, "triggered")]
    assert len(gids) == n
    put_result_ok(proc_a, gid_a, "a.txt")    # first in the queue
    for gid in gids:
        put_result_ok(proc_b, gid, "b.txt", gid.encode())
    rid = result_id(stack, gid_a)
    restore = hide_result(stack, rid)
    try:
        ps = [subprocess.Popen([POOLCTL, "-c", stack.conf, "run", "--once",
                                "publish"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
        errs = []
        for p in ps:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            errs.append(err)
        assert sum(e.count("result %s of pool %s: attempt" % (rid, pool))
                   for e in errs) == 1, errs
        seq, attempts, _, later, _ = result_row(stack, rid)
        assert (seq, attempts, later) == (None, 1, True)
        seqs = stack.psql("SELECT r.seq FROM results r JOIN pools p ON"
                          " p.id = r.pool_id WHERE p.name = '%s' ORDER BY 1"
                          % other).split()
        assert [int(s) for s in seqs] == list(range(1, n + 1))
        assert len(published_names(stack, other)) == n
    finally:
        restore()
    due_now(stack, rid)
    publish(stack)
    assert [x["seq"] for x in feed(proc_a)] == [1]
