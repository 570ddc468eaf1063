"""The admin API of webhook endpoints and the delivery log
(docs/webhooks.md): .../endpoints (create, list, read, merge, rotate,
preview, recover, remove) and .../deliveries (list with filters and paging,
one with its attempts, retry), for a pool's admins only.

Events are queued by the database's pool_emit() (sql/016), the one function
every event goes through; `poolctl run --once deliver` sends them to a local
receiver (test_webhooks.Receiver)."""

import datetime
import json
import uuid

import pytest

from conftest import assert_problem, unique
from test_webhooks import Receiver

RECEIVER_PLACEHOLDER = "http://127.0.0.1:9/hook"   # never sent to here


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def rcv():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def admin(pool, client_of):
    return client_of(pool, "admin")


def ep_url(c, rest=""):
    return c.stack.url("/pool/v1/pools/%s/endpoints%s" % (c.pool, rest))


def dl_url(c, rest=""):
    return c.stack.url("/pool/v1/pools/%s/deliveries%s" % (c.pool, rest))


def create(c, body, status=201):
    r = c.s.post(ep_url(c), json=body)
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def emit(stack, pool, event, data=None):
    """Queues event for the pool's endpoints; returns how many."""
    out = stack.psql(
        "SELECT pool_emit(p.id, '%s', '%s'::jsonb, false, '{}')"
        " FROM pools p WHERE p.name = '%s'"
        % (event, json.dumps(data or {"n": 1}).replace("'", "''"), pool))
    return int(out.strip())


def db_now(stack):
    return stack.psql(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')").strip()


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def run_deliver(stack):
    p = stack.poolctl("run", "--once", "deliver", timeout=120)
    assert p.returncode == 0, p.stderr
    return p


def deliveries(c, **q):
    r = c.s.get(dl_url(c), params=q)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def delivery(c, did):
    r = c.s.get(dl_url(c, "/" + did))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


FULL = {
    "url": "https://hooks.example.com/in",
    "description": "the document system",
    "events": ["file.received", "result.published"],
    "filter": {"/data/file/content_type": ["application/pdf", "image/png"],
               "/data/pool": "x"},
    "auth": {"type": "header", "name": "X-Api-Key", "value": "k-123456"},
    "retry_schedule": [5, 60, 600],
    "rate_limit": 20,
    "mapping": {"method": "PUT", "path": "/docs/{{/data/file/id}}",
                "body": {"doc": {"$ptr": "/data/file/id"},
                         "title": "{{/data/file/name}}", "source": "pool"}},
    "success": {"status": [200, "201-204"], "body": {"regex": "^ok"},
                "timeout_ms": 5000},
    "disabled": False,
}


# ---------------------------------------------------------------- CRUD

def test_create_with_every_field_then_read_change_remove(stack, admin):
    r = admin.s.post(ep_url(admin), json=FULL)
    assert r.status_code == 201, r.text
    ep = r.json()
    assert r.headers["Location"].endswith(
        "/pool/v1/pools/%s/endpoints/%s" % (admin.pool, ep["id"]))
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert ep["id"].startswith("ep_") and len(ep["id"]) == 27
    assert ep["secret"].startswith("whsec_")
    assert ep["pool"] == admin.pool and ep["client"] is None
    for k in ("url", "description", "events", "filter", "retry_schedule",
              "rate_limit", "mapping", "success", "disabled"):
        want = FULL[k]
        if k == "filter":
            want = {"/data/file/content_type": ["application/pdf", "image/png"],
                    "/data/pool": "x"}
        assert ep[k] == want, (k, ep[k])
    # the auth secret is never shown, not even at create
    assert ep["auth"] == {"type": "header", "name": "X-Api-Key",
                          "secret_set": True}
    assert ep["disabled_at"] is None and ep["created_at"] and ep["updated_at"]

    got = admin.s.get(ep_url(admin, "/" + ep["id"]))
    assert got.status_code == 200
    g = got.json()
    assert "secret" not in g and "k-123456" not in got.text
    assert g["auth"]["secret_set"] is True
    assert {k: v for k, v in g.items()} == {k: v for k, v in ep.items()
                                           if k != "secret"}

    # merge: only what is given changes; null resets to the default; the
    # auth secret of the same type is kept when not given
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]),
                      json={"description": "renamed", "rate_limit": None,
                            "mapping": None, "auth": {"type": "header",
                                                      "name": "X-Key"}})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["description"] == "renamed" and p["rate_limit"] is None
    assert p["mapping"] is None
    assert p["auth"] == {"type": "header", "name": "X-Key", "secret_set": True}
    assert p["events"] == FULL["events"] and p["url"] == FULL["url"]
    assert "secret" not in p

    # application/merge-patch+json is the same merge
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]),
                      data=json.dumps({"disabled": True, "retry_schedule": None}),
                      headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["disabled"] is True and p["disabled_at"]
    assert p["retry_schedule"] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]), json={"disabled": False})
    assert r.json()["disabled"] is False and r.json()["disabled_at"] is None

    # listed
    lst = admin.s.get(ep_url(admin)).json()
    assert [e["id"] for e in lst["items"]] == [ep["id"]]
    assert lst["next"] is None and "secret" not in lst["items"][0]

    r = admin.s.delete(ep_url(admin, "/" + ep["id"]))
    assert r.status_code == 204, r.text
    assert_problem(admin.s.get(ep_url(admin, "/" + ep["id"])), 404)
    assert_problem(admin.s.delete(ep_url(admin, "/" + ep["id"])), 404)
    assert admin.s.get(ep_url(admin)).json()["items"] == []


