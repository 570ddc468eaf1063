"""tus 1.0.0 resumable uploads at /pool/v1/pools/{pool}/uploads."""

import base64
import datetime
import email.utils
import hashlib
import http.client
import json
import os
import select
import socket
import threading
import time

import pytest
import requests

from conftest import MAX_FILE_SIZE, assert_problem, fs_store_only, unique
from tus_helpers import (APACHE2, CORS_ORIGINS, OFFSET_CT, SECOND_EXPIRY, SECOND_MAX,
                         TUS, absolute, create, create_ok, head, metadata,
                         offset_of, patch, second_host, uploads_url)

__all__ = ["second_host"]   # the fixture, imported for pytest


def sha(b):
    return hashlib.sha256(b).hexdigest()


def upload_dir(stack):
    return os.path.join(stack.storage, ".uploads")


def upload_files(stack):
    return stack.upload_files()


def rows(stack, pool):
    """Upload rows of a pool: [(id, state, offset, length)]."""
    out = stack.psql(
        "SELECT u.id, u.state, u.upload_offset, coalesce(u.upload_length, -1)"
        " FROM uploads u JOIN pools p ON p.id = u.pool_id"
        " WHERE p.name = '%s' ORDER BY u.created_at" % pool)
    return [tuple(l.split("|")) for l in out.splitlines() if l.strip()]


def upload_id(url):
    return url.rstrip("/").rsplit("/", 1)[1]


def download(c, fid):
    r = c.get("/" + fid)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.content


def parse_http_date(s):
    return email.utils.parsedate_to_datetime(s)


def assert_nothing_stored(stack, pool, before):
    stack.assert_nothing_stored(pool, before)
    assert rows(stack, pool) == []


def assert_tus(r):
    assert r.headers.get("Tus-Resumable") == "1.0.0", (r.status_code, r.headers)


# ---------------------------------------------------------------- discovery

def test_options_without_credentials(stack, pool):
    r = requests.options(uploads_url(stack.base, pool), timeout=30)
    assert r.status_code == 204, (r.status_code, r.text)
    assert_tus(r)
    assert r.headers["Tus-Version"] == "1.0.0"
    ext = r.headers["Tus-Extension"].split(",")
    for e in ("creation", "creation-with-upload", "creation-defer-length",
              "expiration", "checksum", "checksum-trailer", "termination",
              "concatenation"):
        assert e in ext, (e, ext)
    assert int(r.headers["Tus-Max-Size"]) == MAX_FILE_SIZE
    assert set(r.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256", "md5"}
    # the same on an upload's URL, and without Tus-Resumable (OPTIONS is exempt)
    r = requests.options(uploads_url(stack.base, pool, "/00000000-0000-4000-8000-000000000000"),
                         timeout=30)
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"


# ---------------------------------------------------------------- the whole path

def test_create_head_patch_complete(stack, uploader):
    data = os.urandom(300 * 1024 + 17)
    meta = metadata(filename="report 1.bin", filetype="application/x-test",
                    ts="2026-11-21T10:15:00Z")
    t0 = datetime.datetime.now(datetime.timezone.utc)
    url, r = create_ok(uploader.s, stack.base, uploader.pool, len(data), meta=meta)
    assert_tus(r)
    loc = r.headers["Location"]
    assert "/pool/v1/pools/%s/uploads/" % uploader.pool in loc
    expires = parse_http_date(r.headers["Upload-Expires"])
    assert t0 + datetime.timedelta(hours=23) < expires < t0 + datetime.timedelta(hours=25)
    assert "Pool-File-Id" not in r.headers

    h = head(uploader.s, url)
    assert h.status_code == 200
    assert_tus(h)
    assert h.headers["Upload-Offset"] == "0"
    assert h.headers["Upload-Length"] == str(len(data))
    assert h.headers["Upload-Metadata"] == meta
    assert h.headers["Cache-Control"] == "no-store"
    assert "Upload-Expires" in h.headers

    chunk = 100 * 1024
    offset = 0
    while offset < len(data):
        r = patch(uploader.s, url, offset, data[offset:offset + chunk])
        assert r.status_code == 204, (r.status_code, r.text)
        assert_tus(r)
        offset = int(r.headers["Upload-Offset"])
        assert offset == min(len(data), offset)
        if offset < len(data):
            assert "Pool-File-Id" not in r.headers
            assert offset_of(uploader.s, url) == offset
    assert offset == len(data)
    fid = r.headers["Pool-File-Id"]
    assert r.headers["Content-Location"] == "/pool/v1/pools/%s/files/%s" % (uploader.pool, fid)

    # the same kind of file as a direct PUT
    files = stack.list_all(uploader.pool)
    assert [f["id"] for f in files] == [fid]
    f = files[0]
    assert f["name"] == "report 1.bin"
    assert f["content_type"] == "application/x-test"
    assert f["size"] == len(data)
    assert f["sha256"] == sha(data)
    assert f["ts"].startswith("2026-11-21T10:15:00")
    assert f["client"] == uploader.client_id
    assert download(uploader, fid) == data

    # HEAD still answers; repeating the last PATCH is harmless
    h = head(uploader.s, url)
    assert h.status_code == 200
    assert h.headers["Upload-Offset"] == str(len(data))
    assert h.headers["Pool-File-Id"] == fid
    r = patch(uploader.s, url, len(data), b"")
    assert r.status_code == 204
    assert r.headers["Pool-File-Id"] == fid
    assert len(stack.list_all(uploader.pool)) == 1
    # nothing left behind
    assert upload_id(url) not in upload_files(stack)
    assert stack.spool_entries() == []


def test_defaults_without_metadata(stack, uploader):
    url, r = create_ok(uploader.s, stack.base, uploader.pool, 3)
    r = patch(uploader.s, url, 0, b"abc")
    assert r.status_code == 204
    fid = r.headers["Pool-File-Id"]
    f = stack.list_all(uploader.pool)[0]
    assert f["id"] == fid
    assert f["name"] == upload_id(url)
    assert f["content_type"] == "application/octet-stream"


def test_name_key_and_content_type_key(stack, uploader):
    meta = metadata(name="by-name.txt", content_type="text/plain")
    url, r = create_ok(uploader.s, stack.base, uploader.pool, 2, meta=meta)
    assert patch(uploader.s, url, 0, b"hi").status_code == 204
    f = stack.list_all(uploader.pool)[0]
    assert (f["name"], f["content_type"]) == ("by-name.txt", "text/plain")


def test_empty_upload_completes_at_creation(stack, uploader):
    url, r = create_ok(uploader.s, stack.base, uploader.pool, 0,
                       meta=metadata(filename="empty"))
    fid = r.headers["Pool-File-Id"]
    f = stack.list_all(uploader.pool)[0]
    assert (f["id"], f["size"], f["sha256"]) == (fid, 0, sha(b""))


def test_creation_with_upload(stack, uploader):
    data = os.urandom(5000)
    url, r = create_ok(uploader.s, stack.base, uploader.pool, len(data),
                       meta=metadata(filename="cwu.bin"), data=data[:3000])
    assert r.headers["Upload-Offset"] == "3000"
    assert offset_of(uploader.s, url) == 3000
    r = patch(uploader.s, url, 3000, data[3000:])
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == data
    # and all of it in the POST
    url, r = create_ok(uploader.s, stack.base, uploader.pool, len(data),
                       meta=metadata(filename="whole.bin"), data=data)
    assert r.headers["Upload-Offset"] == str(len(data))
    assert download(uploader, r.headers["Pool-File-Id"]) == data


def test_creation_with_upload_needs_offset_content_type(stack, uploader):
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool, 3, data=b"abc",
               headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)
    assert_tus(r)
    assert_nothing_stored(stack, uploader.pool, before)


