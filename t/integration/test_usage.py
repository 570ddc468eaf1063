"""Usage metering and quotas (issue 13): every count is made where its
action commits, so after a mixed parallel run the usage equals a recount
from the rows (and, for downloads, from the bytes the clients received),
before and after the `usage` step folds it; quotas refuse with clear
problems and store nothing."""

import concurrent.futures
import hashlib
import json
import os
import signal
import time

import requests

from conftest import HTTP_TIMEOUT, assert_problem, free_port, unique
from test_rounds import api, fast_forward, only_group, run, settings, upload_round


def usage(stack, pool, **params):
    cid, secret = stack.admin(pool)
    r = requests.get(api(stack, pool, "/usage"), params=params, auth=(cid, secret),
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def by_client(stack, pool):
    return {row["client_id"]: row for row in usage(stack, pool, by="client")["rows"]}


def recount(stack, pool):
    """files and bytes per client, from the rows"""
    out = stack.psql("SELECT c.client_id, count(f.id), coalesce(sum(f.size), 0)"
                     " FROM clients c JOIN pools p ON p.id = c.pool_id"
                     " JOIN files f ON f.client_id = c.id"
                     " WHERE p.name = '%s' GROUP BY 1" % pool)
    rows = {}
    for line in out.strip().splitlines():
        cid, n, b = [x.strip() for x in line.split("|")]
        rows[cid] = (int(n), int(b))
    return rows


def test_counts_equal_a_recount_after_a_mixed_parallel_run(stack, pool, client_of):
    ups = [client_of(pool, "uploader") for _ in range(4)]
    listener = client_of(pool, "listener")
    received = {u.client_id: 0 for u in ups}
    received[listener.client_id] = 0
    stored = []

    def upload(i):
        u = ups[i % len(ups)]
        data = os.urandom(1000 + 37 * i)
        if i % 3 == 0:
            r = u.s.post(stack.files_url(pool), files={"f": ("b%d.bin" % i, data)})
            assert r.status_code in (200, 201, 207), r.text
        else:
            j = u.upload_ok("u%d.bin" % i, data)
            stored.append(j["id"])

    def download(i):
        who = listener if i % 2 else ups[i % len(ups)]
        fid = stored[i % len(stored)]
        headers = {"Range": "bytes=0-99"} if i % 5 == 0 else {}
        r = who.s.get(stack.files_url(pool, "/" + fid), headers=headers)
        assert r.status_code in (200, 206), r.text
        return who.client_id, len(r.content)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(upload, range(30)))
        # the usage step folds while downloads and uploads go on
        folder = ex.submit(lambda: [run(stack, "usage") for _ in range(3)])
        for cid, n in ex.map(download, range(40)):
            received[cid] += n
        list(ex.map(upload, range(30, 45)))
        folder.result()
    # HEAD and 304 are not downloads
    assert listener.s.head(stack.files_url(pool, "/" + stored[0])).status_code == 200
    r = listener.s.get(stack.files_url(pool, "/" + stored[0]))
    received[listener.client_id] += len(r.content)
    r = listener.s.get(stack.files_url(pool, "/" + stored[0]),
                       headers={"If-None-Match": r.headers["ETag"]})
    assert r.status_code == 304

    def check():
        rows = by_client(stack, pool)
        rc = recount(stack, pool)
        for cid, (n, b) in rc.items():
            assert rows[cid]["files_received"] == n, (cid, rows[cid], n)
            assert rows[cid]["bytes_received"] == b
        for cid, n in received.items():
            got = rows.get(cid, {}).get("bytes_downloaded", 0)
            assert got == n, (cid, got, n)
        total = usage(stack, pool)["totals"]
        assert total["files_received"] == sum(n for n, _ in rc.values())
        assert total["bytes_downloaded"] == sum(received.values())
        held = int(stack.psql("SELECT sum(size) FROM files f JOIN pools p ON p.id = f.pool_id"
                              " WHERE p.name = '%s'" % pool).strip())
        assert usage(stack, pool)["stored_bytes"] == held

    # downloads are counted when their responses are logged: wait for them
    deadline = time.time() + 30
    while True:
        try:
            check()
            break
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)
    run(stack, "usage")
    check()
    # and storage held turns into byte-days as time passes
    time.sleep(1.1)
    run(stack, "usage")
    assert usage(stack, pool)["totals"]["storage_byte_days"] > 0


