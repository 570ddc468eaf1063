"""Folders: where an upload goes (?folder= on PUT, a batch part's Pool-Folder
header or manifest "folder", tus metadata "folder", an import's "folder";
without one, the uploading client's own folder), names in the way (409,
nothing stored), bad folders (422 naming the field, nothing stored), the
listing GET .../folders/{path} with cached sizes and paging, the file
JSON's folder and current, and `poolctl run sizes`."""

import base64
import hashlib
import http.server
import json
import socketserver
import threading
import time
import uuid
from urllib.parse import quote

import pytest

from conftest import assert_problem, unique

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_CT = "application/offset+octet-stream"


# ---------------------------------------------------------------- helpers

class Named:
    """A client of pool with a name of our choosing (its folder's)."""

    def __init__(self, stack, pool, name=None, role="uploader"):
        self.stack = stack
        self.pool = pool
        self.name = name or unique("c")
        self.client_id, secret = stack.make_client(pool, role, name=self.name)
        self.s = stack.session(token=stack.token(self.client_id, secret))

    def put(self, name, data, folder=None, raw_query=None):
        url = self.stack.files_url(self.pool, "/" + quote(name, safe=""))
        if raw_query is not None:
            return self.s.put(url + "?" + raw_query, data=data)
        params = {"folder": folder} if folder is not None else None
        return self.s.put(url, data=data, params=params)

    def put_ok(self, name, data, folder=None):
        r = self.put(name, data, folder)
        assert r.status_code == 201, (r.status_code, r.text[:500])
        return r.json()

    def folder(self, path="", **params):
        return self.s.get(folders_url(self.stack, self.pool, path),
                          params=params or None)

    def folder_ok(self, path="", **params):
        r = self.folder(path, **params)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        assert r.headers.get("Cache-Control") == "no-store"
        return r.json()


def folders_url(stack, pool, path=""):
    return stack.url("/pool/v1/pools/%s/folders%s" % (pool, path))


def entry_names(listing):
    return [e["name"] + ("/" if e["type"] == "folder" else "")
            for e in listing["entries"]]


def all_entries(c, path="", limit=2):
    """Every entry of a folder, following the paging."""
    out, after = [], None
    for _ in range(100):
        params = {"limit": limit}
        if after is not None:
            params["after"] = after
        j = c.folder_ok(path, **params)
        assert len(j["entries"]) <= limit
        out.extend(j["entries"])
        after = j["next"]
        if after is None:
            return out
    raise AssertionError("paging does not end")


def pool_files(stack, pool):
    return {f["id"]: f for f in stack.list_all(pool)}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def multipart(parts):
    """(body, content type) of parts: (filename, data, extra header lines)
    or ("manifest", obj)."""
    boundary = "----folders" + uuid.uuid4().hex
    out = []
    for p in parts:
        if p[0] == "manifest":
            head = ('Content-Disposition: form-data; name="manifest"\r\n'
                    "Content-Type: application/json\r\n")
            data = json.dumps(p[1]).encode()
        else:
            name, data, extra = p
            head = ('Content-Disposition: form-data; name="file"; '
                    'filename="%s"\r\n' % name)
            head += "".join(h + "\r\n" for h in extra)
        out.append(b"--" + boundary.encode() + b"\r\n" + head.encode("utf-8")
                   + b"\r\n" + data + b"\r\n")
    body = b"".join(out) + b"--" + boundary.encode() + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary


def post_batch(c, parts):
    body, ctype = multipart(parts)
    return c.s.post(c.stack.files_url(c.pool), data=body,
                    headers={"Content-Type": ctype})


def uploads_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/uploads%s" % (pool, rest))


def tus_create(c, length, meta, data=None, headers=None):
    h = dict(TUS)
    if length is not None:
        h["Upload-Length"] = str(length)
    h["Upload-Metadata"] = meta
    if data is not None:
        h["Content-Type"] = OFFSET_CT
    h.update(headers or {})
    return c.s.post(uploads_url(c.stack, c.pool), headers=h, data=data)


