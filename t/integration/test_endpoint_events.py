"""Every event type, made to happen through the real API and poolctl, as an
endpoint subscribed to it receives it (docs/webhooks.md): the envelope
{type, timestamp, data}, data with exactly the members of the preview's
sample for that type (lib/pool_events.c, "in the shapes we send"), and the
values that name the real object (file, group, client, process, message).
Routing too: an endpoint with events [] gets every type, a disabled one
none, a filter lets only matching events through, another pool's events
never arrive.

Each scenario below runs once per module (its pool, endpoints and actions)
and the tests read what it recorded, so one failing check does not hide the
others.  A known difference between a real event and its sample is listed
in KNOWN_SHAPE_BUGS: only the shape test of that type is xfailed, and it
fails again once the difference is gone (remove the entry then)."""

import json
import re
import time

import pytest
import requests

from conftest import Client, unique
from test_imports import Source
from test_rounds import api, fast_forward, only_group, run, settings, window_ts
from test_webhooks import Receiver, hook, run_deliver

EVENT_TYPES = ["file.received", "group.closed", "group.ready", "group.failed",
               "result.published", "import.completed", "import.failed",
               "client.enrolled", "message.received", "webhook.test"]

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")

# members that may be null in a real event where the sample has a value,
# by event type (pointers into data)
OPTIONAL = {
    # a group's process is made at its first trigger (docs/rounds.md): a
    # group closed for the first time has none yet
    "group.closed": {"/group/process"},
}

# objects whose members are the user's own (labels): any names
FREE_MAPS = {"/client/labels", "/file/labels"}

# type -> (what shape_diff reports today, why it is a bug): only the shape
# test of the type is xfailed, and only while the difference is exactly this
KNOWN_SHAPE_BUGS = {}


# ---------------------------------------------------------------- shapes

def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def shape_diff(sample, real, optional=(), path="", maps=FREE_MAPS):
    """The places where real's structure differs from sample's: the same
    members (recursively), the same JSON types; null in the sample allows
    anything, null in real only where the pointer is in optional; an array's
    elements are compared with the sample's first (an empty one in the
    sample allows any elements)."""
    if sample is None:
        return []
    if real is None:
        return [] if path in optional else [
            "%s: null, the sample has a %s" % (path or "/", json_type(sample))]
    st, rt = json_type(sample), json_type(real)
    if st != rt:
        return ["%s: a %s, the sample has a %s" % (path or "/", rt, st)]
    out = []
    if st == "object" and path in maps:
        return []
    if st == "object":
        for k in sorted(set(sample) - set(real)):
            out.append("%s/%s: missing (in the sample)" % (path, k))
        for k in sorted(set(real) - set(sample)):
            out.append("%s/%s: not in the sample" % (path, k))
        for k in sorted(set(sample) & set(real)):
            out.extend(shape_diff(sample[k], real[k], optional,
                                  "%s/%s" % (path, k), maps))
    elif st == "array" and sample:
        for i, v in enumerate(real):
            out.extend(shape_diff(sample[0], v, optional, "%s/%d" % (path, i),
                                  maps))
    return out


def test_shape_diff_itself():
    s = {"a": 1, "b": {"c": "x", "d": None}, "e": [{"f": True}], "g": []}
    assert shape_diff(s, {"a": 2, "b": {"c": "y", "d": [1]},
                          "e": [{"f": False}], "g": ["z"]}) == []
    assert sorted(shape_diff(s, {"a": "2", "b": {"c": None, "d": 1, "x": 0},
                                 "e": [{"f": 1}]})) == sorted([
        "/a: a string, the sample has a number",
        "/g: missing (in the sample)",
        "/b/x: not in the sample",
        "/b/c: null, the sample has a string",
        "/e/0/f: a number, the sample has a boolean"])
    assert shape_diff(s["b"], {"c": None, "d": 1}, optional={"/c"}) == []
    assert shape_diff({"m": {"k": "v"}}, {"m": {"x": "y"}}, maps={"/m"}) == []
    assert shape_diff({"m": {"k": "v"}}, {"m": []}, maps={"/m"}) == [
        "/m: a array, the sample has a object"]


