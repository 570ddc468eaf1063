"""Helpers for the tus tests (test_tus.py, test_tus_interop.py).

`second_host` starts a second httpd with the module (its own port, pid file,
logs and runtime directory) that shares the test stack's PostgreSQL, storage
tree and token keys: another "host" of the same deployment.  It differs in
PoolMaxFileSize (64M, room for the 20+ MB interop uploads), PoolCORSOrigins
and PoolUploadExpiry, and its error log is checked like the main one.
"""

import base64
import os
import re
import socket
import subprocess
import time
from urllib.parse import urljoin

import pytest

from conftest import BAD_LOG_RE, free_port

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_CT = "application/offset+octet-stream"
SECOND_MAX = 64 * 1024 * 1024
SECOND_EXPIRY = 7200
CORS_ORIGINS = ("http://app.example", "https://other.example:8443")


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def metadata(**kw):
    """Upload-Metadata from keyword arguments (None: key without value)."""
    out = []
    for k, v in kw.items():
        k = k.replace("_", "-")
        out.append(k if v is None else "%s %s" % (k, b64(v)))
    return ",".join(out)


def uploads_url(base, pool, rest=""):
    return "%s/pool/v1/pools/%s/uploads%s" % (base, pool, rest)


def absolute(base, location):
    return urljoin(base + "/", location)


def create(session, base, pool, length=None, meta=None, headers=None,
           data=None, defer=False):
    h = dict(TUS)
    if length is not None:
        h["Upload-Length"] = str(length)
    if defer:
        h["Upload-Defer-Length"] = "1"
    if meta is not None:
        h["Upload-Metadata"] = meta
    if data is not None:
        h["Content-Type"] = OFFSET_CT
    h.update(headers or {})
    return session.post(uploads_url(base, pool), headers=h, data=data)


def create_ok(session, base, pool, length=None, **kw):
    r = create(session, base, pool, length, **kw)
    assert r.status_code == 201, (r.status_code, r.headers, r.text[:500])
    return absolute(base, r.headers["Location"]), r


def patch(session, url, offset, data, headers=None):
    h = dict(TUS)
    h["Upload-Offset"] = str(offset)
    h["Content-Type"] = OFFSET_CT
    h.update(headers or {})
    return session.patch(url, headers=h, data=data)


def head(session, url, headers=None):
    h = dict(TUS)
    h.update(headers or {})
    return session.head(url, headers=h)


def offset_of(session, url):
    r = head(session, url)
    assert r.status_code == 200, (r.status_code, r.headers)
    return int(r.headers["Upload-Offset"])


class SecondHost:
    """tag names its own directories (another host beside this one); with
    storage, its PoolStorage is that directory (or WebDAV URL, with the
    PoolStorageCredentials file credentials) instead of the stack's."""

    def __init__(self, stack, tag=None, storage=None, credentials=None):
        self.stack = stack
        self.credentials = credentials
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        var = stack.var
        self.storage = storage
        sfx = "-" + tag if tag else "2"
        self.run = os.path.join(var, "run" + sfx)
        self.logdir = os.path.join(var, "log" + sfx)
        self.error_log = os.path.join(self.logdir, "error_log")
        self.conf = os.path.join(var, "httpd%s.conf" % sfx)
        self.pool_conf = os.path.join(var, "httpd-pool-%s.conf" % (tag or "2"))
        self.pid_file = os.path.join(self.run, "httpd.pid")

    def render(self):
        var = self.stack.var
        os.makedirs(self.run, exist_ok=True)
        os.makedirs(self.logdir, exist_ok=True)
        pool = open(self.stack.conf).read()
        pool, n = re.subn(r"^(\s*)PoolMaxFileSize\s.*$",
                          r"\1PoolMaxFileSize 64M", pool, flags=re.M)
        assert n == 1
        pool += "\nPoolCORSOrigins %s\nPoolUploadExpiry %d\n" % (
            " ".join(CORS_ORIGINS), SECOND_EXPIRY)
        if self.storage:
            pool = re.sub(r"^\s*PoolStorageCredentials\s.*$", "", pool,
                          flags=re.M)
            line = "PoolStorage %s" % self.storage
            if self.credentials:
                line += "\nPoolStorageCredentials %s" % self.credentials
            pool, n = re.subn(r"^(\s*)PoolStorage\s.*$",
                              lambda m: m.group(1) + line, pool, flags=re.M)
            assert n == 1
        with open(self.pool_conf, "w") as f:
            f.write(pool)
        main = open(self.stack.httpd_conf).read()
        repl = [
            ("Listen 127.0.0.1:%d" % self.stack.port, "Listen 127.0.0.1:%d" % self.port),
            ("PidFile %s/run/httpd.pid" % var, "PidFile %s" % self.pid_file),
            ("DefaultRuntimeDir %s/run" % var, "DefaultRuntimeDir %s" % self.run),
            ("Mutex file:%s/run default" % var, "Mutex file:%s default" % self.run),
            ("ErrorLog %s/log/error_log" % var, "ErrorLog %s" % self.error_log),
            ("CustomLog %s/log/access_log" % var,
             "CustomLog %s/access_log" % self.logdir),
            ("Include %s" % self.stack.conf, "Include %s" % self.pool_conf),
        ]
        for a, b in repl:
            assert a in main, a
            main = main.replace(a, b)
        with open(self.conf, "w") as f:
            f.write(main)

    def start(self):
        self.render()
        p = subprocess.run([APACHE2, "-f", self.conf, "-k", "start"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stdout
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the second httpd did not come up:\n" +
                             open(self.error_log).read()[-3000:])

    def stop(self):
        try:
            pid = int(open(self.pid_file).read().strip())
        except (OSError, ValueError):
            pid = None
        subprocess.run([APACHE2, "-f", self.conf, "-k", "stop"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
        deadline = time.time() + 15
        while pid and time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)

    def bad_log_lines(self):
        try:
            text = open(self.error_log, "rb").read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [l for l in text.splitlines() if BAD_LOG_RE.search(l)]


@pytest.fixture(scope="module")
def second_host(stack):
    h = SecondHost(stack)
    h.start()
    try:
        yield h
    finally:
        h.stop()
    bad = h.bad_log_lines()
    assert not bad, "unexpected lines in the second httpd's error log:\n" + \
        "\n".join(bad[:30])
