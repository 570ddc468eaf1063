"""Links for clients (docs/api.md, "Links for clients"): a client makes a
signed URL to download one file (POST .../files/{id}/links) or to upload one
file as itself (POST .../upload-links); anyone with the URL uses it without
credentials until it expires, is used up or is revoked (DELETE
.../links/{id}); GET .../links[/{id}] lists links and their uses."""

import base64
import calendar
import hashlib
import threading
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests

from conftest import HTTP_TIMEOUT, MAX_FILE_SIZE, assert_problem, etag_of, unique

DATA = bytes(range(256)) * 4 + b"the end"        # 1031 bytes


def api(stack, pool, rest):
    return stack.url("/pool/v1/pools/%s/%s" % (pool, rest))


def make_link(stack, c, fid, **body):
    return c.s.post(api(stack, c.pool, "files/%s/links" % fid), json=body)


def make_link_ok(stack, c, fid, **body):
    r = make_link(stack, c, fid, **body)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def make_upload_link(stack, c, **body):
    return c.s.post(api(stack, c.pool, "upload-links"), json=body)


def make_upload_link_ok(stack, c, **body):
    body.setdefault("max_size", 1000)
    r = make_upload_link(stack, c, **body)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def anon(method, url, **kw):
    """A request without credentials."""
    kw.setdefault("timeout", HTTP_TIMEOUT)
    return requests.request(method, url, **kw)


def show(stack, c, lid):
    r = c.s.get(api(stack, c.pool, "links/" + lid))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def with_query(url, **changes):
    """url with query parameters replaced (values not re-encoded)."""
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q.update(changes)
    query = "&".join("%s=%s" % (k, v) for k, v in q.items() if v is not None)
    return urlunsplit(parts._replace(query=query))


def with_path(url, path):
    return urlunsplit(urlsplit(url)._replace(path=path))


@pytest.fixture
def stored(uploader):
    return uploader.upload_ok("report.bin", DATA)


# ------------------------------------------------------------ download links

def test_download_link(stack, uploader, stored):
    before = time.time()
    j = make_link_ok(stack, uploader, stored["id"], expires_in=600,
                     max_downloads=3)
    assert j["kind"] == "download" and j["file_id"] == stored["id"]
    assert j["downloads"] == 0 and j["max_downloads"] == 3
    assert j["client"] == uploader.client_id and j["state"] == "active"
    url = j["url"]
    # absolute, made like the processor links (PoolPublicURL + path)
    assert url.startswith(stack.base + "/pool/v1/pools/%s/files/%s?link=%s&"
                          % (uploader.pool, stored["id"], j["id"])), url
    q = parse_qs(urlsplit(url).query)
    assert abs(int(q["expires"][0]) - (before + 600)) < 5

    # HEAD does not count; GET and a Range GET do
    r = anon("HEAD", url)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(DATA)
    r = anon("GET", url)
    assert r.status_code == 200, r.text
    assert r.content == DATA
    assert r.headers["ETag"] == etag_of(hashlib.sha256(DATA).hexdigest())
    assert r.headers["Accept-Ranges"] == "bytes"
    r = anon("GET", url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206
    assert r.content == DATA[10:20]
    assert r.headers["Content-Range"] == "bytes 10-19/%d" % len(DATA)
    # a conditional GET counts too (every GET does)
    r = anon("GET", url, headers={"If-None-Match": etag_of(stored["sha256"])})
    assert r.status_code == 304
    # used up: 410, HEAD included
    r = anon("GET", url)
    assert_problem(r, 410)
    assert "used up" in r.json()["detail"]
    assert anon("HEAD", url).status_code == 410

    s = show(stack, uploader, j["id"])
    assert s["downloads"] == 3 and s["state"] == "used"
    # a use is recorded as its request ends, after the response went out
    deadline = time.time() + 10
    while s["use_count"] < 3 and time.time() < deadline:
        time.sleep(0.05)
        s = show(stack, uploader, j["id"])
    uses = s["uses"]
    assert sorted((u["method"], u["status"], u["bytes_sent"]) for u in uses) == [
        ("GET", 200, len(DATA)), ("GET", 206, 10), ("GET", 304, 0)]
    assert all(u["remote_addr"] == "127.0.0.1" and u["at"] for u in uses)
    assert s["use_count"] == 3


def test_download_link_defaults_and_listener(stack, pool, uploader, stored,
                                             client_of):
    # any role that may read the file may link it, a listener too
    listener = client_of(pool, "listener")
    j = make_link_ok(stack, listener, stored["id"])
    assert j["max_downloads"] is None and j["client"] == listener.client_id
    q = parse_qs(urlsplit(j["url"]).query)
    assert abs(int(q["expires"][0]) - (time.time() + 86400)) < 5
    for _ in range(3):
        assert anon("GET", j["url"]).content == DATA


def test_concurrent_downloads_never_pass_the_limit(stack, uploader, stored):
    j = make_link_ok(stack, uploader, stored["id"], max_downloads=3)
    statuses = []
    lock = threading.Lock()

    def get():
        r = anon("GET", j["url"])
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=get) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 3 + [410] * 9
    assert show(stack, uploader, j["id"])["downloads"] == 3


