"""The WebDAV view against clients nobody here wrote: litmus (the WebDAV
server test suite, Debian's package) and rclone (sync a tree up and down,
verified against the API's sha256)."""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

from conftest import unique

# litmus sends malformed XML on purpose; httpd's XML reader logs each at
# [core:error] (AH00540, AH00541), as it does for mod_dav_fs
XML_ERRORS = r"AH0054[01]|XML parser error|XML Parser Error"

SUITES = ["basic", "copymove", "props", "locks", "http"]


def run_litmus(url, user, password, suite, cwd):
    # POSIXLY_CORRECT: options end at the URL, so that a secret beginning
    # with "-" is not read as one
    env = dict(os.environ, TESTS=suite, HOME=str(cwd), POSIXLY_CORRECT="1")
    p = subprocess.run(["litmus", url, user, password],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=str(cwd), env=env, timeout=600)
    out = p.stdout.decode("utf-8", "replace")
    debug = os.path.join(str(cwd), "debug.log")
    if os.path.exists(debug):
        with open(debug, "rb") as f:
            # what litmus saw last, for a failure's report
            out += "\n--- tail of litmus's debug.log:\n" + \
                f.read()[-3000:].decode("utf-8", "replace")
    summary = re.search(r"summary for `%s': of (\d+) tests run: (\d+) passed, (\d+) failed"
                        % suite, out)
    assert summary, out
    run, passed, failed = map(int, summary.groups())
    warnings = set(re.findall(r"WARNING: (.*)", out))
    return p.returncode, run, passed, failed, "SKIPPED" in out, warnings, out


@pytest.fixture(scope="module")
def davfs(stack, tmp_path_factory):
    """mod_dav_fs on Debian's apache2 (the store server of scripts/stack.sh):
    the peer whose litmus results the view must match."""
    d = str(tmp_path_factory.mktemp("davfs"))
    stack.sh("store_server_start", d)
    try:
        with open(os.path.join(d, "url")) as f:
            url = f.read().strip()
        with open(os.path.join(d, "credentials")) as f:
            user, pw = f.readline().strip().split(":", 1)
        yield url, user, pw
    finally:
        stack.sh("store_server_stop", d, check=False)


@pytest.mark.skipif(not shutil.which("litmus"), reason="litmus is not installed")
@pytest.mark.parametrize("suite", SUITES)
def test_litmus(stack, client_of, allow_errors, davfs, tmp_path, suite):
    """Every test of the suite passes, none is skipped, and any warning is
    one mod_dav_fs gets too (mod_dav's own: a LOCK on an unmapped URL
    answers 200 where RFC 4918 says 201)."""
    allow_errors(XML_ERRORS)
    pool = stack.create_pool(unique("lit"))
    up = client_of(pool, "uploader")
    (tmp_path / "ours").mkdir()
    (tmp_path / "peer").mkdir()
    rc, run, passed, failed, skipped, warnings, out = run_litmus(
        stack.url("/dav/%s/" % pool), up.client_id, up.secret, suite,
        tmp_path / "ours")
    assert (failed, passed, skipped) == (0, run, False), out
    assert rc == 0, out
    *_, peer_warnings, peer_out = run_litmus(*davfs, suite, tmp_path / "peer")
    assert warnings <= peer_warnings, (out, peer_out)


