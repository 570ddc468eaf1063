"""GET /pool/v1/pools/{pool}/files (list) and GET/HEAD .../files/{id}."""

import base64
import email.utils
import hashlib
import http.client
import os
import re
import uuid
from urllib.parse import unquote

import pytest

from conftest import assert_problem, etag_of

NAME = "résumé (1) final.txt"


@pytest.fixture
def stored(stack, uploader):
    data = os.urandom(1000) + b"the end"
    j = uploader.upload_ok(NAME, data, headers={"Content-Type": "text/plain; charset=utf-8"},
                           ts="2026-11-21T10:15:00Z")
    return j, data


def disposition_name(cd):
    m = re.search(r"filename\*=UTF-8''([^;\s]+)", cd, re.I)
    assert m, cd
    return unquote(m.group(1), encoding="utf-8", errors="strict")


def test_download(stack, uploader, stored):
    j, data = stored
    r = uploader.get("/" + j["id"])
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["ETag"] == etag_of(hashlib.sha256(data).hexdigest())
    assert r.headers.get("Accept-Ranges") == "bytes"
    assert email.utils.parsedate_to_datetime(r.headers["Last-Modified"])
    cd = r.headers["Content-Disposition"]
    assert cd.lower().startswith("attachment")
    assert disposition_name(cd) == NAME
    assert r.headers.get("X-Request-Id")


def test_head(stack, uploader, stored):
    j, data = stored
    r = uploader.s.head(stack.files_url(uploader.pool, "/" + j["id"]))
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) == len(data)
    assert r.headers["ETag"] == etag_of(j["sha256"])
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert disposition_name(r.headers["Content-Disposition"]) == NAME


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-", 10, None),
    ("bytes=-7", None, None),
    ("bytes=500-599", 500, 599),
])
def test_range(stack, uploader, stored, rng, start, end):
    j, data = stored
    r = uploader.get("/" + j["id"], headers={"Range": rng})
    assert r.status_code == 206, r.text[:200]
    n = len(data)
    if start is None:
        want, first, last = data[-7:], n - 7, n - 1
    else:
        last = n - 1 if end is None else end
        want, first = data[start:last + 1], start
    assert r.content == want
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (first, last, n)


@pytest.mark.parametrize("rng", [
    "bytes=%(past)d-",
    "bytes=%(past)d-%(past2)d",
    "bytes=%(past)d-%(past2)d,%(past3)d-",       # several, none satisfiable
])
def test_unsatisfiable_range(stack, uploader, stored, rng):
    """416 is a problem document with the file's size in Content-Range
    (RFC 9110 15.5.17), also when httpd's byterange filter raises it."""
    j, data = stored
    n = len(data)
    r = uploader.get("/" + j["id"], headers={
        "Range": rng % {"past": n + 10, "past2": n + 20, "past3": n + 30}})
    assert_problem(r, 416)
    assert r.headers.get("Content-Range") == "bytes */%d" % n, r.headers


def test_body_httpd_cannot_read_is_a_problem(stack, uploader):
    """A broken chunked body: whoever notices, the answer is a problem
    document with the request id, and nothing is stored."""
    before = stack.snapshot(uploader.pool)
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.putrequest("PUT", "/pool/v1/pools/%s/files/broken.bin" % uploader.pool)
    conn.putheader("Authorization", "Bearer " + uploader.token)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"zz\r\nnot hex\r\n0\r\n\r\n")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert 400 <= resp.status < 500, (resp.status, body[:300])
    assert resp.getheader("Content-Type", "").startswith("application/problem+json"), body[:300]
    assert resp.getheader("X-Request-Id")
    stack.assert_nothing_stored(uploader.pool, before)


