"""pool-processor tells a newcomer what happened: a pass with nothing to do
says so (at a terminal, or with -v), and a client of the wrong role or
pool, or an --api that is not the API's root, is an error naming it, with
exit status 1."""

import os
import subprocess

import pytest

from conftest import ROOT, unique

AGENT = os.path.join(ROOT, "jobs", "pool-processor")


def run(stack, pool, cid, secret, *extra, api=None, tty=False, tmp):
    args = [AGENT, "--api", api or stack.url("/pool"), "--pool", pool,
            "--client-id", cid, "--workdir", str(tmp), "--once"] + list(extra) \
        + ["--", "/bin/cat"]
    env = dict(os.environ, POOL_CLIENT_SECRET=secret)
    if tty:
        # script(1) gives the agent a terminal for stderr, as a person has
        args = ["script", "-qec", " ".join("'%s'" % a for a in args), "/dev/null"]
    return subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, timeout=60)


@pytest.fixture
def proc_pool(stack):
    pool = stack.create_pool(unique("pm"))
    return pool, stack.make_client(pool, "processor")


def test_nothing_to_do_is_said(stack, proc_pool, tmp_path):
    pool, (cid, secret) = proc_pool
    p = run(stack, pool, cid, secret, tty=True, tmp=tmp_path)
    out = p.stdout + p.stderr        # script(1) merges the terminal's output
    assert p.returncode == 0, out
    assert "nothing to do: no triggered group in pool %s" % pool in out, out
    # no terminal (cron): quiet, unless -v
    p = run(stack, pool, cid, secret, tmp=tmp_path)
    assert p.returncode == 0 and "nothing to do" not in p.stderr, p.stderr
    p = run(stack, pool, cid, secret, "-v", tmp=tmp_path)
    assert p.returncode == 0 and "nothing to do" in p.stderr, p.stderr


def test_wrong_role_is_an_error_naming_it(stack, proc_pool, tmp_path):
    pool, _ = proc_pool
    cid, secret = stack.make_client(pool, "uploader")
    p = run(stack, pool, cid, secret, tmp=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "has the role 'uploader'" in p.stderr and "processor role" in p.stderr, p.stderr


def test_wrong_pool_is_an_error_naming_it(stack, proc_pool, tmp_path):
    pool, (cid, secret) = proc_pool
    other = stack.create_pool(unique("pm"))
    p = run(stack, other, cid, secret, tmp=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "belongs to pool '%s', not to '%s'" % (pool, other) in p.stderr, p.stderr


def test_api_without_the_mount_point_is_explained(stack, proc_pool, tmp_path, allow_errors):
    allow_errors(r"client denied by server configuration")   # httpd's own 403
    pool, (cid, secret) = proc_pool
    p = run(stack, pool, cid, secret, api=stack.url(""), tmp=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "not a mod_pool token endpoint" in p.stderr, p.stderr
    assert "--api must be the API's root" in p.stderr, p.stderr
    # a wrong secret stays the server's own answer
    p = run(stack, pool, cid, secret + "x", tmp=tmp_path)
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p.stderr