def test_list_pages_by_id(stack, admin):
    ids = sorted(create(admin, {"url": RECEIVER_PLACEHOLDER})["id"]
                 for _ in range(5))
    seen, after = [], None
    while True:
        q = {"limit": 2}
        if after:
            q["after"] = after
        j = admin.s.get(ep_url(admin), params=q).json()
        assert len(j["items"]) <= 2
        seen += [e["id"] for e in j["items"]]
        after = j["next"]
        if not after:
            break
    assert seen == ids
    assert_problem(admin.s.get(ep_url(admin), params={"limit": 0}), 422, "limit")
    assert_problem(admin.s.get(ep_url(admin), params={"limit": "x"}), 422, "limit")
    assert_problem(admin.s.get(ep_url(admin), params={"after": "nope"}), 422,
                   "after")


BAD_DOCUMENTS = [
    ({"url": "ftp://example.com/x"}, "url", None),
    ({"url": 5}, "url", None),
    ({"description": "no url"}, "url", "required"),
    ({"url": RECEIVER_PLACEHOLDER, "events": ["file.nope"]}, "events",
     "file.nope"),
    ({"url": RECEIVER_PLACEHOLDER, "events": "file.received"}, "events", None),
    ({"url": RECEIVER_PLACEHOLDER, "filter": {"data/pool": "x"}}, "filter",
     "data/pool"),
    ({"url": RECEIVER_PLACEHOLDER, "filter": {"/data/x": {"a": 1}}}, "filter",
     None),
    ({"url": RECEIVER_PLACEHOLDER, "auth": {"type": "bearer"}}, "auth",
     "token"),
    ({"url": RECEIVER_PLACEHOLDER, "auth": {"type": "magic"}}, "auth",
     "magic"),
    ({"url": RECEIVER_PLACEHOLDER,
      "auth": {"type": "header", "name": "Content-Type", "value": "x"}},
     "auth", "header"),
    ({"url": RECEIVER_PLACEHOLDER,
      "auth": {"type": "basic", "username": "a:b", "password": "p"}},
     "auth", None),
    ({"url": RECEIVER_PLACEHOLDER, "retry_schedule": [0]}, "retry_schedule",
     None),
    ({"url": RECEIVER_PLACEHOLDER, "retry_schedule": [1] * 21},
     "retry_schedule", None),
    ({"url": RECEIVER_PLACEHOLDER, "rate_limit": 0}, "rate_limit", None),
    ({"url": RECEIVER_PLACEHOLDER, "description": "x" * 501}, "description",
     None),
    ({"url": RECEIVER_PLACEHOLDER,
      "mapping": {"body": {"doc": {"$ptr": "data/file/id"}}}},
     "mapping", "/body/doc"),
    ({"url": RECEIVER_PLACEHOLDER,
      "mapping": {"body": {"t": "x {{/data/file/name"}}},
     "mapping", "/body/t"),
    ({"url": RECEIVER_PLACEHOLDER, "mapping": {"method": "GET"}}, "mapping",
     "/method"),
    ({"url": RECEIVER_PLACEHOLDER, "success": {"status": ["abc"]}}, "success",
     "/status"),
    ({"url": RECEIVER_PLACEHOLDER, "success": {"body": {"regex": "(a"}}},
     "success", "/body"),
    ({"url": RECEIVER_PLACEHOLDER, "success": {"timeout_ms": 0}}, "success",
     "/timeout_ms"),
    ({"url": RECEIVER_PLACEHOLDER, "disabled": "yes"}, "disabled", None),
    ({"url": RECEIVER_PLACEHOLDER, "urls": "x"}, "urls", "urls"),
]


@pytest.mark.parametrize("body,field,says", BAD_DOCUMENTS)
def test_invalid_documents_refused(stack, admin, body, field, says):
    j = assert_problem(admin.s.post(ep_url(admin), json=body), 422, field)
    assert j["detail"].startswith(field + ":") or field in j["detail"], j
    if says:
        assert says in j["detail"], j
    # nothing was made
    assert admin.s.get(ep_url(admin)).json()["items"] == []