def test_download_link_is_for_its_request_only(stack, pool, uploader, stored,
                                               client_of):
    other = uploader.upload_ok("other.bin", b"other")
    url = make_link_ok(stack, uploader, stored["id"])["url"]
    path = urlsplit(url).path
    # other methods, another file, the listing, a path below
    for method in ("PUT", "POST", "DELETE", "PATCH"):
        assert_problem(anon(method, url, data=b"x"), 403)
    assert_problem(anon("GET", with_path(url, path.replace(stored["id"], other["id"]))), 403)
    assert_problem(anon("GET", with_path(url, path.rsplit("/", 1)[0])), 403)
    assert_problem(anon("GET", with_path(url, path + "/links")), 403)
    # the same on another pool's path
    pool_b = stack.create_pool(unique("t"))
    assert_problem(anon("GET", with_path(url, path.replace("/%s/" % pool, "/%s/" % pool_b))), 403)
    # tampered: signature, link id, expiry, a link parameter removed (a
    # processor link's form)
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    bad = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert_problem(anon("GET", with_query(url, sig=bad)), 403)
    lid = parse_qs(urlsplit(url).query)["link"][0]
    assert_problem(anon("GET", with_query(url, link=lid[:-1] + ("0" if lid[-1] != "0" else "1"))), 403)
    exp = int(parse_qs(urlsplit(url).query)["expires"][0])
    assert_problem(anon("GET", with_query(url, expires=str(exp + 1))), 403)
    assert_problem(anon("GET", with_query(url, link=None)), 403)
    assert_problem(anon("GET", with_query(url, link="nope")), 403)
    # none of that used it
    assert anon("GET", url).content == DATA
    assert show(stack, uploader, lid)["downloads"] == 1
    # a link is not credentials for anything else
    r = anon("GET", stack.files_url(pool) + "?" + urlsplit(url).query)
    assert_problem(r, 403)


def test_create_download_link_bad_inputs(stack, pool, uploader, stored):
    fid = stored["id"]
    # another pool's file, an unknown id, no id: 404
    other = stack.create_pool(unique("t"))
    oc = stack.make_client(other, "uploader")
    s = stack.session(token=stack.token(*oc))
    r = stack.upload(s, other, "theirs.bin", b"x")
    assert r.status_code == 201
    assert_problem(make_link(stack, uploader, r.json()["id"]), 404)
    assert_problem(make_link(stack, uploader, "0b4e7c43-7ad2-4c5e-9d1c-3f1a2b3c4d5e"), 404)
    assert_problem(make_link(stack, uploader, "nope"), 404)
    # fields
    for body, field in (({"expires_in": 0}, "expires_in"),
                        ({"expires_in": 604801}, "expires_in"),
                        ({"expires_in": "60"}, "expires_in"),
                        ({"expires_in": 1.5}, "expires_in"),
                        ({"max_downloads": 0}, "max_downloads"),
                        ({"max_downloads": -1}, "max_downloads"),
                        ({"max_downloads": True}, "max_downloads"),
                        ({"colour": "red"}, "colour")):
        assert_problem(make_link(stack, uploader, fid, **body), 422, field)
    url = api(stack, pool, "files/%s/links" % fid)
    assert_problem(uploader.s.post(url, data="[1]", headers={"Content-Type": "application/json"}), 400)
    assert_problem(uploader.s.post(url, data="{", headers={"Content-Type": "application/json"}), 400)
    assert_problem(uploader.s.post(url, data="{}", headers={"Content-Type": "text/plain"}), 415)
    assert_problem(uploader.s.get(url), 405)
    assert_problem(anon("POST", url, json={}), 401)
    # the longest link is allowed
    assert make_link(stack, uploader, fid, expires_in=604800).status_code == 201
    # nothing was made by the refused requests
    assert len(uploader.s.get(api(stack, pool, "links")).json()["links"]) == 1