def test_deferred_length(stack, uploader):
    data = os.urandom(70000)
    url, r = create_ok(uploader.s, stack.base, uploader.pool, defer=True,
                       meta=metadata(filename="deferred.bin"))
    h = head(uploader.s, url)
    assert h.headers["Upload-Defer-Length"] == "1"
    assert "Upload-Length" not in h.headers
    r = patch(uploader.s, url, 0, data[:40000])
    assert r.status_code == 204
    assert r.headers["Upload-Offset"] == "40000"
    r = patch(uploader.s, url, 40000, data[40000:],
              headers={"Upload-Length": str(len(data))})
    assert r.status_code == 204, r.text
    fid = r.headers["Pool-File-Id"]
    assert download(uploader, fid) == data
    h = head(uploader.s, url)
    assert h.headers["Upload-Length"] == str(len(data))
    assert "Upload-Defer-Length" not in h.headers


def test_deferred_length_set_without_bytes_then_sent(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, defer=True)
    r = patch(uploader.s, url, 0, b"", headers={"Upload-Length": "4"})
    assert r.status_code == 204
    assert head(uploader.s, url).headers["Upload-Length"] == "4"
    # the length is fixed now
    r = patch(uploader.s, url, 0, b"", headers={"Upload-Length": "5"})
    assert_problem(r, 400)
    r = patch(uploader.s, url, 0, b"abcd")
    assert r.status_code == 204
    assert "Pool-File-Id" in r.headers


def test_deferred_length_over_the_limit_is_413(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, defer=True)
    assert patch(uploader.s, url, 0, b"x" * 10).status_code == 204
    r = patch(uploader.s, url, 10, b"y", headers={"Upload-Length": str(MAX_FILE_SIZE + 1)})
    assert_problem(r, 413)
    assert_tus(r)
    assert offset_of(uploader.s, url) == 10
    # smaller than what arrived
    r = patch(uploader.s, url, 10, b"", headers={"Upload-Length": "5"})
    assert_problem(r, 400)