def test_invalid_change_refused_and_nothing_changed(stack, admin):
    ep = create(admin, FULL)
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]),
                      json={"description": "changed",
                            "mapping": {"body": {"a": {"$ptr": "x"}}}})
    j = assert_problem(r, 422, "mapping")
    assert "/body/a" in j["detail"]
    assert admin.s.get(ep_url(admin, "/" + ep["id"])).json()["description"] \
        == FULL["description"]


def test_bad_requests(stack, admin):
    r = admin.s.post(ep_url(admin), data="url=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415)
    r = admin.s.post(ep_url(admin), data="{\"url\": ",
                     headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    r = admin.s.post(ep_url(admin), data="[1]",
                     headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    big = {"url": RECEIVER_PLACEHOLDER, "description": "x" * (300 * 1024)}
    assert_problem(admin.s.post(ep_url(admin), json=big), 413)
    ep = create(admin, {"url": RECEIVER_PLACEHOLDER})
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]), data="{}",
                      headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)


def test_methods_and_unknown_paths(stack, admin):
    ep = create(admin, {"url": RECEIVER_PLACEHOLDER})
    one = "/" + ep["id"]
    for method, rest, allow in (
            ("PUT", "", "GET, HEAD, POST"),
            ("POST", one, "GET, HEAD, PATCH, DELETE"),
            ("GET", one + "/rotate", "POST"),
            ("GET", one + "/preview", "POST"),
            ("DELETE", one + "/recover", "POST")):
        r = admin.s.request(method, ep_url(admin, rest))
        assert_problem(r, 405)
        assert r.headers["Allow"] == allow, (method, rest, r.headers)
    r = admin.s.delete(dl_url(admin))
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET, HEAD"
    r = admin.s.put(dl_url(admin, "/" + str(uuid.uuid4())))
    assert_problem(r, 405)
    r = admin.s.get(dl_url(admin, "/%s/retry" % uuid.uuid4()))
    assert_problem(r, 405)
    assert r.headers["Allow"] == "POST"
    for rest in ("/ep_nope", "/EP_" + "a" * 24, one + "/nope", one + "/rotate/x"):
        assert_problem(admin.s.get(ep_url(admin, rest)), 404)
    for rest in ("/not-a-uuid", "/%s/nope" % uuid.uuid4(),
                 "/" + str(uuid.uuid4()).upper()):
        assert_problem(admin.s.get(dl_url(admin, rest)), 404)
    assert_problem(admin.s.get(dl_url(admin, "/" + str(uuid.uuid4()))), 404)


# ---------------------------------------------------------------- secrets

def test_signing_secret_shown_only_at_create_and_rotate(stack, admin):
    ep = create(admin, {"url": RECEIVER_PLACEHOLDER,
                        "auth": {"type": "bearer", "token": "tok-secret-1"}})
    first = ep["secret"]
    assert ep["secret_rotated_until"] is None
    assert ep["auth"] == {"type": "bearer", "secret_set": True}
    for r in (admin.s.get(ep_url(admin, "/" + ep["id"])),
              admin.s.get(ep_url(admin))):
        assert first not in r.text and "tok-secret-1" not in r.text
        assert '"secret"' not in r.text

    r = admin.s.post(ep_url(admin, "/%s/rotate" % ep["id"]))
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers.get("Cache-Control", "")
    rot = r.json()
    assert rot["secret"].startswith("whsec_") and rot["secret"] != first
    assert rot["secret_rotated_until"]       # the old one signs for a day
    assert "tok-secret-1" not in r.text

    r = admin.s.post(ep_url(admin, "/%s/rotate" % ep["id"]),
                     json={"grace_seconds": 0})
    assert r.status_code == 200, r.text
    assert r.json()["secret_rotated_until"] is None
    assert r.json()["secret"] not in (first, rot["secret"])
    for bad in ({"grace_seconds": -1}, {"grace_seconds": 7 * 86400 + 1},
                {"grace_seconds": "1"}, {"grace": 5}):
        r = admin.s.post(ep_url(admin, "/%s/rotate" % ep["id"]), json=bad)
        assert_problem(r, 422, "grace_seconds" if "grace_seconds" in bad
                       else "grace")
    assert '"secret"' not in admin.s.get(ep_url(admin, "/" + ep["id"])).text


# ---------------------------------------------------------------- access

def test_other_pools_endpoints_and_deliveries_are_404(stack, admin, client_of):
    other = client_of(unique("t"), "admin")
    theirs = create(other, {"url": RECEIVER_PLACEHOLDER})
    assert emit(stack, other.pool, "file.received") == 1
    did = deliveries(other)["items"][0]["id"]

    # by their ids under my pool: not found
    for method, rest in (("GET", ""), ("PATCH", ""), ("DELETE", ""),
                         ("POST", "/rotate"), ("POST", "/preview"),
                         ("POST", "/recover?since=2020-01-01T00:00:00Z")):
        kw = {"json": {"description": "x"}} if method == "PATCH" else {}
        r = admin.s.request(method, ep_url(admin, "/" + theirs["id"] + rest),
                            **kw)
        assert_problem(r, 404)
    assert_problem(admin.s.get(dl_url(admin, "/" + did)), 404)
    assert_problem(admin.s.post(dl_url(admin, "/%s/retry" % did)), 404)
    assert_problem(admin.s.get(dl_url(admin), params={"endpoint": theirs["id"]}),
                   404)
    assert deliveries(admin)["items"] == []
    # their pool's paths with my token: the pool is not mine
    r = admin.s.get(stack.url("/pool/v1/pools/%s/endpoints" % other.pool))
    assert_problem(r, 404)
    r = admin.s.get(stack.url("/pool/v1/pools/%s/deliveries/%s"
                              % (other.pool, did)))
    assert_problem(r, 404)
    # untouched
    assert other.s.get(ep_url(other, "/" + theirs["id"])).json()["description"] == ""


