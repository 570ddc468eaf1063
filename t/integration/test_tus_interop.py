"""Interop with tus clients nobody here wrote: tus-js-client (npm, pinned in
t/interop/package-lock.json, driven by t/interop/tus-upload.js under node)
and Debian's python3-tuspy.

The big uploads go to `second_host` (tus_helpers.py): a second httpd sharing
the stack's database and storage, with PoolMaxFileSize 64M."""

import hashlib
import io
import json
import os
import subprocess

import pytest

from conftest import ROOT, node_script
from tus_helpers import TUS, head, second_host, uploads_url

__all__ = ["second_host"]   # the fixture, imported for pytest

MB = 1024 * 1024
INTEROP = os.path.join(ROOT, "t", "interop")


@pytest.fixture(scope="session")
def tus_js():
    """[node, tus-upload.js], with the pinned tus-js-client installed
    (npm ci from the lockfile when node_modules is missing)."""
    return node_script(INTEROP, "tus-js-client", "tus-upload.js")


def random_file(path, size):
    h = hashlib.sha256()
    block = os.urandom(MB)
    with open(path, "wb") as f:
        left = size
        i = 0
        while left:
            # vary the blocks so that misplaced chunks show in the digest
            b = (block[i % 251:] + block[:i % 251])[:min(left, MB)]
            f.write(b)
            h.update(b)
            left -= len(b)
            i += 1
    return h.hexdigest()


def run_js(tus_js, *args):
    p = subprocess.run(tus_js + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    assert p.returncode == 0, "tus-upload.js failed:\n%s\n%s" % (p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def check_file(stack, c, fid, name, size, digest):
    files = [f for f in stack.list_all(c.pool) if f["id"] == fid]
    assert len(files) == 1, fid
    f = files[0]
    assert (f["name"], f["size"], f["sha256"]) == (name, size, digest)
    r = c.get("/" + fid, stream=True)
    assert r.status_code == 200
    h = hashlib.sha256()
    for b in r.iter_content(MB):
        h.update(b)
    assert h.hexdigest() == digest


def test_tus_js_client_interrupted_and_resumed(stack, uploader, second_host, tus_js,
                                               tmp_path):
    size = 21 * MB + 12345
    path = str(tmp_path / "big.bin")
    digest = random_file(path, size)
    out = run_js(tus_js, "--endpoint", uploads_url(second_host.base, uploader.pool),
                 "--token", uploader.token, "--file", path, "--name", "big.bin",
                 "--chunk", 5 * MB, "--interrupt-at", 12 * MB,
                 "--store", tmp_path / "tus-urls.json")
    # cut off in the third chunk, resumed from its stored URL: HEAD first, no
    # new upload, from where the server was (at least the two chunks sent)
    assert out["interruptedAt"] >= 12 * MB
    assert out["methods"][0] == "HEAD", out
    assert "POST" not in out["methods"], out
    assert 10 * MB <= out["resumedFrom"] < size, out
    assert out["fileId"], out
    assert out["fileUrl"] == "/pool/v1/pools/%s/files/%s" % (uploader.pool, out["fileId"])
    check_file(stack, uploader, out["fileId"], "big.bin", size, digest)
    # one file, and the upload answers with it
    assert len(stack.list_all(uploader.pool)) == 1
    r = head(uploader.s, out["url"])
    assert r.headers["Pool-File-Id"] == out["fileId"]


def test_tus_js_client_parallel_uploads(stack, uploader, second_host, tus_js, tmp_path):
    size = 20 * MB + 777
    path = str(tmp_path / "parallel.bin")
    digest = random_file(path, size)
    out = run_js(tus_js, "--endpoint", uploads_url(second_host.base, uploader.pool),
                 "--token", uploader.token, "--file", path, "--name", "parallel.bin",
                 "--chunk", 5 * MB, "--parallel", 3)
    assert out["fileId"], out
    check_file(stack, uploader, out["fileId"], "parallel.bin", size, digest)
    # the partial uploads did not become files
    assert len(stack.list_all(uploader.pool)) == 1
    r = head(uploader.s, out["url"])
    assert r.status_code == 200
    assert r.headers["Upload-Concat"].startswith("final;")
    assert len(r.headers["Upload-Concat"][6:].split()) == 3


def test_tuspy_upload_with_checksums(stack, uploader):
    from tusclient import client
    data = os.urandom(3 * MB + 5)
    c = client.TusClient(uploads_url(stack.base, uploader.pool),
                         headers={"Authorization": "Bearer " + uploader.token})
    up = c.uploader(file_stream=io.BytesIO(data), chunk_size=MB,
                    metadata={"filename": "tuspy.bin", "filetype": "application/x-tuspy",
                              "ts": "2026-11-21T10:15:00Z"},
                    upload_checksum=True)
    up.upload()
    r = head(uploader.s, up.url)
    assert r.status_code == 200
    assert r.headers["Upload-Offset"] == str(len(data))
    fid = r.headers["Pool-File-Id"]
    check_file(stack, uploader, fid, "tuspy.bin", len(data), hashlib.sha256(data).hexdigest())
    f = [f for f in stack.list_all(uploader.pool) if f["id"] == fid][0]
    assert f["content_type"] == "application/x-tuspy"
    assert f["ts"].startswith("2026-11-21T10:15:00")


def test_tuspy_stop_and_resume(stack, uploader):
    from tusclient import client
    data = os.urandom(2 * MB + 100)
    c = client.TusClient(uploads_url(stack.base, uploader.pool),
                         headers={"Authorization": "Bearer " + uploader.token})
    first = c.uploader(file_stream=io.BytesIO(data), chunk_size=512 * 1024,
                       metadata={"filename": "stopped.bin"})
    first.upload(stop_at=MB)
    assert first.offset == MB
    assert head(uploader.s, first.url).headers["Upload-Offset"] == str(MB)
    again = c.uploader(file_stream=io.BytesIO(data), chunk_size=512 * 1024, url=first.url)
    assert again.get_offset() == MB
    again.upload()
    r = head(uploader.s, first.url)
    check_file(stack, uploader, r.headers["Pool-File-Id"], "stopped.bin", len(data),
               hashlib.sha256(data).hexdigest())
    assert r.headers.get("Tus-Resumable") == TUS["Tus-Resumable"]
