"""poolctl sweep beyond resumable uploads (test_tus.py has those): retention
of finished groups' files, committed files and results without a row (moved
to .lost+found, never deleted), rows whose bytes are missing (reported,
never deleted), and the `sweep` step of poolctl run.

The stack is shared by the whole session, so every assertion looks at this
test's own pool or ids only: other tests may have left debris of their own.
"""

import json
import os
import time
import uuid

import pytest

from test_rounds import settings, run, window_ts, only_group, fast_forward


def sweep(stack, *args):
    p = stack.poolctl("sweep", "--json", *args, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def file_path(stack, pool, fid):
    return os.path.join(stack.storage, pool, "files", fid[:2], fid)


def make_dirs(stack, path):
    """The directories of path, owned as httpd makes them (poolctl works as
    the storage owner)."""
    st = os.stat(stack.spool)
    d = os.path.dirname(path)
    missing = []
    while not os.path.isdir(d):
        missing.append(d)
        d = os.path.dirname(d)
    for d in reversed(missing):
        os.mkdir(d, 0o750)
        os.chown(d, st.st_uid, st.st_gid)


def lost_path(stack, sub, fid):
    return os.path.join(stack.storage, ".lost+found", sub, fid)


def ids_of(items, pool=None, kind="file"):
    return {i["id"] for i in items
            if i["kind"] == kind and (pool is None or i["pool"] == pool)}


def age_rows(stack, ids, hours):
    stack.psql("UPDATE files SET received_at = now() - interval '%d hours'"
               " WHERE id IN (%s)" % (hours, ",".join("'%s'" % i for i in ids)))


# ---------------------------------------------------------------- retention

def skipped_group(stack, client_of, pool, n, minutes_ago=30):
    """n files in one old window of pool, grouped and skipped (quorum of
    1000 files missed): a finished group."""
    up = client_of(pool)
    ts = str(window_ts(minutes_ago))
    ids = [up.upload_ok("old%d.bin" % i, b"x" * (100 + i), ts=ts)["id"]
           for i in range(n)]
    run(stack, "group")
    return up, ids


def test_retention_removes_files_of_finished_groups_only(stack, pool, client_of):
    settings(stack, pool, "window=1m", "min_files=1000", "retention=1h")
    up, old = skipped_group(stack, client_of, pool, 3)
    adm = client_of(pool, "admin")
    assert only_group(adm)["state"] == "skipped"
    # a file of a finished group, but received recently: kept
    recent = up.upload_ok("recent.bin", b"r", ts=str(window_ts(30)))["id"]
    # an old file of a group still open: kept
    settings(stack, pool, "lateness=1h")
    opened = up.upload_ok("open.bin", b"o", ts=str(window_ts(0)))["id"]
    run(stack, "group")
    # a pool without retention: its old files of finished groups stay
    other = stack.create_pool()
    settings(stack, other, "window=1m", "min_files=1000")
    _, other_ids = skipped_group(stack, client_of, other, 1)
    age_rows(stack, old + [opened] + other_ids, 2)
    # an import that brought one of the files keeps its record
    proc = str(uuid.uuid4())
    stack.psql(
        "INSERT INTO processes (id, pool_id, kind, status) SELECT '%s', id,"
        " 'import', 1 FROM pools WHERE name = '%s';"
        "INSERT INTO imports (process_id, pool_id, client_id, url, ts, state,"
        " file_id) SELECT '%s', f.pool_id, f.client_id, 'https://example.org/a',"
        " f.ts, 'done', f.id FROM files f WHERE f.id = '%s'"
        % (proc, pool, proc, old[0]))

    rep, err = sweep(stack)
    assert rep["retained_files"] >= 3, rep
    assert rep["retained_bytes"] >= 100 + 101 + 102, rep
    for fid in old:
        assert not os.path.exists(file_path(stack, pool, fid))
        assert up.get("/" + fid).status_code == 404
    listed = sorted(f["id"] for f in stack.list_all(pool))
    assert listed == sorted([recent, opened])
    for fid in (recent, opened):
        assert os.path.exists(file_path(stack, pool, fid))
    assert os.path.exists(file_path(stack, other, other_ids[0]))
    assert [f["id"] for f in stack.list_all(other)] == other_ids
    assert stack.psql("SELECT state || ':' || coalesce(file_id::text, 'null')"
                      " FROM imports WHERE process_id = '%s'" % proc).strip() \
        == "done:null"
    # nothing of it is reported lost or missing, and a second sweep is a no-op
    assert not ids_of(rep["missing_items"], pool)
    rep2, _ = sweep(stack)
    assert not ids_of(rep2["missing_items"], pool)
    assert sorted(f["id"] for f in stack.list_all(pool)) == sorted([recent, opened])


def test_retention_waits_for_the_group_to_finish(stack, pool, client_of):
    """A closed group still waiting for its processor keeps its files."""
    settings(stack, pool, "window=1m", "lateness=1h", "retention=1h")
    up = client_of(pool)
    fid = up.upload_ok("a.bin", b"a", ts=str(window_ts()))["id"]
    run(stack, "group")
    fast_forward(stack, pool)
    run(stack, "group")
    assert only_group(client_of(pool, "admin"))["state"] == "closed"
    age_rows(stack, [fid], 3)
    sweep(stack)
    assert [f["id"] for f in stack.list_all(pool)] == [fid]
    assert os.path.exists(file_path(stack, pool, fid))


# ---------------------------------------------------------------- lost+found

def test_file_without_row_is_moved_to_lost_found(stack, pool, uploader,
                                                 allow_errors):
    allow_errors(r"authorization failure for \"/dav/\.lost\+found/")
    kept = uploader.upload_ok("kept.txt", b"kept")["id"]
    stray = str(uuid.uuid4())
    path = file_path(stack, pool, stray)
    make_dirs(stack, path)
    with open(path, "wb") as f:
        f.write(b"debris of a crash")
    # a result without a row, too
    rstray = str(uuid.uuid4())
    rpath = os.path.join(stack.storage, ".results", rstray)
    with open(rpath, "wb") as f:
        f.write(b"result debris")
    # a name that is no id is not ours to judge
    odd = os.path.join(os.path.dirname(path), "README")
    with open(odd, "wb") as f:
        f.write(b"?")
    try:
        # just linked (inode changed now): could be an upload in flight
        rep, _ = sweep(stack)
        assert stray not in ids_of(rep["lost_found_items"])
        assert os.path.exists(path) and os.path.exists(rpath)

        rep, err = sweep(stack, "--min-age", "0")
        assert stray in ids_of(rep["lost_found_items"], pool)
        assert rstray in ids_of(rep["lost_found_items"], None, "result")
        assert rep["lost_found"] >= 2 and rep["lost_found_bytes"] >= 17 + 13
        item = [i for i in rep["lost_found_items"] if i["id"] == stray][0]
        assert item["path"] == lost_path(stack, pool, stray)
        assert item["size"] == 17
        assert "has no row: moved to" in err and stray in err
        assert not os.path.exists(path) and not os.path.exists(rpath)
        with open(lost_path(stack, pool, stray), "rb") as f:
            assert f.read() == b"debris of a crash"
        with open(lost_path(stack, ".results", rstray), "rb") as f:
            assert f.read() == b"result debris"
        assert os.path.exists(odd)
        # the real file is untouched and served
        assert os.path.exists(file_path(stack, pool, kept))
        assert uploader.get("/" + kept).content == b"kept"
        # lost+found is no pool: nothing there is reachable over WebDAV
        r = stack.session(basic=(uploader.client_id, uploader.secret)).request(
            "PROPFIND", stack.url("/dav/.lost+found/"), headers={"Depth": "1"})
        assert r.status_code in (401, 403, 404), r.status_code
        # a second sweep finds nothing more of it
        rep, _ = sweep(stack, "--min-age", "0")
        assert stray not in ids_of(rep["lost_found_items"], pool)
    finally:
        os.unlink(odd)


def staged_path(stack, pool, fid):
    return os.path.join(stack.storage, ".staged", pool, fid)


def test_staged_file_without_row_is_invisible_then_removed(stack, pool,
                                                         uploader,
                                                         allow_errors):
    """What a crash between staging and the row leaves (the ingest's
    unit tests make it happen; here it is laid down by hand): bytes that
    were never acknowledged.  No path serves them, and sweep removes them."""
    allow_errors(r"authorization failure for \"/dav/\.staged/")
    stray = str(uuid.uuid4())
    path = staged_path(stack, pool, stray)
    make_dirs(stack, path)
    with open(path, "wb") as f:
        f.write(b"never acknowledged")
    auth = stack.session(basic=(uploader.client_id, uploader.secret))
    assert uploader.get("/" + stray).status_code == 404
    for url in ("/dav/.staged/%s/%s" % (pool, stray),
                "/dav/%s/files/%s/%s" % (pool, stray[:2], stray),
                "/dav/%s/../.staged/%s/%s" % (pool, pool, stray)):
        r = auth.get(stack.url(url))
        assert r.status_code in (401, 403, 404), (url, r.status_code)
        assert b"never acknowledged" not in r.content
    # just staged: could be an upload committing its row right now
    rep, _ = sweep(stack, "--pool", pool)
    assert rep["staged_files"] == 0 and os.path.exists(path)
    rep, err = sweep(stack, "--pool", pool, "--min-age", "0")
    assert rep["staged_files"] == 1 and rep["staged_bytes"] == 18, rep
    assert not os.path.exists(path)
    assert rep["lost_found"] == 0


def test_staged_file_with_row_is_served_then_revealed(stack, pool, uploader):
    """A crash after the row committed but before the file was revealed:
    the file was acknowledged, so it is served from where it is, and sweep
    reveals it."""
    fid = uploader.upload_ok("ack.txt", b"acknowledged")["id"]
    path = file_path(stack, pool, fid)
    staged = staged_path(stack, pool, fid)
    make_dirs(stack, staged)
    os.rename(path, staged)
    r = uploader.get("/" + fid)
    assert r.status_code == 200 and r.content == b"acknowledged"
    r = uploader.get("/" + fid, headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"kno"
    rep, _ = sweep(stack, "--pool", pool, "--min-age", "0")
    assert rep["revealed_files"] == 1 and rep["staged_files"] == 0, rep
    assert rep["missing"] == 0 and rep["lost_found"] == 0
    assert os.path.exists(path) and not os.path.exists(staged)
    assert uploader.get("/" + fid).content == b"acknowledged"


def test_file_in_another_pools_directory_is_lost(stack, client_of):
    """A file's directory names its pool: a row of pool A does not vouch for
    the same id under pool B."""
    a, b = stack.create_pool(), stack.create_pool()
    fid = client_of(a).upload_ok("a.txt", b"aaa")["id"]
    wrong = file_path(stack, b, fid)
    make_dirs(stack, wrong)
    with open(wrong, "wb") as f:
        f.write(b"aaa")
    rep, _ = sweep(stack, "--min-age", "0")
    assert fid in ids_of(rep["lost_found_items"], b)
    assert fid not in ids_of(rep["lost_found_items"], a)
    assert os.path.exists(file_path(stack, a, fid))


# ---------------------------------------------------------------- missing bytes

def test_row_without_file_is_reported_and_kept(stack, pool, uploader):
    name = "gone \u00e9t\u00e9.txt"
    fid = uploader.upload_ok(name, b"12345", quote_name=True)["id"]
    ok = uploader.upload_ok("ok.txt", b"ok")["id"]
    os.unlink(file_path(stack, pool, fid))
    try:
        # a sweep of the whole tree reports it (among what other tests left)
        rep, err = sweep(stack)
        assert "is missing from storage" in err and fid in err
        # one of this pool lists exactly it
        rep, err = sweep(stack, "--pool", pool)
        assert rep["missing"] == 1, rep
        mine = rep["missing_items"]
        assert [i["id"] for i in mine] == [fid]
        assert mine[0]["name"] == name and mine[0]["size"] == 5
        assert mine[0]["kind"] == "file"
        # where it should be: the store and the object (the layout is the
        # store's own)
        assert mine[0]["path"].startswith(stack.storage) and fid in mine[0]["path"]
        # the row stays: an operator decides (restore from backup or delete)
        assert sorted(f["id"] for f in stack.list_all(pool)) == sorted([fid, ok])
        # the plain report names it too
        p = stack.poolctl("sweep", "--pool", pool)
        assert p.returncode == 0, p.stderr
        assert "rows whose bytes are missing:   1" in p.stdout
        assert fid in p.stdout
    finally:
        stack.psql("DELETE FROM files WHERE id = '%s'" % fid)
    rep, _ = sweep(stack, "--pool", pool)
    assert rep["missing"] == 0 and rep["missing_items"] == []


# ---------------------------------------------------------------- run step

def test_run_sweep_step_only_when_named(stack):
    stale = os.path.join(stack.spool, "upSWEEPSTEP")
    with open(stale, "wb") as f:
        f.write(b"x" * 10)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    try:
        p = stack.poolctl("run", "--once", timeout=120)
        assert p.returncode == 0, p.stderr
        assert os.path.exists(stale), "run without steps must not sweep"
        p = stack.poolctl("run", "--once", "sweep", timeout=120)
        assert p.returncode == 0, p.stderr
        assert not os.path.exists(stale)
        assert "sweep:" in p.stderr
    finally:
        if os.path.exists(stale):
            os.unlink(stale)


@pytest.mark.parametrize("args", [
    ("--min-age", "-1"),
    ("--min-age", "abc"),
    ("--min-age", "99999999999"),
    ("--min-age",),
    ("extra",),
    ("--pool", "Bad/Name"),
    ("--pool",),
])
def test_sweep_usage_errors(stack, args):
    p = stack.poolctl("sweep", *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "sweep" in p.stderr or "min-age" in p.stderr


def test_sweep_unknown_pool(stack):
    p = stack.poolctl("sweep", "--pool", "no-such-pool-here")
    assert p.returncode == 1
    assert "pool 'no-such-pool-here' not found" in p.stderr


def test_sweep_of_one_pool_leaves_others(stack, client_of):
    a, b = stack.create_pool(), stack.create_pool()
    fa = client_of(a).upload_ok("a.txt", b"a")["id"]
    fb = client_of(b).upload_ok("b.txt", b"b")["id"]
    strays = {}
    for pool, fid in ((a, fa), (b, fb)):
        stray = fid[:2] + str(uuid.uuid4())[2:]
        with open(file_path(stack, pool, stray), "wb") as f:
            f.write(b"s")
        strays[pool] = stray
    rep, _ = sweep(stack, "--pool", a, "--min-age", "0")
    assert ids_of(rep["lost_found_items"]) == {strays[a]}
    assert os.path.exists(file_path(stack, b, strays[b]))
    rep, _ = sweep(stack, "--pool", b, "--min-age", "0")
    assert ids_of(rep["lost_found_items"]) == {strays[b]}


def test_sweep_removes_expired_webdav_locks(stack, pool, uploader):
    """A lock past its timeout is ignored by the view at once, and its row
    goes with the next sweep; a live lock stays."""
    import requests
    from test_webhooks import wait_for
    auth = (uploader.client_id, uploader.secret)
    base = stack.url("/dav/%s/" % pool)
    body = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            '<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
            '</D:lockinfo>')
    for name, timeout in (("short", "Second-1"), ("long", "Second-600")):
        r = requests.request("LOCK", base + name, data=body, auth=auth,
                             headers={"Timeout": timeout}, timeout=30)
        assert r.status_code in (200, 201), (r.status_code, r.text)

    def expired():
        return stack.psql(
            "SELECT count(*) FROM dav_locks l JOIN pools p ON p.id = l.pool_id"
            " WHERE p.name = '%s' AND l.expires_at <= now()" % pool).strip() == "1"

    assert wait_for(expired, 10)
    # the view no longer sees it: a PUT without its token goes through
    r = requests.put(base + "short", data=b"x", auth=auth, timeout=30)
    assert r.status_code in (201, 204), r.status_code
    rep, _ = sweep(stack, "--pool", pool, "--min-age", "0")
    assert rep["expired_locks"] == 1, rep
    assert stack.psql("SELECT l.path FROM dav_locks l JOIN pools p"
                      " ON p.id = l.pool_id WHERE p.name = '%s'" % pool).split() == ["/long"]