def tus_patch(c, location, offset, data):
    h = dict(TUS)
    h.update({"Upload-Offset": str(offset), "Content-Type": OFFSET_CT})
    return c.s.patch(c.stack.url(location), headers=h, data=data)


def uploads_of(stack, pool):
    return int(stack.psql(
        "SELECT count(*) FROM uploads u JOIN pools p ON p.id = u.pool_id"
        " WHERE p.name = '%s'" % pool).strip())


def imports_of(stack, pool):
    return int(stack.psql(
        "SELECT count(*) FROM imports i JOIN pools p ON p.id = i.pool_id"
        " WHERE p.name = '%s'" % pool).strip())


def break_size(stack, pool, path, bytes_=1):
    stack.psql("UPDATE folders SET bytes = %d WHERE path = '%s' AND pool_id ="
               " (SELECT id FROM pools WHERE name = '%s')"
               % (bytes_, path, pool))


def run_steps(stack, *steps):
    p = stack.poolctl("run", "--once", *steps, timeout=120)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture
def alice(stack, pool):
    return Named(stack, pool, "alice")


# ---------------------------------------------------------------- PUT

def test_put_goes_to_the_folder_asked_else_the_clients(stack, pool, alice):
    j = alice.put_ok("a.txt", b"aaaa")
    assert j["folder"] == "/alice" and j["current"] is True
    j = alice.put_ok("b.txt", b"bb", folder="/x/y")
    assert j["folder"] == "/x/y" and j["current"] is True
    assert alice.put_ok("c.txt", b"c", folder="/x/y/")["folder"] == "/x/y"
    assert alice.put_ok("d.txt", b"d", folder="/")["folder"] == "/"
    # decoded as a query: %20 and + are spaces, %2B a plus
    r = alice.put("e.txt", b"e", raw_query="folder=/my%20docs/a+b%2Bc")
    assert r.status_code == 201, r.text
    assert r.json()["folder"] == "/my docs/a b+c"
    accented = "/caf\u00e9/\u65e5\u672c"
    assert alice.put_ok("f.txt", b"f", folder=accented)["folder"] == accented
    # the listing and the row say the same
    files = {f["name"]: f for f in stack.list_all(pool)}
    assert files["a.txt"]["folder"] == "/alice"
    assert files["b.txt"]["folder"] == "/x/y"
    assert files["e.txt"]["folder"] == "/my docs/a b+c"
    assert all(f["current"] is True for f in files.values())
    # and the tree
    root = alice.folder_ok("/")
    assert root["path"] == "/" and root["name"] == ""
    assert root["bytes"] == 4 + 2 + 1 + 1 + 1 + 1 and root["files"] == 6
    assert entry_names(root) == ["alice/", "caf\u00e9/", "d.txt", "my docs/",
                                 "x/"]
    assert alice.folder_ok("/x/y")["files"] == 2
    # a second client's files go to its own folder
    bob = Named(stack, pool, "bob")
    assert bob.put_ok("a.txt", b"bob's")["folder"] == "/bob"
    assert entry_names(alice.folder_ok("/alice")) == ["a.txt"]


@pytest.mark.parametrize("raw", [
    "folder=",
    "folder=relative",
    "folder=a/b",
    "folder=//",
    "folder=/a//b",
    "folder=/a/../b",
    "folder=/..",
    "folder=/a/./b",
    "folder=/a%01b",
    "folder=/a%7Fb",
    "folder=/a%C2%85b",
    "folder=/a%5Cb",
    "folder=/%FF",
    "folder=/results",
    "folder=/results/",
    "folder=/results/deeper",
    "folder=" + "/a" * 33,
    "folder=/" + "x" * 256,
    "folder=/a%00b",
])
def test_bad_folder_on_put_is_422(stack, pool, alice, raw):
    before = stack.snapshot(pool)
    r = alice.put("n.txt", b"never stored", raw_query=raw)
    assert_problem(r, 422, field="folder")
    stack.assert_nothing_stored(pool, before)