def test_revoke(stack, pool, uploader, stored, client_of):
    other = client_of(pool, "uploader")
    admin = client_of(pool, "admin")
    j = make_link_ok(stack, uploader, stored["id"])
    k = make_link_ok(stack, uploader, stored["id"])
    assert anon("GET", j["url"]).status_code == 200
    # another client neither sees nor revokes it
    assert_problem(other.s.get(api(stack, pool, "links/" + j["id"])), 404)
    assert_problem(other.s.delete(api(stack, pool, "links/" + j["id"])), 404)
    assert anon("GET", j["url"]).status_code == 200
    # its creator does
    r = uploader.s.delete(api(stack, pool, "links/" + j["id"]))
    assert r.status_code == 204 and r.content == b""
    r = anon("GET", j["url"])
    assert_problem(r, 410)
    assert "revoked" in r.json()["detail"]
    assert anon("HEAD", j["url"]).status_code == 410
    # again: still 204
    assert uploader.s.delete(api(stack, pool, "links/" + j["id"])).status_code == 204
    # a pool admin revokes anyone's
    assert admin.s.delete(api(stack, pool, "links/" + k["id"])).status_code == 204
    assert anon("GET", k["url"]).status_code == 410
    s = show(stack, admin, j["id"])
    assert s["state"] == "revoked" and s["revoked_at"] and s["downloads"] == 2
    # unknown, malformed: 404; another pool's path: 404
    assert_problem(uploader.s.delete(api(stack, pool, "links/0b4e7c43-7ad2-4c5e-9d1c-3f1a2b3c4d5e")), 404)
    assert_problem(uploader.s.delete(api(stack, pool, "links/nope")), 404)
    assert_problem(uploader.s.delete(api(stack, unique("t"), "links/" + j["id"])), 404)
    assert_problem(uploader.s.put(api(stack, pool, "links/" + j["id"])), 405)


def test_expired_link(stack, uploader, stored):
    j = make_link_ok(stack, uploader, stored["id"], expires_in=1)
    expires = int(parse_qs(urlsplit(j["url"]).query)["expires"][0])
    while time.time() < expires + 0.2:      # until the link's time is past
        time.sleep(0.1)
    r = anon("GET", j["url"])
    assert_problem(r, 410)
    assert "expired" in r.json()["detail"]
    assert show(stack, uploader, j["id"])["state"] == "expired"


def test_disabled_creator(stack, pool, stored, client_of):
    c = client_of(pool, "listener")
    j = make_link_ok(stack, c, stored["id"])
    assert anon("GET", j["url"]).status_code == 200
    stack.poolctl_ok("client", "disable", c.client_id)
    r = anon("GET", j["url"])
    assert_problem(r, 410)
    assert "disabled" in r.json()["detail"]


