"""The WebDAV view (/dav/{pool}/...): mod_pool's own mod_dav provider over the
pool's tree (folders, files by name, results/), driven by real clients (curl,
cadaver); litmus has its own file (test_litmus.py)."""

import hashlib
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest

from conftest import MAX_FILE_SIZE, etag_of, unique

# mod_authz_core logs every refusal at [error] (AH01630 before, AH01631 after
# a login); mod_auth_basic logs failed logins (AH01617 wrong password, AH01618
# unknown user, AH01614 another scheme than Basic).
DENIED = r"AH0163[01]|client denied by server configuration|authorization failure"
BAD_LOGIN = r"AH0161[478]|authentication failure|not found|wrong authentication scheme"
NS = {"D": "DAV:"}


def curl(*args, user=None, data_file=None):
    """Runs curl; returns (status, body bytes)."""
    cmd = ["curl", "-s", "-S", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"]
    if user:
        cmd += ["-u", "%s:%s" % user]
    if data_file:
        cmd += ["-T", data_file]
    p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
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


def login(c):
    return (c.client_id, c.secret)


def propfind(stack, path, user=None, depth="1"):
    return curl("-X", "PROPFIND", "-H", "Depth: " + depth, dav_url(stack, path), user=user)


def entries(stack, path, user):
    """{name: props} of a collection's members (PROPFIND Depth 1); props has
    coll, size, etag, ctype, quota, and the dead properties' raw elements."""
    code, body = propfind(stack, path, user)
    assert code == 207, (path, code, body[:500])
    self_path = urlsplit(dav_url(stack, path)).path.rstrip("/")
    out = {}
    for resp in ET.fromstring(body).findall("D:response", NS):
        href = unquote(urlsplit(resp.findtext("D:href", "", NS)).path)
        name = href.rstrip("/").rsplit("/", 1)[-1]
        size = resp.findtext(".//D:getcontentlength", None, NS)
        quota = resp.findtext(".//D:quota-used-bytes", None, NS)
        avail = resp.findtext(".//D:quota-available-bytes", None, NS)
        props = {
            "coll": resp.find(".//D:resourcetype/D:collection", NS) is not None,
            "size": int(size) if size is not None else None,
            "etag": resp.findtext(".//D:getetag", None, NS),
            "ctype": resp.findtext(".//D:getcontenttype", None, NS),
            "quota": int(quota) if quota is not None else None,
            "available": int(avail) if avail is not None else None,
            "href": href,
        }
        if href.rstrip("/") == self_path:
            out["."] = props
        else:
            out[name] = props
    return out


# Each folder of a pool whose cached size (row + deltas) differs from a
# recount of the files in the view under it.
SIZE_DRIFT_SQL = """
WITH RECURSIVE closure(id, anc) AS (
    SELECT id, id FROM folders
    UNION ALL SELECT cl.id, d.parent_id FROM closure cl
    JOIN folders d ON d.id = cl.anc WHERE d.parent_id IS NOT NULL),
counted AS (
    SELECT cl.anc AS id, coalesce(sum(f.size), 0) AS b, count(f.id) AS n
    FROM closure cl LEFT JOIN files f ON f.folder_id = cl.id AND f.in_view
    GROUP BY cl.anc)
SELECT d.path, d.bytes + coalesce((SELECT sum(bytes) FROM folder_deltas x
                                   WHERE x.folder_id = d.id), 0), c.b,
       d.files + coalesce((SELECT sum(files) FROM folder_deltas x
                           WHERE x.folder_id = d.id), 0), c.n
FROM folders d JOIN pools p ON p.id = d.pool_id JOIN counted c ON c.id = d.id
WHERE p.name = '%s'
"""


def assert_sizes_recount(stack, pool):
    rows = [line.split("|") for line in
            stack.psql(SIZE_DRIFT_SQL % pool).strip().splitlines()]
    assert rows, "no folders"
    for path, cached_b, b, cached_n, n in rows:
        assert (path, int(cached_b), int(cached_n)) == (path, int(b), int(n))


def api_files(stack, pool):
    """Every file row of the pool as the API lists it."""
    return stack.list_all(pool)


# ------------------------------------------------------------------ reading

def test_pool_root_shows_folders_and_results(stack, dav_pool):
    pool, up, f, data = dav_pool
    top = entries(stack, pool + "/", login(up))
    assert top["."]["coll"]
    assert top[up.name]["coll"], top          # the uploader's own folder
    assert top["results"]["coll"]
    assert "files" not in top                 # no storage layout any more
    mine = entries(stack, "%s/%s/" % (pool, up.name), login(up))
    e = mine["dav-file.bin"]
    assert e["size"] == len(data)
    assert e["etag"] == etag_of(f["sha256"])
    assert e["ctype"] == f["content_type"]
    # folder sizes: the files in the view, subfolders included
    assert mine["."]["quota"] == len(data)
    assert top["."]["quota"] == len(data)
    # no quota: no quota-available-bytes (RFC 4331 lets a server omit it)
    assert top["."]["available"] is None and mine["."]["available"] is None


def test_quota_available_bytes_follows_the_pools_storage_quota(stack, dav_pool, tmp_path):
    pool, up, f, data = dav_pool
    p = stack.poolctl("pool", "set", pool, "max_storage_bytes=10000")
    assert p.returncode == 0, p.stderr
    top = entries(stack, pool + "/", login(up))
    assert top["."]["available"] == 10000 - len(data)
    assert top[up.name]["available"] == 10000 - len(data)   # the pool's, on every folder
    mine = entries(stack, "%s/%s/" % (pool, up.name), login(up))
    assert mine["dav-file.bin"]["available"] is None        # folders only
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 8000)
    code, body = curl(dav_url(stack, pool + "/big.bin"), user=login(up), data_file=str(big))
    assert code == 507, (code, body[:300])
    assert entries(stack, pool + "/", login(up))["."]["available"] == 10000 - len(data)
    p = stack.poolctl("pool", "set", pool, "max_storage_bytes=")
    assert p.returncode == 0, p.stderr


