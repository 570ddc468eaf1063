"""PUT /pool/v1/pools/{pool}/files/{name}?ts=T: direct upload."""

import base64
import datetime
import hashlib
import http.client
import os
import select
import time
from urllib.parse import quote

import pytest

from conftest import MAX_FILE_SIZE, assert_problem


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))


def utc(*a):
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc)


def test_upload(stack, uploader):
    data = b"hello pool\n" * 100
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    r = uploader.upload("hello.txt", data, ts="2026-11-21T10:15:00Z",
                        headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("X-Request-Id")
    j = r.json()
    for k in ("id", "pool", "name", "size", "sha256", "content_type", "ts",
              "received_at", "client"):
        assert k in j, (k, j)
    assert j["pool"] == uploader.pool
    assert j["name"] == "hello.txt"
    assert j["size"] == len(data)
    assert j["sha256"] == hashlib.sha256(data).hexdigest()
    assert j["content_type"] == "text/plain"
    assert parse_ts(j["ts"]) == utc(2026, 11, 21, 10, 15)
    received = parse_ts(j["received_at"])
    assert before - datetime.timedelta(seconds=5) <= received
    assert received <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    assert j["client"] == uploader.client_id
    loc = r.headers["Location"]
    assert loc.endswith("/pool/v1/pools/%s/files/%s" % (uploader.pool, j["id"])), loc

    # stored by id, with the same bytes, and the spool is clean
    assert stack.stored_bytes(uploader.pool, j["id"]) == data
    assert stack.spool_entries() == []
    # and listed
    assert [f["id"] for f in stack.list_all(uploader.pool)] == [j["id"]]


@pytest.mark.parametrize("ts,expected", [
    ("1700000000", utc(2023, 11, 14, 22, 13, 20)),
    ("0", utc(1970, 1, 1)),
    ("2026-11-21T11:15:00+01:00", utc(2026, 11, 21, 10, 15)),
    ("2026-11-21t10:15:00z", utc(2026, 11, 21, 10, 15)),
    ("2026-11-21T10:15:00.25Z", utc(2026, 11, 21, 10, 15, 0, 250000)),
])
def test_ts_forms(stack, uploader, ts, expected):
    j = uploader.upload_ok("t.bin", b"x", ts=ts)
    assert parse_ts(j["ts"]) == expected


def test_ts_missing_means_now(stack, uploader):
    t0 = time.time()
    j = uploader.upload_ok("now.bin", b"x")
    t = parse_ts(j["ts"]).timestamp()
    assert t0 - 5 <= t <= time.time() + 5


def test_default_content_type(stack, uploader):
    j = uploader.upload_ok("blob", b"\x00\x01\x02")
    assert j["content_type"] == "application/octet-stream"


def test_same_name_twice_gives_two_files(stack, uploader):
    a = uploader.upload_ok("same.txt", b"one")
    b = uploader.upload_ok("same.txt", b"two")
    assert a["id"] != b["id"]
    assert len(stack.list_all(uploader.pool)) == 2


def test_empty_file(stack, uploader):
    j = uploader.upload_ok("empty", b"")
    assert j["size"] == 0
    assert j["sha256"] == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("name", [
    "résumé (1).txt",
    "a" * 255,
    "with space and 'quotes' & ampersand.txt",
    "日本語.bin",
    ".hidden",
    "a..b",
])
def test_good_names(stack, uploader, name):
    j = uploader.upload_ok(name, b"data")
    assert j["name"] == name
    listed = stack.list_all(uploader.pool)
    assert [f["name"] for f in listed] == [name]


@pytest.mark.parametrize("raw,name", [
    ("100%25.txt", "100%.txt"),
    ("a%2541", "a%41"),
    ("%2525", "%25"),
    ("x%20y%2Bz", "x y+z"),
])
def test_percent_in_names_is_decoded_once(stack, uploader, raw, name):
    """httpd decodes the path before modules see it; the name is decoded
    once, from what the client sent."""
    j = uploader.upload_ok(raw, b"data", quote_name=False)
    assert j["name"] == name
    assert [f["name"] for f in stack.list_all(uploader.pool)] == [name]


def test_admin_may_upload(stack, pool, client_of):
    admin = client_of(pool, "admin")
    j = admin.upload_ok("by-admin.txt", b"x")
    assert j["client"] == admin.client_id


@pytest.mark.parametrize("role", ["listener", "processor"])
def test_roles_that_may_not_upload(stack, pool, client_of, role):
    c = client_of(pool, role)
    before = stack.snapshot(pool)
    r = c.upload("nope.txt", b"not allowed")
    assert_problem(r, 403)
    stack.assert_nothing_stored(pool, before)


# ---------------------------------------------------------------- bad names

@pytest.mark.parametrize("raw", [
    "a%2Fb",            # '/'
    "%2F",
    "a%5Cb",            # '\'
    "%01abc",           # control characters
    "a%0Ab",
    "tab%09",
    "del%7F",
    "c1%C2%85",         # U+0085, a C1 control
    "%FF%FE",           # not UTF-8
    "a" * 256,          # too long
    "%C3%A9" * 128,     # 256 bytes of UTF-8
])
def test_bad_name_is_422(stack, uploader, raw):
    before = stack.snapshot(uploader.pool)
    r = uploader.upload(raw, b"data", quote_name=False)
    assert_problem(r, 422, field="name")
    stack.assert_nothing_stored(uploader.pool, before)


def test_empty_name_is_422(stack, uploader):
    before = stack.snapshot(uploader.pool)
    r = uploader.s.put(stack.files_url(uploader.pool, "/"), data=b"data")
    assert_problem(r, 422, field="name")
    stack.assert_nothing_stored(uploader.pool, before)


@pytest.mark.parametrize("raw", ["..", "%2E%2E", ".", "%2E", "%00", "a%00b"])
def test_dot_and_nul_names_are_refused(stack, uploader, raw):
    """httpd itself may resolve dot segments or refuse %00 before the module
    sees the name; whoever answers, nothing is stored and nothing escapes."""
    before = stack.snapshot(uploader.pool)
    top_before = stack.storage_top()
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    path = "/pool/v1/pools/%s/files/%s" % (uploader.pool, raw)
    conn.request("PUT", path, body=b"data",
                 headers={"Authorization": "Bearer " + uploader.token})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status in (400, 404, 405, 422), (resp.status, body[:300])
    if resp.status == 422:
        assert b'"name"' in body
    stack.assert_nothing_stored(uploader.pool, before)
    assert stack.storage_top() == top_before


# ---------------------------------------------------------------- bad ts

@pytest.mark.parametrize("ts", [
    "yesterday",
    "2026-13-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "2026-11-21T25:00:00Z",
    "2026-11-21T10:15:60Z",
    "2026-11-21 10:15:00",
    "2026-11-21T10:15:00",      # no offset
    "12abc",
    "-5",
    "1e9",
    "99999999999999999999999",
    "",
    "9999-12-31T23:59:59Z",     # its window would end in year 10000
    "9999-01-01T00:00:00Z",
    "253370764800",             # the same instant in Unix seconds
])
def test_bad_ts_is_422(stack, uploader, ts):
    before = stack.snapshot(uploader.pool)
    r = uploader.upload("t.bin", b"x", ts=ts)
    assert_problem(r, 422, field="ts")
    stack.assert_nothing_stored(uploader.pool, before)


# ---------------------------------------------------------------- query hygiene
# Query parameters are read whole or refused (issue 11): a NUL or a bad
# escape in a value is not cut off, a parameter given twice is not half
# taken; the answer names the parameter and nothing is stored.

@pytest.mark.parametrize("query, status, field", [
    ("ts=1795256100%00x", 422, "ts"),
    ("ts=%00", 422, "ts"),
    ("ts=17952561%zz", 422, "ts"),
    ("ts=1795256100&ts=1795256200", 400, "ts"),
    ("ts=1795256100&ts=1795256100", 400, "ts"),
    ("a%00b=1&ts=1795256100", 422, None),
    ("x=1&x=2", 400, "x"),
])
def test_bad_query_is_refused_naming_the_parameter(stack, uploader, query, status, field):
    before = stack.snapshot(uploader.pool)
    r = uploader.s.put(stack.files_url(uploader.pool, "/q.bin") + "?" + query,
                       data=b"data")
    j = assert_problem(r, status, field=field)
    if field is None:
        assert "field" not in j, j
    stack.assert_nothing_stored(uploader.pool, before)


def test_plus_in_query_is_a_space_and_escaped_plus_a_plus(stack, uploader):
    """'+' in a query is a space (forms); ts puts it back as the offset sign,
    and %2B is a plus as written."""
    for raw in ("2026-11-21T10:15:00+01:00", "2026-11-21T10:15:00%2B01:00"):
        r = uploader.s.put(stack.files_url(uploader.pool, "/p.bin") + "?ts=" + raw,
                           data=b"p")
        assert r.status_code == 201, (raw, r.status_code, r.text)
        assert parse_ts(r.json()["ts"]) == utc(2026, 11, 21, 9, 15)


@pytest.mark.parametrize("query, status, field", [
    ("limit=1&limit=2", 400, "limit"),
    ("limit=1%00", 422, "limit"),
    ("after=%G0", 422, "after"),
])
def test_bad_query_on_listing(stack, uploader, query, status, field):
    uploader.upload_ok("l.bin", b"l")
    r = uploader.s.get(stack.files_url(uploader.pool) + "?" + query)
    assert_problem(r, status, field=field)


def test_empty_pieces_of_a_query_are_ignored(stack, uploader):
    r = uploader.s.put(stack.files_url(uploader.pool, "/e.bin")
                       + "?&&ts=1795256100&", data=b"e")
    assert r.status_code == 201, (r.status_code, r.text)


@pytest.mark.parametrize("method, rest, allowed", [
    ("DELETE", "", {"GET", "HEAD", "POST"}),
    ("PATCH", "", {"GET", "HEAD", "POST"}),
    ("DELETE", "/x.bin", {"GET", "HEAD", "PUT"}),
    ("POST", "/x.bin", {"GET", "HEAD", "PUT"}),
])
def test_405_allow_lists_what_the_path_accepts(stack, uploader, method, rest, allowed):
    before = stack.snapshot(uploader.pool)
    r = uploader.s.request(method, stack.files_url(uploader.pool, rest), data=b"x")
    assert_problem(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed
    stack.assert_nothing_stored(uploader.pool, before)


# ---------------------------------------------------------------- Content-Digest

def content_digest(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_content_digest_ok(stack, uploader):
    data = os.urandom(10000)
    j = uploader.upload_ok("d.bin", data, headers={"Content-Digest": content_digest(data)})
    assert j["sha256"] == hashlib.sha256(data).hexdigest()


def test_content_digest_mismatch_is_400(stack, uploader):
    before = stack.snapshot(uploader.pool)
    data = os.urandom(10000)
    r = uploader.upload("d.bin", data, headers={"Content-Digest": content_digest(data + b"x")})
    assert_problem(r, 400)
    stack.assert_nothing_stored(uploader.pool, before)


def test_content_digest_mismatch_chunked_is_400(stack, uploader):
    before = stack.snapshot(uploader.pool)
    data = os.urandom(100000)

    def gen():
        for i in range(0, len(data), 8192):
            yield data[i:i + 8192]

    r = uploader.upload("d.bin", gen(), headers={"Content-Digest": content_digest(b"other")})
    assert_problem(r, 400)
    stack.assert_nothing_stored(uploader.pool, before)


# ---------------------------------------------------------------- size limit

def raw_put(stack, uploader, name, total, chunked, send_bytes=None, timeout=60):
    """PUT with a raw connection that stops sending as soon as the server
    answers (it may refuse before the whole body is sent) and tolerates the
    server closing early.  Returns (status, body, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=timeout)
    path = "/pool/v1/pools/%s/files/%s" % (uploader.pool, quote(name, safe=""))
    conn.putrequest("PUT", path, skip_accept_encoding=True)
    conn.putheader("Authorization", "Bearer " + uploader.token)
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
            if chunked:
                conn.send(b"%x\r\n" % n + block[:n] + b"\r\n")
            else:
                conn.send(block[:n])
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


def test_too_big_with_content_length_is_413(stack, uploader):
    before = stack.snapshot(uploader.pool)
    status, body, headers = raw_put(stack, uploader, "big.bin", MAX_FILE_SIZE + 1,
                                    chunked=False)
    assert status == 413, body[:300]
    assert headers.get("Content-Type", "").startswith("application/problem+json")
    stack.assert_nothing_stored(uploader.pool, before)


def test_too_big_announced_is_refused_before_the_body(stack, uploader):
    """A Content-Length over the limit is refused without reading the body."""
    before = stack.snapshot(uploader.pool)
    status, body, _ = raw_put(stack, uploader, "huge.bin", 50 * MAX_FILE_SIZE,
                              chunked=False, send_bytes=0, timeout=10)
    assert status == 413, body[:300]
    stack.assert_nothing_stored(uploader.pool, before)


def test_too_big_chunked_is_413(stack, uploader):
    before = stack.snapshot(uploader.pool)
    status, body, headers = raw_put(stack, uploader, "big.bin", MAX_FILE_SIZE + 70000,
                                    chunked=True)
    assert status == 413, body[:300]
    stack.assert_nothing_stored(uploader.pool, before)


def test_exactly_max_size_is_accepted(stack, uploader):
    data = os.urandom(MAX_FILE_SIZE)
    j = uploader.upload_ok("max.bin", data)
    assert j["size"] == MAX_FILE_SIZE
    assert j["sha256"] == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- bodies

def test_chunked_upload(stack, uploader):
    data = os.urandom(3 * 1024 * 1024 + 17)

    def gen():
        for i in range(0, len(data), 100000):
            yield data[i:i + 100000]

    j = uploader.upload_ok("chunked.bin", gen())
    assert j["size"] == len(data)
    assert j["sha256"] == hashlib.sha256(data).hexdigest()
    r = uploader.get("/" + j["id"])
    assert r.status_code == 200
    assert r.content == data


def test_large_file_round_trip(stack, uploader):
    data = os.urandom(7 * 1024 * 1024 + 3)
    j = uploader.upload_ok("large.bin", data, headers={"Content-Type": "application/x-test"})
    assert j["size"] == len(data)
    assert j["sha256"] == hashlib.sha256(data).hexdigest()
    r = uploader.get("/" + j["id"], stream=True)
    assert r.status_code == 200
    h = hashlib.sha256()
    n = 0
    for chunk in r.iter_content(1 << 16):
        h.update(chunk)
        n += len(chunk)
    assert n == len(data)
    assert h.hexdigest() == j["sha256"]
    assert r.headers["Content-Type"] == "application/x-test"