@pytest.mark.parametrize("role", ["uploader", "listener", "processor"])
def test_only_admins(stack, pool, client_of, role):
    admin = client_of(pool, "admin")
    ep = create(admin, {"url": RECEIVER_PLACEHOLDER})
    c = client_of(pool, role)
    for method, url in (("GET", ep_url(c)), ("POST", ep_url(c)),
                        ("GET", ep_url(c, "/" + ep["id"])),
                        ("POST", ep_url(c, "/%s/rotate" % ep["id"])),
                        ("GET", dl_url(c)),
                        ("GET", dl_url(c, "/" + str(uuid.uuid4()))),
                        ("POST", dl_url(c, "/%s/retry" % uuid.uuid4()))):
        r = c.s.request(method, url, json={"url": RECEIVER_PLACEHOLDER})
        assert_problem(r, 403)
    r = stack.session().get(ep_url(c))
    assert_problem(r, 401)


# ---------------------------------------------------------------- preview

def test_preview_renders_mapping_with_missing_pointers(stack, admin):
    ep = create(admin, {
        "url": "https://hooks.example.com/api",
        "events": ["file.received"],
        "auth": {"type": "bearer", "token": "tok-very-secret"},
        "mapping": {"method": "PUT", "path": "/docs/{{/data/file/id}}",
                    "body": {"doc": {"$ptr": "/data/file/id"},
                             "owner": {"$ptr": "/data/file/labels/owner"},
                             "folder": {"$ptr": "/data/file/labels/f",
                                        "default": "inbox"},
                             "title": "{{/data/file/name}} ({{/data/file/size}})"}}})
    event = {"type": "file.received", "timestamp": "2026-11-21T10:15:00Z",
             "data": {"file": {"id": "abc 1/2", "name": "scan.pdf",
                               "size": 42}}}
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"event": event})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["method"] == "PUT"
    assert j["url"] == "https://hooks.example.com/api/docs/abc%201%2F2"
    assert json.loads(j["body"]) == {"doc": "abc 1/2", "owner": None,
                                     "folder": "inbox",
                                     "title": "scan.pdf (42)"}
    assert list(json.loads(j["body"])) == ["doc", "owner", "folder", "title"]
    assert j["missing"] == ["/data/file/labels/owner"]
    assert j["event"] == event
    # the auth header is shown without its secret
    assert "tok-very-secret" not in r.text
    assert "webhook-signature" in {k.lower() for k in j["headers"]}

    # without an event: a sample of the endpoint's first event type
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]))
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["event"]["type"] == "file.received"
    assert json.loads(j["body"])["doc"] == j["event"]["data"]["file"]["id"]

    # an unsaved mapping (the editor's): rendered, not saved
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"event": event,
                           "mapping": {"body": {"n": "{{/data/file/name}}",
                                                "x": {"$ptr": "/nope"}}}})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["method"] == "POST" and j["url"] == "https://hooks.example.com/api"
    assert json.loads(j["body"]) == {"n": "scan.pdf", "x": None}
    assert j["missing"] == ["/nope"]
    saved = admin.s.get(ep_url(admin, "/" + ep["id"])).json()["mapping"]
    assert saved["method"] == "PUT"

    # an invalid unsaved mapping: 422 with where it is wrong
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"mapping": {"body": {"a": [1, {"$ptr": "no-slash"}]}}})
    pj = assert_problem(r, 422, "mapping")
    assert "/body/a/1" in pj["detail"], pj
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"event": "not an envelope"})
    assert_problem(r, 422, "event")
    r = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"events": []})
    assert_problem(r, 422, "events")


def test_preview_without_mapping_sends_event_as_is(stack, admin):
    ep = create(admin, {"url": RECEIVER_PLACEHOLDER})
    event = {"type": "group.closed", "timestamp": "2026-11-21T10:15:00Z",
             "data": {"group": {"id": "g1"}}}
    j = admin.s.post(ep_url(admin, "/%s/preview" % ep["id"]),
                     json={"event": event}).json()
    assert j["method"] == "POST" and j["url"] == RECEIVER_PLACEHOLDER
    assert json.loads(j["body"]) == event and j["missing"] == []