def test_allprop_shows_the_stored_type_once(stack, dav_pool, tmp_path):
    """An allprop PROPFIND: mod_dav asks a subrequest for getcontenttype;
    the answer is the stored type, not the name's extension's, once."""
    pool, up, _, _ = dav_pool
    src = tmp_path / "x"
    src.write_bytes(b"{}")
    url = dav_url(stack, "%s/%s/data.txt" % (pool, up.name))
    assert curl("-H", "Content-Type: application/json", url, user=login(up),
                data_file=str(src))[0] == 201
    for depth, path in (("0", url), ("1", dav_url(stack, "%s/%s/" % (pool, up.name)))):
        code, body = curl("-X", "PROPFIND", "-H", "Depth: " + depth, path, user=login(up))
        assert code == 207, body[:300]
        for resp in ET.fromstring(body).findall("D:response", NS):
            if resp.findtext("D:href", "", NS).endswith("/data.txt"):
                types = [e.text for e in resp.iter("{DAV:}getcontenttype")]
                assert types == ["application/json"], (depth, types)
                break
        else:
            raise AssertionError("data.txt not listed")


def test_get_by_name(stack, dav_pool):
    pool, up, f, data = dav_pool
    url = "%s/%s/dav-file.bin" % (pool, up.name)
    code, body = curl(dav_url(stack, url), user=login(up))
    assert code == 200
    assert body == data
    code, body = curl("-H", "Range: bytes=10-19", dav_url(stack, url), user=login(up))
    assert code == 206
    assert body == data[10:20]
    code, _ = curl("-H", "If-None-Match: " + etag_of(f["sha256"]), dav_url(stack, url),
                   user=login(up))
    assert code == 304


def test_every_role_may_read(stack, dav_pool, client_of):
    pool, up, f, data = dav_pool
    for role in ("listener", "processor", "admin"):
        c = client_of(pool, role)
        code, body = curl(dav_url(stack, "%s/%s/dav-file.bin" % (pool, up.name)),
                          user=login(c))
        assert (role, code) == (role, 200)
        assert body == data