def test_deep_folder_at_the_limit_is_fine(stack, pool, alice):
    deep = "/d" * 32
    assert alice.put_ok("n.txt", b"x", folder=deep)["folder"] == deep
    assert alice.folder_ok(deep)["files"] == 1


def test_folder_given_twice_is_400(stack, pool, alice):
    before = stack.snapshot(pool)
    r = alice.put("n.txt", b"x", raw_query="folder=/a&folder=/b")
    assert_problem(r, 400, field="folder")
    stack.assert_nothing_stored(pool, before)


def test_name_in_the_way_is_409_and_nothing_stored(stack, pool, alice):
    alice.put_ok("x.txt", b"x", folder="/docs/sub")
    alice.put_ok("file.txt", b"f", folder="/")
    before = stack.snapshot(pool)
    cases = [("sub", "/docs"),              # a folder where the file goes
             ("results", "/"),              # reserved at the top
             ("y.txt", "/file.txt"),        # a file where a folder goes
             ("y.txt", "/file.txt/deeper")]
    for name, folder in cases:
        r = alice.put(name, b"in the way", folder=folder)
        j = assert_problem(r, 409)
        assert "in the way" in j["detail"] or "reserved" in j["detail"], j
        stack.assert_nothing_stored(pool, before)
    # deeper down "results" is an ordinary name
    assert alice.put_ok("results", b"r", folder="/docs")["folder"] == "/docs"
    assert alice.put_ok("z", b"z", folder="/other/results")["folder"] == \
        "/other/results"


def test_replacing_a_name_keeps_the_earlier_file(stack, pool, alice):
    v1 = alice.put_ok("r.txt", b"version one", folder="/r")
    v2 = alice.put_ok("r.txt", b"v2", folder="/r")
    files = pool_files(stack, pool)
    assert files[v1["id"]]["current"] is False
    assert files[v1["id"]]["folder"] == "/r"
    assert files[v2["id"]]["current"] is True
    # the view shows the newer one only, with its size
    j = alice.folder_ok("/r")
    assert [(e["name"], e["id"]) for e in j["entries"]] == [("r.txt", v2["id"])]
    assert j["bytes"] == 2 and j["files"] == 1
    # the earlier one is still a file of the pool
    r = alice.s.get(stack.files_url(pool, "/" + v1["id"]))
    assert r.status_code == 200 and r.content == b"version one"
    # another folder's file of that name is another file
    alice.put_ok("r.txt", b"elsewhere", folder="/s")
    assert pool_files(stack, pool)[v2["id"]]["current"] is True


# ---------------------------------------------------------------- batch

def test_batch_folders_per_part(stack, pool, alice):
    r = post_batch(alice, [("h.txt", b"header", ["Pool-Folder: /b/h"]),
                           ("d.txt", b"default", []),
                           ("r.txt", b"root", ["Pool-Folder: /"])])
    assert r.status_code == 201, r.text
    assert [f["folder"] for f in r.json()["files"]] == ["/b/h", "/alice", "/"]
    assert all(f["current"] for f in r.json()["files"])
    r = post_batch(alice, [("manifest", {"files": [{"folder": "/b/m/"}, {},
                                                   {"folder": "/b/m2",
                                                    "ts": 1795256100}]}),
                           ("m1.txt", b"1", []),
                           ("m2.txt", b"2", ["Pool-Folder: /b/h2"]),
                           ("m3.txt", b"3", [])])
    assert r.status_code == 201, r.text
    assert [f["folder"] for f in r.json()["files"]] == ["/b/m", "/b/h2", "/b/m2"]
    assert alice.folder_ok("/b")["files"] == 4


