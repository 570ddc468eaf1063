"""A full store, on both kinds of PoolStorage: a directory on a small
tmpfs, and a WebDAV server (scripts/stack.sh store_server_start: Apache
with mod_dav_fs) whose data directory is such a tmpfs; each used by a
second httpd that shares the stack's database and keys.  Every way bytes
enter answers 507 with a detail that says the store is full, stores nothing
(no row, no file, nothing staged, an empty spool), and the next upload that
fits works without a restart."""

import hashlib
import os
import re
import subprocess

import pytest

from conftest import assert_problem
from tus_helpers import (SecondHost, create_ok, patch, offset_of, metadata,
                         head)

SIZE = 2 * 1024 * 1024      # the tmpfs
BIG = 3 * 1024 * 1024       # more than it holds


def mount_tmpfs(path, like):
    """A SIZE tmpfs on path, owned as like is."""
    os.makedirs(path, exist_ok=True)
    st = os.stat(like)
    subprocess.run(["mount", "-t", "tmpfs", "-o",
                    "size=%d,mode=0750,uid=%d,gid=%d" % (SIZE, st.st_uid,
                                                        st.st_gid),
                    "tmpfs", path], check=True)


def regular_files(top):
    out = []
    for d, _, names in os.walk(top):
        out.extend(os.path.join(d, n) for n in names)
    return sorted(out)


class FullHost(SecondHost):
    """A second httpd whose PoolStorage is a 2 MB tmpfs."""

    def __init__(self, stack):
        super().__init__(stack, "full",
                         os.path.join(stack.var, "full-storage"))

    def mount(self):
        mount_tmpfs(self.storage, self.stack.storage)

    def unmount(self):
        subprocess.run(["umount", self.storage], check=False)

    def files(self):
        """Every regular file in the store (spool, staged, revealed)."""
        return regular_files(self.storage)

    def debris(self):
        return [f for f in self.files()
                if "/.spool/" in f or "/.staged/" in f]


class FullDavHost(SecondHost):
    """A second httpd on a WebDAV store whose disk is a 2 MB tmpfs."""

    def __init__(self, stack):
        self.store = os.path.join(stack.var, "store-full")
        super().__init__(stack, "fulldav", None,
                         os.path.join(self.store, "credentials"))

    def mount(self):
        mount_tmpfs(os.path.join(self.store, "data"), self.stack.var)
        self.stack.sh("store_server_start", self.store)
        with open(os.path.join(self.store, "url")) as f:
            self.storage = f.read().strip()

    def unmount(self):
        self.stack.sh("store_server_stop", self.store, check=False)
        subprocess.run(["umount", os.path.join(self.store, "data")],
                       check=False)

    def files(self):
        """Every regular file on the store server's disk."""
        return regular_files(os.path.join(self.store, "data"))

    def debris(self):
        return [f for f in self.files() if "/staging/" in f]


EXPECTED = re.compile(r"the store is full|HTTP 507")


@pytest.fixture(scope="module", params=["dir", "dav"])
def full(stack, request):
    h = FullHost(stack) if request.param == "dir" else FullDavHost(stack)
    h.mount()
    try:
        h.start()
        try:
            yield h
        finally:
            h.stop()
    finally:
        h.unmount()
    bad = [l for l in h.bad_log_lines() if not EXPECTED.search(l)]
    assert not bad, "unexpected lines in the error log:\n" + "\n".join(bad[:30])


def url(h, pool, rest):
    return "%s/pool/v1/pools/%s/%s" % (h.base, pool, rest)


def listing(s, h, pool):
    r = s.get(url(h, pool, "files"))
    assert r.status_code == 200
    return [f["id"] for f in r.json()["files"]]


def assert_full(r):
    assert_problem(r, 507)
    assert "store is full" in r.json()["detail"], r.json()


def test_put_larger_than_the_store(stack, full, pool, uploader):
    s = uploader.s
    before = listing(s, full, pool)
    r = s.put(url(full, pool, "files/big.bin"), data=b"x" * BIG)
    assert_full(r)
    assert listing(s, full, pool) == before
    assert full.files() == []
    # the space is back: a file that fits goes in, on the same server
    data = os.urandom(100 * 1024)
    r = s.put(url(full, pool, "files/fits.bin"), data=data)
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
    got = s.get(url(full, pool, "files/" + r.json()["id"]))
    assert got.content == data


def test_batch_larger_than_the_store(stack, full, pool, uploader):
    s = uploader.s
    before = listing(s, full, pool)
    files = [("files", ("a%d.bin" % i, b"y" * (800 * 1024),
                        "application/octet-stream")) for i in range(4)]
    r = s.post(url(full, pool, "files"), files=files)
    assert_full(r)
    assert listing(s, full, pool) == before
    assert full.debris() == []


def test_tus_patch_larger_than_the_store(stack, full, pool, uploader):
    s = uploader.s
    up, _ = create_ok(s, full.base, pool, BIG,
                      meta=metadata(filename="t.bin"))
    r = patch(s, up, 0, b"z" * (1024 * 1024))
    assert r.status_code == 204, r.text
    r = patch(s, up, 1024 * 1024, b"z" * (2 * 1024 * 1024))
    assert_full(r)
    # what did not fit was discarded; the upload resumes from its offset
    assert offset_of(s, up) == 1024 * 1024
    assert head(s, up).status_code == 200
    s.delete(up, headers={"Tus-Resumable": "1.0.0"})
