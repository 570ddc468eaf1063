"""kill -9 of httpd in the middle of uploads: PUTs, batches (multipart
POST), tus PATCHes and processors' result PUTs (a host of its own, with its
own storage tree, sharing the stack's database and keys).  Afterwards:
every acknowledged upload is there with its SHA-256; nothing without a row
is visible through the API or the WebDAV view; what
the crash left staged is reconciled by poolctl sweep (revealed when its row
committed, removed when not); the restarted host serves as before.

Besides uploaders that keep sending (so that the kill finds requests at
every stage), each test holds one or more requests in the middle of their
body (Stalled) and waits until the host has received part of it (its spool
file, or the upload's lease and data) before the kill: at least one
request is certainly cut short by the crash."""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
import requests

from conftest import POOLCTL
from test_batch import Part, encode, form_ctype, new_boundary
from test_rounds import fast_forward, groups, window_ts
from test_webhooks import wait_for
from tus_helpers import (create_ok, head, metadata, offset_of, patch,
                         SecondHost)

UPLOADERS = 6
SIZE = 256 * 1024
PIECE = 32 * 1024


def sha(b):
    return hashlib.sha256(b).hexdigest()


def slow_body(data, gate=None, stall_at=0):
    """data in pieces, so that the kill finds requests at every stage; with
    a gate, the body stops after stall_at bytes until the gate is set."""
    for i in range(0, len(data), PIECE):
        if gate is not None and i >= stall_at:
            gate.wait(120)
            gate = None
        yield data[i:i + PIECE]
        time.sleep(0.005)


class Stalled(threading.Thread):
    """One request whose body stops part-way until its gate is set
    (stop_clients): send(gate) makes it (with slow_body(..., gate, ...)).
    outcome: the status, or the exception (the crash)."""

    def __init__(self, send):
        super().__init__(daemon=True)
        self.gate = threading.Event()
        self.send = send
        self.outcome = None

    def run(self):
        try:
            self.outcome = self.send(self.gate).status_code
        except Exception as e:      # the crash: not acknowledged
            self.outcome = e

    def check(self):
        assert not self.is_alive()
        assert isinstance(self.outcome, Exception), \
            "a request cut short by the crash was answered: %r" % self.outcome


def start_clients(target, args_list):
    threads = [threading.Thread(target=target, args=a, daemon=True)
               for a in args_list]
    for t in threads:
        t.start()
    return threads


def stop_clients(stop, threads, stalled=()):
    """Stops the clients (after the kill, or when the test failed before
    it): no thread is left sending."""
    stop.set()
    for t in stalled:
        t.gate.set()
    for t in list(threads) + list(stalled):
        t.join(60)


class CrashHost(SecondHost):
    """A second httpd with a storage tree of its own."""

    def __init__(self, stack):
        super().__init__(stack, "crash",
                         os.path.join(stack.var, "crash-storage"))

    def render(self):
        st = os.stat(self.stack.storage)
        os.makedirs(self.storage, exist_ok=True)
        os.chown(self.storage, st.st_uid, st.st_gid)
        super().render()

    holder = None               # a socket keeping the port after kill9()

    def kill9(self):
        """SIGKILL to the parent and every child, as a crash would: the
        parent first (else it may start a child in the meantime: after a
        wrap of the pids its children come first in pgrep's list), then
        every process left, until none is."""
        pids = []
        try:
            with open(self.pid_file) as f:
                pids.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
        deadline = time.time() + 15
        while True:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            pids = [int(x) for x in subprocess.run(
                ["pgrep", "-f", self.conf], stdout=subprocess.PIPE,
                text=True).stdout.split()]
            if not pids:
                break
            assert time.time() < deadline, "httpd processes survived kill -9"
            time.sleep(0.05)
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        # the listening socket goes with the last process that held it.
        # The port is then kept bound (SO_REUSEADDR, not listening: httpd
        # binds it all the same) until start(): free, any socket of the
        # machine could take it meanwhile, and the restart would fail
        deadline = time.time() + 30
        while True:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
                self.holder = s
                break
            except OSError:
                s.close()
                assert time.time() < deadline, "the port stays in use after kill -9"
                time.sleep(0.2)

    def release_port(self):
        if self.holder is not None:
            self.holder.close()
            self.holder = None

    def start(self):
        try:
            super().start()
        finally:
            self.release_port()

    def stop(self):
        self.release_port()
        super().stop()

    def revealed(self, pool):
        """Ids revealed in the host's storage tree."""
        base = os.path.join(self.storage, pool, "files")
        out = set()
        for d, _, names in os.walk(base):
            out.update(names)
        return out

    def _names(self, *rel):
        try:
            return set(os.listdir(os.path.join(self.storage, *rel)))
        except FileNotFoundError:
            return set()

    def spool(self):
        """Names in the spool (bytes arriving)."""
        return self._names(".spool")

    def staged(self, pool):
        return self._names(".staged", pool)

    def upload_size(self, uid):
        """Bytes of tus upload uid's data, 0 when it has none."""
        try:
            return os.path.getsize(os.path.join(self.storage, ".uploads", uid))
        except FileNotFoundError:
            return 0

    def result_bytes(self, rid):
        with open(os.path.join(self.storage, ".results", rid), "rb") as f:
            return f.read()

    def wait_spooling(self, before, n):
        """Until n spool files that were not in before exist: n bodies are
        arriving."""
        wait_for(lambda: len(self.spool() - before) >= n, 30)
        assert len(self.spool() - before) >= n, "the stalled bodies did not arrive"