def test_rounds_deliveries_and_messages_are_counted(stack, pool, client_of):
    settings(stack, pool, "window=1m", "lateness=1h", "min_clients=3", "min_files=3")
    ups = upload_round(client_of, pool)
    proc = client_of(pool, "processor")
    run(stack, "group")
    fast_forward(stack, pool)
    run(stack, "group", "trigger")
    gid = only_group(proc, "triggered")["id"]
    m = proc.s.post(api(stack, pool, "/groups/%s/claim" % gid)).json()
    r = requests.put(m["result_url"] + "&name=r.txt", data=b"result\n", timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    run(stack, "publish")
    # a webhook to a port nobody listens on: one failed attempt
    port = free_port()
    r = ups[0].s.put(api(stack, pool, "/clients/me/callback"),
                     json={"url": "http://127.0.0.1:%d/hook" % port})
    assert r.status_code in (200, 201), r.text
    assert ups[0].s.post(api(stack, pool, "/clients/me/callback/test")).status_code == 202
    run(stack, "deliver")
    r = ups[1].s.post(api(stack, pool, "/messages"), json={"to": "pool", "body": "hello"})
    assert r.status_code == 201, r.text
    t = usage(stack, pool)["totals"]
    assert t["results_published"] == 1
    secs = int(stack.psql("SELECT floor(extract(epoch FROM updated_at - created_at))"
                          " FROM processes WHERE kind = 'group' AND status IN (1, 2)"
                          " AND pool_id = (SELECT id FROM pools WHERE name = '%s')" % pool).strip())
    assert t["processing_seconds"] == secs
    attempts = stack.psql("SELECT count(*) FROM delivery_attempts a JOIN deliveries d"
                          " ON d.id = a.delivery_id JOIN pools p ON p.id = d.pool_id"
                          " WHERE p.name = '%s'" % pool).strip()
    assert t["deliveries_failed"] + t["deliveries_sent"] == int(attempts) >= 1
    assert t["messages_sent"] == 1
    rows = by_client(stack, pool)
    assert rows[ups[1].client_id]["messages_sent"] == 1
    stack.psql("UPDATE deliveries SET state = 'failed' WHERE state = 'pending'"
               " AND pool_id = (SELECT id FROM pools WHERE name = '%s')" % pool)


def test_storage_quota_refuses_with_507_and_stores_nothing(stack, pool, client_of):
    up = client_of(pool, "uploader")
    up.upload_ok("a.bin", b"x" * 600)
    settings(stack, pool, "max_storage_bytes=1000")
    before = stack.snapshot(pool)
    j = assert_problem(up.upload("b.bin", b"y" * 600), 507)
    assert "max_storage_bytes" in j["detail"] and "nothing was stored" in j["detail"]
    r = up.s.post(stack.files_url(pool), files={"f": ("c.bin", b"z" * 600)})
    assert r.status_code == 507, r.text
    stack.assert_nothing_stored(pool, before)
    up.upload_ok("small.bin", b"s" * 300)
    # K, M, G, T are powers of 1024
    settings(stack, pool, "max_storage_bytes=1K")
    assert stack.poolctl("pool", "set", pool, "max_storage_bytes=1Q").returncode != 0
    assert stack.poolctl("pool", "set", pool, "max_storage_bytes=0").returncode != 0
    settings(stack, pool, "max_storage_bytes=")
    up.upload_ok("b.bin", b"y" * 600)


def test_download_quota_refuses_with_429(stack, pool, client_of):
    up = client_of(pool, "uploader")
    fid = up.upload_ok("a.bin", b"x" * 600)["id"]
    settings(stack, pool, "max_monthly_download_bytes=1000")
    assert up.get("/" + fid).status_code == 200
    # the quota is checked against the count, which each child refreshes
    # every few seconds: wait for the refusal
    deadline = time.time() + 30
    while True:
        r = up.get("/" + fid)
        if r.status_code == 429:
            break
        assert r.status_code == 200
        assert time.time() < deadline, "never refused"
        time.sleep(0.5)
    j = assert_problem(r, 429)
    assert "max_monthly_download_bytes" in j["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # HEAD still answers; uploads are not affected
    assert up.s.head(stack.files_url(pool, "/" + fid)).status_code == 200
    up.upload_ok("b.bin", b"y" * 10)


def test_client_quota(stack, pool, tmp_path):
    cid, secret = stack.admin(pool)
    settings(stack, pool, "max_clients=3")
    s = stack.session(token=stack.token(cid, secret))
    assert s.post(api(stack, pool, "/clients"), json={"name": "two", "role": "uploader"}).status_code == 201
    key = json.loads(stack.poolctl_ok("enroll", "create", pool, "--role", "uploader", "--json").stdout)["key"]
    src = tmp_path / "two.csv"
    src.write_text("name,role\nx1,uploader\nx2,uploader\n")
    p = stack.poolctl("client", "import", pool, str(src), "--out", str(tmp_path / "o"))
    assert p.returncode == 1 and "max_clients" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()
    r = requests.post(api(stack, pool, "/clients"), json={"name": "three"},
                      headers={"Authorization": "Bearer " + key}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    j = assert_problem(s.post(api(stack, pool, "/clients"), json={"name": "four", "role": "uploader"}), 409)
    assert "max_clients" in j["detail"]
    r = requests.post(api(stack, pool, "/clients"), json={"name": "five"},
                      headers={"Authorization": "Bearer " + key}, timeout=HTTP_TIMEOUT)
    assert_problem(r, 409)
    p = stack.poolctl("client", "add", pool, "six", "--role", "uploader")
    assert p.returncode == 1 and "max_clients" in p.stderr
    assert int(stack.psql("SELECT count(*) FROM clients c JOIN pools p ON p.id = c.pool_id"
                          " WHERE p.name = '%s'" % pool).strip()) == 3


def test_usage_api_and_poolctl(stack, pool, client_of):
    up = client_of(pool, "uploader")
    up.upload_ok("a.bin", b"x" * 10)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    j = usage(stack, pool, **{"from": today, "to": today})
    assert j["rows"][0]["day"] == today and j["rows"][0]["files_received"] == 1
    assert j["by"] == "day" and j["stored_bytes"] == 10
    assert usage(stack, pool, **{"from": "2000-01-01", "to": "2000-01-31"})["rows"] == []
    cid, secret = stack.admin(pool)
    u = api(stack, pool, "/usage")
    for q, field in (({"from": "2026-1-1"}, "from"), ({"to": "x"}, "to"), ({"by": "week"}, "by"),
                     ({"from": "2026-12-31", "to": "2026-01-01"}, "from"),
                     ({"from": "2026-02-30"}, "from")):
        assert_problem(requests.get(u, params=q, auth=(cid, secret), timeout=HTTP_TIMEOUT), 422, field)
    assert_problem(up.s.get(u), 403)
    other = stack.create_pool(unique("other"))
    assert_problem(requests.get(api(stack, other, "/usage"), auth=(cid, secret),
                                timeout=HTTP_TIMEOUT), 404)
    out = stack.poolctl_ok("usage", pool, "--by", "client").stdout
    assert up.client_id in out and "BYTES_IN" in out
    csv = stack.poolctl_ok("usage", pool, "--csv").stdout.splitlines()
    assert csv[0].startswith("day,files_received,bytes_received")
    assert csv[1].startswith(today + ",1,10,")
    js = json.loads(stack.poolctl_ok("usage", pool, "--json").stdout)
    assert js["totals"]["bytes_received"] == 10
    for bad in (["usage", pool, "--from", "yesterday"], ["usage", pool, "--by", "x"],
                ["usage", pool, "--csv", "--json"], ["usage"]):
        assert stack.poolctl(*bad).returncode == 2, bad
    assert stack.poolctl("usage", unique("nosuch")).returncode == 1


def test_storage_quota_under_concurrent_uploads(stack, pool, client_of):
    """Concurrent uploads are each checked against what is committed: the
    pool may go over by the files in flight (one per connection), never
    more, and every upload is either stored (201) or not at all (507)."""
    settings(stack, pool, "max_storage_bytes=5000")
    ups = [client_of(pool, "uploader") for _ in range(8)]
    size = 1000

    def put(i):
        return ups[i % 8].upload("q%d.bin" % i, os.urandom(size)).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(put, range(32)))
    assert set(codes) <= {201, 507}, codes
    stored = int(stack.psql("SELECT count(*) FROM files f JOIN pools p ON p.id = f.pool_id"
                            " WHERE p.name = '%s'" % pool).strip())
    assert stored == codes.count(201)
    assert 5 <= stored <= 5 + 7, codes          # the bound: 8 connections
    assert usage(stack, pool)["stored_bytes"] == stored * size


def wait_downloaded(stack, pool, client_id, want, secs=30):
    """waits until the pool's usage shows want bytes downloaded by client_id
    (each child writes its counts within a second, or when it stops)"""
    deadline = time.time() + secs
    while True:
        got = by_client(stack, pool).get(client_id, {}).get("bytes_downloaded", 0)
        if got == want:
            return
        assert got < want, "counted more than was sent: %d > %d" % (got, want)
        assert time.time() < deadline, "downloaded %d, counted %d" % (want, got)
        time.sleep(0.3)


def test_download_counts_held_by_a_child_are_written_when_it_stops(stack, pool, client_of):
    # downloads go on for longer than a child holds its counts, and the
    # graceful restart comes right after the last one: the old children
    # end at once (their connections are idle) while still holding the
    # counts of the last second, and write them as they go
    up = client_of(pool, "uploader")
    fid = up.upload_ok("g.bin", os.urandom(5000))["id"]
    sent = 0
    until = time.time() + 2.5
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        while time.time() < until:
            for r in ex.map(lambda _: up.get("/" + fid), range(8)):
                assert r.status_code == 200
                sent += len(r.content)
    os.kill(stack.httpd_pid(), signal.SIGUSR1)      # apachectl graceful
    wait_downloaded(stack, pool, up.client_id, sent)
    # and nothing more comes later
    time.sleep(1.5)
    assert by_client(stack, pool)[up.client_id]["bytes_downloaded"] == sent


def test_download_counts_wait_for_the_database(stack, pool, client_of, allow_errors):
    # downloads served from a child's cached row while PostgreSQL is down
    # are counted once it is back, none lost, none twice
    allow_errors(r"(?i)database|postgres|connect|libpq|server closed|socket")
    up = client_of(pool, "uploader")
    fid = up.upload_ok("d.bin", os.urandom(3000))["id"]
    sent = 0
    for _ in range(16):         # every child caches the row
        r = up.get("/" + fid)
        assert r.status_code == 200
        sent += len(r.content)
    wait_downloaded(stack, pool, up.client_id, sent)
    stack.pg_stop()
    served = 0
    try:
        for _ in range(16):
            r = up.get("/" + fid)
            if r.status_code == 200:
                served += 1
                sent += len(r.content)
            else:
                assert_problem(r, 503)
        # the writers try and keep what they hold
        time.sleep(2.5)
    finally:
        stack.pg_start()
    assert served, "no download was served from a cached row"
    wait_downloaded(stack, pool, up.client_id, sent)
    time.sleep(1.5)
    assert by_client(stack, pool)[up.client_id]["bytes_downloaded"] == sent