def test_if_none_match(stack, uploader, stored):
    j, _ = stored
    etag = etag_of(j["sha256"])
    r = uploader.get("/" + j["id"], headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers.get("ETag") == etag
    r = uploader.get("/" + j["id"], headers={"If-None-Match": '"%s"' % ("0" * 64)})
    assert r.status_code == 200
    r = uploader.get("/" + j["id"], headers={"If-None-Match": "*"})
    assert r.status_code == 304


def test_downloads_pass_mod_deflate_untouched(stack, uploader):
    """The test stack runs mod_deflate for text and JSON (as Debian does).
    A text download must still come as stored: no Content-Encoding, our
    ETag (not "...-gzip"), 304 on If-None-Match, Range honoured."""
    gz = {"Accept-Encoding": "gzip"}
    data = b"compressible text line\n" * 4000
    j = uploader.upload_ok("notes.txt", data, headers={"Content-Type": "text/plain"})
    # mod_deflate is at work: the (JSON) listing comes gzipped
    r = uploader.get("", headers=gz, stream=True)
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == "gzip", r.headers
    r.close()
    etag = etag_of(hashlib.sha256(data).hexdigest())
    r = uploader.get("/" + j["id"], headers=gz, stream=True)
    raw = r.raw.read(decode_content=False)
    assert r.status_code == 200
    assert "Content-Encoding" not in r.headers, r.headers
    assert raw == data
    assert r.headers["ETag"] == etag
    assert int(r.headers["Content-Length"]) == len(data)
    assert "no-transform" in r.headers["Cache-Control"]
    r = uploader.get("/" + j["id"], headers=dict(gz, **{"If-None-Match": etag}))
    assert r.status_code == 304, r.headers
    r = uploader.get("/" + j["id"], headers=dict(gz, Range="bytes=100-199"), stream=True)
    assert r.status_code == 206, r.headers
    assert "Content-Encoding" not in r.headers
    assert r.raw.read(decode_content=False) == data[100:200]
    assert r.headers["Content-Range"] == "bytes 100-199/%d" % len(data)


def test_repr_digest(stack, uploader, stored):
    """RFC 9530: the file's SHA-256 as Repr-Digest, on 200, HEAD and 206
    (the whole representation's digest), left out when Want-Repr-Digest
    gives sha-256 the weight 0."""
    j, data = stored
    want = "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()
    r = uploader.get("/" + j["id"])
    assert r.headers.get("Repr-Digest") == want
    r = uploader.get("/" + j["id"], headers={"Want-Repr-Digest": "sha-512=3, sha-256=10"})
    assert r.headers.get("Repr-Digest") == want
    r = uploader.s.head(stack.files_url(uploader.pool, "/" + j["id"]))
    assert r.headers.get("Repr-Digest") == want
    r = uploader.get("/" + j["id"], headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers.get("Repr-Digest") == want
    r = uploader.get("/" + j["id"], headers={"Want-Repr-Digest": "sha-256=0, sha-512=5"})
    assert r.status_code == 200 and "Repr-Digest" not in r.headers


@pytest.mark.parametrize("fid", [
    str(uuid.uuid4()),
    "not-a-uuid",
    "..",
    "%2E%2E%2Fetc",
    "12",
    "x" * 300,
])
def test_unknown_or_malformed_id_is_404(stack, uploader, stored, fid):
    r = uploader.get("/" + fid)
    assert_problem(r, 404)


@pytest.mark.parametrize("role", ["uploader", "listener", "processor", "admin"])
def test_every_role_may_list_and_download(stack, uploader, stored, client_of, role):
    j, data = stored
    c = client_of(uploader.pool, role)
    r = c.get()
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["files"]] == [j["id"]]
    r = c.get("/" + j["id"])
    assert r.status_code == 200
    assert r.content == data


def test_list_entries(stack, uploader, stored):
    j, data = stored
    r = uploader.get()
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["next"] is None
    (f,) = body["files"]
    for k in ("id", "name", "size", "sha256", "content_type", "ts", "received_at", "client"):
        assert f[k] == j[k], k


def test_list_empty_pool(stack, uploader):
    r = uploader.get()
    assert r.status_code == 200
    assert r.json() == {"files": [], "next": None}


def test_paging(stack, uploader):
    ids = {uploader.upload_ok("f%d" % i, b"%d" % i)["id"] for i in range(5)}
    seen, after, pages = [], None, []
    for _ in range(10):
        params = {"limit": 2}
        if after:
            params["after"] = after
        r = uploader.get(params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(len(body["files"]))
        seen.extend(f["id"] for f in body["files"])
        after = body["next"]
        if after is None:
            break
    assert pages[:3] == [2, 2, 1] and len(pages) == 3, pages
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == ids


def test_default_and_max_limit(stack, uploader):
    for i in range(3):
        uploader.upload_ok("x%d" % i, b"x")
    for limit in ("1", "1000"):
        r = uploader.get(params={"limit": limit})
        assert r.status_code == 200, r.text
        assert len(r.json()["files"]) == min(3, int(limit))


def test_filter_by_client(stack, uploader, client_of):
    other = client_of(uploader.pool, "uploader")
    mine = uploader.upload_ok("mine", b"1")["id"]
    theirs = other.upload_ok("theirs", b"2")["id"]
    r = uploader.get(params={"client": uploader.client_id})
    assert [f["id"] for f in r.json()["files"]] == [mine]
    r = uploader.get(params={"client": other.client_id})
    assert [f["id"] for f in r.json()["files"]] == [theirs]
    r = uploader.get(params={"client": "cl_" + "0" * 24})
    assert r.status_code == 200
    assert r.json()["files"] == []


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "", "1.5", "99999999999999999999"])
def test_bad_limit_is_422(stack, uploader, limit):
    assert_problem(uploader.get(params={"limit": limit}), 422, field="limit")


@pytest.mark.parametrize("after", ["garbage", "-1", "'; DROP TABLE files; --"])
def test_bad_after_is_422(stack, uploader, after):
    assert_problem(uploader.get(params={"after": after}), 422, field="after")