# ---------------------------------------------------------------- deliveries

def test_deliveries_list_filters_and_pages(stack, admin):
    a = create(admin, {"url": RECEIVER_PLACEHOLDER, "events": ["file.received"]})
    b = create(admin, {"url": RECEIVER_PLACEHOLDER + "/b"})
    t0 = db_now(stack)
    for i in range(3):
        assert emit(stack, admin.pool, "file.received", {"i": i}) == 2
    assert emit(stack, admin.pool, "group.closed", {"g": 1}) == 1
    assert emit(stack, admin.pool, "group.closed", {"g": 2}) == 1

    everything = deliveries(admin)
    items = everything["items"]
    assert len(items) == 8 and everything["next"] is None
    for d in items:
        assert set(d) == {"id", "pool", "endpoint", "client", "event", "url",
                          "state", "attempts", "last_status", "last_error",
                          "next_attempt_at", "created_at", "delivered_at"}
        assert d["pool"] == admin.pool and d["client"] is None
        assert d["state"] == "pending" and d["attempts"] == 0
        assert d["next_attempt_at"] and d["delivered_at"] is None
    # newest first
    created = [parse_ts(d["created_at"]) for d in items]
    assert created == sorted(created, reverse=True)
    assert [d["event"] for d in items[:2]] == ["group.closed"] * 2

    by_a = deliveries(admin, endpoint=a["id"])["items"]
    assert len(by_a) == 3 and {d["endpoint"] for d in by_a} == {a["id"]}
    assert {d["url"] for d in by_a} == {RECEIVER_PLACEHOLDER}
    closed = deliveries(admin, event="group.closed")["items"]
    assert len(closed) == 2 and {d["endpoint"] for d in closed} == {b["id"]}
    assert len(deliveries(admin, endpoint=b["id"], event="file.received")
               ["items"]) == 3
    assert len(deliveries(admin, status="pending")["items"]) == 8
    assert deliveries(admin, status="failed")["items"] == []
    assert deliveries(admin, status="delivered")["items"] == []
    assert len(deliveries(admin, since=t0)["items"]) == 8
    assert deliveries(admin, since="2999-01-01T00:00:00Z")["items"] == []
    assert len(deliveries(admin, since="1700000000")["items"]) == 8
    # an offset's unescaped '+' (a space once decoded) is read as a plus
    r = admin.s.get(dl_url(admin) + "?since=" + t0.replace("Z", "+00:00"))
    assert r.status_code == 200 and len(r.json()["items"]) == 8, r.text
    r = admin.s.get(dl_url(admin) + "?since=" + t0.replace("Z", "%2B01:00"))
    assert r.status_code == 200 and len(r.json()["items"]) == 8, r.text
    # parameters it does not know are ignored
    assert len(deliveries(admin, state="failed")["items"]) == 8

    # keyset pages of 3: every delivery once, in the same order (several
    # share a created_at: one emit is one transaction)
    seen, before, pages = [], None, 0
    while True:
        q = {"limit": 3}
        if before:
            q["before"] = before
        j = deliveries(admin, **q)
        pages += 1
        seen += [d["id"] for d in j["items"]]
        before = j["next"]
        if not before:
            break
    assert seen == [d["id"] for d in items] and pages == 3
    # paging with a filter
    j = deliveries(admin, endpoint=b["id"], limit=4)
    assert len(j["items"]) == 4 and j["next"] == j["items"][-1]["id"]
    rest = deliveries(admin, endpoint=b["id"], limit=4, before=j["next"])
    assert len(rest["items"]) == 1 and rest["next"] is None
    # every filter at once
    j = deliveries(admin, endpoint=b["id"], status="pending",
                   event="file.received", since=t0, limit=2)
    assert len(j["items"]) == 2 and j["next"]
    rest = deliveries(admin, endpoint=b["id"], status="pending",
                      event="file.received", since=t0, limit=2,
                      before=j["next"])
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert {d["event"] for d in j["items"] + rest["items"]} == {"file.received"}

    # one delivery: its payload, no attempts yet
    d = delivery(admin, items[0]["id"])
    assert d["payload"]["type"] == "group.closed"
    assert d["payload"]["data"] == {"g": 2}
    assert d["history"] == [] and d["attempts"] == 0
    assert d["endpoint"] == b["id"]


@pytest.mark.parametrize("query,field", [
    ({"status": "bogus"}, "status"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-13-01T00:00:00Z"}, "since"),
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"endpoint": "ep_short"}, "endpoint"),
    ({"event": "Not An Event!"}, "event"),
    ({"before": "not-a-uuid"}, "before"),
    ({"before": "00000000-0000-4000-8000-000000000000"}, "before"),
])
def test_deliveries_bad_filters(stack, admin, query, field):
    assert_problem(admin.s.get(dl_url(admin), params=query), 422, field)


def test_deliveries_unknown_endpoint_404(stack, admin):
    r = admin.s.get(dl_url(admin), params={"endpoint": "ep_" + "0" * 24})
    assert_problem(r, 404)