def raw_patch(stack, c, url, offset, total, chunked, send_bytes=None):
    """PATCH with a raw connection that stops sending as soon as the server
    answers (it may refuse before the whole body is sent).  Returns
    (status, body, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    conn.putrequest("PATCH", url[len(stack.base):], skip_accept_encoding=True)
    conn.putheader("Authorization", "Bearer " + c.token)
    conn.putheader("Tus-Resumable", "1.0.0")
    conn.putheader("Upload-Offset", str(offset))
    conn.putheader("Content-Type", OFFSET_CT)
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(total))
    conn.endheaders()
    block = os.urandom(65536)
    sent = 0
    limit = total if send_bytes is None else send_bytes
    try:
        while sent < limit:
            if select.select([conn.sock], [], [], 0)[0]:
                break           # the server has answered already
            n = min(len(block), limit - sent)
            conn.send(b"%x\r\n" % n + block[:n] + b"\r\n" if chunked else block[:n])
            sent += n
        else:
            if chunked:
                conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_deferred_length_body_beyond_max_is_413(stack, uploader, chunked):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, defer=True)
    status, body, headers = raw_patch(stack, uploader, url, 0, MAX_FILE_SIZE + 70000,
                                      chunked=chunked, send_bytes=0 if not chunked else None)
    assert status == 413, body[:300]
    assert headers.get("Tus-Resumable") == "1.0.0"
    assert offset_of(uploader.s, url) == 0
    # what arrived was not kept
    assert not stack.upload_size(upload_id(url))


# ---------------------------------------------------------------- protocol errors

@pytest.mark.parametrize("value", [None, "", "0.2.2", "1.0", "1.0.0.0", "2.0.0"])
def test_unsupported_tus_version_is_412(stack, uploader, value):
    before = stack.snapshot(uploader.pool)
    h = {"Upload-Length": "3"}
    if value is not None:
        h["Tus-Resumable"] = value
    r = uploader.s.post(uploads_url(stack.base, uploader.pool), headers=h)
    assert_problem(r, 412)
    assert r.headers["Tus-Version"] == "1.0.0"
    assert_tus(r)
    assert_nothing_stored(stack, uploader.pool, before)


def test_412_on_head_and_patch(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    r = uploader.s.head(url)
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0"
    r = uploader.s.patch(url, data=b"abc", headers={
        "Upload-Offset": "0", "Content-Type": OFFSET_CT, "Tus-Resumable": "0.2.2"})
    assert_problem(r, 412)
    assert offset_of(uploader.s, url) == 0


def test_tus_resumable_on_errors_too(stack, pool, uploader):
    # unauthenticated
    r = requests.post(uploads_url(stack.base, pool), headers={"Upload-Length": "1", **TUS},
                      timeout=30)
    assert_problem(r, 401)
    assert_tus(r)
    # unknown upload
    r = head(uploader.s, uploads_url(stack.base, uploader.pool,
                                     "/00000000-0000-4000-8000-000000000000"))
    assert r.status_code == 404
    assert_tus(r)
    r = head(uploader.s, uploads_url(stack.base, uploader.pool, "/not-a-uuid"))
    assert r.status_code == 404
    assert_tus(r)


@pytest.mark.parametrize("headers", [
    {},                                                 # neither
    {"Upload-Length": "-1"},
    {"Upload-Length": "abc"},
    {"Upload-Length": "1.5"},
    {"Upload-Length": "+5"},
    {"Upload-Length": "5 5"},
    {"Upload-Length": "99999999999999999999"},
    {"Upload-Length": "5", "Upload-Defer-Length": "1"},
    {"Upload-Defer-Length": "0"},
    {"Upload-Defer-Length": "yes"},
    {"Upload-Length": "5", "Upload-Concat": "partly"},
    {"Upload-Length": "5", "Upload-Concat": "final"},
])
def test_bad_creation_headers_are_400(stack, uploader, headers):
    before = stack.snapshot(uploader.pool)
    r = uploader.s.post(uploads_url(stack.base, uploader.pool), headers={**TUS, **headers})
    assert_problem(r, 400)
    assert_tus(r)
    assert_nothing_stored(stack, uploader.pool, before)


def test_creation_over_max_size_is_413(stack, uploader):
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool, MAX_FILE_SIZE + 1)
    assert_problem(r, 413)
    assert_tus(r)
    assert_nothing_stored(stack, uploader.pool, before)
    # exactly the limit is fine (nothing sent yet)
    create_ok(uploader.s, stack.base, uploader.pool, MAX_FILE_SIZE)


def test_creation_body_beyond_length_is_413(stack, uploader):
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool, 3, data=b"abcdef")
    assert_problem(r, 413)
    assert_nothing_stored(stack, uploader.pool, before)


def test_patch_beyond_length_is_413_and_discarded(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, url, 0, b"12345").status_code == 204
    r = patch(uploader.s, url, 5, b"6789012345")
    assert_problem(r, 413)
    assert offset_of(uploader.s, url) == 5
    # chunked: the size shows only while streaming
    r = patch(uploader.s, url, 5, iter([b"678", b"9012345"]))
    assert_problem(r, 413)
    assert offset_of(uploader.s, url) == 5
    r = patch(uploader.s, url, 5, b"67890")
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == b"1234567890"


@pytest.mark.parametrize("ctype", [None, "application/octet-stream", "text/plain",
                                   "application/offset+octet-streamx"])
def test_patch_wrong_content_type_is_415(stack, uploader, ctype):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    h = {**TUS, "Upload-Offset": "0"}
    if ctype:
        h["Content-Type"] = ctype
    r = uploader.s.patch(url, headers=h, data=b"abc")
    assert_problem(r, 415)
    assert_tus(r)
    assert offset_of(uploader.s, url) == 0
    assert upload_id(url) not in upload_files(stack)


@pytest.mark.parametrize("offset", [None, "", "-1", "x", "1.0"])
def test_patch_bad_offset_header_is_400(stack, uploader, offset):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    h = {**TUS, "Content-Type": OFFSET_CT}
    if offset is not None:
        h["Upload-Offset"] = offset
    r = uploader.s.patch(url, headers=h, data=b"abc")
    assert_problem(r, 400)
    assert offset_of(uploader.s, url) == 0


def test_offset_mismatch_is_409_with_current_offset(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, url, 0, b"abcd").status_code == 204
    for off in (0, 3, 5, 10):
        r = patch(uploader.s, url, off, b"efgh")
        assert_problem(r, 409)
        assert r.headers["Upload-Offset"] == "4"
        assert_tus(r)
    assert offset_of(uploader.s, url) == 4
    r = patch(uploader.s, url, 4, b"efghij")
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == b"abcdefghij"
    # a completed upload: other offsets conflict, data is refused
    r = patch(uploader.s, url, 4, b"x")
    assert_problem(r, 409)
    assert r.headers["Upload-Offset"] == "10"
    r = patch(uploader.s, url, 10, b"x")
    assert_problem(r, 409)


def test_get_on_upload_is_405(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    r = uploader.s.get(url, headers=TUS)
    assert_problem(r, 405)
    r = uploader.s.put(uploads_url(stack.base, uploader.pool), headers=TUS, data=b"x")
    assert_problem(r, 405)


# ---------------------------------------------------------------- metadata

@pytest.mark.parametrize("meta", ["filename", "filename ", "name"])
def test_filename_without_value_is_422(stack, uploader, meta):
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool, 3, meta=meta)
    assert_problem(r, 422, field=meta.strip())
    assert_nothing_stored(stack, uploader.pool, before)


@pytest.mark.parametrize("meta", [
    "filename !!!!",                    # not base64
    "filename YWJj=",                   # bad padding
    "filename YWJjZA",                  # unpadded
    "filename YWJj,",                   # empty pair at the end
    ",filename YWJj",
    "filename YWJj,,filetype dGV4dA==",
    "filename YWJj,filename YWJj",      # duplicate key
    "file\u00e9name YWJj",              # non-ASCII key
    "filename  YWJj",                   # two spaces
    "filename YW Jj",
    "k" * 200 + " YWJj",                # key too long
    ",".join("k%d" % i for i in range(65)),   # too many pairs
])
def test_malformed_metadata_is_400(stack, uploader, meta):
    before = stack.snapshot(uploader.pool)
    r = uploader.s.post(uploads_url(stack.base, uploader.pool),
                        headers={**TUS, "Upload-Length": "3",
                                 "Upload-Metadata": meta.encode("utf-8")})
    assert_problem(r, 400)
    assert_tus(r)
    assert_nothing_stored(stack, uploader.pool, before)


@pytest.mark.parametrize("kw,field", [
    (dict(filename="a/b"), "filename"),
    (dict(filename="..",), "filename"),
    (dict(filename=""), "filename"),
    (dict(filename="a" * 256), "filename"),
    (dict(filename=b"\xff\xfe"), "filename"),
    (dict(filename="tab\there"), "filename"),
    (dict(filename=b"nul\x00byte"), "filename"),
    (dict(name="a\\b"), "name"),
    (dict(filename="ok.txt", ts="yesterday"), "ts"),
    (dict(filename="ok.txt", ts="2026-13-01T00:00:00Z"), "ts"),
    (dict(filename="ok.txt", ts=""), "ts"),
    (dict(filename="ok.txt", ts=None), "ts"),
    (dict(filename="ok.txt", filetype="not a type"), "filetype"),
    (dict(filename="ok.txt", content_type="text"), "content-type"),
])
def test_bad_metadata_values_are_422(stack, uploader, kw, field):
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool, 3, meta=metadata(**kw))
    j = assert_problem(r, 422, field=field)
    assert field in j["detail"]
    assert_nothing_stored(stack, uploader.pool, before)


def test_bad_metadata_with_upload_body_stores_nothing(stack, uploader):
    before = stack.snapshot(uploader.pool)
    data_before = upload_files(stack)
    r = create(uploader.s, stack.base, uploader.pool, 3, data=b"abc",
               meta=metadata(filename="ok", ts="soon"))
    assert_problem(r, 422, field="ts")
    assert_nothing_stored(stack, uploader.pool, before)
    assert upload_files(stack) == data_before


def test_ts_forms_in_metadata(stack, uploader):
    for ts, want in (("1700000000", "2023-11-14T22:13:20Z"),
                     ("2026-11-21T11:15:00+01:00", "2026-11-21T10:15:00Z")):
        url, _ = create_ok(uploader.s, stack.base, uploader.pool, 1,
                           meta=metadata(filename="t", ts=ts))
        r = patch(uploader.s, url, 0, b"x")
        fid = r.headers["Pool-File-Id"]
        f = [f for f in stack.list_all(uploader.pool) if f["id"] == fid][0]
        assert f["ts"] == want


# ---------------------------------------------------------------- checksums

@pytest.mark.parametrize("algo", ["sha1", "sha256", "md5"])
def test_checksum_ok(stack, uploader, algo):
    import base64
    data = os.urandom(20000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    d = base64.b64encode(hashlib.new(algo, data[:12000]).digest()).decode()
    r = patch(uploader.s, url, 0, data[:12000], headers={"Upload-Checksum": "%s %s" % (algo, d)})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "12000"
    d = base64.b64encode(hashlib.new(algo, data[12000:]).digest()).decode()
    r = patch(uploader.s, url, 12000, data[12000:],
              headers={"Upload-Checksum": "%s %s" % (algo.upper(), d)})
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == data


@pytest.mark.parametrize("algo", ["sha1", "sha256", "md5"])
def test_checksum_mismatch_is_460_and_discarded(stack, uploader, algo):
    import base64
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 8)
    assert patch(uploader.s, url, 0, b"good").status_code == 204
    d = base64.b64encode(hashlib.new(algo, b"other").digest()).decode()
    r = patch(uploader.s, url, 4, b"bad!", headers={"Upload-Checksum": "%s %s" % (algo, d)})
    assert_problem(r, 460)
    assert r.reason == "Checksum Mismatch"
    assert r.headers["Upload-Offset"] == "4"
    assert_tus(r)
    assert offset_of(uploader.s, url) == 4
    d = base64.b64encode(hashlib.new(algo, b"data").digest()).decode()
    r = patch(uploader.s, url, 4, b"data", headers={"Upload-Checksum": "%s %s" % (algo, d)})
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == b"gooddata"


def test_large_patches_at_unaligned_offsets(stack, uploader):
    """PATCHes large enough to be written past the page cache (docs/storage.md),
    each ending inside a block, and a large PATCH refused by its checksum after
    its bytes were written: the upload resumes where it stood, every byte in
    place."""
    import base64
    data = os.urandom(700001 + 524289 + 400000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    r = patch(uploader.s, url, 0, data[:700001])
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "700001"
    other = os.urandom(600000)
    d = base64.b64encode(hashlib.sha256(data[700001:1300001]).digest()).decode()
    r = patch(uploader.s, url, 700001, other, headers={"Upload-Checksum": "sha256 " + d})
    assert_problem(r, 460)
    assert offset_of(uploader.s, url) == 700001
    r = patch(uploader.s, url, 700001, data[700001:1224290])
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "1224290"
    r = patch(uploader.s, url, 1224290, data[1224290:])
    assert r.status_code == 204, r.text
    fid = r.headers["Pool-File-Id"]
    assert download(uploader, fid) == data
    listed = [f for f in stack.list_all(uploader.pool) if f["id"] == fid]
    assert [f["sha256"] for f in listed] == [sha(data)]


@pytest.mark.parametrize("value", [
    "crc32 AAAAAA==", "sha512 " + "A" * 86 + "==", "blake2b x", "SHA-1 AAAA",
])
def test_unknown_checksum_algorithm_is_400(stack, uploader, value):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 4)
    r = patch(uploader.s, url, 0, b"abcd", headers={"Upload-Checksum": value})
    j = assert_problem(r, 400)
    assert "algorithm" in j["detail"]
    assert offset_of(uploader.s, url) == 0


@pytest.mark.parametrize("value", ["sha1", "sha1 ", "sha1 !!!", "sha1 YWJj",
                                   "md5 " + "A" * 40])
def test_malformed_checksum_is_400(stack, uploader, value):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 4)
    r = patch(uploader.s, url, 0, b"abcd", headers={"Upload-Checksum": value})
    assert_problem(r, 400)
    assert offset_of(uploader.s, url) == 0


def raw_request(stack, raw, read=True):
    s = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    s.sendall(raw)
    if not read:
        return s
    resp = http.client.HTTPResponse(s, method="PATCH")
    resp.begin()
    body = resp.read()
    s.close()
    return resp, body


def chunked_patch(stack, c, url, offset, chunks, trailers):
    path = url[len(stack.base):]
    head_ = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Tus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\nContent-Type: %s\r\n"
             "Transfer-Encoding: chunked\r\nTrailer: Upload-Checksum\r\n"
             "Connection: close\r\n\r\n" % (path, c.token, offset, OFFSET_CT)).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(ch), ch) for ch in chunks)
    body += b"0\r\n" + b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                                for k, v in trailers.items()) + b"\r\n"
    return raw_request(stack, head_ + body)


@pytest.mark.parametrize("algo", ["sha1", "sha256", "md5"])
def test_checksum_trailer(stack, uploader, algo):
    import base64
    data = os.urandom(50000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data) + 3)
    good = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    bad = base64.b64encode(hashlib.new(algo, b"nope").digest()).decode()
    chunks = [data[:20000], data[20000:]]
    resp, body = chunked_patch(stack, uploader, url, 0, chunks,
                               {"Upload-Checksum": "%s %s" % (algo, bad)})
    assert resp.status == 460, body
    assert resp.getheader("Upload-Offset") == "0"
    assert resp.getheader("Tus-Resumable") == "1.0.0"
    assert offset_of(uploader.s, url) == 0
    resp, body = chunked_patch(stack, uploader, url, 0, chunks,
                               {"Upload-Checksum": "%s %s" % (algo, good)})
    assert resp.status == 204, body
    assert resp.getheader("Upload-Offset") == str(len(data))
    assert offset_of(uploader.s, url) == len(data)
    # an unknown algorithm in the trailer: 400, discarded
    resp, body = chunked_patch(stack, uploader, url, len(data), [b"xyz"],
                               {"Upload-Checksum": "crc32 AAAAAA=="})
    assert resp.status == 400, body
    assert offset_of(uploader.s, url) == len(data)
    # an announced trailer that does not come: discarded
    resp, body = chunked_patch(stack, uploader, url, len(data), [b"xyz"], {})
    assert resp.status == 400, body
    assert offset_of(uploader.s, url) == len(data)
    d = base64.b64encode(hashlib.new(algo, b"xyz").digest()).decode()
    resp, body = chunked_patch(stack, uploader, url, len(data), [b"x", b"yz"],
                               {"Upload-Checksum": "%s %s" % (algo, d)})
    assert resp.status == 204, body
    fid = resp.getheader("Pool-File-Id")
    assert download(uploader, fid) == data + b"xyz"


# ---------------------------------------------------------------- ownership

def test_other_client_same_pool_gets_404(stack, uploader, client_of):
    other = client_of(uploader.pool, "uploader")
    admin = client_of(uploader.pool, "admin")
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6)
    assert patch(uploader.s, url, 0, b"abc").status_code == 204
    for c in (other, admin):
        r = head(c.s, url)
        assert r.status_code == 404
        assert "Upload-Offset" not in r.headers
        assert_problem(patch(c.s, url, 3, b"def"), 404)
        assert_problem(c.s.delete(url, headers=TUS), 404)
    assert offset_of(uploader.s, url) == 3
    r = patch(uploader.s, url, 3, b"def")
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == b"abcdef"


def test_other_pool_gets_404(stack, uploader, client_of):
    elsewhere = client_of(stack.create_pool(unique("o")), "uploader")
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6)
    # with its own token on the real URL (another pool's path) ...
    assert_problem(patch(elsewhere.s, url, 0, b"abcdef"), 404)
    r = head(elsewhere.s, url)
    assert r.status_code == 404
    assert_problem(elsewhere.s.delete(url, headers=TUS), 404)
    # ... and with the id under its own pool
    own = uploads_url(stack.base, elsewhere.pool, "/" + upload_id(url))
    assert head(elsewhere.s, own).status_code == 404
    assert_problem(patch(elsewhere.s, own, 0, b"abcdef"), 404)
    assert offset_of(uploader.s, url) == 0
    assert stack.list_all(elsewhere.pool) == []


@pytest.mark.parametrize("role", ["listener", "processor"])
def test_roles_that_may_not_upload(stack, pool, client_of, role):
    c = client_of(pool, role)
    before = stack.snapshot(pool)
    r = create(c.s, stack.base, pool, 3)
    assert_problem(r, 403)
    assert_nothing_stored(stack, pool, before)


# ---------------------------------------------------------------- termination

def test_delete(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, url, 0, b"12345").status_code == 204
    assert upload_id(url) in upload_files(stack)
    r = uploader.s.delete(url, headers=TUS)
    assert r.status_code == 204
    assert_tus(r)
    assert upload_id(url) not in upload_files(stack)
    assert head(uploader.s, url).status_code == 404
    assert_problem(patch(uploader.s, url, 5, b"67890"), 404)
    assert_problem(uploader.s.delete(url, headers=TUS), 404)
    assert rows(stack, uploader.pool) == []
    assert stack.list_all(uploader.pool) == []


def test_delete_completed_upload_keeps_the_file(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 2)
    fid = patch(uploader.s, url, 0, b"ok").headers["Pool-File-Id"]
    assert uploader.s.delete(url, headers=TUS).status_code == 204
    assert head(uploader.s, url).status_code == 404
    assert download(uploader, fid) == b"ok"


# ---------------------------------------------------------------- method override

def test_method_override(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6)
    r = uploader.s.post(url, data=b"abc", headers={
        **TUS, "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0",
        "Content-Type": OFFSET_CT})
    assert r.status_code == 204, r.text
    assert r.headers["Upload-Offset"] == "3"
    r = uploader.s.post(url, headers={**TUS, "X-HTTP-Method-Override": "HEAD"})
    assert r.status_code == 200
    assert r.headers["Upload-Offset"] == "3"
    assert r.headers["Upload-Length"] == "6"
    r = uploader.s.post(url, headers={**TUS, "X-HTTP-Method-Override": "TRACE"})
    assert_problem(r, 400)
    r = uploader.s.post(url, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204
    assert head(uploader.s, url).status_code == 404


# ---------------------------------------------------------------- expiration

def test_expired_upload_is_410_then_swept(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, url, 0, b"12345").status_code == 204
    uid = upload_id(url)
    keep_url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, keep_url, 0, b"keep").status_code == 204
    stack.psql("UPDATE uploads SET expires_at = now() - interval '1 minute'"
               " WHERE id = '%s'" % uid)
    r = head(uploader.s, url)
    assert r.status_code == 410
    assert_tus(r)
    assert_problem(patch(uploader.s, url, 5, b"67890"), 410)
    assert uid in upload_files(stack)

    p = stack.poolctl("sweep", "--json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["expired_uploads"] >= 1
    assert rep["expired_bytes"] >= 5
    assert uid not in upload_files(stack)
    assert head(uploader.s, url).status_code == 404
    # the other upload is untouched
    assert offset_of(uploader.s, keep_url) == 4
    assert upload_id(keep_url) in upload_files(stack)
    # a second sweep finds nothing more of it
    p = stack.poolctl("sweep")
    assert p.returncode == 0, p.stderr
    assert "expired uploads removed" in p.stdout


def test_expired_completed_upload_keeps_its_file(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    fid = patch(uploader.s, url, 0, b"abc").headers["Pool-File-Id"]
    stack.psql("UPDATE uploads SET expires_at = now() - interval '1 minute'"
               " WHERE id = '%s'" % upload_id(url))
    assert head(uploader.s, url).status_code == 410
    assert stack.poolctl("sweep").returncode == 0
    assert head(uploader.s, url).status_code == 404
    assert download(uploader, fid) == b"abc"
    assert [f["id"] for f in stack.list_all(uploader.pool)] == [fid]


@fs_store_only   # ages files by hand (the unit tests of the WebDAV store
                 # cover its sweep with a `before` in the future)
def test_sweep_removes_stale_spool_and_orphaned_upload_data(stack):
    os.makedirs(upload_dir(stack), exist_ok=True)
    old = time.time() - 2 * 3600
    orphan = os.path.join(upload_dir(stack), "0f0f0f0f-0000-4000-8000-000000000001")
    fresh_orphan = os.path.join(upload_dir(stack), "0f0f0f0f-0000-4000-8000-000000000002")
    stale_spool = os.path.join(stack.spool, "upSTALE1")
    fresh_spool = os.path.join(stack.spool, "upFRESH1")
    for path in (orphan, fresh_orphan, stale_spool, fresh_spool):
        with open(path, "wb") as f:
            f.write(b"x" * 100)
    os.utime(orphan, (old, old))
    os.utime(stale_spool, (old, old))
    try:
        p = stack.poolctl("sweep", "--json")
        assert p.returncode == 0, p.stderr
        rep = json.loads(p.stdout)
        assert rep["orphaned_uploads"] == 1 and rep["orphaned_bytes"] == 100, rep
        assert rep["spool_files"] == 1 and rep["spool_bytes"] == 100, rep
        assert not os.path.exists(orphan)
        assert not os.path.exists(stale_spool)
        assert os.path.exists(fresh_orphan)
        assert os.path.exists(fresh_spool)
    finally:
        for path in (fresh_orphan, fresh_spool):
            if os.path.exists(path):
                os.unlink(path)


@fs_store_only   # ages the data by hand
def test_sweep_keeps_old_data_of_live_uploads(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 10)
    assert patch(uploader.s, url, 0, b"abc").status_code == 204
    path = os.path.join(upload_dir(stack), upload_id(url))
    old = time.time() - 3 * 3600
    os.utime(path, (old, old))
    assert stack.poolctl("sweep").returncode == 0
    assert os.path.exists(path)
    r = patch(uploader.s, url, 3, b"defghij")
    assert download(uploader, r.headers["Pool-File-Id"]) == b"abcdefghij"


# ---------------------------------------------------------------- races, disconnects

def slow_patch(stack, c, url, offset, total, first):
    """Starts a PATCH announcing `total` bytes, sends `first` of them, and
    returns the socket (the request stays open)."""
    path = url[len(stack.base):]
    raw = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Tus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\nContent-Type: %s\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n"
           % (path, c.token, offset, OFFSET_CT, total)).encode() + first
    return raw_request(stack, raw, read=False)


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def test_racing_patches_one_wins(stack, uploader):
    data = os.urandom(200000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    s = slow_patch(stack, uploader, url, 0, len(data), data[:50000])
    # once the first request holds the upload's lease ...
    assert wait_for(lambda: stack.psql(
        "SELECT locked_until > now() FROM uploads WHERE id = '%s'"
        % upload_id(url)).strip() == "t")
    # ... a second one is refused, not merged (HEAD still answers)
    r = patch(uploader.s, url, 0, data)
    assert_problem(r, 423)
    assert_tus(r)
    assert r.headers["Upload-Offset"] == "0"
    assert offset_of(uploader.s, url) == 0
    assert_problem(uploader.s.delete(url, headers=TUS), 423)
    s.sendall(data[50000:])
    resp = http.client.HTTPResponse(s, method="PATCH")
    resp.begin()
    resp.read()
    s.close()
    assert resp.status == 204
    fid = resp.getheader("Pool-File-Id")
    # the loser's retry at its old offset is a conflict now
    r = patch(uploader.s, url, 0, data)
    assert_problem(r, 409)
    assert r.headers["Upload-Offset"] == str(len(data))
    assert download(uploader, fid) == data
    assert len(stack.list_all(uploader.pool)) == 1


def test_many_concurrent_patches_never_corrupt(stack, uploader):
    data = os.urandom(64 * 1024)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    results = []

    def go(i):
        s = stack.session(token=uploader.token)
        r = patch(s, url, 0, data)
        results.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(204) == 1, results
    assert set(results) <= {204, 409, 423}, results
    files = stack.list_all(uploader.pool)
    assert len(files) == 1 and files[0]["sha256"] == sha(data)


def test_disconnect_mid_patch_keeps_the_bytes(stack, uploader):
    data = os.urandom(300000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data),
                       meta=metadata(filename="resumed.bin"))
    s = slow_patch(stack, uploader, url, 0, len(data), data[:120000])
    time.sleep(0.3)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    # HEAD reports what arrived once the server has noticed
    off = wait_for(lambda: (lambda o: o if o > 0 else None)(offset_of(uploader.s, url)))
    assert off == 120000
    # the lease was given back: the upload continues from there
    r = patch(uploader.s, url, off, data[off:])
    assert r.status_code == 204, r.text
    fid = r.headers["Pool-File-Id"]
    assert download(uploader, fid) == data
    assert stack.list_all(uploader.pool)[0]["sha256"] == sha(data)


def test_disconnect_with_checksum_discards(stack, uploader):
    import base64
    data = os.urandom(100000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    path = url[len(stack.base):]
    d = base64.b64encode(hashlib.sha1(data).digest()).decode()
    raw = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: %s\r\n"
           "Upload-Checksum: sha1 %s\r\nContent-Length: %d\r\n\r\n"
           % (path, uploader.token, OFFSET_CT, d, len(data))).encode() + data[:40000]
    s = raw_request(stack, raw, read=False)
    time.sleep(0.3)
    s.close()
    # the lease comes back with the offset unchanged: a PATCH goes through
    def done():
        r = patch(uploader.s, url, 0, data)
        return r if r.status_code != 423 else None
    r = wait_for(done)
    assert r.status_code == 204, r.text
    assert download(uploader, r.headers["Pool-File-Id"]) == data


def test_stale_data_beyond_the_offset_is_cut(stack, uploader):
    """Bytes in the data file that were never recorded (a crash between the
    write and the database) do not end up in the file."""
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6)
    assert patch(uploader.s, url, 0, b"abc").status_code == 204
    stack.append_upload_data(upload_id(url), b"GARBAGE")
    r = patch(uploader.s, url, 3, b"def")
    assert r.status_code == 204
    assert download(uploader, r.headers["Pool-File-Id"]) == b"abcdef"


def test_expired_lease_of_a_crashed_writer_is_taken_over(stack, uploader):
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6)
    stack.psql("UPDATE uploads SET lock_token = 'crashed',"
               " locked_until = now() + interval '1 hour' WHERE id = '%s'" % upload_id(url))
    assert_problem(patch(uploader.s, url, 0, b"abcdef"), 423)
    assert_problem(uploader.s.delete(url, headers=TUS), 423)
    stack.psql("UPDATE uploads SET locked_until = now() - interval '1 second'"
               " WHERE id = '%s'" % upload_id(url))
    r = patch(uploader.s, url, 0, b"abcdef")
    assert r.status_code == 204
    assert "Pool-File-Id" in r.headers


def test_completion_interrupted_is_finished_by_head(stack, uploader):
    """All bytes recorded but no file yet (a failed completion): the next
    HEAD makes the file, as tus clients HEAD before anything else."""
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, 6,
                       meta=metadata(filename="late.txt"))
    assert patch(uploader.s, url, 0, b"abc").status_code == 204
    stack.append_upload_data(upload_id(url), b"def")
    stack.psql("UPDATE uploads SET upload_offset = 6 WHERE id = '%s'" % upload_id(url))
    h = head(uploader.s, url)
    assert h.status_code == 200
    fid = h.headers["Pool-File-Id"]
    assert download(uploader, fid) == b"abcdef"
    assert [f["name"] for f in stack.list_all(uploader.pool)] == ["late.txt"]


# ---------------------------------------------------------------- concatenation

def make_partial(stack, c, data, pool=None):
    url, r = create_ok(c.s, stack.base, pool or c.pool, len(data),
                       headers={"Upload-Concat": "partial"})
    if data:
        r = patch(c.s, url, 0, data)
        assert r.status_code == 204
        assert "Pool-File-Id" not in r.headers
    return url


def test_concatenation(stack, uploader):
    parts = [os.urandom(100000), os.urandom(1), os.urandom(77777)]
    urls = [make_partial(stack, uploader, p) for p in parts]
    h = head(uploader.s, urls[0])
    assert h.headers["Upload-Concat"] == "partial"
    assert h.headers["Upload-Offset"] == str(len(parts[0]))
    # partials are not files
    assert stack.list_all(uploader.pool) == []
    concat = "final;" + " ".join([urls[0][len(stack.base):]] + urls[1:])
    meta = metadata(filename="joined.bin", filetype="application/x-joined")
    r = create(uploader.s, stack.base, uploader.pool, headers={"Upload-Concat": concat},
               meta=meta)
    assert r.status_code == 201, r.text
    fid = r.headers["Pool-File-Id"]
    final = absolute(stack.base, r.headers["Location"])
    whole = b"".join(parts)
    assert download(uploader, fid) == whole
    files = stack.list_all(uploader.pool)
    assert [(f["id"], f["name"], f["sha256"], f["content_type"]) for f in files] == \
        [(fid, "joined.bin", sha(whole), "application/x-joined")]
    h = head(uploader.s, final)
    assert h.status_code == 200
    assert h.headers["Upload-Concat"] == concat
    assert h.headers["Upload-Offset"] == h.headers["Upload-Length"] == str(len(whole))
    assert h.headers["Pool-File-Id"] == fid
    # a final upload takes no PATCH
    assert_problem(patch(uploader.s, final, len(whole), b"x"), 403)
    # partials are spent: their data is gone, a second final is refused
    for u in urls:
        assert upload_id(u) not in upload_files(stack)
    r = create(uploader.s, stack.base, uploader.pool, headers={"Upload-Concat": concat})
    assert_problem(r, 409)
    assert len(stack.list_all(uploader.pool)) == 1


def test_concatenation_errors(stack, uploader, client_of):
    before = stack.snapshot(uploader.pool)
    done = make_partial(stack, uploader, b"done")
    half, _ = create_ok(uploader.s, stack.base, uploader.pool, 10,
                        headers={"Upload-Concat": "partial"})
    assert patch(uploader.s, half, 0, b"half").status_code == 204
    plain, _ = create_ok(uploader.s, stack.base, uploader.pool, 3)
    other = client_of(uploader.pool, "uploader")
    theirs = make_partial(stack, other, b"theirs")

    def final(*urls, **kw):
        return create(uploader.s, stack.base, uploader.pool,
                      headers={"Upload-Concat": "final;" + " ".join(urls), **kw})

    assert_problem(final(done, half), 409)                  # not complete
    assert_problem(final(done, plain), 400)                 # not a partial
    assert_problem(final(done, theirs), 400)                # another client's
    assert_problem(final(done, done), 400)                  # twice
    assert_problem(final(done, "http://x/pool/v1/pools/%s/uploads/nope" % uploader.pool), 400)
    assert_problem(final(done, uploads_url(stack.base, "elsewhere", "/" + upload_id(done))), 400)
    assert_problem(final(done, "/pool/v1/pools/%s/uploads/00000000-0000-4000-8000-000000000000"
                         % uploader.pool), 400)
    assert_problem(final(done, **{"Upload-Length": "4"}), 400)
    r = create(uploader.s, stack.base, uploader.pool, headers={"Upload-Concat": "final;"})
    assert_problem(r, 400)
    # nothing of that became a file; the partial is still usable
    assert stack.snapshot(uploader.pool) == before
    r = final(done)
    assert r.status_code == 201
    assert download(uploader, r.headers["Pool-File-Id"]) == b"done"


def test_concatenation_over_max_size_is_413(stack, uploader):
    half = MAX_FILE_SIZE // 2 + 1
    a = make_partial(stack, uploader, b"a" * half)
    b = make_partial(stack, uploader, b"b" * half)
    before = stack.snapshot(uploader.pool)
    r = create(uploader.s, stack.base, uploader.pool,
               headers={"Upload-Concat": "final;%s %s" % (a, b)})
    assert_problem(r, 413)
    stack.assert_nothing_stored(uploader.pool, before)
    # the partials were given back
    assert offset_of(uploader.s, a) == half


# ---------------------------------------------------------------- another host

def test_resume_on_another_host(stack, uploader, second_host):
    """The upload's state is in the database and the storage tree: a client
    may continue on another httpd (here: a second instance sharing both)."""
    data = os.urandom(200000)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    assert patch(uploader.s, url, 0, data[:80000]).status_code == 204
    there = second_host.base + url[len(stack.base):]
    assert offset_of(uploader.s, there) == 80000
    r = patch(uploader.s, there, 80000, data[80000:])
    assert r.status_code == 204, r.text
    assert download(uploader, r.headers["Pool-File-Id"]) == data


def sha_state(stack, url):
    return stack.psql("SELECT coalesce(sha256_state, '-') FROM uploads"
                      " WHERE id = '%s'" % upload_id(url)).strip()


def test_digest_state_follows_the_chunks_across_hosts(stack, uploader,
                                                      second_host):
    """The SHA-256 of the data is carried in the database from chunk to
    chunk, on whichever host they land, so completion does not read the
    data again; a discarded chunk leaves the state as it was."""
    data = os.urandom(300001)
    url, _ = create_ok(uploader.s, stack.base, uploader.pool, len(data))
    assert sha_state(stack, url) == "-"
    assert patch(uploader.s, url, 0, data[:100000]).status_code == 204
    first = sha_state(stack, url)
    assert first.startswith("s256v1:")
    there = second_host.base + url[len(stack.base):]
    # a chunk whose checksum does not match is discarded: state unchanged
    bad = patch(uploader.s, there, 100000, data[100000:200000], headers={
        "Upload-Checksum": "sha1 " + base64.b64encode(b"x" * 20).decode()})
    assert bad.status_code == 460
    assert sha_state(stack, url) == first
    assert patch(uploader.s, there, 100000,
                 data[100000:200000]).status_code == 204
    assert sha_state(stack, url) not in ("-", first)
    r = patch(uploader.s, url, 200000, data[200000:])
    assert r.status_code == 204, r.text
    fid = r.headers["Pool-File-Id"]
    got = uploader.s.get(stack.files_url(uploader.pool)).json()["files"]
    row = [f for f in got if f["id"] == fid][0]
    assert row["sha256"] == sha(data) and row["size"] == len(data)
    assert download(uploader, fid) == data


def test_upload_expiry_directive(stack, uploader, second_host):
    t0 = datetime.datetime.now(datetime.timezone.utc)
    r = create(uploader.s, second_host.base, uploader.pool, 10)
    assert r.status_code == 201
    exp = parse_http_date(r.headers["Upload-Expires"])
    delta = (exp - t0).total_seconds()
    assert SECOND_EXPIRY - 30 < delta < SECOND_EXPIRY + 30, delta
    r = requests.options(uploads_url(second_host.base, uploader.pool), timeout=30)
    assert int(r.headers["Tus-Max-Size"]) == SECOND_MAX


# ---------------------------------------------------------------- CORS

def test_cors_preflight_and_exposed_headers(stack, uploader, second_host):
    origin = CORS_ORIGINS[0]
    url = uploads_url(second_host.base, uploader.pool)
    r = requests.options(url, timeout=30, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,tus-resumable,upload-length,upload-metadata"})
    assert r.status_code in (200, 204), r.text
    assert r.headers["Access-Control-Allow-Origin"] == origin
    methods = [m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")]
    for m in ("POST", "PATCH", "HEAD", "DELETE", "OPTIONS"):
        assert m in methods
    allowed = [h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")]
    for h in ("authorization", "tus-resumable", "upload-length", "upload-metadata",
              "upload-offset", "upload-concat", "upload-checksum", "content-type",
              "x-http-method-override", "upload-defer-length",
              # conditional and ranged downloads from a browser
              "if-none-match", "if-match", "if-modified-since", "if-range", "range"):
        assert h in allowed, h
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in r.headers.get("Vary", "")
    # the preflight of an upload's URL (PATCH)
    r = requests.options(url + "/00000000-0000-4000-8000-000000000000", timeout=30, headers={
        "Origin": CORS_ORIGINS[1], "Access-Control-Request-Method": "PATCH"})
    assert r.headers["Access-Control-Allow-Origin"] == CORS_ORIGINS[1]
    # an actual request exposes the tus headers and Location
    r = create(uploader.s, second_host.base, uploader.pool, 5, headers={"Origin": origin})
    assert r.status_code == 201
    assert r.headers["Access-Control-Allow-Origin"] == origin
    exposed = [h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")]
    for h in ("location", "upload-offset", "upload-length", "upload-metadata",
              "upload-expires", "tus-resumable", "tus-version", "tus-max-size",
              "upload-concat", "pool-file-id", "content-location",
              # downloads, retries and errors
              "etag", "content-disposition", "content-range", "retry-after"):
        assert h in exposed, h
    # errors carry them too, so a browser can read them
    r = requests.post(url, headers={"Origin": origin, **TUS, "Upload-Length": "1"}, timeout=30)
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert_tus(r)


def test_cors_other_origins_get_nothing(stack, uploader, second_host):
    url = uploads_url(second_host.base, uploader.pool)
    for origin in ("http://evil.example", "http://app.example:81", "https://app.example"):
        r = requests.options(url, timeout=30, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in r.headers, origin
        r = create(uploader.s, second_host.base, uploader.pool, 5, headers={"Origin": origin})
        assert r.status_code == 201
        assert "Access-Control-Allow-Origin" not in r.headers
        assert "Access-Control-Expose-Headers" not in r.headers


def test_no_cors_by_default(stack, uploader):
    url = uploads_url(stack.base, uploader.pool)
    r = requests.options(url, timeout=30, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = create(uploader.s, stack.base, uploader.pool, 5, headers={"Origin": "http://app.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


# ---------------------------------------------------------------- directives

@pytest.mark.parametrize("line", [
    "PoolUploadExpiry 0", "PoolUploadExpiry soon", "PoolUploadExpiry 1h",
    "PoolCORSOrigins https://app.example/path", "PoolCORSOrigins app.example",
    "PoolCORSOrigins http://a.example ftp://b.example", "PoolCORSOrigins",
])
def test_bad_tus_directive_fails_configtest_and_poolctl(stack, tmp_path, line):
    """httpd -t and poolctl (which read the same file) both refuse it, naming
    the directive."""
    import subprocess
    pool_conf = tmp_path / "httpd-pool.conf"
    pool_conf.write_text(open(stack.conf).read() + "\n" + line + "\n")
    main = tmp_path / "httpd.conf"
    main.write_text(open(stack.httpd_conf).read().replace(stack.conf, str(pool_conf)))
    p = subprocess.run([APACHE2, "-f", str(main), "-t"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode != 0, p.stdout
    assert line.split()[0] in p.stdout, p.stdout
    p = stack.poolctl("-c", str(pool_conf), "sweep", conf=False)
    assert p.returncode != 0
    assert line.split()[0] in p.stderr, p.stderr


def test_good_tus_directives_pass_configtest(stack, tmp_path):
    import subprocess
    pool_conf = tmp_path / "httpd-pool.conf"
    pool_conf.write_text(open(stack.conf).read() + "\nPoolUploadExpiry 60\n"
                         "PoolCORSOrigins https://a.example \"http://b.example:8080\" *\n")
    main = tmp_path / "httpd.conf"
    main.write_text(open(stack.httpd_conf).read().replace(stack.conf, str(pool_conf)))
    p = subprocess.run([APACHE2, "-f", str(main), "-t"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
