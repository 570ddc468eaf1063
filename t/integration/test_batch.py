"""POST /pool/v1/pools/{pool}/files as multipart/form-data: batch uploads.

All or nothing: after every refused batch the pool's listing, its storage
tree and the spool are unchanged, and a bystander pool is untouched."""

import base64
import datetime
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import requests

from conftest import MAX_FILE_SIZE, assert_problem

MAX_BATCH_SIZE = 4 * MAX_FILE_SIZE      # PoolMaxBatchSize default: 4 x PoolMaxFileSize


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def utc(*a):
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc)


def new_boundary():
    return "----pooltest" + uuid.uuid4().hex


def content_digest(data):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(data).digest()).decode()


class Part:
    """One part of a multipart/form-data body."""

    def __init__(self, data=b"", filename=None, name="file", ctype=None,
                 ts=None, headers=None, disposition=None):
        self.data = data
        self.filename = filename
        self.name = name
        self.ctype = ctype
        self.ts = ts
        self.headers = headers or []
        self.disposition = disposition

    def head(self):
        if self.disposition is not None:
            cd = self.disposition
        else:
            cd = 'form-data; name="%s"' % self.name
            if self.filename is not None:
                cd += '; filename="%s"' % self.filename
        lines = []
        if cd:
            lines.append("Content-Disposition: " + cd)
        if self.ctype:
            lines.append("Content-Type: " + self.ctype)
        if self.ts is not None:
            lines.append("Pool-Ts: " + self.ts)
        lines.extend(self.headers)
        return "".join(l + "\r\n" for l in lines).encode("utf-8") + b"\r\n"


