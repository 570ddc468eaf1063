"""poolctl: the sysadmin CLI, reading the same httpd-pool.conf (-c FILE)."""

import json
import os
import re
import stat

import pytest

from conftest import POOLCTL, jwt_parts, unique

ROLES = ("uploader", "listener", "processor", "admin")


def items(j, key):
    """A listing as a list, whether printed as [..] or {"<key>": [..]}."""
    if isinstance(j, dict):
        j = j[key]
    assert isinstance(j, list), j
    return j


def assert_fails(p, code=None, mentions=()):
    assert p.returncode != 0, "expected failure, got 0: %s" % p.stdout
    if code is not None:
        assert p.returncode == code, (p.returncode, p.stderr)
    assert p.stderr.strip(), "an error must be explained on stderr"
    for m in mentions:
        assert m.lower() in p.stderr.lower(), (m, p.stderr)


def test_migrate_is_idempotent(stack):
    for _ in range(2):
        p = stack.poolctl("migrate")
        assert p.returncode == 0, p.stderr


def test_pool_create_list_show(stack):
    name = unique("pc")
    p = stack.poolctl("pool", "create", name)
    assert p.returncode == 0, p.stderr

    p = stack.poolctl("pool", "list")
    assert p.returncode == 0, p.stderr
    assert name in p.stdout

    p = stack.poolctl("pool", "list", "--json")
    assert p.returncode == 0, p.stderr
    names = [x["name"] for x in items(json.loads(p.stdout), "pools")]
    assert name in names

    p = stack.poolctl("pool", "show", name)
    assert p.returncode == 0, p.stderr
    assert name in p.stdout

    p = stack.poolctl("pool", "show", name, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["name"] == name


def test_pool_create_duplicate_fails(stack):
    name = stack.create_pool(unique("dup"))
    assert_fails(stack.poolctl("pool", "create", name), code=1)


@pytest.mark.parametrize("bad", ["Upper", "has space", "-dash-first", "a/b", "x" * 64, ""])
def test_pool_create_bad_name_fails(stack, bad):
    p = stack.poolctl("pool", "create", bad)
    assert_fails(p)
    p = stack.poolctl("pool", "list", "--json")
    assert bad not in [x["name"] for x in items(json.loads(p.stdout), "pools")]


def test_pool_show_unknown_fails(stack):
    assert_fails(stack.poolctl("pool", "show", unique("nosuch")), code=1)


def test_client_add_json(stack):
    pool = stack.create_pool(unique("ca"))
    seen = set()
    for role in ROLES:
        p = stack.poolctl("client", "add", pool, "app-" + role, "--role", role, "--json")
        assert p.returncode == 0, p.stderr
        j = json.loads(p.stdout)
        assert j["pool"] == pool
        assert j["name"] == "app-" + role
        assert j["role"] == role
        assert j["client_id"] and j["client_id"] not in seen
        assert len(j["secret"]) >= 16
        seen.add(j["client_id"])


def test_client_add_text_prints_id_and_secret(stack):
    pool = stack.create_pool(unique("cat"))
    p = stack.poolctl("client", "add", pool, "plain", "--role", "uploader")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.split()) >= 2
    # the printed credentials work
    listed = items(json.loads(stack.poolctl("client", "list", pool, "--json").stdout), "clients")
    cid = listed[0]["client_id"]
    assert cid in p.stdout
    secret = [w for w in re.split(r"[\s:=]+", p.stdout) if w and w != cid and len(w) >= 16]
    assert any(stack.token_response(cid, s).status_code == 200 for s in secret), p.stdout


def test_client_add_bad_role_fails(stack):
    pool = stack.create_pool(unique("cr"))
    assert_fails(stack.poolctl("client", "add", pool, "x", "--role", "superuser"),
                 mentions=["role"])
    listed = items(json.loads(stack.poolctl("client", "list", pool, "--json").stdout), "clients")
    assert listed == []


def test_client_add_unknown_pool_fails(stack):
    assert_fails(stack.poolctl("client", "add", unique("nosuch"), "x", "--role", "uploader"),
                 code=1)


def test_client_list(stack):
    pool = stack.create_pool(unique("cl"))
    cid, secret = stack.make_client(pool, "listener")
    p = stack.poolctl("client", "list", pool)
    assert p.returncode == 0, p.stderr
    assert cid in p.stdout
    assert secret not in p.stdout
    p = stack.poolctl("client", "list", pool, "--json")
    assert p.returncode == 0, p.stderr
    assert secret not in p.stdout
    listed = items(json.loads(p.stdout), "clients")
    assert [c["client_id"] for c in listed] == [cid]
    assert listed[0]["role"] == "listener"
    assert "secret" not in listed[0]


