"""The WebDAV store (PoolStorage http(s)://..., docs/storage.md).

In every pass: `apache2 -t` probes a WebDAV PoolStorage and fails, naming
the reason, when the URL is not a WebDAV collection, cannot be reached or
refuses the credentials of PoolStorageCredentials (a real WebDAV server:
scripts/stack.sh store_server_start).  With POOL_TEST_STORE=dav (the stack
itself on the WebDAV store): what clients get while the store is down (503
with Retry-After, nothing stored) and that everything works again once it
is back."""

import hashlib
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import assert_problem, free_port

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def store_server(stack):
    """(url, credentials file, directory) of a running WebDAV server: the
    stack's own store with POOL_TEST_STORE=dav, else one for this module."""
    if stack.dav:
        yield stack.store_url, os.path.join(stack.store_dir, "credentials"), stack.store_dir
        return
    d = os.path.join(stack.var, "store-configtest")
    stack.sh("store_server_start", d)
    try:
        with open(os.path.join(d, "url")) as f:
            url = f.read().strip()
        yield url, os.path.join(d, "credentials"), d
    finally:
        stack.sh("store_server_stop", d, check=False)


def configtest(stack, tmp_path, storage, credentials):
    """apache2 -t on a copy of the stack's configuration with PoolStorage
    and PoolStorageCredentials replaced."""
    text = open(stack.conf).read()
    text = re.sub(r"^\s*PoolStorageCredentials .*$", "", text, flags=re.M)
    line = "PoolStorage %s" % storage
    if credentials:
        line += "\nPoolStorageCredentials %s" % credentials
    text, n = re.subn(r"^\s*PoolStorage .*$", line.replace("\\", "\\\\"), text,
                      flags=re.M)
    assert n == 1
    pool_conf = tmp_path / "httpd-pool.conf"
    pool_conf.write_text(text)
    main = open(stack.httpd_conf).read().replace(stack.conf, str(pool_conf))
    main_path = tmp_path / "httpd.conf"
    main_path.write_text(main)
    return subprocess.run([APACHE2, "-f", str(main_path), "-t"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)


def test_configtest_accepts_a_webdav_store(stack, store_server, tmp_path):
    url, creds, _ = store_server
    p = configtest(stack, tmp_path, url, creds)
    assert p.returncode == 0, p.stdout
    assert "Syntax OK" in p.stdout


def test_configtest_refuses_what_is_not_webdav(stack, store_server, tmp_path):
    url, creds, _ = store_server
    plain = url.replace("/store/", "/plain/")
    p = configtest(stack, tmp_path, plain, creds)
    assert p.returncode != 0, p.stdout
    assert "PoolStorage URL is not a WebDAV collection: %s" % plain in p.stdout, p.stdout


def test_configtest_refuses_an_unreachable_store(stack, store_server, tmp_path):
    _, creds, _ = store_server
    p = configtest(stack, tmp_path, "http://127.0.0.1:9/store/", creds)
    assert p.returncode != 0, p.stdout
    assert "cannot reach the WebDAV store http://127.0.0.1:9/store/" in p.stdout, p.stdout


def test_configtest_refuses_bad_credentials(stack, store_server, tmp_path):
    url, _, _ = store_server
    wrong = tmp_path / "wrong.pw"
    wrong.write_text("pool-store:wrong-password\n")
    p = configtest(stack, tmp_path, url, str(wrong))
    assert p.returncode != 0, p.stdout
    assert "PoolStorageCredentials" in p.stdout and "401" in p.stdout, p.stdout
    p = configtest(stack, tmp_path, url, str(tmp_path / "missing.pw"))
    assert p.returncode != 0, p.stdout
    assert re.search(r"PoolStorageCredentials .*missing\.pw: cannot read it", p.stdout), p.stdout
    malformed = tmp_path / "malformed.pw"
    malformed.write_text("no colon here\n")
    p = configtest(stack, tmp_path, url, str(malformed))
    assert p.returncode != 0, p.stdout
    assert "user:password" in p.stdout, p.stdout


def test_credentials_need_a_webdav_store(stack, store_server, tmp_path):
    _, creds, _ = store_server
    p = configtest(stack, tmp_path, stack.storage, creds)
    assert p.returncode != 0, p.stdout
    assert "PoolStorageCredentials is only for a WebDAV store" in p.stdout, p.stdout


class SecondHttpd:
    """An httpd of its own (port, run/ and log/ directories) on a copy of
    the stack's configuration with another PoolStorage."""

    def __init__(self, stack, tmp_path, storage, credentials):
        self.stack = stack
        self.port = free_port()
        self.dir = tmp_path
        self.conf = str(tmp_path / "httpd.conf")
        self.pid_file = str(tmp_path / "httpd.pid")
        self.error_log = str(tmp_path / "error_log")
        pool = open(stack.conf).read()
        pool = re.sub(r"^\s*PoolStorageCredentials .*$", "", pool, flags=re.M)
        pool, n = re.subn(r"^\s*PoolStorage .*$", "PoolStorage %s\nPoolStorageCredentials %s"
                          % (storage, credentials), pool, flags=re.M)
        assert n == 1
        (tmp_path / "httpd-pool.conf").write_text(pool)
        main = open(stack.httpd_conf).read()
        var = stack.var
        for a, b in (("Listen 127.0.0.1:%d" % stack.port, "Listen 127.0.0.1:%d" % self.port),
                     ("PidFile %s/run/httpd.pid" % var, "PidFile %s" % self.pid_file),
                     ("DefaultRuntimeDir %s/run" % var, "DefaultRuntimeDir %s" % tmp_path),
                     ("Mutex file:%s/run default" % var, "Mutex file:%s default" % tmp_path),
                     ("ErrorLog %s/log/error_log" % var, "ErrorLog %s" % self.error_log),
                     ("CustomLog %s/log/access_log" % var, "CustomLog %s/access_log" % tmp_path),
                     ("Include %s" % stack.conf, "Include %s/httpd-pool.conf" % tmp_path)):
            assert a in main, a
            main = main.replace(a, b)
        (tmp_path / "httpd.conf").write_text(main)
        os.chmod(str(tmp_path), 0o755)

    def ctl(self, what):
        return subprocess.run([APACHE2, "-f", self.conf, "-k", what], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)

    def pid(self):
        try:
            pid = int(open(self.pid_file).read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def wait_gone(self, pid):
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            time.sleep(0.1)
        return False


@pytest.fixture
def own_store(stack, tmp_path):
    """A WebDAV server for one test (it may be stopped): (dir, url, creds)."""
    d = os.path.join(stack.var, "store-" + uuid.uuid4().hex[:8])
    stack.sh("store_server_start", d)
    with open(os.path.join(d, "url")) as f:
        url = f.read().strip()
    try:
        yield d, url, os.path.join(d, "credentials")
    finally:
        stack.sh("store_server_stop", d, check=False)


def test_start_needs_the_store_and_stop_does_not(stack, own_store, tmp_path):
    """A start fails, saying why, while the store is down; once started, a
    store outage neither stops a graceful restart (a warning) nor
    `apache2 -k stop`."""
    d, url, creds = own_store
    port = open(os.path.join(d, "port")).read().strip()
    h = SecondHttpd(stack, tmp_path, url, creds)
    try:
        p = h.ctl("start")
        assert p.returncode == 0, p.stdout + open(h.error_log).read()[-2000:]
        deadline = time.time() + 15
        while not h.pid() and time.time() < deadline:
            time.sleep(0.1)
        pid = h.pid()
        assert pid
        stack.sh("store_server_stop", d)
        p = h.ctl("graceful")
        assert p.returncode == 0, p.stdout
        deadline = time.time() + 15
        while time.time() < deadline and "starting all the same" not in open(h.error_log).read():
            time.sleep(0.2)
        assert "cannot reach the WebDAV store" in open(h.error_log).read()
        assert h.pid() == pid
        p = h.ctl("stop")
        assert p.returncode == 0, p.stdout
        assert h.wait_gone(pid)
        # down: a start fails and says why (in the error log, which httpd
        # has opened by then)
        p = h.ctl("start")
        assert p.returncode != 0
        log = open(h.error_log).read()
        assert re.search(r"\[pool:emerg\].*PoolStorage: cannot reach the WebDAV store %s"
                         % re.escape(url), log), log[-2000:]
        assert not h.pid()
        # back
        stack.sh("store_server_start", d, port)
        p = h.ctl("start")
        assert p.returncode == 0, p.stdout
        deadline = time.time() + 15
        while not h.pid() and time.time() < deadline:
            time.sleep(0.1)
        assert h.pid()
    finally:
        pid = h.pid()
        h.ctl("stop")
        if pid:
            h.wait_gone(pid)


# ---------------------------------------------------------------- the stack on the store

dav_only = pytest.mark.skipif(not os.environ.get("POOL_TEST_STORE") == "dav",
                              reason="the stack runs on the WebDAV store only "
                                     "with POOL_TEST_STORE=dav")


class StoreDown:
    """Stops the stack's WebDAV server for the with-block, then starts it
    again on the same port with the same data."""

    def __init__(self, stack):
        self.stack = stack

    def __enter__(self):
        self.stack.sh("store_server_stop", self.stack.store_dir)
        return self

    def __exit__(self, *exc):
        with open(os.path.join(self.stack.store_dir, "port")) as f:
            port = f.read().strip()
        self.stack.sh("store_server_start", self.stack.store_dir, port)
        return False


@dav_only
def test_store_down_is_503_with_retry_after(stack, uploader, allow_errors):
    allow_errors(r"cannot write to the spool", r"WebDAV store",
                 r"cannot (store|stage|write|open|make)", r"store is unavailable",
                 r"upload .*: cannot")
    data = os.urandom(300 * 1000)
    ok = uploader.upload_ok("kept.bin", data)
    before = stack.snapshot(uploader.pool)
    with StoreDown(stack):
        # small (the PUT to the store starts at the end) and large (it
        # starts while the body arrives)
        for size in (1000, 1000 * 1000):
            r = uploader.upload("x.bin", os.urandom(size))
            j = assert_problem(r, 503)
            assert int(r.headers["Retry-After"]) > 0
            assert "unavailable" in j["detail"]
        # a download
        r = uploader.get("/" + ok["id"])
        assert_problem(r, 503)
        assert int(r.headers["Retry-After"]) > 0
        # a tus PATCH
        r = uploader.s.post(stack.url("/pool/v1/pools/%s/uploads" % uploader.pool),
                            headers=dict(TUS, **{"Upload-Length": "10"}))
        if r.status_code == 201:
            url = stack.base + r.headers["Location"] if r.headers["Location"].startswith("/") \
                else r.headers["Location"]
            r = uploader.s.patch(url, data=b"0123456789", headers=dict(
                TUS, **{"Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream"}))
        assert_problem(r, 503)
    # back: everything as before, and it works again
    assert stack.snapshot(uploader.pool)["ids"] == before["ids"]
    assert uploader.get("/" + ok["id"]).content == data
    j = uploader.upload_ok("again.bin", b"again")
    assert j["sha256"] == hashlib.sha256(b"again").hexdigest()
    assert stack.spool_entries() == []


@dav_only
def test_files_are_on_the_store(stack, uploader):
    """The bytes are the store's, by id: another node (here: the store's own
    server) sees them."""
    data = os.urandom(5000)
    j = uploader.upload_ok("seen.bin", data)
    r = stack.dav_request("GET", "objects/%s/%s/%s" % (uploader.pool, j["id"][:2], j["id"]))
    assert r.status_code == 200 and r.content == data
    # and nothing of it under the local directory the sample /dav Alias shows
    assert not os.path.exists(os.path.join(stack.storage, uploader.pool))


@dav_only
def test_poolctl_sweep_on_the_store(stack, uploader):
    uploader.upload_ok("a.bin", b"a")
    p = stack.poolctl("sweep", "--json")
    assert p.returncode == 0, p.stderr
    assert stack.spool_entries() == []


@dav_only
def test_many_parallel_uploads(stack, uploader):
    """Threads of the httpd children share the store's connections."""
    import concurrent.futures
    blobs = [os.urandom(100 * 1000 + i) for i in range(16)]

    def put(i):
        s = stack.session(token=uploader.token)
        r = stack.upload(s, uploader.pool, "par-%d.bin" % i, blobs[i])
        assert r.status_code == 201, r.text
        return r.json()["id"], i

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        done = list(ex.map(put, range(len(blobs))))
    for fid, i in done:
        assert uploader.get("/" + fid).content == blobs[i]