@pytest.mark.parametrize("parts,field", [
    ([("a", b"a", []), ("b", b"b", ["Pool-Folder: /results"])],
     "files[1].folder"),
    ([("a", b"a", ["Pool-Folder: relative"])], "files[0].folder"),
    ([("a", b"a", ["Pool-Folder: /x//y"])], "files[0].folder"),
    ([("a", b"a", ["Pool-Folder: /x/../y"])], "files[0].folder"),
    ([("a", b"a", ["Pool-Folder: /x\u0085"])], "files[0].folder"),
    ([("manifest", {"files": [{"folder": "/x\u0001"}]}), ("a", b"a", [])],
     "files[0].folder"),
    ([("manifest", {"files": [{"folder": "/m"}]}),
      ("a", b"a", ["Pool-Folder: /h"])], "files[0].folder"),
    ([("manifest", {"files": [{"folder": 5}]}), ("a", b"a", [])],
     "manifest.files[0].folder"),
    ([("manifest", {"files": [{"folder": ""}]}), ("a", b"a", [])],
     "files[0].folder"),
    ([("manifest", {"files": [{}, {"folder": "/results/x"}]}),
      ("a", b"a", []), ("b", b"b", [])], "files[1].folder"),
])
def test_bad_folder_in_a_batch_is_422(stack, pool, alice, parts, field):
    before = stack.snapshot(pool)
    r = post_batch(alice, parts)
    assert_problem(r, 422, field=field)
    stack.assert_nothing_stored(pool, before)


def test_batch_with_a_name_in_the_way_stores_nothing(stack, pool, alice):
    alice.put_ok("x", b"x", folder="/w/sub")
    before = stack.snapshot(pool)
    r = post_batch(alice, [("fine.txt", b"fine", ["Pool-Folder: /w"]),
                           ("sub", b"in the way", ["Pool-Folder: /w"])])
    j = assert_problem(r, 409)
    assert "file 1 of the batch" in j["detail"], j
    stack.assert_nothing_stored(pool, before)
    assert alice.folder_ok("/w")["files"] == 1


# ---------------------------------------------------------------- tus

def test_tus_folder_at_creation_applied_at_completion(stack, pool, alice):
    meta = "filename %s,folder %s" % (b64("t.bin"), b64("/tus/in/"))
    r = tus_create(alice, 10, meta)
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    # kept with the upload and echoed
    h = alice.s.head(stack.url(loc), headers=TUS)
    assert h.headers["Upload-Metadata"] == meta
    r = tus_patch(alice, loc, 0, b"0123456789")
    assert r.status_code == 204, r.text
    fid = r.headers["Pool-File-Id"]
    f = pool_files(stack, pool)[fid]
    assert f["folder"] == "/tus/in" and f["current"] is True
    assert [e["id"] for e in alice.folder_ok("/tus/in")["entries"]] == [fid]
    # without a folder: the client's; with a body at creation
    r = tus_create(alice, 3, "filename %s" % b64("d.bin"), data=b"abc")
    assert r.status_code == 201, r.text
    assert pool_files(stack, pool)[r.headers["Pool-File-Id"]]["folder"] == \
        "/alice"
    r = tus_create(alice, 3, "folder %s" % b64("/tus/body"), data=b"xyz")
    assert r.status_code == 201, r.text
    assert pool_files(stack, pool)[r.headers["Pool-File-Id"]]["folder"] == \
        "/tus/body"
    # an empty upload is complete at creation
    r = tus_create(alice, 0, "filename %s,folder %s" % (b64("empty"),
                                                       b64("/tus/empty")))
    assert r.status_code == 201, r.text
    f = pool_files(stack, pool)[r.headers["Pool-File-Id"]]
    assert f["folder"] == "/tus/empty" and f["size"] == 0


def test_tus_final_upload_goes_to_its_folder(stack, pool, alice):
    parts = []
    for chunk in (b"abc", b"def"):
        r = tus_create(alice, len(chunk), "folder %s" % b64("/ignored"),
                       headers={"Upload-Concat": "partial"}, data=chunk)
        assert r.status_code == 201, r.text
        parts.append(r.headers["Location"])
    r = tus_create(alice, None, "filename %s,folder %s"
                   % (b64("joined.bin"), b64("/joined")),
                   headers={"Upload-Concat": "final;" + " ".join(parts)})
    assert r.status_code == 201, r.text
    f = pool_files(stack, pool)[r.headers["Pool-File-Id"]]
    assert f["folder"] == "/joined" and f["name"] == "joined.bin"
    assert alice.folder_ok("/")["files"] == 1      # the parts are no files