def pointer(doc, ptr):
    for part in ptr.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


# ---------------------------------------------------------------- helpers

def ep_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/endpoints%s" % (pool, rest))


class World:
    """The module's receiver, the scenarios' results, and a quiet pool
    whose catch-all endpoint exists before any scenario runs."""

    def __init__(self, stack):
        self.stack = stack
        self.receiver = Receiver()
        self.done = {}
        self.quiet_pool = stack.create_pool(unique("quiet"))
        self.quiet_admin = admin_session(stack, self.quiet_pool)
        self.quiet_ep, self.quiet_path = self.endpoint(
            self.quiet_pool, self.quiet_admin)

    def endpoint(self, pool, admin, **doc):
        """Creates an endpoint at a fresh receiver path: (endpoint, path)."""
        path = self.receiver.path()
        doc.setdefault("url", self.receiver.url(path))
        r = admin.post(ep_url(self.stack, pool), json=doc)
        assert r.status_code == 201, (r.status_code, r.text)
        ep = r.json()
        assert ep["disabled"] is bool(doc.get("disabled")), ep
        self.receiver.secrets[path] = ep["secret"]
        return ep, path

    def got(self, path):
        return self.receiver.received(path)

    def deliver_until(self, cond, timeout=60.0):
        """Runs the deliver step until cond() holds (the step sends what
        is due; a receiver's thread may record just after it returns)."""
        deadline = time.time() + timeout
        while True:
            run_deliver(self.stack)
            if cond():
                return
            assert time.time() < deadline, "not delivered in %ds" % timeout
            time.sleep(0.2)

    def scenario(self, name):
        if name not in self.done:
            try:
                self.done[name] = ("ok", SCENARIOS[name](self))
            except BaseException as e:
                self.done[name] = ("error", e)
                raise
        state, v = self.done[name]
        if state == "error":
            pytest.fail("the scenario %r failed (in an earlier test): %r"
                        % (name, v))
        return v


def admin_session(stack, pool):
    return stack.client_session(pool, "admin")[0]


def preview_sample(stack, pool, admin, ep_id):
    """The sample of the endpoint's first event type, from its preview."""
    r = admin.post(ep_url(stack, pool, "/%s/preview" % ep_id))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["event"]


def pool_of(stack, env):
    """The pool an event is about: data.pool, or (import events, which
    lack it: KNOWN_SHAPE_BUGS) its process's pool."""
    if "pool" in env["data"]:
        return env["data"]["pool"]
    assert env["type"].startswith("import."), env
    return stack.psql(
        "SELECT p.name FROM processes pr JOIN pools p ON p.id = pr.pool_id"
        " WHERE pr.id = '%s'" % env["data"]["id"]).strip()


def deliveries_of(stack, ep_id):
    return int(stack.psql(
        "SELECT count(*) FROM deliveries d JOIN endpoints e"
        " ON e.id = d.endpoint_id WHERE e.public_id = '%s'" % ep_id))


class Setup:
    """One pool with, for each type it is about: an endpoint subscribed to
    it, one disabled at creation and one disabled later by PATCH; and one
    catch-all endpoint (events [])."""

    def __init__(self, world, types):
        self.w = world
        self.stack = world.stack
        self.pool = self.stack.create_pool(unique("ev"))
        self.admin = admin_session(self.stack, self.pool)
        self.catch_all_ep, self.catch_all = world.endpoint(self.pool,
                                                           self.admin)
        assert self.catch_all_ep["events"] == []
        self.typed, self.disabled, self.samples = {}, {}, {}
        for t in types:
            self.typed[t] = world.endpoint(self.pool, self.admin, events=[t])
            off, _ = world.endpoint(self.pool, self.admin, events=[t],
                                    disabled=True)
            later, _ = world.endpoint(self.pool, self.admin, events=[t])
            r = self.admin.patch(ep_url(self.stack, self.pool,
                                        "/" + later["id"]),
                                 json={"disabled": True})
            assert r.status_code == 200 and r.json()["disabled"], r.text
            self.disabled[t] = [off, r.json()]
            self.samples[t] = preview_sample(self.stack, self.pool,
                                             self.admin, self.typed[t][0]["id"])

    def received(self, expect):
        """Delivers until every typed endpoint got its event and the
        catch-all all of them; returns {type: record} with the results."""
        types = list(expect)

        def complete():
            caught = {json.loads(r["body"])["type"]
                      for r in self.w.got(self.catch_all)}
            return (all(self.w.got(self.typed[t][1]) for t in types)
                    and set(types) <= caught)

        self.w.deliver_until(complete)
        out = {}
        for t in types:
            recs = self.w.got(self.typed[t][1])
            out[t] = {"rec": recs[0], "all": recs,
                      "env": json.loads(recs[0]["body"]),
                      "sample": self.samples[t], "expect": expect[t],
                      "setup": self}
        return out