def test_options_offers_what_the_client_may_do(stack, dav_pool, client_of):
    pool, up, _, _ = dav_pool
    li = client_of(pool, "listener")
    allowed = {}
    for who in (up, li):
        p = subprocess.run(["curl", "-s", "-i", "-X", "OPTIONS", "-u", "%s:%s" % login(who),
                            dav_url(stack, "%s/%s/" % (pool, up.name))],
                           stdout=subprocess.PIPE, timeout=60, check=True)
        head = p.stdout.decode().split("\r\n\r\n", 1)[0]
        line = [h for h in head.split("\r\n") if h.lower().startswith("allow:")][0]
        allowed[who.role] = set(m.strip() for m in line.split(":", 1)[1].split(","))
        assert "DAV:" in head
    assert {"PROPFIND", "GET", "DELETE", "MOVE", "COPY", "PROPPATCH"} <= allowed["uploader"]
    assert "POST" not in allowed["uploader"]
    assert allowed["listener"] & {"PUT", "DELETE", "MKCOL", "MOVE", "COPY", "PROPPATCH",
                                  "LOCK", "UNLOCK", "POST"} == set()
    assert {"PROPFIND", "GET", "OPTIONS"} <= allowed["listener"]


def test_bearer_token_is_a_dav_login(stack, dav_pool, allow_errors):
    allow_errors(BAD_LOGIN)
    pool, up, _, _ = dav_pool
    code, body = curl("-X", "PROPFIND", "-H", "Depth: 1", "-H",
                      "Authorization: Bearer " + up.token, dav_url(stack, pool + "/"))
    assert code == 207, body[:300]
    assert up.name.encode() in body
    code, _ = curl("-X", "PROPFIND", "-H", "Depth: 0", "-H",
                   "Authorization: Bearer " + up.token[:-3] + "xyz",
                   dav_url(stack, pool + "/"))
    assert code == 401


def test_no_credentials_is_401(stack, dav_pool):
    pool, up, _, _ = dav_pool
    code, _ = propfind(stack, pool + "/")
    assert code == 401
    code, _ = curl(dav_url(stack, "%s/%s/dav-file.bin" % (pool, up.name)))
    assert code == 401


def test_wrong_password_is_401(stack, dav_pool, allow_errors):
    allow_errors(BAD_LOGIN, r"\[auth_basic:error\]")
    pool, up, _, _ = dav_pool
    code, _ = propfind(stack, pool + "/", (up.client_id, up.secret + "x"))
    assert code == 401
    code, _ = propfind(stack, pool + "/", ("cl_" + "0" * 24, "whatever"))
    assert code == 401


def test_dav_root_lists_no_pools(stack, dav_pool, allow_errors):
    allow_errors(DENIED)
    pool, up, _, _ = dav_pool
    for path in ("", ".spool/", ".staged/"):
        code, body = propfind(stack, path, login(up))
        assert code in (401, 403), (path, code)
        assert pool.encode() not in body


# ----------------------------------------------------------------- writing

def test_put_is_an_upload(stack, dav_pool, tmp_path):
    pool, up, _, _ = dav_pool
    data = os.urandom(70000)
    src = tmp_path / "x.bin"
    src.write_bytes(data)
    code, _ = curl("-H", "Content-Type: image/png", "-H", "X-OC-Mtime: 1795256100",
                   dav_url(stack, "%s/%s/new.png" % (pool, up.name)),
                   user=login(up), data_file=str(src))
    assert code == 201
    rows = [f for f in api_files(stack, pool) if f["name"] == "new.png"]
    assert len(rows) == 1
    row = rows[0]
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["size"] == len(data)
    assert row["content_type"] == "image/png"
    assert row["ts"] == "2026-11-21T10:15:00Z"           # X-OC-Mtime 1795256100
    assert stack.stored_bytes(pool, row["id"]) == data
    code, body = curl(dav_url(stack, "%s/%s/new.png" % (pool, up.name)), user=login(up))
    assert (code, body) == (200, data)


def test_put_replaces_the_name_and_keeps_the_earlier_file(stack, dav_pool, tmp_path):
    pool, up, f, data = dav_pool
    new = os.urandom(500)
    src = tmp_path / "y.bin"
    src.write_bytes(new)
    url = dav_url(stack, "%s/%s/dav-file.bin" % (pool, up.name))
    code, _ = curl(url, user=login(up), data_file=str(src))
    assert code == 204                                   # it existed
    code, body = curl(url, user=login(up))
    assert (code, body) == (200, new)
    rows = [r for r in api_files(stack, pool) if r["name"] == "dav-file.bin"]
    assert len(rows) == 2                                # the earlier one stays
    assert stack.stored_bytes(pool, f["id"]) == data
    mine = entries(stack, "%s/%s/" % (pool, up.name), login(up))
    assert mine["."]["quota"] == len(new)               # only the view counts