@pytest.mark.parametrize("value", [
    None, "", "relative", "/a//b", "/..", "/a\x01", "/results", "/results/x",
    "/" + "x" * 256,
])
def test_bad_folder_in_tus_metadata_is_422(stack, pool, alice, value):
    meta = "filename %s,folder" % b64("t.bin")
    if value is not None:
        meta += " " + b64(value)
    before = uploads_of(stack, pool)
    r = tus_create(alice, 5, meta)
    if value == "":
        # "folder " with an empty value is malformed metadata
        assert r.status_code in (400, 422), r.text
    else:
        assert_problem(r, 422, field="folder")
    assert uploads_of(stack, pool) == before


def test_tus_name_in_the_way_at_completion_is_409(stack, pool, alice):
    meta = "filename %s,folder %s" % (b64("blocked"), b64("/t"))
    r = tus_create(alice, 4, meta)
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    # meanwhile a folder takes the name
    alice.put_ok("x", b"x", folder="/t/blocked")
    before = stack.snapshot(pool)
    r = tus_patch(alice, loc, 0, b"data")
    j = assert_problem(r, 409)
    assert "in the way" in j["detail"], j
    stack.assert_nothing_stored(pool, before)
    # the upload waits, complete, for the name to be free (HEAD says why)
    r = alice.s.head(stack.url(loc), headers=TUS)
    assert r.status_code == 409
    # the folder goes (as a WebDAV DELETE takes it out of the tree)
    sub = ("(SELECT d.id FROM folders d JOIN pools p ON p.id = d.pool_id"
           " WHERE p.name = '%s' AND d.path = '/t/blocked')" % pool)
    stack.psql("UPDATE files SET in_view = false WHERE folder_id = " + sub)
    stack.psql("DELETE FROM folders WHERE id = " + sub)
    r = alice.s.head(stack.url(loc), headers=TUS)
    assert r.status_code == 200, r.status_code
    f = pool_files(stack, pool)[r.headers["Pool-File-Id"]]
    assert f["folder"] == "/t" and f["name"] == "blocked" and f["current"]
    assert entry_names(alice.folder_ok("/t")) == ["blocked"]


# ---------------------------------------------------------------- imports