# ---------------------------------------------------------------- scenarios

def scenario_file(w):
    s = Setup(w, ["file.received"])
    up_s, up_id, _ = s.stack.client_session(s.pool, "uploader")
    r = s.stack.upload(up_s, s.pool, "notes.txt", b"hello",
                       headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    f = r.json()
    return s.received({"file.received": [
        ("/data/pool", s.pool), ("/data/file/id", f["id"]),
        ("/data/file/client", up_id), ("/data/file/name", "notes.txt"),
        ("/data/file/size", 5), ("/data/file/sha256", f["sha256"]),
        ("/data/file", f)]})


def round_pool(s, client_of_pool, extra=()):
    """Files in one window of s.pool, its group closed and triggered:
    (group id, processor Client)."""
    settings(s.stack, s.pool, "window=1m", "lateness=1h", *extra)
    up = client_of_pool("uploader")
    up.upload_ok("v.txt", b"1 2 3\n", ts=str(window_ts()))
    proc = client_of_pool("processor")
    run(s.stack, "group")
    fast_forward(s.stack, s.pool)
    run(s.stack, "group")
    gid = only_group(proc)["id"]
    run(s.stack, "trigger")
    return gid, proc


def client_maker(stack, pool):
    return lambda role: Client(stack, pool, role)


def scenario_groups(w):
    s = Setup(w, ["group.closed", "group.ready", "group.failed"])
    gid, proc = round_pool(s, client_maker(s.stack, s.pool),
                           ("max_attempts=1", "result_timeout=1s"))
    r = proc.s.post(api(s.stack, s.pool, "/groups/%s/claim" % gid))
    assert r.status_code == 200, r.text
    process = r.json()["process"]
    # the lease (1 s) runs out: the expire step gives the group up
    deadline = time.time() + 30
    while only_group(proc)["state"] != "failed":
        assert time.time() < deadline, only_group(proc)
        time.sleep(0.2)
        run(s.stack, "expire")
    seq = int(s.stack.psql("SELECT seq FROM groups WHERE id = '%s'" % gid))
    common = [("/data/pool", s.pool), ("/data/group/id", gid),
              ("/data/group/seq", seq), ("/data/group/files", 1),
              ("/data/group/clients", 1), ("/data/group/max_attempts", 1)]
    return s.received({
        "group.closed": common + [("/data/group/state", "closed")],
        "group.ready": common + [("/data/group/state", "triggered"),
                                 ("/data/group/process", process)],
        "group.failed": common + [("/data/group/state", "failed"),
                                  ("/data/group/process", process)]})


def scenario_result(w):
    s = Setup(w, ["result.published"])
    gid, proc = round_pool(s, client_maker(s.stack, s.pool))
    r = proc.s.post(api(s.stack, s.pool, "/groups/%s/claim" % gid))
    assert r.status_code == 200, r.text
    r = requests.put(r.json()["result_url"] + "&name=avg.txt", data=b"2 4 6\n",
                     headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 201, r.text
    run(s.stack, "publish")
    r = proc.s.get(api(s.stack, s.pool, "/results/1"), stream=True)
    assert r.status_code == 200
    r.close()
    feed = proc.s.get(api(s.stack, s.pool, "/results")).json()["results"]
    assert len(feed) == 1, feed
    return s.received({"result.published": [
        ("/data/pool", s.pool), ("/data/seq", 1), ("/data/group", gid),
        ("/data/name", feed[0]["name"]), ("/data/sha256", feed[0]["sha256"]),
        ("/data/size", 6)]})


def scenario_imports(w):
    s = Setup(w, ["import.completed", "import.failed"])
    src = Source()
    try:
        up = client_maker(s.stack, s.pool)("uploader")
        ids = {}
        for t, path in (("import.completed", "/file.bin"),
                        ("import.failed", "/gone")):
            r = up.s.post(api(s.stack, s.pool, "/imports"),
                          json={"url": src.url(path)})
            assert r.status_code == 202, r.text
            ids[t] = r.json()["id"]
        run(s.stack, "fetch")
        done = {}
        for t, pid in ids.items():
            r = up.s.get(s.stack.url("/pool/v1/processes/" + pid))
            done[t] = r.json()
        assert done["import.completed"]["status"] == 1, done
        assert done["import.failed"]["status"] == 2, done
    finally:
        src.close()
    fid = done["import.completed"]["result"]["id"]
    return s.received({
        # (data.pool: see KNOWN_SHAPE_BUGS)
        "import.completed": [("/data/id", ids["import.completed"]),
                             ("/data/kind", "import"),
                             ("/data/status", 1), ("/data/result/id", fid)],
        "import.failed": [("/data/id", ids["import.failed"]),
                          ("/data/kind", "import"),
                          ("/data/status", 2), ("/data/result", None)]})


def scenario_enroll(w):
    s = Setup(w, ["client.enrolled"])
    p = s.stack.poolctl_ok("enroll", "create", s.pool, "--role", "uploader",
                           "--json")
    key = json.loads(p.stdout)["key"]
    r = s.stack.session(token=key).post(
        s.stack.url("/pool/v1/pools/%s/clients" % s.pool),
        json={"name": "app-7"})
    assert r.status_code == 201, r.text
    return s.received({"client.enrolled": [
        ("/data/pool", s.pool), ("/data/client/client_id", r.json()["client_id"]),
        ("/data/client/name", "app-7"), ("/data/client/role", "uploader"),
        ("/data/client/pool", s.pool), ("/data/enrollment_key", key[:19])]})


def scenario_message(w):
    s = Setup(w, ["message.received"])
    mk = client_maker(s.stack, s.pool)
    a, b = mk("uploader"), mk("listener")
    r = a.s.post(api(s.stack, s.pool, "/messages"),
                 json={"to": b.client_id, "subject": "hi", "body": "words"})
    assert r.status_code == 201, r.text
    m = r.json()
    return s.received({"message.received": [
        ("/data/pool", s.pool), ("/data/id", m["id"]),
        ("/data/from", a.client_id), ("/data/to", b.client_id),
        ("/data/subject", "hi"), ("/data/created_at", m["created_at"])]})


class CallbackSetup:
    """webhook.test goes to the asking client's own endpoint (its
    callback): client a's is subscribed to webhook.test only (by the
    admin), b's takes every event (events []), c's is disabled."""

    def __init__(self, world):
        self.w = world
        self.stack = world.stack
        self.pool = self.stack.create_pool(unique("ev"))
        self.admin = admin_session(self.stack, self.pool)
        mk = client_maker(self.stack, self.pool)
        self.a, self.b, self.c = mk("uploader"), mk("listener"), mk("uploader")
        self.paths = {c: hook(c, world.receiver)
                      for c in (self.a, self.b, self.c)}
        self.eps = {}
        for c in (self.a, self.b, self.c):
            r = c.s.get(api(self.stack, self.pool, "/clients/me/callback"))
            assert r.status_code == 200, r.text
            self.eps[c] = r.json()["endpoint"]
        self.patch(self.a, {"events": ["webhook.test"]})
        self.patch(self.c, {"disabled": True})
        self.catch_all = self.paths[self.b]
        self.typed = {"webhook.test": (self.ep(self.a), self.paths[self.a])}
        self.disabled = {"webhook.test": [self.ep(self.c)]}
        self.samples = {"webhook.test": preview_sample(
            self.stack, self.pool, self.admin, self.eps[self.a])}

    def ep(self, c):
        r = self.admin.get(ep_url(self.stack, self.pool, "/" + self.eps[c]))
        assert r.status_code == 200, r.text
        return r.json()

    def patch(self, c, doc):
        r = self.admin.patch(ep_url(self.stack, self.pool, "/" + self.eps[c]),
                             json=doc)
        assert r.status_code == 200, r.text


def scenario_webhook_test(w):
    s = CallbackSetup(w)
    ids = {}
    for c in (s.a, s.b):
        r = c.s.post(api(s.stack, s.pool, "/clients/me/callback/test"))
        assert r.status_code == 202, r.text
        ids[c] = r.json()["delivery_id"]
    # the disabled one is refused: nothing queued
    r = s.c.s.post(api(s.stack, s.pool, "/clients/me/callback/test"))
    assert r.status_code == 409, r.text
    w.deliver_until(lambda: w.got(s.paths[s.a]) and w.got(s.paths[s.b]))
    recs = w.got(s.paths[s.a])
    return {"webhook.test": {
        "rec": recs[0], "all": recs, "env": json.loads(recs[0]["body"]),
        "sample": s.samples["webhook.test"], "setup": s,
        "expect": [("/data/pool", s.pool), ("/data/client_id", s.a.client_id),
                   ("webhook-id", ids[s.a])]}}


SCENARIOS = {
    "file": scenario_file, "groups": scenario_groups,
    "result": scenario_result, "imports": scenario_imports,
    "enroll": scenario_enroll, "message": scenario_message,
    "webhook_test": scenario_webhook_test,
}
SCENARIO_OF = {
    "file.received": "file", "group.closed": "groups",
    "group.ready": "groups", "group.failed": "groups",
    "result.published": "result", "import.completed": "imports",
    "import.failed": "imports", "client.enrolled": "enroll",
    "message.received": "message", "webhook.test": "webhook_test",
}


@pytest.fixture(scope="module")
def world(stack):
    w = World(stack)
    yield w
    w.receiver.close()


def event_of(world, t):
    return world.scenario(SCENARIO_OF[t])[t]


# ---------------------------------------------------------------- per type

def test_every_event_type_has_a_scenario():
    # the list of lib/pool_endpoint_doc.c pool_event_types, as documented
    assert sorted(SCENARIO_OF) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("t", EVENT_TYPES)
def test_real_event_envelope_and_identity(world, t):
    ev = event_of(world, t)
    rec, env = ev["rec"], ev["env"]
    assert rec["method"] == "POST"
    assert rec["verified"], "signature does not verify: %r" % rec["headers"]
    assert rec["headers"]["content-type"] == "application/json"
    assert set(env) == {"type", "timestamp", "data"}, env
    assert env["type"] == t
    assert RFC3339.match(env["timestamp"]), env["timestamp"]
    assert isinstance(env["data"], dict)
    # one event for one happening
    assert len(ev["all"]) == 1, [json.loads(r["body"]) for r in ev["all"]]
    for ptr, want in ev["expect"]:
        if ptr == "webhook-id":     # the delivery id /test answered
            assert rec["id"] == want
            continue
        assert pointer(env, ptr) == want, (ptr, pointer(env, ptr), want)


@pytest.mark.parametrize("t", EVENT_TYPES)
def test_real_event_has_the_shape_of_its_preview_sample(world, t):
    ev = event_of(world, t)
    sample = ev["sample"]
    # the preview's sample is an envelope of that type, for that pool
    assert set(sample) == {"type", "timestamp", "data"}, sample
    assert sample["type"] == t
    assert RFC3339.match(sample["timestamp"]), sample
    diff = shape_diff(sample["data"], ev["env"]["data"], OPTIONAL.get(t, ()))
    known = KNOWN_SHAPE_BUGS.get(t)
    if known and diff == known[0]:
        pytest.xfail(known[1])
    if known and not diff:
        pytest.fail("%s matches its sample now: remove it from "
                    "KNOWN_SHAPE_BUGS" % t)
    assert diff == [], "%s: the real event's data differs from the sample:\n%s" \
        "\nreal: %s\nsample: %s" % (t, "\n".join(diff),
                                    json.dumps(ev["env"]["data"]),
                                    json.dumps(sample["data"]))


@pytest.mark.parametrize("t", EVENT_TYPES)
def test_catch_all_endpoint_gets_the_event(world, t):
    ev = event_of(world, t)
    s = ev["setup"]
    envs = [json.loads(r["body"]) for r in world.got(s.catch_all)]
    same = [e for e in envs if e["type"] == t]
    assert len(same) == 1, envs
    if t == "webhook.test":
        # its own test event, to its own endpoint
        assert same[0]["data"]["client_id"] == s.b.client_id
    else:
        # the very event the subscribed endpoint got
        assert same[0] == ev["env"]
    # only events of its own pool
    assert {pool_of(world.stack, e) for e in envs} == {s.pool}, envs


@pytest.mark.parametrize("t", EVENT_TYPES)
def test_disabled_endpoints_get_none(world, t):
    ev = event_of(world, t)
    s = ev["setup"]
    for ep in s.disabled[t]:
        assert ep["disabled"] is True
        assert deliveries_of(world.stack, ep["id"]) == 0, ep
        path = "/" + ep["url"].split("/", 3)[3]
        assert world.got(path) == []
    # and the endpoints of other types in the pool got none of this one
    for other, (ep, path) in s.typed.items():
        assert {json.loads(r["body"])["type"] for r in world.got(path)} \
            == {other}


# ---------------------------------------------------------------- routing

def test_filter_lets_only_matching_events_through(world):
    stack = world.stack
    pool = stack.create_pool(unique("ev"))
    admin = admin_session(stack, pool)
    filtered, fpath = world.endpoint(
        pool, admin, events=["file.received"],
        filter={"/data/file/content_type": "text/plain"})
    assert filtered["filter"] == {"/data/file/content_type": "text/plain"}
    listed, lpath = world.endpoint(
        pool, admin, events=["file.received"],
        filter={"/data/file/content_type": ["text/plain", "text/csv"]})
    everything, apath = world.endpoint(pool, admin, events=["file.received"])
    up_s, _, _ = stack.client_session(pool, "uploader")
    ids = {}
    for name, ctype in (("a.txt", "text/plain"), ("b.pdf", "application/pdf"),
                        ("c.csv", "text/csv"), ("d.txt", "text/plain")):
        r = stack.upload(up_s, pool, name, name.encode(),
                         headers={"Content-Type": ctype})
        assert r.status_code == 201, r.text
        assert r.json()["content_type"] == ctype, r.json()
        ids[name] = r.json()["id"]
    world.deliver_until(lambda: len(world.got(apath)) == 4)

    def names(path):
        return sorted(json.loads(r["body"])["data"]["file"]["name"]
                      for r in world.got(path))

    assert names(apath) == ["a.txt", "b.pdf", "c.csv", "d.txt"]
    assert names(fpath) == ["a.txt", "d.txt"]
    assert names(lpath) == ["a.txt", "c.csv", "d.txt"]
    # not queued at all, not merely not sent
    assert deliveries_of(stack, filtered["id"]) == 2
    assert deliveries_of(stack, listed["id"]) == 3


def test_other_pools_events_never_arrive(world):
    # every scenario ran in its own pool while this pool's catch-all
    # endpoint (made before any of them) waited
    for name in SCENARIOS:
        world.scenario(name)
    run_deliver(world.stack)
    assert world.got(world.quiet_path) == []
    assert deliveries_of(world.stack, world.quiet_ep["id"]) == 0
    # and what every scenario's endpoints got is of their pool only
    for name in SCENARIOS:
        for t, ev in world.scenario(name).items():
            s = ev["setup"]
            for path in [s.catch_all] + [p for _, p in s.typed.values()]:
                for r in world.got(path):
                    assert pool_of(world.stack, json.loads(r["body"])) \
                        == s.pool