# ------------------------------------------------- retry and recover (deliver)

def attempts_of(admin, did):
    return delivery(admin, did)["history"]


def test_retry_after_failures_keeps_every_attempt(stack, admin, rcv):
    path = rcv.path()
    answers = [(500, [("X-Why", "down")], 0, b"boom")] * 2 \
        + [(200, [], 0, b"ok then")]
    rcv.answers[path] = lambda rec: answers.pop(0)
    ep = create(admin, {"url": rcv.url(path), "retry_schedule": [1]})
    rcv.secrets[path] = ep["secret"]
    assert emit(stack, admin.pool, "file.received", {"file": {"id": "f1"}}) == 1
    did = deliveries(admin)["items"][0]["id"]

    run_deliver(stack)
    d = delivery(admin, did)
    assert d["state"] == "pending" and d["attempts"] == 1, d
    assert d["last_status"] == 500
    # due now instead of in a second
    r = admin.s.post(dl_url(admin, "/%s/retry" % did))
    assert r.status_code == 202, r.text
    assert r.json()["id"] == did and r.json()["state"] == "pending"
    run_deliver(stack)
    d = delivery(admin, did)
    assert d["state"] == "failed" and d["attempts"] == 2, d
    assert [a["outcome"] for a in d["history"]] == ["retry", "failed"]
    got = rcv.received(path)
    assert len(got) == 2 and all(g["verified"] for g in got)
    for a, g in zip(d["history"], got):
        assert a["status"] == 500 and a["response"]["status"] == 500
        assert a["response"]["body"] == "boom"
        assert a["response"]["truncated"] is False
        hdrs = {k.lower(): v for k, v in a["response"]["headers"].items()}
        assert hdrs.get("x-why") == "down", a["response"]["headers"]
        assert "500" in a["reason"], a
        assert a["request"]["method"] == "POST"
        assert a["request"]["url"] == rcv.url(path)
        # no mapping: the body sent is the payload as it is
        assert a["request"]["body"].encode() == g["body"]
        assert json.loads(a["request"]["body"]) == d["payload"]
        assert a["duration_ms"] is not None and a["at"]
    assert deliveries(admin, status="failed")["items"][0]["id"] == did

    # the receiver is fixed: retry once more
    r = admin.s.post(dl_url(admin, "/%s/retry" % did))
    assert r.status_code == 202, r.text
    run_deliver(stack)
    d = delivery(admin, did)
    assert d["state"] == "delivered" and d["delivered_at"], d
    last = d["history"][-1]
    assert last["outcome"] == "delivered" and last["response"]["body"] == "ok then"
    assert len(d["history"]) == 3
    assert [x["id"] for x in deliveries(admin, status="delivered")["items"]] == [did]
    # delivered: nothing to retry
    assert_problem(admin.s.post(dl_url(admin, "/%s/retry" % did)), 409)
    assert len(rcv.received(path)) == 3


def test_attempt_log_shows_mapped_request(stack, admin, rcv):
    path = rcv.path()
    # where the mapping's path sends it
    rcv.answers[path + "/7"] = lambda rec: (200, [], 0, b'{"ok": true}')
    assert path.startswith("/hook/")
    # the mapping's path is appended to the endpoint's URL
    ep = create(admin, {"url": rcv.url("/hook"),
                        "auth": {"type": "bearer", "token": "tok-hidden-77"},
                        "mapping": {"path": path[len("/hook"):] + "/{{/data/n}}",
                                    "body": {"n": {"$ptr": "/data/n"},
                                             "kind": "{{/type}}"}},
                        "success": {"body": {"pointer": "/ok", "equals": True}}})
    assert ep["id"]
    assert emit(stack, admin.pool, "file.received", {"n": 7}) == 1
    did = deliveries(admin)["items"][0]["id"]
    run_deliver(stack)
    d = delivery(admin, did)
    assert d["state"] == "delivered", d
    (a,) = d["history"]
    sent = rcv.received(path + "/7")
    assert len(sent) == 1
    assert a["request"]["url"] == rcv.url(path + "/7")
    assert a["request"]["body"].encode() == sent[0]["body"]
    assert json.loads(a["request"]["body"]) == {"n": 7, "kind": "file.received"}
    assert sent[0]["headers"]["authorization"] == "Bearer tok-hidden-77"
    # the request headers are kept without the secret
    assert "tok-hidden-77" not in json.dumps(d)
    assert a["response"]["body"] == '{"ok": true}'