class Source:
    """A tiny HTTP server the imports download from."""

    def __init__(self):
        self.body = b"imported bytes\n" * 100

        src = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(src.body)))
                self.end_headers()
                self.wfile.write(src.body)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = S(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


@pytest.fixture(scope="module")
def source():
    s = Source()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def import_ok(c, body):
    r = c.s.post(c.stack.url("/pool/v1/pools/%s/imports" % c.pool), json=body)
    assert r.status_code == 202, (r.status_code, r.text)
    return r.json()["id"]


def process(c, pid):
    r = c.s.get(c.stack.url("/pool/v1/processes/" + pid))
    assert r.status_code == 200, r.text
    return r.json()


def test_import_folder(stack, pool, alice, source):
    alice.put_ok("x", b"x", folder="/imp/blocked")
    p1 = import_ok(alice, {"url": source.url("/a.csv"), "folder": "/imp/"})
    p2 = import_ok(alice, {"url": source.url("/b.csv")})
    p3 = import_ok(alice, {"url": source.url("/blocked"), "folder": "/imp"})
    run_steps(stack, "fetch")
    f1 = process(alice, p1)["result"]
    assert f1["folder"] == "/imp" and f1["current"] is True
    assert f1["name"] == "a.csv" and f1["size"] == len(source.body)
    assert process(alice, p2)["result"]["folder"] == "/alice"
    pr = process(alice, p3)
    assert pr["status"] == 2 and "in the way" in pr["message"], pr
    assert entry_names(alice.folder_ok("/imp")) == ["a.csv", "blocked/"]


@pytest.mark.parametrize("value", [
    "", "relative", "/a//b", "/a/../b", "/results", "/results/x", 7, None,
])
def test_bad_folder_on_import_is_422(stack, pool, alice, value):
    before = imports_of(stack, pool)
    r = alice.s.post(stack.url("/pool/v1/pools/%s/imports" % pool),
                     json={"url": "http://example.org/x", "folder": value})
    assert_problem(r, 422, field="folder")
    assert imports_of(stack, pool) == before


# ---------------------------------------------------------------- listing

def test_listing_sizes_and_paging(stack, pool, alice):
    alice.put_ok("e.txt", b"e" * 5, folder="/l")
    alice.put_ok("a.txt", b"a" * 1, folder="/l")
    alice.put_ok("c.txt", b"c" * 3, folder="/l")
    alice.put_ok("x", b"x" * 10, folder="/l/d")
    alice.put_ok("y", b"y" * 20, folder="/l/b/deep")
    alice.put_ok("z", b"z" * 7, folder="/s")
    j = alice.folder_ok("/l")
    assert j["path"] == "/l" and j["name"] == "l"
    assert j["bytes"] == 39 and j["files"] == 5
    assert j["next"] is None
    assert entry_names(j) == ["a.txt", "b/", "c.txt", "d/", "e.txt"]
    b = j["entries"][1]
    assert b == {"type": "folder", "name": "b", "path": "/l/b", "bytes": 20,
                 "files": 1}
    a = j["entries"][0]
    assert a["type"] == "file" and a["path"] == "/l/a.txt"
    assert a["size"] == 1 and a["sha256"] == sha(b"a")
    assert a["content_type"] == "application/octet-stream"
    assert a["client"] == alice.client_id
    for k in ("id", "ts", "received_at"):
        assert a[k], k
    # paged: the same entries in the same order
    assert [e["name"] for e in all_entries(alice, "/l", limit=2)] == \
        ["a.txt", "b", "c.txt", "d", "e.txt"]
    assert [e["name"] for e in all_entries(alice, "/l", limit=1)] == \
        ["a.txt", "b", "c.txt", "d", "e.txt"]
    p1 = alice.folder_ok("/l", limit=2)
    assert p1["next"] == "b"
    assert entry_names(alice.folder_ok("/l", limit=2, after="b")) == \
        ["c.txt", "d/"]
    # the root: results are not a folder of this listing
    assert [e["name"] for e in all_entries(alice, "", limit=1)] == ["l", "s"]
    assert entry_names(alice.folder_ok("")) == ["l/", "s/"]
    root = alice.folder_ok("/")
    assert root["bytes"] == 46 and root["files"] == 6
    alice.put_ok("m", b"m" * 0)                 # into /alice
    alice.put_ok("t", b"t" * 0, folder="/")
    for limit in (1, 2, 3):
        assert [e["name"] for e in all_entries(alice, "", limit=limit)] == \
            ["alice", "l", "s", "t"]
    # paths are percent-decoded segment by segment, one trailing slash
    alice.put_ok("q", b"q", folder="/my docs/caf\u00e9")
    assert alice.folder_ok("/my%20docs/caf%C3%A9/")["files"] == 1
    # any role of the pool may look
    for role in ("listener", "processor", "admin"):
        c = Named(stack, pool, role=role)
        assert c.folder_ok("/l")["files"] == 5


def test_listing_errors(stack, pool, alice):
    alice.put_ok("a.txt", b"a", folder="/l")
    assert_problem(alice.folder("/nope"), 404)
    assert_problem(alice.folder("/l/a.txt"), 404)      # a file
    assert_problem(alice.folder("/results"), 404)
    assert_problem(alice.folder("/results/x"), 404)
    for bad in ("/a%01", "/a%C2%85", "/a%5Cb", "/%FF", "/" + "x" * 256,
                "/d" * 33, "/a%2Fb", "/a%2fb/c"):
        assert_problem(alice.folder(bad), 422, field="path")
    # a '%' that is no escape is sent as %25 (requests does so): a name
    # like any other, decoded once
    for odd in ("/a%ZZ", "/a%2"):
        j = assert_problem(alice.folder(odd), 404)
        assert odd in j["detail"], j
    # what httpd settles before the API sees the path: "//" is merged, dot
    # segments (escaped or not) resolved, an escaped NUL refused
    assert_problem(alice.folder("/l//a.txt"), 404)
    assert alice.folder_ok("/l/%2E")["path"] == "/l"
    assert_problem(alice.folder("/%2E%2E"), 404)
    assert alice.folder("/a%00b").status_code == 404
    assert_problem(alice.folder("/l", limit=0), 422, field="limit")
    assert_problem(alice.folder("/l", limit=1001), 422, field="limit")
    assert_problem(alice.folder("/l", limit="x"), 422, field="limit")
    assert_problem(alice.folder("/l", after="a/b"), 422, field="after")
    assert_problem(alice.folder("/l", after=""), 422, field="after")
    r = alice.s.post(folders_url(stack, pool, "/l"))
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]
    # an empty pool has a root
    empty = stack.create_pool(unique("t"))
    c = Named(stack, empty)
    j = c.folder_ok("/")
    assert j["bytes"] == 0 and j["files"] == 0 and j["entries"] == []


