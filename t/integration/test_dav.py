"""The WebDAV view (/dav/{pool}/...): mod_dav_fs behind the pool auth
providers, driven by real clients (curl, cadaver)."""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import unique

# mod_authz_core logs every refusal at [error] (AH01630 before, AH01631 after
# a login); mod_auth_basic logs failed logins (AH01617 wrong password, AH01618
# unknown user, AH01614 another scheme than Basic).
DENIED = r"AH0163[01]|client denied by server configuration|authorization failure"
BAD_LOGIN = r"AH0161[478]|authentication failure|not found|wrong authentication scheme"


def curl(*args, user=None):
    """Runs curl; returns (status, body bytes)."""
    cmd = ["curl", "-s", "-S", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"]
    if user:
        cmd += ["-u", "%s:%s" % user]
    p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


@pytest.fixture
def dav_pool(stack, client_of):
    """A pool with one stored file; returns (pool, uploader, file json, data)."""
    pool = stack.create_pool(unique("dav"))
    up = client_of(pool, "uploader")
    data = os.urandom(3000)
    f = up.upload_ok("dav-file.bin", data)
    return pool, up, f, data


def dav_url(stack, path):
    return stack.url("/dav/" + path)


def propfind(stack, path, user=None, depth="1"):
    return curl("-X", "PROPFIND", "-H", "Depth: " + depth, dav_url(stack, path), user=user)


def test_propfind_own_pool(stack, dav_pool):
    pool, up, f, _ = dav_pool
    user = (up.client_id, up.secret)
    code, body = propfind(stack, pool + "/", user)
    assert code == 207, body[:500]
    assert b"multistatus" in body
    assert ("/dav/%s/files/" % pool).encode() in body
    code, body = propfind(stack, "%s/files/%s/" % (pool, f["id"][:2]), user)
    assert code == 207, body[:500]
    assert f["id"].encode() in body


def test_get_stored_file(stack, dav_pool):
    pool, up, f, data = dav_pool
    code, body = curl(dav_url(stack, "%s/files/%s/%s" % (pool, f["id"][:2], f["id"])),
                      user=(up.client_id, up.secret))
    assert code == 200
    assert body == data


def test_every_role_may_read(stack, dav_pool, client_of):
    pool, _, f, data = dav_pool
    for role in ("listener", "processor", "admin"):
        c = client_of(pool, role)
        code, body = curl(dav_url(stack, "%s/files/%s/%s" % (pool, f["id"][:2], f["id"])),
                          user=(c.client_id, c.secret))
        assert (role, code) == (role, 200)
        assert body == data


def test_other_pool_is_403(stack, dav_pool, client_of, allow_errors):
    allow_errors(DENIED)
    pool, up, f, _ = dav_pool
    other = client_of(stack.create_pool(unique("davother")), "admin")
    user = (other.client_id, other.secret)
    code, body = propfind(stack, pool + "/", user)
    assert code == 403
    assert f["id"].encode() not in body
    code, body = curl(dav_url(stack, "%s/files/%s/%s" % (pool, f["id"][:2], f["id"])), user=user)
    assert code == 403
    assert f["id"].encode() not in body


def test_dav_root_lists_no_pools(stack, dav_pool, allow_errors):
    allow_errors(DENIED)
    pool, up, _, _ = dav_pool
    for path in ("", ".spool/"):
        code, body = propfind(stack, path, (up.client_id, up.secret))
        assert code in (401, 403), (path, code)
        assert pool.encode() not in body


def test_no_credentials_is_401(stack, dav_pool):
    pool, _, f, _ = dav_pool
    code, body = propfind(stack, pool + "/")
    assert code == 401
    code, body = curl(dav_url(stack, "%s/files/%s/%s" % (pool, f["id"][:2], f["id"])))
    assert code == 401


def test_wrong_password_is_401(stack, dav_pool, allow_errors):
    allow_errors(BAD_LOGIN, r"\[auth_basic:error\]")
    pool, up, _, _ = dav_pool
    code, _ = propfind(stack, pool + "/", (up.client_id, up.secret + "x"))
    assert code == 401
    code, _ = propfind(stack, pool + "/", ("cl_" + "0" * 24, "whatever"))
    assert code == 401


def test_bearer_token_is_not_a_dav_login(stack, dav_pool, allow_errors):
    allow_errors(BAD_LOGIN)
    pool, up, _, _ = dav_pool
    code, _ = curl("-X", "PROPFIND", "-H", "Depth: 0", "-H", "Authorization: Bearer " + up.token,
                   dav_url(stack, pool + "/"))
    assert code == 401


@pytest.mark.parametrize("method,extra", [
    ("PUT", ["--data-binary", "overwrite"]),
    ("DELETE", []),
    ("MKCOL", []),
    ("PROPPATCH", ["--data-binary", "<x/>"]),
    ("MOVE", ["-H", "Destination: /dav/elsewhere"]),
    ("COPY", ["-H", "Destination: /dav/x/copy"]),
    ("LOCK", ["--data-binary", "<x/>"]),
])
def test_writes_are_refused(stack, dav_pool, allow_errors, method, extra):
    allow_errors(DENIED)
    pool, up, f, data = dav_pool
    before = stack.snapshot(pool)
    target = "%s/files/%s/%s" % (pool, f["id"][:2], f["id"])
    code, _ = curl("-X", method, *extra, dav_url(stack, target), user=(up.client_id, up.secret))
    assert code == 403, (method, code)
    code, _ = curl("-X", method, *extra, dav_url(stack, pool + "/newthing"),
                   user=(up.client_id, up.secret))
    assert code == 403, (method, code)
    after = stack.snapshot(pool)
    assert after == before
    with open(os.path.join(stack.storage, pool, "files", f["id"][:2], f["id"]), "rb") as fh:
        assert fh.read() == data
    assert not os.path.exists(os.path.join(stack.storage, pool, "newthing"))


@pytest.mark.skipif(not shutil.which("cadaver"), reason="cadaver is not installed")
def test_cadaver(stack, dav_pool):
    pool, up, f, data = dav_pool
    home = tempfile.mkdtemp()
    try:
        with open(os.path.join(home, ".netrc"), "w") as fh:
            fh.write("machine 127.0.0.1\nlogin %s\npassword %s\n" % (up.client_id, up.secret))
        os.chmod(os.path.join(home, ".netrc"), 0o600)
        script = "ls\ncd files/%s\nls\nget %s got.bin\nquit\n" % (f["id"][:2], f["id"])
        p = subprocess.run(["cadaver", dav_url(stack, pool + "/")], input=script.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=home,
                           env=dict(os.environ, HOME=home), timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, out
        assert "files" in out, out
        assert f["id"] in out, out
        assert "succeeded" in out, out
        with open(os.path.join(home, "got.bin"), "rb") as fh:
            assert fh.read() == data
    finally:
        shutil.rmtree(home, ignore_errors=True)