def test_recover_since_resends_failed_and_enables(stack, admin, rcv):
    path = rcv.path()
    rcv.answers[path] = lambda rec: (503, [], 0, b"later")
    ep = create(admin, {"url": rcv.url(path), "retry_schedule": []})
    rcv.secrets[path] = ep["secret"]
    emit(stack, admin.pool, "file.received", {"i": 0})
    run_deliver(stack)
    t0 = db_now(stack)
    emit(stack, admin.pool, "file.received", {"i": 1})
    emit(stack, admin.pool, "file.received", {"i": 2})
    run_deliver(stack)
    failed = deliveries(admin, status="failed")["items"]
    assert len(failed) == 3, failed
    old = failed[-1]["id"]
    r = admin.s.patch(ep_url(admin, "/" + ep["id"]), json={"disabled": True})
    assert r.json()["disabled"] is True

    rcv.answers[path] = lambda rec: (200, [], 0)
    url = ep_url(admin, "/%s/recover" % ep["id"])
    assert_problem(admin.s.post(url), 422, "since")
    assert_problem(admin.s.post(url, params={"since": "soon"}), 422, "since")
    assert_problem(admin.s.post(url, json={"since": 5}), 422, "since")
    assert_problem(admin.s.post(url, params={"since": t0}, json={"since": t0}),
                   400, "since")
    r = admin.s.post(url, params={"since": t0})
    assert r.status_code == 202, r.text
    assert r.json() == {"recovered": 2}
    e = admin.s.get(ep_url(admin, "/" + ep["id"])).json()
    assert e["disabled"] is False and e["disabled_at"] is None
    pend = deliveries(admin, status="pending")["items"]
    assert len(pend) == 2 and all(d["attempts"] == 0 for d in pend)
    assert old not in {d["id"] for d in pend}

    run_deliver(stack)
    assert len(deliveries(admin, status="delivered")["items"]) == 2
    assert [d["id"] for d in deliveries(admin, status="failed")["items"]] == [old]
    d = delivery(admin, pend[0]["id"])
    assert [a["outcome"] for a in d["history"]] == ["failed", "delivered"]
    # nothing left to recover since t0; the body form is the same
    r = admin.s.post(url, json={"since": t0})
    assert r.status_code == 202 and r.json() == {"recovered": 0}
    # since the beginning: the old one too
    r = admin.s.post(url, json={"since": "2000-01-01T00:00:00Z"})
    assert r.json() == {"recovered": 1}
    run_deliver(stack)
    assert deliveries(admin, status="failed")["items"] == []
    assert all(g["verified"] for g in rcv.received(path))


# ---------------------------------------------------------------- stats

def stats(c, **q):
    r = c.s.get(dl_url(c, "/stats"), params=q)
    assert r.status_code == 200, (r.status_code, r.text)
    assert "no-store" in r.headers.get("Cache-Control", "")
    return r.json()


def hour_of(ts):
    t = parse_ts(ts)
    return t.replace(minute=0, second=0, microsecond=0)


def check_buckets(j):
    """Whole UTC hours, one after the other, from since's to until's."""
    assert j["bucket_seconds"] == 3600
    starts = [parse_ts(b["start"]) for b in j["buckets"]]
    assert starts[0] == hour_of(j["since"])
    assert starts[-1] == hour_of(j["until"])
    for a, b in zip(starts, starts[1:]):
        assert (b - a).total_seconds() == 3600
    for b in j["buckets"]:
        assert b["attempts"] == b["delivered"] + b["failed"], b
        if b["attempts"] == 0:
            assert b["latency_ms_p50"] is None and b["latency_ms_p95"] is None
    return {parse_ts(b["start"]): b for b in j["buckets"]}