def test_put_over_the_limit_is_413(stack, dav_pool, tmp_path, allow_errors):
    pool, up, _, _ = dav_pool
    before = stack.snapshot(pool)
    src = tmp_path / "big.bin"
    with open(src, "wb") as fh:
        fh.truncate(MAX_FILE_SIZE + 1)
    code, _ = curl(dav_url(stack, "%s/%s/big.bin" % (pool, up.name)),
                   user=login(up), data_file=str(src))
    assert code == 413
    stack.assert_nothing_stored(pool, before)


def test_folders_move_copy_delete_and_sizes(stack, dav_pool, tmp_path):
    pool, up, _, data = dav_pool
    u = login(up)
    base = "%s/%s" % (pool, up.name)
    assert curl("-X", "MKCOL", dav_url(stack, base + "/a"), user=u)[0] == 201
    assert curl("-X", "MKCOL", dav_url(stack, base + "/a/b"), user=u)[0] == 201
    assert curl("-X", "MKCOL", dav_url(stack, base + "/a/b"), user=u)[0] == 405
    assert curl("-X", "MKCOL", dav_url(stack, base + "/x/y"), user=u)[0] == 409
    src = tmp_path / "z.bin"
    src.write_bytes(b"z" * 1000)
    assert curl(dav_url(stack, base + "/a/b/z.bin"), user=u, data_file=str(src))[0] == 201
    assert entries(stack, base + "/a/", u)["."]["quota"] == 1000
    # MOVE a file, then a folder with what is in it
    code, _ = curl("-X", "MOVE", "-H", "Destination: " + dav_url(stack, base + "/a/z2.bin"),
                   dav_url(stack, base + "/a/b/z.bin"), user=u)
    assert code == 201
    code, _ = curl("-X", "MOVE", "-H", "Destination: " + dav_url(stack, pool + "/moved"),
                   dav_url(stack, base + "/a"), user=u)
    assert code == 201
    top = entries(stack, pool + "/", u)
    assert top["moved"]["coll"]
    assert top[up.name]["quota"] == len(data)          # a/ left this folder
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 1000
    code, body = curl(dav_url(stack, pool + "/moved/z2.bin"), user=u)
    assert (code, body) == (200, b"z" * 1000)
    # COPY makes a new file of the pool with the same bytes
    code, _ = curl("-X", "COPY", "-H", "Destination: " + dav_url(stack, pool + "/moved/b/c.bin"),
                   dav_url(stack, pool + "/moved/z2.bin"), user=u)
    assert code == 201
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 2000
    # an upload through the API into the same tree counts too
    r = up.s.put(stack.files_url(pool, "/api.bin"), data=b"a" * 500,
                 params={"folder": "/moved/b"})
    assert r.status_code == 201, r.text
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 2500
    assert_sizes_recount(stack, pool)
    # a file that takes the place of another under its name changes the
    # sizes by the difference (API and WebDAV, larger and the same size)
    r = up.s.put(stack.files_url(pool, "/api.bin"), data=b"b" * 800,
                 params={"folder": "/moved/b"})
    assert r.status_code == 201, r.text
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 2800
    assert entries(stack, pool + "/moved/b/", u)["."]["quota"] == 1800
    src.write_bytes(b"y" * 800)
    code, _ = curl(dav_url(stack, pool + "/moved/b/api.bin"), user=u, data_file=str(src))
    assert code in (201, 204)
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 2800
    src.write_bytes(b"y" * 100)
    code, _ = curl(dav_url(stack, pool + "/moved/b/api.bin"), user=u, data_file=str(src))
    assert code in (201, 204)
    assert entries(stack, pool + "/moved/", u)["."]["quota"] == 2100
    assert_sizes_recount(stack, pool)
    assert len([r for r in api_files(stack, pool) if r["name"] in ("z2.bin", "c.bin")]) == 2
    # DELETE a folder: it leaves the view; the files stay files of the pool
    assert curl("-X", "DELETE", dav_url(stack, pool + "/moved"), user=u)[0] == 204
    assert "moved" not in entries(stack, pool + "/", u)
    assert entries(stack, pool + "/", u)["."]["quota"] == len(data)
    assert len([r for r in api_files(stack, pool) if r["name"] in ("z2.bin", "c.bin")]) == 2
    assert_sizes_recount(stack, pool)