def test_list_links(stack, pool, uploader, stored, client_of):
    bob = client_of(pool, "uploader")
    admin = client_of(pool, "admin")
    a1 = make_link_ok(stack, uploader, stored["id"])
    a2 = make_upload_link_ok(stack, uploader, name="x.bin")
    b1 = make_link_ok(stack, bob, stored["id"])
    url = api(stack, pool, "links")

    def ids(c, **params):
        r = c.s.get(url, params=params)
        assert r.status_code == 200, r.text
        assert "url" not in r.text
        return [x["id"] for x in r.json()["links"]]

    assert ids(uploader) == [a1["id"], a2["id"]]
    assert ids(uploader, client=uploader.client_id) == [a1["id"], a2["id"]]
    assert ids(bob) == [b1["id"]]
    assert_problem(bob.s.get(url, params={"client": uploader.client_id}), 403)
    assert ids(admin) == [a1["id"], a2["id"], b1["id"]]
    assert ids(admin, client=bob.client_id) == [b1["id"]]
    # paging
    r = admin.s.get(url, params={"limit": 2}).json()
    assert [x["id"] for x in r["links"]] == [a1["id"], a2["id"]] and r["next"]
    r = admin.s.get(url, params={"limit": 2, "after": r["next"]}).json()
    assert [x["id"] for x in r["links"]] == [b1["id"]] and r["next"] is None
    assert_problem(admin.s.get(url, params={"limit": 0}), 422, "limit")
    assert_problem(admin.s.get(url, params={"after": "x"}), 422, "after")
    assert_problem(admin.s.post(url, json={}), 405)
    # another pool's admin sees none of them
    other = stack.create_pool(unique("t"))
    oc = stack.make_client(other, "admin")
    s = stack.session(token=stack.token(*oc))
    assert s.get(api(stack, other, "links")).json()["links"] == []
    assert_problem(s.get(api(stack, pool, "links")), 404)
    assert_problem(s.get(api(stack, other, "links/" + a1["id"])), 404)


# ------------------------------------------------------------- upload links

NAME = "météo (1).csv"