def test_other_pools_and_strangers(stack, pool, alice):
    alice.put_ok("a.txt", b"a", folder="/l")
    other = Named(stack, stack.create_pool(unique("t")))
    r = other.s.get(folders_url(stack, pool, "/l"))
    assert_problem(r, 404)
    assert pool not in r.text
    r = other.s.get(folders_url(stack, "no-such-pool-zz", "/"))
    assert_problem(r, 404)
    r = stack.session().get(folders_url(stack, pool, "/l"))
    assert_problem(r, 401)


# ---------------------------------------------------------------- manifest

def test_manifest_files_have_folder_and_current(stack, pool, alice):
    p = stack.poolctl("pool", "set", pool, "window=1m", "lateness=1h")
    assert p.returncode == 0, p.stderr
    now = int(time.time())
    ts = str(now - now % 60 + 1)
    r1 = alice.s.put(stack.files_url(pool, "/m.txt"), data=b"1",
                     params={"ts": ts, "folder": "/m"})
    r2 = alice.s.put(stack.files_url(pool, "/m.txt"), data=b"22",
                     params={"ts": ts, "folder": "/m"})
    assert r1.status_code == 201 and r2.status_code == 201
    run_steps(stack, "group")
    admin = Named(stack, pool, role="admin")
    g = admin.s.get(stack.url("/pool/v1/pools/%s/groups" % pool)).json()
    gid = g["groups"][0]["id"]
    m = admin.s.get(stack.url("/pool/v1/pools/%s/groups/%s" % (pool, gid)))
    assert m.status_code == 200, m.text
    got = {f["id"]: (f["folder"], f["current"]) for f in m.json()["files"]}
    assert got == {r1.json()["id"]: ("/m", False),
                   r2.json()["id"]: ("/m", True)}


# ---------------------------------------------------------------- sizes

def test_run_sizes_repairs_a_broken_size(stack, pool, alice):
    alice.put_ok("a", b"a" * 10, folder="/s/t")
    alice.put_ok("b", b"b" * 5, folder="/s")
    run_steps(stack, "sizes")                   # deltas folded
    break_size(stack, pool, "/s")
    assert alice.folder_ok("/s")["bytes"] == 1  # the cached size, broken
    p = run_steps(stack, "sizes")
    assert "sizes: repaired %s:/s\n" % pool in p.stderr, p.stderr
    assert "folders repaired" in p.stderr
    assert "%s:/s/t" % pool not in p.stderr
    assert alice.folder_ok("/s")["bytes"] == 15
    # nothing of this pool left to repair
    p = run_steps(stack, "sizes")
    assert pool not in p.stderr
    # the default sequence runs it too
    break_size(stack, pool, "/", 999)
    p = run_steps(stack)
    assert "sizes: repaired %s:/\n" % pool in p.stderr, p.stderr
    assert alice.folder_ok("/")["bytes"] == 15


def test_run_sizes_is_a_known_step(stack):
    p = stack.poolctl("run", "--once", "size")
    assert p.returncode == 2
    assert "unknown step" in p.stderr