def manifest_part(obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return Part(data, name="manifest", ctype="application/json")


def encode(parts, boundary, close=True):
    out = []
    for p in parts:
        out.append(b"--" + boundary.encode() + b"\r\n" + p.head() + p.data + b"\r\n")
    body = b"".join(out)
    if close:
        body += b"--" + boundary.encode() + b"--\r\n"
    return body


def form_ctype(boundary):
    return "multipart/form-data; boundary=" + boundary


def post(client, body, ctype, **kw):
    headers = {"Content-Type": ctype} if ctype is not None else {}
    headers.update(kw.pop("headers", {}))
    return client.s.post(client.stack.files_url(client.pool), data=body,
                         headers=headers, **kw)


def post_parts(client, parts, boundary=None, **kw):
    b = boundary or new_boundary()
    return post(client, encode(parts, b), form_ctype(b), **kw)


def stored_bytes(stack, pool, fid):
    return stack.stored_bytes(pool, fid)


def raw_post(stack, client, head_extra, chunks, content_length=None,
             chunked=False, close_early=False, finish=True):
    """POST with a raw socket.  Sends chunks (stops as soon as the server
    answers); close_early closes without reading; finish=False leaves a
    Content-Length body short and half-closes.  Returns (status, body) or
    None when the socket was just closed."""
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    head = ("POST /pool/v1/pools/%s/files HTTP/1.1\r\n"
            "Host: 127.0.0.1:%d\r\n"
            "Authorization: Bearer %s\r\n" % (client.pool, stack.port, client.token))
    head += "".join(h + "\r\n" for h in head_extra)
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    elif content_length is not None:
        head += "Content-Length: %d\r\n" % content_length
    head += "\r\n"
    try:
        sock.sendall(head.encode())
        for c in chunks:
            if select.select([sock], [], [], 0)[0]:
                break           # the server answered already
            if chunked:
                sock.sendall(b"%x\r\n" % len(c) + c + b"\r\n")
            else:
                sock.sendall(c)
        else:
            if chunked and finish:
                sock.sendall(b"0\r\n\r\n")
        if close_early:
            time.sleep(0.2)
            sock.close()
            return None
        if not finish:
            sock.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            data += d
            if b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n")
                hdrs = data[:head_end].decode("latin-1").lower()
                cl = [l for l in hdrs.split("\r\n") if l.startswith("content-length:")]
                if cl and len(data) - head_end - 4 >= int(cl[0].split(":")[1]):
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 "), data[:200]
    status = int(data[9:12])
    body = data[data.index(b"\r\n\r\n") + 4:] if b"\r\n\r\n" in data else b""
    return status, body


def raw_problem(status_body, status):
    st, body = status_body
    assert st == status, (st, body[:500])
    j = json.loads(body)
    assert j["status"] == status and j["detail"] and j["request_id"], j
    return j


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def bystander(stack, client_of):
    """Another pool with one file: it must stay untouched."""
    pool = stack.create_pool()
    c = client_of(pool)
    c.upload_ok("keep.bin", b"keep me")
    before = stack.snapshot(pool)
    yield c
    assert stack.snapshot(pool) == before


@pytest.fixture
def refused(stack, uploader, bystander):
    """Checks after the test that nothing of the batch was stored."""
    before = stack.snapshot(uploader.pool)
    yield uploader
    stack.assert_nothing_stored(uploader.pool, before, wait=10)


# ---------------------------------------------------------------- success

def test_batch(stack, uploader):
    a = b"first file\n" * 50
    b = os.urandom(200000)
    # data that looks like delimiters, with CRs and LFs everywhere
    boundary = new_boundary()
    bb = boundary.encode()
    c = (b"--" + bb + b"x\r\n\r\n--" + bb[:-3] + b"\r\r\n\n--" + bb + b"-\r\nend"
         b"\r\n--" + bb + b"-x\r\n--" + bb + b"Z\r\n--" + bb + b"\rx\r\n-" + bb)
    t0 = time.time()
    r = post_parts(uploader, [
        Part(a, "a.txt", ctype="text/plain", ts="2026-11-21T10:15:00Z"),
        Part(b, "b.bin", ts="1700000000"),
        Part(c, "c.dat", ctype="application/x-test"),
    ], boundary=boundary)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    files = r.json()["files"]
    assert [f["name"] for f in files] == ["a.txt", "b.bin", "c.dat"]
    for f, data in zip(files, (a, b, c)):
        assert f["pool"] == uploader.pool
        assert f["client"] == uploader.client_id
        assert f["size"] == len(data)
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        assert stored_bytes(stack, uploader.pool, f["id"]) == data
        d = uploader.get("/" + f["id"])
        assert d.status_code == 200
        assert d.content == data
        assert d.headers["Content-Type"] == f["content_type"]
    assert [f["content_type"] for f in files] == [
        "text/plain", "application/octet-stream", "application/x-test"]
    assert parse_ts(files[0]["ts"]) == utc(2026, 11, 21, 10, 15)
    assert parse_ts(files[1]["ts"]) == utc(2023, 11, 14, 22, 13, 20)
    assert t0 - 5 <= parse_ts(files[2]["ts"]).timestamp() <= time.time() + 5
    assert len({f["id"] for f in files}) == 3
    # listed, in part order
    listed = stack.list_all(uploader.pool)
    assert [f["id"] for f in listed] == [f["id"] for f in files]
    assert listed == files
    assert stack.spool_entries() == []


def test_batch_of_one_and_empty_file(stack, uploader):
    r = post_parts(uploader, [Part(b"", "empty")])
    assert r.status_code == 201, r.text
    (f,) = r.json()["files"]
    assert f["size"] == 0
    assert f["sha256"] == hashlib.sha256(b"").hexdigest()


def test_batch_admin_and_many_parts(stack, pool, client_of):
    admin = client_of(pool, "admin")
    parts = [Part(b"%d" % i * (i + 1), "f%03d.txt" % i, ts=str(1700000000 + i))
             for i in range(200)]
    r = post_parts(admin, parts)
    assert r.status_code == 201, r.text[:500]
    files = r.json()["files"]
    assert [f["name"] for f in files] == ["f%03d.txt" % i for i in range(200)]
    assert [parse_ts(f["ts"]).timestamp() for f in files] == \
        [1700000000 + i for i in range(200)]
    assert len(stack.list_all(pool)) == 200
    assert stack.spool_entries() == []


def test_batch_manifest(stack, uploader):
    a, b = os.urandom(1000), os.urandom(2000)
    r = post_parts(uploader, [
        manifest_part({"files": [
            {"ts": "2026-11-21T11:15:00+01:00", "name": "a.bin",
             "sha256": hashlib.sha256(a).hexdigest()},
            {"ts": 1700000000},
        ]}),
        Part(a, "a.bin"),
        Part(b, "b.bin", ctype="image/png"),
    ])
    assert r.status_code == 201, r.text
    files = r.json()["files"]
    assert [f["name"] for f in files] == ["a.bin", "b.bin"]
    assert parse_ts(files[0]["ts"]) == utc(2026, 11, 21, 10, 15)
    assert parse_ts(files[1]["ts"]) == utc(2023, 11, 14, 22, 13, 20)
    assert files[1]["content_type"] == "image/png"
    assert [f["sha256"] for f in files] == [hashlib.sha256(x).hexdigest() for x in (a, b)]


def test_batch_manifest_without_content_type(stack, uploader):
    """As a browser's FormData sends a string field."""
    m = Part(json.dumps({"files": [{"ts": "1"}]}).encode(), name="manifest")
    r = post_parts(uploader, [m, Part(b"x", "x.bin")])
    assert r.status_code == 201, r.text
    assert parse_ts(r.json()["files"][0]["ts"]) == utc(1970, 1, 1, 0, 0, 1)


def test_batch_filename_star_and_utf8(stack, uploader):
    r = post_parts(uploader, [
        Part(b"1", disposition="form-data; name=\"file\"; filename=\"fallback.txt\"; "
             "filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29.txt"),
        Part(b"2", disposition='form-data; name="file"; filename="日本語.bin"'),
        Part(b"3", disposition='form-data; name="file"; filename="quote \\" in.txt"'),
    ])
    assert r.status_code == 201, r.text
    assert [f["name"] for f in r.json()["files"]] == \
        ["résumé (1).txt", "日本語.bin", 'quote " in.txt']


def test_batch_part_content_digest(stack, uploader):
    a, b = os.urandom(5000), os.urandom(7000)
    r = post_parts(uploader, [
        Part(a, "a.bin", headers=["Content-Digest: " + content_digest(a)]),
        Part(b, "b.bin", headers=["Content-Digest: md5=:AAAA:, " + content_digest(b)]),
    ])
    assert r.status_code == 201, r.text


def test_batch_chunked_body(stack, uploader):
    data = [os.urandom(300000 + i) for i in range(3)]
    b = new_boundary()
    body = encode([Part(d, "c%d.bin" % i) for i, d in enumerate(data)], b)

    def gen():
        for i in range(0, len(body), 7777):
            yield body[i:i + 7777]

    r = post(uploader, gen(), form_ctype(b))
    assert r.status_code == 201, r.text
    assert [f["sha256"] for f in r.json()["files"]] == \
        [hashlib.sha256(d).hexdigest() for d in data]


def test_batch_python_requests_files(stack, uploader):
    """urllib3's own multipart encoder, per-part headers for the ts."""
    a, b = os.urandom(3000), b"text\n"
    r = uploader.s.post(stack.files_url(uploader.pool), files=[
        ("file", ("a.bin", a, "application/octet-stream",
                  {"Pool-Ts": "2026-11-21T10:15:00Z"})),
        ("file", ("b.txt", b, "text/plain", {"Pool-Ts": "1700000000"})),
    ])
    assert r.status_code == 201, r.text
    files = r.json()["files"]
    assert [f["name"] for f in files] == ["a.bin", "b.txt"]
    assert parse_ts(files[0]["ts"]) == utc(2026, 11, 21, 10, 15)
    assert [f["sha256"] for f in files] == [hashlib.sha256(x).hexdigest() for x in (a, b)]


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_batch_with_curl(stack, uploader, tmp_path):
    """curl's own multipart/form-data (-F) as a client nobody here wrote."""
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    a.write_bytes(os.urandom(100000))
    b.write_bytes(b"plain text\n" * 1000)
    p = subprocess.run(
        ["curl", "-sS", "-H", "Authorization: Bearer " + uploader.token,
         "-F", "file=@%s;type=text/plain" % b,
         "-F", 'file=@%s;headers="Pool-Ts: 2026-11-21T10:15:00Z"' % a,
         "-w", "\n%{http_code}", stack.files_url(uploader.pool)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, code = p.stdout.rsplit("\n", 1)
    assert code == "201", p.stdout
    files = json.loads(body)["files"]
    assert [f["name"] for f in files] == ["b.bin", "a.bin"]
    assert files[0]["content_type"] == "text/plain"
    assert parse_ts(files[1]["ts"]) == utc(2026, 11, 21, 10, 15)
    assert [f["sha256"] for f in files] == [
        hashlib.sha256(b.read_bytes()).hexdigest(),
        hashlib.sha256(a.read_bytes()).hexdigest()]
    for f, path in zip(files, (b, a)):
        assert uploader.get("/" + f["id"]).content == path.read_bytes()


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_batch_with_curl_manifest(stack, uploader, tmp_path):
    a = tmp_path / "x.bin"
    a.write_bytes(b"x" * 10)
    m = tmp_path / "manifest.json"
    m.write_text(json.dumps({"files": [{"ts": "1700000000", "name": "x.bin"}]}))
    p = subprocess.run(
        ["curl", "-sS", "-H", "Authorization: Bearer " + uploader.token,
         "-F", "manifest=<%s;type=application/json" % m,
         "-F", "file=@%s" % a,
         "-w", "\n%{http_code}", stack.files_url(uploader.pool)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, code = p.stdout.rsplit("\n", 1)
    assert code == "201", p.stdout
    (f,) = json.loads(body)["files"]
    assert parse_ts(f["ts"]) == utc(2023, 11, 14, 22, 13, 20)


# ---------------------------------------------------------------- refused: fields

def test_bad_ts_in_part_2_of_3(stack, refused):
    r = post_parts(refused, [
        Part(b"one", "a.bin", ts="2026-11-21T10:15:00Z"),
        Part(b"two", "b.bin", ts="yesterday"),
        Part(b"three", "c.bin"),
    ])
    j = assert_problem(r, 422, field="files[1].ts")
    assert j["part"] == 1
    assert 'files[1] ("b.bin")' in j["detail"]
    assert "ts" in j["detail"]


@pytest.mark.parametrize("ts", ["", "2026-13-01T00:00:00Z", "-5", "1e9",
                                "2026-11-21T10:15:00"])
def test_bad_ts_forms(stack, refused, ts):
    r = post_parts(refused, [Part(b"x", "x.bin", ts=ts)])
    assert_problem(r, 422, field="files[0].ts")


@pytest.mark.parametrize("disposition", [
    'form-data; name="file"; filename="a/b"',
    'form-data; name="file"; filename=".."',
    'form-data; name="file"; filename=""',
    'form-data; name="file"; filename="a\\\\b"',
    'form-data; name="file"; filename="tab\there"',
    'form-data; name="file"',                                     # no filename
    "form-data; name=\"file\"; filename*=UTF-8''a%2Fb",
    "form-data; name=\"file\"; filename*=UTF-8''a%00b",
    "form-data; name=\"file\"; filename*=UTF-8''%FF%FE",
    "form-data; name=\"file\"; filename*=UTF-8''%01",
    "form-data; name=\"file\"; filename*=ISO-8859-1''a%E9",
    "form-data; name=\"file\"; filename*=UTF-8''bad%zz",
    'form-data; name="file"; filename="%s"' % ("a" * 256),
])
def test_bad_name(stack, refused, disposition):
    r = post_parts(refused, [Part(b"ok", "ok.bin"),
                             Part(b"data", disposition=disposition)])
    j = assert_problem(r, 422, field="files[1].name")
    assert j["part"] == 1
    assert j["detail"].startswith("files[1]")


def test_bad_part_content_type(stack, refused):
    r = post_parts(refused, [Part(b"x", "x.bin", ctype="not a type")])
    assert_problem(r, 422, field="files[0].content_type")


def test_unsupported_transfer_encoding(stack, refused):
    r = post_parts(refused, [Part(b"eA==", "x.bin",
                                  headers=["Content-Transfer-Encoding: base64"])])
    assert_problem(r, 400, field="files[0]")


def test_unexpected_form_field(stack, refused):
    r = post_parts(refused, [Part(b"x", "x.bin"), Part(b"value", name="comment")])
    j = assert_problem(r, 422, field="parts[1]")
    assert "comment" in j["detail"]


def test_no_file_part(stack, refused):
    b = new_boundary()
    r = post(refused, ("--%s--\r\n" % b).encode(), form_ctype(b))
    assert_problem(r, 422, field="files")


# ---------------------------------------------------------------- refused: digests

def test_digest_mismatch(stack, refused):
    a, b, c = os.urandom(1000), os.urandom(1000), os.urandom(1000)
    r = post_parts(refused, [
        Part(a, "a.bin", headers=["Content-Digest: " + content_digest(a)]),
        Part(b, "b.bin"),
        Part(c, "c.bin", headers=["Content-Digest: " + content_digest(c + b"x")]),
    ])
    j = assert_problem(r, 400, field="files[2].sha256")
    assert j["part"] == 2
    assert 'files[2] ("c.bin")' in j["detail"]


def test_malformed_digest(stack, refused):
    r = post_parts(refused, [Part(b"a", "a.bin", headers=["Content-Digest: sha-256=:abc:"])])
    assert_problem(r, 400, field="files[0].sha256")


def test_manifest_sha256_mismatch(stack, refused):
    r = post_parts(refused, [
        manifest_part({"files": [{}, {"sha256": "0" * 64}]}),
        Part(b"a", "a.bin"),
        Part(b"b", "b.bin"),
    ])
    j = assert_problem(r, 400, field="files[1].sha256")
    assert j["part"] == 2


# ---------------------------------------------------------------- refused: manifest

@pytest.mark.parametrize("manifest,status,field", [
    (b"{not json", 400, "manifest"),
    (b"[]", 400, "manifest"),
    ({"files": {}}, 422, "manifest.files"),
    ({"files": [{}], "extra": 1}, 422, "manifest"),
    ({"files": [{"ts": "soon"}]}, 422, "files[0].ts"),
    ({"files": [{"ts": -1}]}, 422, "manifest.files[0].ts"),
    ({"files": [{"ts": 1.5}]}, 422, "manifest.files[0].ts"),
    ({"files": [{"sha256": "xyz"}]}, 422, "manifest.files[0].sha256"),
    ({"files": [{"size": 1}]}, 422, "manifest.files[0]"),
    ({"files": ["a.bin"]}, 422, "manifest.files[0]"),
    ({"files": [{"name": "other.bin"}]}, 422, "files[0].name"),
    ({"files": [{"ts": "1"}]}, 422, "files[0].ts"),     # Pool-Ts as well
    ({"files": [{}, {}]}, 422, "manifest.files"),       # one file too few
    ({"files": []}, 422, "manifest.files"),             # one file too many
])
def test_bad_manifest(stack, refused, manifest, status, field):
    ts = "2" if manifest == {"files": [{"ts": "1"}]} else None
    r = post_parts(refused, [manifest_part(manifest), Part(b"a", "a.bin", ts=ts)])
    assert_problem(r, status, field=field)


def test_manifest_not_first(stack, refused):
    r = post_parts(refused, [Part(b"a", "a.bin"), manifest_part({"files": [{}]})])
    j = assert_problem(r, 422, field="manifest")
    assert j["part"] == 1


def test_manifest_wrong_type(stack, refused):
    m = manifest_part({"files": [{}]})
    m.ctype = "text/csv"
    r = post_parts(refused, [m, Part(b"a", "a.bin")])
    assert_problem(r, 422, field="manifest")


# ---------------------------------------------------------------- refused: sizes

def test_one_part_over_the_size_limit(stack, refused):
    b = new_boundary()
    small = encode([Part(b"ok", "ok.bin")], b, close=False)
    big_head = b"--" + b.encode() + b"\r\n" + Part(filename="big.bin").head()
    tail = b"\r\n" + encode([Part(b"late", "late.bin")], b)
    total = len(small) + len(big_head) + MAX_FILE_SIZE + 1 + len(tail)
    block = os.urandom(65536)

    def chunks():
        yield small + big_head
        left = MAX_FILE_SIZE + 1
        while left > 0:
            n = min(left, len(block))
            yield block[:n]
            left -= n
        yield tail

    j = raw_problem(raw_post(stack, refused, ["Content-Type: " + form_ctype(b)],
                             chunks(), content_length=total), 413)
    assert j["field"] == "files[1]"
    assert j["part"] == 1
    assert 'files[1] ("big.bin")' in j["detail"]


def test_part_of_exactly_the_limit_is_accepted(stack, uploader):
    data = os.urandom(MAX_FILE_SIZE)
    r = post_parts(uploader, [Part(b"a", "a.bin"), Part(data, "max.bin")])
    assert r.status_code == 201, r.text[:300]
    assert r.json()["files"][1]["size"] == MAX_FILE_SIZE


def test_batch_over_its_limit_announced(stack, refused):
    b = new_boundary()
    st = raw_post(stack, refused, ["Content-Type: " + form_ctype(b)], [],
                  content_length=MAX_BATCH_SIZE + 1)
    j = raw_problem(st, 413)
    assert "PoolMaxBatchSize" in j["detail"]


def test_batch_over_its_limit_streamed(stack, refused):
    """Parts each under PoolMaxFileSize, together over PoolMaxBatchSize."""
    b = new_boundary()
    part_size = MAX_FILE_SIZE - 1024
    block = os.urandom(65536)

    def chunks():
        for i in range(MAX_BATCH_SIZE // part_size + 2):
            yield b"--" + b.encode() + b"\r\n" + Part(filename="p%d.bin" % i).head()
            left = part_size
            while left > 0:
                n = min(left, len(block))
                yield block[:n]
                left -= n
            yield b"\r\n"
        yield b"--" + b.encode() + b"--\r\n"

    j = raw_problem(raw_post(stack, refused, ["Content-Type: " + form_ctype(b)],
                             chunks(), chunked=True), 413)
    assert "PoolMaxBatchSize" in j["detail"]


def test_too_many_parts(stack, refused):
    parts = [Part(b"x", "f%d" % i) for i in range(1001)]
    r = post_parts(refused, parts)
    j = assert_problem(r, 413, field="files")
    assert "1000" in j["detail"]


def test_part_headers_too_long(stack, refused):
    r = post_parts(refused, [Part(b"x", "x.bin", headers=["X-Pad: " + "p" * 9000])])
    j = assert_problem(r, 413)
    assert j["part"] == 0


# ---------------------------------------------------------------- refused: malformed

@pytest.mark.parametrize("ctype", [
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=\"\"",
    "multipart/form-data; boundary=" + "b" * 71,
    "multipart/form-data; boundary=\"bad\\\"char\"",
    "multipart/form-data; boundary=\"trailing space \"",
    "multipart/form-data; boundary=a; boundary=b",
])
def test_bad_boundary_parameter(stack, refused, ctype):
    body = encode([Part(b"x", "x.bin")], "a")
    r = post(refused, body, ctype)
    j = assert_problem(r, 400)
    assert "Content-Type" in j["detail"] or "boundary" in j["detail"]


@pytest.mark.parametrize("body", [
    b"",
    b"garbage, not multipart at all\r\n",
    b"--other-boundary\r\nContent-Disposition: form-data; name=\"file\"; "
    b"filename=\"x\"\r\n\r\nx\r\n--other-boundary--\r\n",
])
def test_garbage_body(stack, refused, body):
    r = post(refused, body, form_ctype("the-boundary"))
    j = assert_problem(r, 400)
    assert "boundary" in j["detail"]


BAD_BODIES = {
    "bare LF in headers":
        b"--B\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\n\nx\n--B--\n",
    "no Content-Disposition":
        b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n",
    "not form-data":
        b"--B\r\nContent-Disposition: attachment; filename=\"x\"\r\n\r\nx\r\n--B--\r\n",
    "no name":
        b"--B\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nx\r\n--B--\r\n",
    "unclosed quote":
        b"--B\r\nContent-Disposition: form-data; name=\"file; filename=x\r\n\r\nx\r\n--B--\r\n",
    "repeated header":
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n"
        b"Content-Type: text/plain\r\ncontent-type: text/html\r\n\r\nx\r\n--B--\r\n",
    "junk after boundary":
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nx\r\n"
        b"--B   junk\r\n\r\n--B--\r\n",
    "folded header":
        b"--B\r\nContent-Disposition: form-data;\r\n name=\"file\"; filename=\"x\"\r\n\r\nx\r\n--B--\r\n",
    "repeated parameter":
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"; "
        b"filename=\"y\"\r\n\r\nx\r\n--B--\r\n",
}


@pytest.mark.parametrize("what", sorted(BAD_BODIES))
def test_malformed_body(stack, refused, what):
    good = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ok\"\r\n"
            b"\r\nfine\r\n")
    body = BAD_BODIES[what]
    if what != "bare LF in headers":
        body = good + body      # a good part first: it must not be kept
    r = post(refused, body, form_ctype("B"))
    j = assert_problem(r, 400)
    assert "part" in j["detail"], j


def test_missing_close_delimiter(stack, refused):
    b = new_boundary()
    body = encode([Part(b"a", "a.bin"), Part(b"b", "b.bin")], b, close=False)
    r = post(refused, body, form_ctype(b))
    j = assert_problem(r, 400)
    assert "closing boundary" in j["detail"]
    assert j["part"] == 1


def test_truncated_body_client_goes_away(stack, refused):
    """Half of a valid body (Content-Length says more), then the client
    closes: nothing stored, spool cleaned."""
    b = new_boundary()
    body = encode([Part(os.urandom(400000), "a.bin"), Part(os.urandom(400000), "b.bin")], b)
    for cut in (len(body) // 4, len(body) // 2, len(body) - 10):
        assert raw_post(stack, refused, ["Content-Type: " + form_ctype(b)],
                        [body[:cut]], content_length=len(body),
                        close_early=True) is None


def test_truncated_body_content_length_ends_early(stack, refused):
    """The client half-closes after sending less than its Content-Length."""
    b = new_boundary()
    body = encode([Part(os.urandom(100000), "a.bin"), Part(os.urandom(100000), "b.bin")], b)
    st, resp = raw_post(stack, refused, ["Content-Type: " + form_ctype(b)],
                        [body[:len(body) * 3 // 4]], content_length=len(body),
                        finish=False)
    assert st in (400, 408), (st, resp[:300])


def test_truncated_chunked_body(stack, refused):
    """A complete chunked request whose multipart body stops inside a part."""
    b = new_boundary()
    body = encode([Part(b"a" * 1000, "a.bin"), Part(b"b" * 1000, "b.bin")], b)
    j = raw_problem(raw_post(stack, refused, ["Content-Type: " + form_ctype(b)],
                             [body[:len(body) - 100]], chunked=True), 400)
    assert j["part"] == 1
    assert "b.bin" in j["detail"]


def test_client_disconnects_mid_chunked_batch(stack, refused):
    b = new_boundary()
    head = encode([Part(os.urandom(100000), "a.bin")], b, close=False)
    head += b"--" + b.encode() + b"\r\n" + Part(filename="b.bin").head()
    chunks = [head] + [os.urandom(65536) for _ in range(8)]
    assert raw_post(stack, refused, ["Content-Type: " + form_ctype(b)], chunks,
                    chunked=True, close_early=True, finish=False) is None


# ---------------------------------------------------------------- refused: who, what

@pytest.mark.parametrize("ctype", [None, "application/json", "multipart/mixed; boundary=a",
                                   "application/x-www-form-urlencoded", "text/plain"])
def test_wrong_content_type(stack, refused, ctype):
    body = encode([Part(b"x", "x.bin")], "a")
    r = post(refused, body, ctype)
    assert_problem(r, 415)


@pytest.mark.parametrize("role", ["listener", "processor"])
def test_role_may_not_upload(stack, pool, client_of, bystander, role):
    c = client_of(pool, role)
    before = stack.snapshot(pool)
    r = post_parts(c, [Part(b"x", "x.bin")])
    assert_problem(r, 403)
    stack.assert_nothing_stored(pool, before)


def test_other_pool_is_404(stack, uploader, bystander):
    before = stack.snapshot(bystander.pool)
    b = new_boundary()
    r = uploader.s.post(stack.files_url(bystander.pool),
                        data=encode([Part(b"x", "x.bin")], b),
                        headers={"Content-Type": form_ctype(b)})
    j = assert_problem(r, 404)
    assert bystander.pool not in j["detail"]
    stack.assert_nothing_stored(bystander.pool, before)


def test_no_credentials(stack, pool):
    b = new_boundary()
    r = requests.post(stack.files_url(pool), data=encode([Part(b"x", "x.bin")], b),
                      headers={"Content-Type": form_ctype(b)}, timeout=30)
    assert_problem(r, 401)


def test_database_down_removes_the_batch(stack, uploader, allow_errors):
    """The rows cannot be written: the files just moved into place are
    removed again; the batch is answered 503 and nothing stays."""
    allow_errors(r"(?i)database|postgres|connect|libpq|server closed|socket")
    before = stack.snapshot(uploader.pool)
    stack.pg_stop()
    try:
        r = post_parts(uploader, [Part(os.urandom(10000), "a.bin"),
                                  Part(os.urandom(10000), "b.bin")])
        assert_problem(r, 503)
        if stack.dav:
            # the WebDAV store has no view: an object is final once moved
            # into place, and the bytes of an outcome that stayed unknown
            # are kept there for poolctl sweep (the directory store keeps
            # them in .staged/, outside stored_paths); in no listing
            kept = set(stack.stored_paths(uploader.pool)) - set(before["paths"])
            assert len(kept) <= 2, kept
            before["paths"] = stack.stored_paths(uploader.pool)
        assert stack.stored_paths(uploader.pool) == before["paths"]
        assert stack.spool_entries() == []
    finally:
        stack.pg_start()
    deadline = time.time() + 15
    while time.time() < deadline:
        if uploader.get().status_code == 200:
            break
        time.sleep(0.2)
    stack.assert_nothing_stored(uploader.pool, before)
    r = post_parts(uploader, [Part(b"after", "after.bin")])
    assert r.status_code == 201, r.text