def test_a_folder_of_more_than_a_page_is_listed_whole(stack, dav_pool):
    """Folders are read from the database a page (1,000) at a time."""
    import concurrent.futures
    import requests
    pool, up, _, _ = dav_pool
    u = login(up)
    base = dav_url(stack, pool + "/big/")
    assert curl("-X", "MKCOL", base, user=u)[0] == 201
    names = ["f%04d.txt" % i for i in range(1005)]

    def put(chunk):
        with requests.Session() as s:
            s.auth = u
            for n in chunk:
                r = s.put(base + n, data=n.encode(), timeout=30)
                assert r.status_code == 201, (n, r.status_code)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(put, [names[i::8] for i in range(8)]))
    listed = entries(stack, pool + "/big/", u)
    assert sorted(k for k in listed if k != ".") == names
    assert listed["."]["quota"] == sum(len(n) for n in names)
    code, body = curl(base, user=u)
    assert code == 200
    assert body.count(b"<li>") == len(names)


def test_dead_properties_follow_a_move(stack, dav_pool):
    pool, up, _, _ = dav_pool
    u = login(up)
    url = dav_url(stack, "%s/%s/dav-file.bin" % (pool, up.name))
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x-test:">'
            '<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set></D:propertyupdate>')
    code, resp = curl("-X", "PROPPATCH", "-H", "Content-Type: application/xml",
                      "--data-binary", body, url, user=u)
    assert code == 207 and b"200 OK" in resp, resp
    dst = dav_url(stack, "%s/%s/renamed.bin" % (pool, up.name))
    assert curl("-X", "MOVE", "-H", "Destination: " + dst, url, user=u)[0] == 201
    code, resp = curl("-X", "PROPFIND", "-H", "Depth: 0", dst, user=u)
    assert code == 207
    root = ET.fromstring(resp)
    assert root.findtext(".//{urn:x-test:}colour") == "red"


# ----------------------------------------------------- refusals, isolation

WRITES = [
    ("PUT", ["--data-binary", "overwrite"]),
    ("DELETE", []),
    ("MKCOL", []),
    ("PROPPATCH", ["--data-binary",
                   '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:">'
                   '<D:set><D:prop><D:x>1</D:x></D:prop></D:set></D:propertyupdate>']),
    ("MOVE", ["-H", "Destination: /dav/elsewhere"]),
    ("COPY", ["-H", "Destination: /dav/x/copy"]),
]


def view_state(stack, pool, up):
    return (stack.snapshot(pool), sorted(entries(stack, pool + "/", login(up))),
            sorted(entries(stack, "%s/%s/" % (pool, up.name), login(up))))


@pytest.mark.parametrize("method,extra", WRITES)
def test_listener_writes_are_refused(stack, dav_pool, client_of, allow_errors,
                                     method, extra):
    allow_errors(DENIED)
    pool, up, f, data = dav_pool
    li = client_of(pool, "listener")
    before = view_state(stack, pool, up)
    for target in ("%s/%s/dav-file.bin" % (pool, up.name), pool + "/newthing"):
        code, _ = curl("-X", method, *extra, dav_url(stack, target), user=login(li))
        assert code == 403, (method, target, code)
    assert view_state(stack, pool, up) == before
    assert stack.stored_bytes(pool, f["id"]) == data


@pytest.mark.parametrize("method,extra", WRITES)
def test_other_pool_is_403(stack, dav_pool, client_of, allow_errors, method, extra):
    allow_errors(DENIED)
    pool, up, f, data = dav_pool
    other = client_of(stack.create_pool(unique("davother")), "admin")
    before = view_state(stack, pool, up)
    for target in ("%s/%s/dav-file.bin" % (pool, up.name), pool + "/", pool + "/new"):
        code, body = curl("-X", method, *extra, dav_url(stack, target), user=login(other))
        assert code == 403, (method, target, code)
        assert f["id"].encode() not in body
    assert view_state(stack, pool, up) == before