@pytest.fixture
def crash_host(stack):
    h = CrashHost(stack)
    h.start()
    try:
        yield h
    finally:
        h.stop()


def poolctl_on(stack, host, *args):
    """poolctl with the host's configuration (its storage tree)."""
    p = subprocess.run(
        [POOLCTL, "-c", host.pool_conf] + list(args),
        env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def sweep(stack, host, pool):
    return json.loads(poolctl_on(stack, host, "sweep", "--json", "--pool",
                                 pool, "--min-age", "0"))


def assert_swept(stack, h, pool, row_ids):
    """poolctl sweep after the crash: nothing missing, nothing without a
    row; every row revealed, nothing else; nothing left staged or
    spooled."""
    rep = sweep(stack, h, pool)
    assert rep["missing"] == 0 and rep["lost_found"] == 0, rep
    assert rep["failures"] == 0, rep
    assert h.revealed(pool) == set(row_ids)
    assert h.staged(pool) == set()
    assert h.spool() == set()


def test_kill9_mid_uploads(stack, pool, uploader, crash_host):
    h = crash_host
    url = "%s/pool/v1/pools/%s/files/" % (h.base, pool)
    acked = {}                  # id -> sha256 of what was sent
    lock = threading.Lock()
    stop = threading.Event()

    def upload_loop(k):
        s = stack.session(token=uploader.token)
        n = 0
        while not stop.is_set():
            data = os.urandom(SIZE)
            try:
                r = s.put(url + "c%d-%d.bin" % (k, n),
                          data=slow_body(data), timeout=20)
            except Exception:
                continue            # the crash: not acknowledged
            if r.status_code == 201:
                with lock:
                    acked[r.json()["id"]] = hashlib.sha256(data).hexdigest()
            n += 1

    threads = start_clients(upload_loop, [(k,) for k in range(UPLOADERS)])
    try:
        # wait for the uploads themselves, not for a time
        assert wait_for(lambda: len(acked) >= 2 * UPLOADERS, 60), \
            "uploads did not get going"
        h.kill9()
    finally:
        stop_clients(stop, threads)

    rows = {f["id"]: f for f in stack.list_all(pool)}
    # nothing acknowledged is lost; every row has its bytes
    assert set(acked) <= set(rows)
    # nothing without a row is revealed in the storage tree
    assert h.revealed(pool) <= set(rows)

    # after the sweep every row is revealed, nothing else is
    assert_swept(stack, h, pool, rows)

    h.start()
    for fid, digest in acked.items():
        r = uploader.s.get(url + fid)
        assert r.status_code == 200, (fid, r.status_code)
        assert hashlib.sha256(r.content).hexdigest() == digest
        assert rows[fid]["sha256"] == digest
    r = uploader.s.put(url + "after.bin", data=b"after the crash")
    assert r.status_code == 201, r.text


def test_kill9_mid_dav_puts(stack, pool, uploader, crash_host):
    """PUTs through the WebDAV view are uploads like any other: what was
    acknowledged is in the view with its bytes, nothing else shows."""
    h = crash_host
    folder = "%s/dav/%s/%s/" % (h.base, pool, uploader.name)
    auth = (uploader.client_id, uploader.secret)
    acked = {}                  # name -> sha256 of what was sent
    lock = threading.Lock()
    stop = threading.Event()
    # the client's folder exists before the first PUT into it
    assert requests.request("MKCOL", folder, auth=auth, timeout=20).status_code == 201

    def put_loop(k):
        n = 0
        while not stop.is_set():
            data = os.urandom(SIZE)
            name = "d%d-%d.bin" % (k, n)
            n += 1
            try:
                r = requests.put(folder + name, data=slow_body(data), auth=auth,
                                 timeout=20)
            except Exception:
                continue            # the crash: not acknowledged
            if r.status_code == 201:
                with lock:
                    acked[name] = hashlib.sha256(data).hexdigest()

    threads = start_clients(put_loop, [(k,) for k in range(UPLOADERS)])
    try:
        assert wait_for(lambda: len(acked) >= 2 * UPLOADERS, 60), \
            "PUTs did not get going"
        h.kill9()
    finally:
        stop_clients(stop, threads)

    rows = {f["name"]: f for f in stack.list_all(pool)
            if f["folder"] == "/" + uploader.name and f["current"]}
    assert set(acked) <= set(rows)
    for name, digest in acked.items():
        assert rows[name]["sha256"] == digest
    assert_swept(stack, h, pool, [f["id"] for f in rows.values()])

    h.start()
    r = requests.request("PROPFIND", folder, headers={"Depth": "1"}, auth=auth,
                         timeout=30)
    assert r.status_code == 207
    listed = {unquote(e.text.rstrip("/").rsplit("/", 1)[1])
              for e in ET.fromstring(r.content).iter("{DAV:}href")
              if not e.text.endswith("/%s/" % uploader.name)}
    # the view shows the rows, no more: nothing unacknowledged is visible
    assert listed == set(rows)
    for name, digest in acked.items():
        r = requests.get(folder + name, auth=auth, timeout=30)
        assert r.status_code == 200, (name, r.status_code)
        assert hashlib.sha256(r.content).hexdigest() == digest
    r = requests.put(folder + "after.bin", data=b"after the crash", auth=auth,
                     timeout=20)
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- batches

BATCH_FILES = 3
BATCH_PART = 96 * 1024


def test_kill9_mid_batches(stack, pool, uploader, crash_host):
    """A batch is one transaction across a crash too: all of its files or
    none of them, each with its SHA-256."""
    h = crash_host
    url = "%s/pool/v1/pools/%s/files" % (h.base, pool)
    sent = {}                   # batch -> {name: sha256}
    acked = {}                  # batch -> {name: id}
    lock = threading.Lock()
    stop = threading.Event()

    def send(s, key, gate=None, stall_at=0, timeout=20):
        files = [("%s-%d.bin" % (key, i), os.urandom(BATCH_PART))
                 for i in range(BATCH_FILES)]
        with lock:
            sent[key] = {n: sha(d) for n, d in files}
        b = new_boundary()
        body = encode([Part(d, filename=n) for n, d in files], b)
        r = s.post(url, data=slow_body(body, gate, stall_at),
                   headers={"Content-Type": form_ctype(b)}, timeout=timeout)
        if r.status_code == 201:
            with lock:
                acked[key] = {f["name"]: f["id"] for f in r.json()["files"]}
        return r

    # two batches stop in their second file part (the first part spooled
    # whole, the second begun) until after the crash
    spool_before = h.spool()
    stalled = [Stalled(lambda gate, k=k: send(
        stack.session(token=uploader.token), "stalled%d" % k, gate,
        4 * PIECE, timeout=60)) for k in range(2)]
    for t in stalled:
        t.start()

    def batch_loop(k):
        s = stack.session(token=uploader.token)
        n = 0
        while not stop.is_set():
            # each attempt a key of its own: an attempt whose answer was
            # lost (a client timeout on a loaded machine) may have been
            # stored, and its bytes are not the next attempt's
            n += 1
            try:
                send(s, "b%d-%d" % (k, n))
            except Exception:
                continue            # the crash: not acknowledged

    threads = []
    try:
        h.wait_spooling(spool_before, 2 * len(stalled))
        threads = start_clients(batch_loop, [(k,) for k in range(UPLOADERS)])
        assert wait_for(lambda: len(acked) >= UPLOADERS, 60), \
            "batches did not get going"
        h.kill9()
    finally:
        stop_clients(stop, threads, stalled)
    for t in stalled:
        t.check()

    rows = stack.list_all(pool)
    by_name = {f["name"]: f for f in rows}
    assert len(by_name) == len(rows)
    # every row is a file some batch sent, with the bytes it sent
    for key, files in sent.items():
        present = sorted(n for n in files if n in by_name)
        assert present in ([], sorted(files)), \
            "batch %s is in part: %r of %r" % (key, present, sorted(files))
        for n in present:
            assert by_name[n]["sha256"] == files[n], (key, n)
            assert by_name[n]["size"] == BATCH_PART
    assert set(by_name) <= {n for files in sent.values() for n in files}
    # nothing acknowledged is lost; the stalled batches left nothing
    for key, ids in acked.items():
        assert {n: by_name[n]["id"] for n in ids if n in by_name} == ids, key
    for t in range(len(stalled)):
        assert "stalled%d" % t not in acked
        assert not any(n.startswith("stalled%d-" % t) for n in by_name)
    # nothing without a row is revealed in the storage tree
    assert h.revealed(pool) <= {f["id"] for f in rows}

    assert_swept(stack, h, pool, [f["id"] for f in rows])

    h.start()
    s = uploader.s
    for f in rows:
        r = s.get("%s/%s" % (url, f["id"]))
        assert r.status_code == 200, (f, r.status_code)
        assert sha(r.content) == f["sha256"]
    r = send(s, "after")
    assert r.status_code == 201, r.text
    assert len(stack.list_all(pool)) == len(rows) + BATCH_FILES


# ---------------------------------------------------------------- tus PATCH

TUS_SIZE = 4 * 1024 * 1024
TUS_PATCH = 256 * 1024


def test_kill9_mid_tus_patches(stack, pool, uploader, crash_host):
    """Uploads being PATCHed when the host dies resume on the restarted
    host: HEAD reports an offset the data holds (what was acknowledged,
    plus the PATCH in flight if its bytes were recorded), the dead writer's
    lease keeps others out until it expires, the remaining PATCHes
    complete each upload and its file has the right SHA-256; no upload
    becomes a file before its last byte."""
    h = crash_host
    s = uploader.s
    ups = []
    for k in range(UPLOADERS + 1):
        data = os.urandom(TUS_SIZE)
        u, _ = create_ok(s, h.base, pool, len(data),
                         meta=metadata(filename="t%d.bin" % k))
        ups.append({"url": u, "id": u.rstrip("/").rsplit("/", 1)[1],
                    "name": "t%d.bin" % k, "data": data, "acked": 0,
                    "inflight": None, "fid": None, "errors": []})
    lock = threading.Lock()
    stop = threading.Event()

    # the first upload's first PATCH stops part-way until after the crash,
    # once the host holds its lease and has written some of its bytes
    first = ups[0]
    held = Stalled(lambda gate: patch(
        stack.session(token=uploader.token), first["url"], 0,
        slow_body(first["data"][:4 * TUS_PATCH], gate, 12 * PIECE)))
    held.start()

    def leased(u):
        return stack.psql("SELECT lock_token IS NOT NULL AND locked_until > now()"
                          " FROM uploads WHERE id = '%s'" % u["id"]).strip() == "t"

    def patch_loop(u):
        own = stack.session(token=uploader.token)
        off = 0
        while not stop.is_set() and off < len(u["data"]):
            chunk = u["data"][off:off + TUS_PATCH]
            with lock:
                u["inflight"] = (off, len(chunk))
            try:
                r = patch(own, u["url"], off, slow_body(chunk))
            except Exception:
                return              # the crash: not acknowledged
            if r.status_code != 204:
                u["errors"].append((r.status_code, r.text[:200]))
                return
            off = int(r.headers["Upload-Offset"])
            with lock:
                u["acked"], u["inflight"] = off, None
                u["fid"] = r.headers.get("Pool-File-Id")

    threads = []
    try:
        assert wait_for(lambda: leased(first)
                        and h.upload_size(first["id"]) >= 128 * 1024, 30), \
            "the stalled PATCH did not arrive"
        threads = start_clients(patch_loop, [(u,) for u in ups[1:]])
        # every upload has had a PATCH acknowledged
        assert wait_for(lambda: all(u["acked"] for u in ups[1:]), 60), \
            "PATCHes did not get going"
        h.kill9()
    finally:
        stop_clients(stop, threads, [held])
    held.check()
    for u in ups:
        assert u["errors"] == [], u["errors"]

    def listing():
        return {f["id"]: f for f in stack.list_all(pool)}
    # only uploads that had their last byte are files, each whole
    rows = listing()
    for fid, f in rows.items():
        u = next(u for u in ups if u["id"] == fid)
        assert f["sha256"] == sha(u["data"]) and f["size"] == TUS_SIZE, u["name"]
        assert u["fid"] or u["inflight"] and sum(u["inflight"]) == TUS_SIZE
    assert {u["fid"] for u in ups if u["fid"]} <= set(rows)
    assert h.revealed(pool) <= set(rows)

    h.start()
    for u in ups:
        off = offset_of(s, u["url"])
        # what was acknowledged, or that plus the PATCH in flight when its
        # bytes were recorded but its answer lost; never a part of a PATCH
        ok = {u["acked"]}
        if u["inflight"] and u["inflight"][0] == u["acked"]:
            ok.add(sum(u["inflight"]))
        assert off in ok, (u["name"], off, ok)
        # the data holds at least the recorded bytes (it may hold more:
        # the dead PATCH's unrecorded bytes, cut when the upload goes on)
        assert h.upload_size(u["id"]) >= off or off == TUS_SIZE, u["name"]
        u["offset"] = off
    assert first["offset"] == 0
    # the dead writer's lease still holds ...
    r = patch(s, first["url"], 0, first["data"][:1024])
    assert r.status_code == 423, (r.status_code, r.text)
    # ... until it expires: 60 s (LEASE_SECONDS, mod_pool/pool_tus.c;
    # test_cluster.py waits for the real expiry), moved on here with SQL as
    # test_tus.py does
    stack.psql("UPDATE uploads SET locked_until = now() - interval '1 second'"
               " WHERE id IN (%s) AND locked_until > now()"
               % ",".join("'%s'" % u["id"] for u in ups))
    for u in ups:
        off = u["offset"]
        fid = head(s, u["url"]).headers.get("Pool-File-Id")
        while off < TUS_SIZE:
            r = patch(s, u["url"], off, u["data"][off:off + 1024 * 1024])
            assert r.status_code == 204, (u["name"], r.status_code, r.text)
            off = int(r.headers["Upload-Offset"])
            fid = r.headers.get("Pool-File-Id")
        assert fid == u["id"], u["name"]
        r = s.get("%s/pool/v1/pools/%s/files/%s" % (h.base, pool, fid))
        assert r.status_code == 200, r.status_code
        assert sha(r.content) == sha(u["data"]), u["name"]
    rows = listing()
    assert sorted((f["name"], f["sha256"]) for f in rows.values()) == \
        sorted((u["name"], sha(u["data"])) for u in ups)
    assert_swept(stack, h, pool, rows)


# ---------------------------------------------------------------- results

GROUPS = 13
RESULT_SIZE = 512 * 1024
PROCESSORS = 3


def test_kill9_mid_result_puts(stack, pool, uploader, client_of, crash_host):
    """Processors returning results (PUT …/groups/{gid}/result) when the
    host dies: an acknowledged result is the group's, with its SHA-256;
    a group shows a result only whole (never the part of a body the crash
    cut); on the restarted host the same bytes again are 200 (a result
    whose answer was lost) and a group without a result takes one; every
    result is then published with the right bytes."""
    h = crash_host
    stack.poolctl_ok("pool", "set", pool, "window=1m", "lateness=1h")
    for k in range(GROUPS):     # one group per past minute, still open
        uploader.upload_ok("in%d.txt" % k, b"%d\n" % k, ts=str(window_ts(k + 1)))
    stack.poolctl_ok("run", "--once", "group")
    fast_forward(stack, pool)
    stack.poolctl_ok("run", "--once", "group", "trigger")
    proc = client_of(pool, "processor")
    gids = [g["id"] for g in groups(proc, "triggered")]
    assert len(gids) == GROUPS
    sent = {}                   # gid -> bytes sent
    acked = {}                  # gid -> sha256
    lock = threading.Lock()
    stop = threading.Event()

    def result_url(base, gid):
        return "%s/pool/v1/pools/%s/groups/%s/result?name=r.bin" % (base, pool, gid)

    def put(s, gid, gate=None, stall_at=0, timeout=20):
        data = os.urandom(RESULT_SIZE)
        with lock:
            sent[gid] = data
        r = s.put(result_url(h.base, gid), data=slow_body(data, gate, stall_at),
                  timeout=timeout)
        if r.status_code == 201:
            with lock:
                acked[gid] = sha(data)
        return r

    spool_before = h.spool()
    held = Stalled(lambda gate: put(stack.session(token=proc.token), gids[0],
                                    gate, 8 * PIECE, timeout=60))
    held.start()

    def put_loop(mine):
        s = stack.session(token=proc.token)
        for gid in mine:
            if stop.is_set():
                return
            try:
                put(s, gid)
            except Exception:
                return              # the crash: not acknowledged

    threads = []
    try:
        h.wait_spooling(spool_before, 1)
        threads = start_clients(put_loop, [(gids[1 + k::PROCESSORS],)
                                           for k in range(PROCESSORS)])
        assert wait_for(lambda: len(acked) >= 2, 60), "results did not get going"
        h.kill9()
    finally:
        stop_clients(stop, threads, [held])
    held.check()

    rows = {}                   # gid -> (result id, sha256)
    for line in stack.psql(
            "SELECT r.group_id, r.id, r.sha256 FROM results r JOIN pools p"
            " ON p.id = r.pool_id WHERE p.name = '%s'" % pool).split():
        gid, rid, digest = line.split("|")
        rows[gid] = (rid, digest)
    assert set(acked) <= set(rows), "acknowledged results lost"
    assert gids[0] not in rows
    for gid in gids:
        res = proc.s.get(stack.url("/pool/v1/pools/%s/groups/%s" % (pool, gid)))
        assert res.status_code == 200, res.text
        res = res.json().get("result")
        if gid not in rows:
            assert res is None, (gid, res)
            continue
        # whole, with the bytes sent (acknowledged or not), and stored
        assert res["sha256"] == rows[gid][1] == sha(sent[gid]), gid
        assert res["size"] == RESULT_SIZE
        assert sha(h.result_bytes(rows[gid][0])) == res["sha256"]
        if gid in acked:
            assert acked[gid] == res["sha256"]
    # nothing is published, in the feed or the /dav view
    r = proc.s.get(stack.url("/pool/v1/pools/%s/results" % pool))
    assert r.status_code == 200 and r.json()["results"] == [], r.text
    r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % pool),
                         headers={"Depth": "1"}, auth=stack.admin(pool), timeout=30)
    assert r.status_code == 207
    assert len(list(ET.fromstring(r.content).iter("{DAV:}href"))) == 1, r.text

    h.start()
    final = {}
    for gid in gids:
        data = sent.get(gid) or os.urandom(RESULT_SIZE)
        r = proc.s.put(result_url(h.base, gid), data=data)
        # a result there already: the same bytes are 200; else 201
        assert r.status_code == (200 if gid in rows else 201), (gid, r.status_code, r.text)
        assert r.json()["sha256"] == sha(data)
        final[gid] = sha(data)
    # published (by the host's poolctl: the results are in its storage)
    poolctl_on(stack, h, "run", "--once", "publish")
    r = proc.s.get("%s/pool/v1/pools/%s/results" % (h.base, pool),
                   params={"limit": 1000})
    assert r.status_code == 200, r.text
    feed = r.json()["results"]
    assert sorted((x["group"], x["sha256"]) for x in feed) == sorted(final.items())
    for x in feed:
        d = proc.s.get(h.base + x["url"])
        assert d.status_code == 200, (x, d.status_code)
        assert sha(d.content) == final[x["group"]]
    r = requests.request("PROPFIND", stack.url("/dav/%s/results/" % pool),
                         headers={"Depth": "1"}, auth=stack.admin(pool), timeout=30)
    assert r.status_code == 207
    assert len(list(ET.fromstring(r.content).iter("{DAV:}href"))) == GROUPS + 1