def test_client_list_unknown_pool_fails(stack):
    assert_fails(stack.poolctl("client", "list", unique("nosuch")), code=1)


def test_secret_is_not_stored_in_clear(stack):
    pool = stack.create_pool(unique("hash"))
    cid, secret = stack.make_client(pool, "uploader")
    dump = stack.pg_dump()
    assert cid in dump
    assert secret not in dump


def test_client_disable(stack):
    pool = stack.create_pool(unique("dis"))
    cid, secret = stack.make_client(pool, "uploader")
    assert stack.token_response(cid, secret).status_code == 200
    p = stack.poolctl("client", "disable", cid)
    assert p.returncode == 0, p.stderr
    r = stack.token_response(cid, secret)
    assert r.status_code == 401
    assert r.json().get("error") == "invalid_client"
    # HTTP Basic on the API is refused too
    s = stack.session(basic=(cid, secret))
    assert s.get(stack.files_url(pool)).status_code == 401
    listed = items(json.loads(stack.poolctl("client", "list", pool, "--json").stdout), "clients")
    assert listed[0]["client_id"] == cid


def test_client_token(stack):
    """poolctl client token: a token the API takes, as the token endpoint
    would make it, for an enabled client only."""
    pool = stack.create_pool(unique("tok"))
    cid, _ = stack.make_client(pool, "listener")
    p = stack.poolctl_ok("client", "token", cid)
    tok = p.stdout.strip()
    assert "\n" not in tok and tok.count(".") == 2
    claims = jwt_parts(tok)[1]
    assert claims["sub"] == claims["client_id"] == cid
    assert claims["pool"] == pool and claims["role"] == "listener"
    assert stack.session(token=tok).get(stack.files_url(pool)).status_code == 200
    j = json.loads(stack.poolctl_ok("client", "token", cid, "--json").stdout)
    assert j["token_type"] == "Bearer" and j["expires_in"] > 0
    assert j["client_id"] == cid and j["pool"] == pool and j["role"] == "listener"
    assert stack.session(token=j["access_token"]).get(stack.files_url(pool)).status_code == 200
    # unknown, malformed, disabled
    p = stack.poolctl("client", "token", "cl_" + "0" * 24)
    assert p.returncode == 1 and "not found" in p.stderr and not p.stdout
    assert stack.poolctl("client", "token", "nope").returncode == 2
    stack.poolctl_ok("client", "disable", cid)
    p = stack.poolctl("client", "token", cid)
    assert p.returncode == 1 and "disabled" in p.stderr and not p.stdout


def test_run_says_what_it_did(stack):
    """poolctl run --once names what each step did; with nothing to do it
    is quiet unless -v (cron mails what it prints), then each step says
    so."""
    p = stack.poolctl_ok("run", "--once", "expire")
    assert "nothing to do" not in p.stderr        # not a terminal: quiet
    p = stack.poolctl_ok("-v", "run", "--once", "expire", "fetch")
    assert "expire: nothing to do" in p.stderr, p.stderr
    assert "fetch: nothing to do" in p.stderr, p.stderr


def test_client_disable_unknown_fails(stack):
    assert_fails(stack.poolctl("client", "disable", "cl_" + "0" * 24), code=1)


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["pool"],
    ["pool", "create"],
    ["pool", "explode", "x"],
    ["client", "add", "somepool", "name"],          # no --role
    ["client", "add", "somepool"],
    ["pool", "list", "--no-such-option"],
])
def test_usage_errors_exit_2(stack, args):
    assert_fails(stack.poolctl(*args), code=2)


def test_missing_config_file_fails(stack):
    p = stack.poolctl("-c", "/nonexistent/httpd-pool.conf", "pool", "list", conf=False)
    assert_fails(p, mentions=["/nonexistent/httpd-pool.conf"])


def test_config_without_database_fails(stack, tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("# nothing here\nPoolStorage /tmp\n")
    p = stack.poolctl("-c", str(conf), "pool", "list", conf=False)
    assert_fails(p, mentions=["PoolDatabase"])


def test_key_generate(stack, tmp_path):
    f = str(tmp_path / "keys")
    p = stack.poolctl("key", "generate", f, conf=False)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    lines = open(f).read().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64} [A-Za-z0-9_-]{43,}", lines[0]), lines[0]
    p = stack.poolctl("key", "generate", f, conf=False)
    assert p.returncode == 0, p.stderr
    lines = open(f).read().splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] != lines[1].split()[0]
    assert lines[0].split()[1] != lines[1].split()[1]


def test_key_generate_unwritable_fails(stack):
    assert_fails(stack.poolctl("key", "generate", "/nonexistent/dir/keys", conf=False), code=1)


def test_poolctl_binary_is_built():
    assert os.access(POOLCTL, os.X_OK)