def test_results_are_read_only(stack, dav_pool, allow_errors):
    pool, up, _, _ = dav_pool
    before = view_state(stack, pool, up)
    for method, extra in WRITES:
        if method in ("MOVE", "COPY"):
            extra = ["-H", "Destination: " + dav_url(stack, pool + "/results/x")]
            target = "%s/%s/dav-file.bin" % (pool, up.name)
        else:
            target = pool + "/results/x"
        code, _ = curl("-X", method, *extra, dav_url(stack, target), user=login(up))
        # nothing is at results/x to delete or to set properties on
        assert code == (404 if method in ("DELETE", "PROPPATCH") else 403), (method, code)
    for method in ("DELETE", "MOVE"):
        code, _ = curl("-X", method, "-H", "Destination: " + dav_url(stack, pool + "/r2"),
                       dav_url(stack, pool + "/results"), user=login(up))
        assert code == 403, (method, code)
    assert view_state(stack, pool, up) == before


def test_copy_and_move_stay_in_their_pool(stack, dav_pool, client_of, allow_errors):
    allow_errors(DENIED)
    pool, up, _, _ = dav_pool
    other = stack.create_pool(unique("davother"))
    client_of(other, "uploader")
    before = view_state(stack, pool, up)
    for method in ("COPY", "MOVE"):
        code, _ = curl("-X", method, "-H", "Destination: " + dav_url(stack, other + "/stolen.bin"),
                       dav_url(stack, "%s/%s/dav-file.bin" % (pool, up.name)), user=login(up))
        assert code in (403, 502), (method, code)
    assert view_state(stack, pool, up) == before
    assert stack.snapshot(other)["ids"] == []


@pytest.mark.parametrize("path", [
    "{other}/{name}",
    "{pool}/../{other}/{name}",
    "{pool}/%2e%2e/{other}/{name}",
    "{pool}//{up}/dav-file.bin",
    "{pool}/{up}%2Fdav-file.bin",
    "{pool}/{up}/..%2f..%2f{other}",
])
def test_path_tricks(stack, dav_pool, client_of, allow_errors, path):
    allow_errors(DENIED)
    pool, up, _, _ = dav_pool
    other = stack.create_pool(unique("davother"))
    oc = client_of(other, "uploader")
    of = oc.upload_ok("secret.bin", b"secret")
    rel = path.format(pool=pool, other=other, name=oc.name + "/secret.bin", up=up.name)
    before = stack.snapshot(other)
    for method, extra in [("GET", []), ("PROPFIND", ["-H", "Depth: 1"])] + WRITES:
        code, body = curl("--path-as-is", "-X", method, *extra, dav_url(stack, rel),
                          user=login(up))
        assert b"secret" not in body or method == "PROPPATCH", (method, rel, code)
        assert code != 200 or method != "GET" or rel.endswith("dav-file.bin"), (method, rel)
        assert of["id"].encode() not in body
    assert stack.snapshot(other) == before


# ------------------------------------------------------------------ clients

@pytest.mark.skipif(not shutil.which("cadaver"), reason="cadaver is not installed")
def test_cadaver(stack, dav_pool):
    pool, up, f, data = dav_pool
    home = tempfile.mkdtemp()
    try:
        with open(os.path.join(home, ".netrc"), "w") as fh:
            fh.write("machine 127.0.0.1\nlogin %s\npassword %s\n" % (up.client_id, up.secret))
        os.chmod(os.path.join(home, ".netrc"), 0o600)
        with open(os.path.join(home, "local.txt"), "wb") as fh:
            fh.write(b"from cadaver\n")
        script = ("ls\ncd %s\nls\nget dav-file.bin got.bin\nmkcol sub\n"
                  "put local.txt sub/local.txt\nlock sub/local.txt\n"
                  "showlocks\nunlock sub/local.txt\n"
                  "move sub/local.txt sub/moved.txt\nls sub\nquit\n" % up.name)
        p = subprocess.run(["cadaver", dav_url(stack, pool + "/")], input=script.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=home,
                           env=dict(os.environ, HOME=home), timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, out
        assert up.name in out, out
        assert "dav-file.bin" in out, out
        assert "moved.txt" in out, out
        assert "opaquelocktoken:" in out, out       # showlocks listed the lock
        assert "failed" not in out.lower(), out
        with open(os.path.join(home, "got.bin"), "rb") as fh:
            assert fh.read() == data
        code, body = curl(dav_url(stack, "%s/%s/sub/moved.txt" % (pool, up.name)),
                          user=login(up))
        assert (code, body) == (200, b"from cadaver\n")
    finally:
        shutil.rmtree(home, ignore_errors=True)