def rclone(stack, up, *args, vendor="other"):
    # ("-": from stdin, as a secret may begin with "-")
    obscured = subprocess.run(["rclone", "obscure", "-"], input=up.secret,
                              stdout=subprocess.PIPE, check=True,
                              text=True).stdout.strip()
    env = dict(os.environ,
               RCLONE_CONFIG_POOL_TYPE="webdav",
               RCLONE_CONFIG_POOL_URL=stack.url("/dav/%s/" % up.pool),
               RCLONE_CONFIG_POOL_VENDOR=vendor,
               RCLONE_CONFIG_POOL_USER=up.client_id,
               RCLONE_CONFIG_POOL_PASS=obscured)
    p = subprocess.run(["rclone", "--config", "/dev/null", "--low-level-retries", "1",
                        "--retries", "1"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out
    return out


def make_tree(root):
    """A small tree: a few sizes, a subfolder two deep, a UTF-8 name."""
    files = {
        "a.txt": b"hello\n",
        "empty.bin": b"",
        "sub/b.bin": os.urandom(200000),
        "sub/deeper/c.bin": os.urandom(3),
        "sub/\u00e9t\u00e9.txt": "\u00e9t\u00e9\n".encode(),
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return files


def read_tree(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.mark.skipif(not shutil.which("rclone"), reason="rclone is not installed")
@pytest.mark.parametrize("vendor", ["other", "nextcloud"])
def test_rclone_sync_up_and_down(stack, client_of, tmp_path, vendor):
    pool = stack.create_pool(unique("rcl"))
    up = client_of(pool, "uploader")
    src, back = tmp_path / "src", tmp_path / "back"
    files = make_tree(str(src))
    rclone(stack, up, "sync", str(src), "pool:tree", vendor=vendor)
    # the API has each file in its folder, with the right digest
    rows = {(f["folder"], f["name"]): f for f in stack.list_all(pool) if f["current"]}
    for rel, data in files.items():
        folder, name = os.path.split("/tree/" + rel)
        f = rows[(folder, name)]
        assert f["sha256"] == hashlib.sha256(data).hexdigest(), rel
        assert f["size"] == len(data), rel
    # and rclone reads the same tree back
    rclone(stack, up, "sync", "pool:tree", str(back), vendor=vendor)
    assert read_tree(str(back)) == files
    out = rclone(stack, up, "check", str(src), "pool:tree", vendor=vendor)
    assert "0 differences found" in out, out
    # a change and a removal travel too; the removed file stays in the pool
    (src / "a.txt").write_bytes(b"changed\n")
    os.unlink(src / "sub" / "deeper" / "c.bin")
    rclone(stack, up, "sync", str(src), "pool:tree", vendor=vendor)
    rclone(stack, up, "sync", "pool:tree", str(back), vendor=vendor)
    files["a.txt"] = b"changed\n"
    del files["sub/deeper/c.bin"]
    assert read_tree(str(back)) == files
    names = [f["name"] for f in stack.list_all(pool)]
    assert names.count("a.txt") == 2 and "c.bin" in names


def davfs_mount(url, user, password, mnt, tmp):
    """Mounts url at mnt with davfs2 (its own config and secrets); returns
    the error text, or None when mounted."""
    secrets = os.path.join(tmp, "secrets")
    with open(secrets, "w") as f:
        f.write('"%s" "%s" "%s"\n' % (url, user, password))
    os.chmod(secrets, 0o600)
    conf = os.path.join(tmp, "davfs2.conf")
    with open(conf, "w") as f:
        f.write("secrets %s\nuse_locks 1\ncache_size 1\n" % secrets)
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.run(["mount.davfs", "-o", "conf=" + conf, url, mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        return p.stdout.decode("utf-8", "replace")
    try:
        os.listdir(mnt)
    except OSError as e:
        subprocess.run(["umount", mnt], timeout=60)
        return str(e)
    return None


@pytest.mark.skipif(not shutil.which("mount.davfs") or os.geteuid() != 0
                    or not os.path.exists("/dev/fuse"),
                    reason="davfs2 needs root, mount.davfs and /dev/fuse")
def test_davfs2_mount(stack, client_of, davfs, tmp_path):
    # where FUSE mounts cannot even list mod_dav_fs, the machine does not
    # allow davfs2 (some containers: readdir gives EINVAL)
    why = davfs_mount(davfs[0], davfs[1], davfs[2], str(tmp_path / "peer"),
                      str(tmp_path))
    if why:
        pytest.skip("davfs2 cannot mount mod_dav_fs on this machine: %s" % why)
    subprocess.run(["umount", str(tmp_path / "peer")], timeout=60)
    pool = stack.create_pool(unique("dfs"))
    up = client_of(pool, "uploader")
    mnt = str(tmp_path / "mnt")
    why = davfs_mount(stack.url("/dav/%s/" % pool), up.client_id, up.secret, mnt,
                      str(tmp_path))
    assert why is None, why
    try:
        os.makedirs(os.path.join(mnt, "sub"))
        with open(os.path.join(mnt, "sub", "f.txt"), "wb") as f:
            f.write(b"through davfs2\n")
    finally:
        subprocess.run(["umount", mnt], timeout=120)     # flushes the cache
    rows = [f for f in stack.list_all(pool) if f["name"] == "f.txt"]
    assert [(r["folder"], r["sha256"]) for r in rows] == \
        [("/sub", hashlib.sha256(b"through davfs2\n").hexdigest())]