def test_upload_link(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name=NAME, folder="/drop/box",
                            ts="2026-11-21T10:15:00Z", max_size=100,
                            expires_in=600)
    assert j["kind"] == "upload" and j["name"] == NAME
    assert j["folder"] == "/drop/box" and j["ts"] == "2026-11-21T10:15:00Z"
    assert j["max_size"] == 100 and j["file_id"] is None and j["state"] == "active"
    url = j["url"]
    # the path as httpd escapes paths; other spellings of it work as well
    assert url.startswith(stack.base + "/pool/v1/pools/%s/files/m%%c3%%a9t%%c3%%a9o%%20(1).csv?link=%s&"
                          % (pool, j["id"])), url
    respelled = url.replace("%c3%a9", "%C3%A9").replace("(1)", "%281%29")
    r = anon("PUT", respelled, data=b"x" * 101)
    assert_problem(r, 413)                  # admitted: only too large
    body = b"a,b\n1,2\n" * 6
    r = anon("PUT", url, data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["name"] == NAME and f["size"] == len(body)
    assert f["client"] == uploader.client_id           # as its creator
    assert f["folder"] == "/drop/box"
    assert f["ts"] == "2026-11-21T10:15:00Z"
    assert f["content_type"] == "text/csv"
    assert f["sha256"] == hashlib.sha256(body).hexdigest()
    # listed under the creator, in the folder, and readable
    listed = [x for x in stack.list_all(pool) if x["id"] == f["id"]]
    assert listed and listed[0]["client"] == uploader.client_id
    assert listed[0]["folder"] == "/drop/box"
    assert uploader.get("/" + f["id"]).content == body
    # once only
    r = anon("PUT", url, data=b"again")
    assert_problem(r, 410)
    assert "used" in r.json()["detail"]
    s = show(stack, uploader, j["id"])
    assert s["state"] == "used" and s["file_id"] == f["id"] and s["used_at"]
    assert [(u["method"], u["status"]) for u in s["uses"]] \
        == [("PUT", 413), ("PUT", 201)]
    assert s["uses"][1]["bytes_received"] == len(body)
    assert len([x for x in stack.list_all(pool) if x["name"] == NAME]) == 1


@pytest.mark.parametrize("name", ["100% a%41 #?.txt", "plus+and&=;,.txt",
                                  "\u65e5\u672c.txt", "~tilde-_.txt"])
def test_upload_link_names(stack, pool, uploader, name):
    # the name reaches the file as it was given, whatever its characters
    j = make_upload_link_ok(stack, uploader, name=name)
    r = anon("PUT", j["url"], data=b"hi")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


def test_upload_link_without_ts_or_folder(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name="plain.txt")
    before = time.time()
    r = anon("PUT", j["url"], data=b"hello")
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["folder"] == "/" + uploader.name       # the creator's own
    ts = calendar.timegm(time.strptime(f["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert before - 5 < ts < time.time() + 5        # the time of the upload


def test_upload_link_too_large(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name="small.bin", max_size=10)
    snap = stack.snapshot(pool)
    # announced by Content-Length: refused before the body is read
    r = anon("PUT", j["url"], data=b"x" * 11)
    assert_problem(r, 413)
    assert "max_size of 10 bytes" in r.json()["detail"]
    # chunked: refused once it is received
    r = anon("PUT", j["url"], data=iter([b"x" * 6, b"y" * 6]))
    assert_problem(r, 413)
    # an upload that fails in the ingest (a wrong digest) frees it too
    r = anon("PUT", j["url"], data=b"x" * 10,
             headers={"Content-Digest": "sha-256=:%s:" % base64.b64encode(
                 hashlib.sha256(b"other").digest()).decode()})
    assert_problem(r, 400)
    stack.assert_nothing_stored(pool, snap)
    # the link is still usable
    r = anon("PUT", j["url"], data=b"x" * 10)
    assert r.status_code == 201, r.text
    s = show(stack, uploader, j["id"])
    assert [u["status"] for u in s["uses"]] == [413, 413, 400, 201]


def test_concurrent_puts_on_one_upload_link(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name="once.bin",
                            max_size=MAX_FILE_SIZE)
    body = b"z" * (2 * 1024 * 1024)
    results = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def put():
        start.wait()
        r = anon("PUT", j["url"], data=body)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 410}, statuses
    for r in results:
        if r.status_code != 201:
            assert_problem(r, r.status_code)
    files = [x for x in stack.list_all(pool) if x["name"] == "once.bin"]
    assert len(files) == 1 and files[0]["size"] == len(body)
    # after it: gone
    assert_problem(anon("PUT", j["url"], data=b"late"), 410)


def test_upload_link_held_while_its_body_arrives(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name="slow.bin", max_size=100)
    go = threading.Event()
    result = []

    def slow_body():
        yield b"a" * 10
        go.wait(30)
        yield b"b" * 10

    t = threading.Thread(target=lambda: result.append(
        anon("PUT", j["url"], data=slow_body())))
    t.start()
    try:
        # until the slow PUT holds the link
        deadline = time.time() + 20
        while not show(stack, uploader, j["id"])["in_progress"]:
            assert time.time() < deadline and t.is_alive(), result
            time.sleep(0.05)
        r = anon("PUT", j["url"], data=b"x" * 5)
        assert_problem(r, 409)
        assert "in progress" in r.json()["detail"]
    finally:
        go.set()
        t.join()
    assert result[0].status_code == 201, result[0].text
    assert result[0].json()["size"] == 20
    assert_problem(anon("PUT", j["url"], data=b"x"), 410)
    assert show(stack, uploader, j["id"])["in_progress"] is False


def test_upload_link_roles_and_bad_inputs(stack, pool, uploader, client_of):
    for role in ("listener", "processor"):
        c = client_of(pool, role)
        assert_problem(make_upload_link(stack, c, name="a", max_size=1), 403)
    admin = client_of(pool, "admin")
    j = make_upload_link_ok(stack, admin, name="by-admin.txt", max_size=5)
    assert anon("PUT", j["url"], data=b"12345").json()["client"] == admin.client_id
    for body, field in (({"max_size": 10}, "name"),
                        ({"name": "a"}, "max_size"),
                        ({"name": "a", "max_size": 0}, "max_size"),
                        ({"name": "a", "max_size": MAX_FILE_SIZE + 1}, "max_size"),
                        ({"name": "a", "max_size": "10"}, "max_size"),
                        ({"name": "a", "max_size": 1, "expires_in": 0}, "expires_in"),
                        ({"name": "a", "max_size": 1, "expires_in": 604801}, "expires_in"),
                        ({"name": "a/b", "max_size": 1}, "name"),
                        ({"name": "..", "max_size": 1}, "name"),
                        ({"name": 7, "max_size": 1}, "name"),
                        ({"name": "a", "max_size": 1, "folder": "no-slash"}, "folder"),
                        ({"name": "a", "max_size": 1, "folder": "/results"}, "folder"),
                        ({"name": "a", "max_size": 1, "folder": 3}, "folder"),
                        ({"name": "a", "max_size": 1, "ts": "yesterday"}, "ts"),
                        ({"name": "a", "max_size": 1, "ts": [1]}, "ts"),
                        ({"name": "a", "max_size": 1, "size": 1}, "size")):
        assert_problem(make_upload_link(stack, uploader, **body), 422, field)
    url = api(stack, pool, "upload-links")
    assert_problem(uploader.s.post(url, data="nope", headers={"Content-Type": "application/json"}), 400)
    assert_problem(uploader.s.get(url), 405)
    assert_problem(uploader.s.post(url + "/x", json={}), 404)
    assert_problem(anon("POST", url, json={"name": "a", "max_size": 1}), 401)
    assert make_upload_link(stack, uploader, name="a", max_size=MAX_FILE_SIZE).status_code == 201
    r = uploader.s.get(api(stack, pool, "links"))
    assert [x["name"] for x in r.json()["links"]] == ["a"]


def test_upload_link_is_for_its_request_only(stack, pool, uploader):
    j = make_upload_link_ok(stack, uploader, name="only.txt", max_size=100)
    url = j["url"]
    path = urlsplit(url).path
    assert_problem(anon("GET", url), 403)
    assert anon("HEAD", url).status_code == 403
    assert_problem(anon("DELETE", url), 403)
    assert_problem(anon("POST", url, data=b"x"), 403)
    assert_problem(anon("PUT", with_path(url, path.replace("only.txt", "other.txt")), data=b"x"), 403)
    pool_b = stack.create_pool(unique("t"))
    assert_problem(anon("PUT", with_path(url, path.replace("/%s/" % pool, "/%s/" % pool_b)), data=b"x"), 403)
    assert_problem(anon("PUT", with_query(url, link=None), data=b"x"), 403)
    assert not [x for x in stack.list_all(pool) if x["name"] in ("only.txt", "other.txt")]
    # the link itself still works
    assert anon("PUT", url, data=b"x").status_code == 201


def test_revoked_and_expired_upload_links(stack, pool, uploader, client_of):
    j = make_upload_link_ok(stack, uploader, name="r.txt")
    assert uploader.s.delete(api(stack, pool, "links/" + j["id"])).status_code == 204
    r = anon("PUT", j["url"], data=b"x")
    assert_problem(r, 410)
    assert "revoked" in r.json()["detail"]
    k = make_upload_link_ok(stack, uploader, name="e.txt", expires_in=1)
    expires = int(parse_qs(urlsplit(k["url"]).query)["expires"][0])
    while time.time() < expires + 0.2:
        time.sleep(0.1)
    assert_problem(anon("PUT", k["url"], data=b"x"), 410)
    # a disabled creator's upload link stops working
    c = client_of(pool, "uploader")
    m = make_upload_link_ok(stack, c, name="d.txt")
    stack.poolctl_ok("client", "disable", c.client_id)
    assert_problem(anon("PUT", m["url"], data=b"x"), 410)
    assert not [x for x in stack.list_all(pool) if x["name"] in ("r.txt", "e.txt", "d.txt")]


# ------------------------------------------------------------------ sweep

def test_sweep_purges_old_links(stack, pool, uploader, stored):
    old = make_link_ok(stack, uploader, stored["id"])
    fresh = make_link_ok(stack, uploader, stored["id"])
    assert anon("GET", old["url"]).status_code == 200
    stack.psql("UPDATE client_links SET expires_at = now() - interval '8 days'"
               " WHERE id = '%s'" % old["id"])
    stack.poolctl_ok("sweep", "--pool", pool)
    assert_problem(uploader.s.get(api(stack, pool, "links/" + old["id"])), 404)
    assert show(stack, uploader, fresh["id"])["state"] == "active"
    assert stack.psql("SELECT count(*) FROM client_link_uses WHERE link_id = '%s'"
                      % old["id"]).strip() == "0"
    assert_problem(anon("GET", old["url"]), 410)