def test_stats_count_attempts_per_hour(stack, admin, client_of, rcv):
    """Two endpoints: one fails, then delivers after a retry; one fails
    for good.  An attempt in flight (no outcome) is not counted, nor
    another pool's."""
    flaky, down = rcv.path(), rcv.path()
    rcv.answers[flaky] = lambda rec: (500, [], 0, b"not yet")
    rcv.answers[down] = lambda rec: (502, [], 0, b"gone")
    a = create(admin, {"url": rcv.url(flaky), "retry_schedule": [3600]})
    b = create(admin, {"url": rcv.url(down), "retry_schedule": []})
    t0 = db_now(stack)
    assert emit(stack, admin.pool, "file.received", {"i": 1}) == 2
    assert emit(stack, admin.pool, "group.closed", {"g": 1}) == 2
    run_deliver(stack)
    rcv.answers[flaky] = lambda rec: (200, [], 0, b"ok")
    for d in deliveries(admin, endpoint=a["id"])["items"]:
        r = admin.s.post(dl_url(admin, "/%s/retry" % d["id"]))
        assert r.status_code == 202, r.text
    run_deliver(stack)
    # an attempt in flight (no outcome yet) and a delivery never tried
    stack.psql("INSERT INTO delivery_attempts (delivery_id, method)"
               " SELECT id, 'POST' FROM deliveries WHERE endpoint_id ="
               " (SELECT id FROM endpoints WHERE public_id = '%s') LIMIT 1"
               % b["id"])
    r = admin.s.patch(ep_url(admin, "/" + a["id"]), json={"disabled": True})
    assert r.status_code == 200
    assert emit(stack, admin.pool, "file.received", {"i": 2}) == 1
    # another pool's attempts stay out
    other = client_of(unique("t"), "admin")
    create(other, {"url": rcv.url(down), "retry_schedule": []})
    emit(stack, other.pool, "file.received")
    run_deliver(stack)
    assert delivery(other, deliveries(other)["items"][0]["id"])["history"]

    # what each hour should hold, from the attempts' own times
    want = {}
    for d in deliveries(admin)["items"]:
        for at in delivery(admin, d["id"])["history"]:
            if at["outcome"] is None:
                continue
            w = want.setdefault(hour_of(at["at"]), [0, 0, 0])
            w[0] += 1
            w[1 if at["outcome"] == "delivered" else 2] += 1
    assert sum(w[0] for w in want.values()) == 2 + 2 + 2 + 1, want
    assert sum(w[1] for w in want.values()) == 2

    j = stats(admin)
    assert set(j) == {"since", "until", "bucket_seconds", "buckets"}
    since, until = parse_ts(j["since"]), parse_ts(j["until"])
    assert abs((until - since).total_seconds() - 86400) < 1
    assert abs((until - parse_ts(db_now(stack))).total_seconds()) < 60
    assert len(j["buckets"]) in (24, 25)
    got = check_buckets(j)
    for hour, b in got.items():
        w = want.get(hour, [0, 0, 0])
        assert [b["attempts"], b["delivered"], b["failed"]] == w, (hour, b)
        if w[0]:
            assert 0 <= b["latency_ms_p50"] <= b["latency_ms_p95"], b
    # the current hour holds them (unless the test ran across an hour)
    current = got[hour_of(j["until"])]
    assert current["attempts"] == want.get(hour_of(j["until"]), [0])[0]
    assert set(want) <= set(got)

    # since: only the attempts at or after it, in the same buckets
    j = stats(admin, since=t0)
    assert parse_ts(j["since"]) == parse_ts(t0)
    got = check_buckets(j)
    assert sum(b["attempts"] for b in got.values()) == 7
    later = db_now(stack)
    j = stats(admin, since=later)
    got = check_buckets(j)
    assert len(got) in (1, 2)
    assert all(b["attempts"] == 0 for b in got.values()), got
    # Unix seconds, and an unescaped '+' of an offset
    j = stats(admin, since=str(int(since.timestamp()) + 60))
    assert sum(b["attempts"] for b in check_buckets(j).values()) == 7
    r = admin.s.get(dl_url(admin, "/stats") + "?since="
                    + later.replace("Z", "+00:00"))
    assert r.status_code == 200, r.text


def test_stats_of_a_pool_without_deliveries(stack, admin):
    j = stats(admin)
    assert all(b["attempts"] == 0 and b["latency_ms_p95"] is None
               for b in check_buckets(j).values())


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**kw):
    """RFC 3339 of now less kw (a timedelta's arguments)."""
    return iso(datetime.datetime.now(datetime.timezone.utc)
               - datetime.timedelta(**kw))


@pytest.mark.parametrize("since,says", [
    ("yesterday", "RFC 3339"),
    ("2026-13-01T00:00:00Z", "RFC 3339"),
    ("", "RFC 3339"),
    ("1" * 80, "RFC 3339"),
    ("2026-11-21 10:15:00Z; DROP TABLE x", "RFC 3339"),
    (("ago", {"days": 7, "minutes": 5}), "7 days"),
    (("ago", {"days": 400}), "7 days"),
    (("ago", {"minutes": -5}), "future"),
    ("9000-01-01T00:00:00Z", "future"),
])
def test_stats_bad_since(stack, admin, since, says):
    if isinstance(since, tuple):
        since = ago(**since[1])
    j = assert_problem(admin.s.get(dl_url(admin, "/stats"),
                                   params={"since": since}), 422, "since")
    assert says in j["detail"], j


def test_stats_access_and_methods(stack, pool, client_of):
    admin = client_of(pool, "admin")
    # 7 days ago less a minute is still fine
    ok = ago(days=7, minutes=-1)
    j = stats(admin, since=ok)
    assert 7 * 24 <= len(j["buckets"]) <= 7 * 24 + 1
    for role in ("uploader", "listener", "processor"):
        c = client_of(pool, role)
        assert_problem(c.s.get(dl_url(c, "/stats")), 403)
    assert_problem(stack.session().get(dl_url(admin, "/stats")), 401)
    # another pool's path with my token: not my pool
    other = client_of(unique("t"), "admin")
    r = admin.s.get(stack.url("/pool/v1/pools/%s/deliveries/stats" % other.pool))
    assert_problem(r, 404)
    r = admin.s.post(dl_url(admin, "/stats"))
    assert_problem(r, 405)
    assert r.headers["Allow"] == "GET, HEAD"
    for rest in ("/stats/x", "/stats/", "/Stats", "/stats/retry"):
        assert_problem(admin.s.get(dl_url(admin, rest)), 404)
