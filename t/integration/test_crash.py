"""kill -9 of httpd in the middle of uploads (a host of its own, with its
own storage tree, sharing the stack's database and keys).  Afterwards:
every acknowledged upload is there with its SHA-256; nothing without a row
is visible through the API or the storage tree the /dav view shows; what
the crash left staged is reconciled by poolctl sweep (revealed when its row
committed, removed when not); the restarted host serves as before."""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from tus_helpers import SecondHost

UPLOADERS = 6
SIZE = 256 * 1024


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

    def kill9(self):
        """SIGKILL to the parent and every child, as a crash would."""
        out = subprocess.run(["pgrep", "-f", self.conf], stdout=subprocess.PIPE,
                             text=True).stdout.split()
        for pid in out:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 15
        while time.time() < deadline:
            if not subprocess.run(["pgrep", "-f", self.conf],
                                  stdout=subprocess.PIPE).stdout.strip():
                break
            time.sleep(0.1)
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        # the listening socket goes with the last process that held it
        deadline = time.time() + 30
        while time.time() < deadline:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
                break
            except OSError:
                time.sleep(0.2)
            finally:
                s.close()

    def revealed(self, pool):
        """Ids under the tree the read-only /dav Alias shows."""
        base = os.path.join(self.storage, pool, "files")
        out = set()
        for d, _, names in os.walk(base):
            out.update(names)
        return out


@pytest.fixture
def crash_host(stack):
    h = CrashHost(stack)
    h.start()
    try:
        yield h
    finally:
        h.stop()


def sweep(stack, host, pool):
    p = subprocess.run(
        [os.path.join(stack.env["POOL_ROOT"], "jobs", "poolctl"), "-c",
         host.pool_conf, "sweep", "--json", "--pool", pool, "--min-age", "0"],
        env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_kill9_mid_uploads(stack, pool, uploader, crash_host):
    h = crash_host
    url = "%s/pool/v1/pools/%s/files/" % (h.base, pool)
    acked = {}                  # id -> sha256 of what was sent
    lock = threading.Lock()
    stop = threading.Event()

    def body(data):
        # sent in pieces, so that the kill finds requests at every stage
        for i in range(0, len(data), 32 * 1024):
            yield data[i:i + 32 * 1024]
            time.sleep(0.005)

    def upload_loop(k):
        s = stack.session(token=uploader.token)
        n = 0
        while not stop.is_set():
            data = os.urandom(SIZE)
            try:
                r = s.put(url + "c%d-%d.bin" % (k, n),
                                   data=body(data), timeout=20)
            except Exception:
                continue            # the crash: not acknowledged
            if r.status_code == 201:
                with lock:
                    acked[r.json()["id"]] = hashlib.sha256(data).hexdigest()
            n += 1

    threads = [threading.Thread(target=upload_loop, args=(k,))
               for k in range(UPLOADERS)]
    for t in threads:
        t.start()
    # wait for the uploads themselves, not for a time
    deadline = time.time() + 60
    while len(acked) < 2 * UPLOADERS and time.time() < deadline:
        time.sleep(0.05)
    assert len(acked) >= 2 * UPLOADERS, "uploads did not get going"
    h.kill9()
    stop.set()
    for t in threads:
        t.join(30)

    rows = {f["id"]: f for f in stack.list_all(pool)}
    # nothing acknowledged is lost; every row has its bytes
    assert set(acked) <= set(rows)
    # nothing without a row is visible in the tree /dav shows
    assert h.revealed(pool) <= set(rows)

    rep = sweep(stack, h, pool)
    assert rep["missing"] == 0 and rep["lost_found"] == 0, rep
    assert rep["failures"] == 0, rep
    # after the sweep every row is revealed, nothing else is
    assert h.revealed(pool) == set(rows)
    staged = os.path.join(h.storage, ".staged", pool)
    assert not os.path.isdir(staged) or os.listdir(staged) == []

    h.start()
    for fid, digest in acked.items():
        r = uploader.s.get(url + fid)
        assert r.status_code == 200, (fid, r.status_code)
        assert hashlib.sha256(r.content).hexdigest() == digest
        assert rows[fid]["sha256"] == digest
    r = uploader.s.put(url + "after.bin", data=b"after the crash")
    assert r.status_code == 201, r.text
