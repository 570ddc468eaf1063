"""poolctl endpoint add|list|show|set|disable|enable|rotate|rm|preview and
poolctl deliveries list|show|retry|recover (docs/poolctl.md): every command
with its --json output parsed, bad input refused with exit 2 and a clear
message (nothing created), secrets never shown again.  Deliveries are queued
by pool_emit() (sql/016), sent by `poolctl run deliver` to a local receiver
(the one of test_webhooks.py, which checks every signature)."""

import json
import os
import re
import time
import uuid

import pytest

from conftest import unique
from test_webhooks import Receiver, sw_verify

TOKEN = "tok-" + uuid.uuid4().hex          # an auth secret that must not leak
PASSWORD = "pw-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def ctl(stack, *args):
    return stack.poolctl(*args)


def ctl_json(stack, *args):
    p = stack.poolctl_ok(*(args + ("--json",)))
    return json.loads(p.stdout)


def write(tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def add(stack, pool, url, *opts):
    return ctl_json(stack, "endpoint", "add", pool, url, *opts)


def ids(stack, pool):
    return [e["id"] for e in ctl_json(stack, "endpoint", "list", pool)]


def emit(stack, pool, event, data):
    """Queues event for the pool's endpoints (sql/016 pool_emit)."""
    n = stack.psql(
        "SELECT pool_emit((SELECT id FROM pools WHERE name = '%s'), '%s',"
        " '%s'::jsonb, false, '{}')" % (pool, event,
                                        json.dumps(data).replace("'", "''")))
    return int(n.strip())


def run_deliver(stack):
    p = stack.poolctl("run", "--once", "deliver", timeout=120)
    assert p.returncode == 0, p.stderr
    return p


def deliveries(stack, pool, *opts):
    return ctl_json(stack, "deliveries", "list", pool, *opts)


# ---------------------------------------------------------------- endpoints

def test_add_show_list_set_disable_enable_rm(stack, pool, tmp_path):
    mapping = write(tmp_path, "m.json", json.dumps({
        "method": "PUT", "path": "/docs/{{/data/file/id}}",
        "body": {"doc_id": {"$ptr": "/data/file/id"}, "source": "pool"}}))
    success = write(tmp_path, "s.json", json.dumps({
        "status": [200, "201-204"], "body": {"pointer": "/ok", "equals": True},
        "timeout_ms": 5000}))
    e = add(stack, pool, "https://example.com/hook",
            "--event", "file.received", "--event", "group.ready",
            "--filter", "/data/file/client=cl_a", "--filter", "/data/file/client=cl_b",
            "--filter", "/data/file/size:=5",
            "--auth", "bearer:" + TOKEN, "--retry", "5,5m,1h", "--rate", "20",
            "--mapping", mapping, "--success", success,
            "--description", "documents")
    assert e["id"].startswith("ep_") and len(e["id"]) == 27
    assert e["secret"].startswith("whsec_")
    assert e["pool"] == pool and e["client"] is None
    assert e["url"] == "https://example.com/hook"
    assert e["events"] == ["file.received", "group.ready"]
    assert e["filter"] == {"/data/file/client": ["cl_a", "cl_b"], "/data/file/size": 5}
    assert e["auth"] == {"type": "bearer", "secret_set": True}
    assert e["retry_schedule"] == [5, 300, 3600]
    assert e["rate_limit"] == 20
    assert e["mapping"]["method"] == "PUT"
    assert list(e["mapping"]["body"]) == ["doc_id", "source"]   # order kept
    assert e["success"]["timeout_ms"] == 5000
    assert e["description"] == "documents" and e["disabled"] is False
    eid = e["id"]

    # show: the same, without the signing secret or the token
    s = ctl_json(stack, "endpoint", "show", pool, eid)
    assert "secret" not in s
    assert s["auth"] == {"type": "bearer", "secret_set": True}
    assert s["events"] == e["events"] and s["mapping"] == e["mapping"]
    p = stack.poolctl_ok("endpoint", "show", pool, eid)
    assert "https://example.com/hook" in p.stdout
    assert "bearer (secret set)" in p.stdout and "5s,5m,1h" in p.stdout
    assert TOKEN not in p.stdout + p.stderr and e["secret"] not in p.stdout

    # list: one, as a table and as JSON
    lst = ctl_json(stack, "endpoint", "list", pool)
    assert [x["id"] for x in lst] == [eid] and "secret" not in lst[0]
    p = stack.poolctl_ok("endpoint", "list", pool)
    head, row = p.stdout.splitlines()
    assert head.split()[:3] == ["ID", "STATE", "EVENTS"]
    assert eid in row and "enabled" in row and "file.received,group.ready" in row
    assert TOKEN not in p.stdout

    # set: a new URL, every event, no filter, no rate, the default retries,
    # no mapping; the token is kept
    s = ctl_json(stack, "endpoint", "set", pool, eid, "--url", "https://example.com/v2",
                 "--event", "all", "--filter", "none", "--rate", "none",
                 "--retry", "default", "--mapping", "", "--description", "v2")
    assert s["url"] == "https://example.com/v2" and s["events"] == []
    assert s["filter"] == {} and s["rate_limit"] is None
    assert s["retry_schedule"] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert s["mapping"] is None and s["success"] == e["success"]
    assert s["auth"] == {"type": "bearer", "secret_set": True}
    assert s["description"] == "v2" and "secret" not in s
    s = ctl_json(stack, "endpoint", "set", pool, eid, "--retry", "none")
    assert s["retry_schedule"] == []

    # disable / enable
    d = ctl_json(stack, "endpoint", "disable", pool, eid)
    assert d["disabled"] is True and d["disabled_at"]
    assert "disabled" in stack.poolctl_ok("endpoint", "list", pool).stdout
    d = ctl_json(stack, "endpoint", "enable", pool, eid)
    assert d["disabled"] is False and d["disabled_at"] is None

    # rm
    p = stack.poolctl_ok("endpoint", "rm", pool, eid)
    assert "removed" in p.stderr and p.stdout == ""
    p = ctl(stack, "endpoint", "show", pool, eid)
    assert p.returncode == 1 and "no such endpoint" in p.stderr
    p = ctl(stack, "endpoint", "rm", pool, eid)
    assert p.returncode == 1
    assert ctl_json(stack, "endpoint", "list", pool) == []
    assert stack.poolctl_ok("endpoint", "list", pool).stdout == ""


def test_text_output_of_add_shows_the_secret_once(stack, pool):
    p = stack.poolctl_ok("endpoint", "add", pool, "https://example.com/h")
    fields = dict(l.split(":", 1) for l in p.stdout.splitlines())
    assert fields["secret"].strip().startswith("whsec_")
    assert fields["id"].strip().startswith("ep_")
    assert fields["events"].strip() == "(all)"
    assert "shown only this once" in p.stderr
    eid = fields["id"].strip()
    p = stack.poolctl_ok("endpoint", "show", pool, eid)
    assert "whsec_" not in p.stdout


def test_auth_modes_and_auth_file(stack, pool, tmp_path):
    e = add(stack, pool, "https://example.com/b", "--auth", "basic:alice:" + PASSWORD)
    assert e["auth"] == {"type": "basic", "username": "alice", "secret_set": True}
    h = add(stack, pool, "https://example.com/h", "--auth", "header:X-Api-Key:" + TOKEN)
    assert h["auth"] == {"type": "header", "name": "X-Api-Key", "secret_set": True}

    # the secret part from a file (a final newline is dropped)
    f = write(tmp_path, "tok", TOKEN + "\n")
    os.chmod(f, 0o600)
    b = add(stack, pool, "https://example.com/f", "--auth", "bearer", "--auth-file", f)
    assert b["auth"] == {"type": "bearer", "secret_set": True}
    pf = write(tmp_path, "pw", PASSWORD + "\r\n")
    s = ctl_json(stack, "endpoint", "set", pool, e["id"], "--auth", "basic:bob",
                 "--auth-file", pf)
    assert s["auth"] == {"type": "basic", "username": "bob", "secret_set": True}
    # a new user name alone keeps the password
    s = ctl_json(stack, "endpoint", "set", pool, e["id"], "--auth", "basic:carol")
    assert s["auth"]["username"] == "carol" and s["auth"]["secret_set"]
    s = ctl_json(stack, "endpoint", "set", pool, h["id"], "--auth", "none")
    assert s["auth"] == {"type": "none"}

    # the secrets are in the database, used when sending, never shown
    assert stack.psql("SELECT auth_secret FROM endpoints WHERE public_id = '%s'"
                      % b["id"]).strip() == TOKEN
    assert stack.psql("SELECT auth_secret FROM endpoints WHERE public_id = '%s'"
                      % e["id"]).strip() == PASSWORD
    for args in (("endpoint", "list", pool), ("endpoint", "list", pool, "--json"),
                 ("endpoint", "show", pool, e["id"]),
                 ("endpoint", "show", pool, b["id"], "--json")):
        p = stack.poolctl_ok(*args)
        assert TOKEN not in p.stdout and PASSWORD not in p.stdout, args

    before = ids(stack, pool)
    bad = [
        (("--auth", "bearer:x", "--auth-file", f), "not both"),
        (("--auth-file", f), "needs --auth"),
        (("--auth", "none", "--auth-file", f), "takes no --auth-file"),
        (("--auth", "digest:" + TOKEN), "--auth must be none"),
        (("--auth", "none:" + TOKEN), "--auth must be none"),
        (("--auth", "bearer", "--auth-file", str(tmp_path / "missing")),
         "cannot open"),
        (("--auth", "header:Content-Type:x"), "header we set ourselves"),
        (("--auth", "basic:al ice:pw"), "username"),
        (("--auth", "bearer"), "token is required"),
    ]
    for opts, msg in bad:
        p = ctl(stack, "endpoint", "add", pool, "https://example.com/x", *opts)
        assert p.returncode == 2, (opts, p.stderr)
        assert msg in p.stderr, (opts, p.stderr)
        assert TOKEN not in p.stderr, opts            # never echoed
    two = write(tmp_path, "two", "a\nb\n")
    p = ctl(stack, "endpoint", "add", pool, "https://example.com/x",
            "--auth", "bearer", "--auth-file", two)
    assert p.returncode == 2 and "one line" in p.stderr
    empty = write(tmp_path, "empty", "\n")
    p = ctl(stack, "endpoint", "add", pool, "https://example.com/x",
            "--auth", "bearer", "--auth-file", empty)
    assert p.returncode == 2 and "1 to 4096" in p.stderr
    assert ids(stack, pool) == before                  # nothing half-done


def test_bad_input(stack, pool, tmp_path):
    syntax = write(tmp_path, "syntax.json", '{"body": {\n  "a": \n}\n')
    badptr = write(tmp_path, "badptr.json", json.dumps(
        {"body": {"doc": {"$ptr": "data/file"}}}))
    badph = write(tmp_path, "badph.json", json.dumps({"body": {"t": "x {{/data"}}))
    badrule = write(tmp_path, "rule.json", json.dumps({"status": ["7xx"]}))
    cases = [
        (("ftp://example.com/x",), "url"),
        (("not a url",), "url"),
        (("https://user:pw@example.com/",), "url"),
        (("https://example.com/", "--event", "file.recieved"),
         "unknown event type 'file.recieved'"),
        (("https://example.com/", "--event", "all", "--event", "group.ready"),
         "unknown event type 'all'"),
        (("https://example.com/", "--mapping", syntax), "line 3, column"),
        (("https://example.com/", "--mapping", badptr), "/body/doc"),
        (("https://example.com/", "--mapping", badph), "/body/t"),
        (("https://example.com/", "--mapping", str(tmp_path / "none.json")),
         "cannot open"),
        (("https://example.com/", "--success", badrule), "/status"),
        (("https://example.com/", "--retry", "0"), "--retry"),
        (("https://example.com/", "--retry", "5,x"), "--retry"),
        (("https://example.com/", "--retry", ",".join(["5"] * 21)), "--retry"),
        (("https://example.com/", "--rate", "0"), "--rate"),
        (("https://example.com/", "--rate", "100001"), "--rate"),
        (("https://example.com/", "--filter", "data/file=x"), "--filter"),
        (("https://example.com/", "--filter", "/data/x:={"), "not JSON"),
        (("https://example.com/", "--filter", "/data/x:={}"), "filter"),
        (("https://example.com/", "--description", "d" * 501), "description"),
        (("https://example.com/", "--grace", "1h"), "--grace"),
        (("https://example.com/", "--url", "https://example.com/y"), "--url"),
        (("https://example.com/", "--frob"), "unknown option"),
        ((), "usage"),
    ]
    for args, msg in cases:
        p = ctl(stack, "endpoint", "add", pool, *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert msg in p.stderr, (args, p.stderr)
    # the position of a JSON syntax error names the file
    p = ctl(stack, "endpoint", "add", pool, "https://example.com/", "--mapping", syntax)
    assert "--mapping %s: line 3, column" % syntax in p.stderr, p.stderr
    p = ctl(stack, "endpoint", "add", pool, "https://example.com/", "--mapping", badph)
    assert "/body/t: placeholder at character" in p.stderr, p.stderr
    assert ids(stack, pool) == []                       # nothing was created

    # not found, bad ids, bad pools
    eid = add(stack, pool, "https://example.com/")["id"]
    other = "ep_" + "0" * 24
    for args, rc, msg in [
        (("endpoint", "show", pool, other), 1, "no such endpoint"),
        (("endpoint", "set", pool, other, "--rate", "1"), 1, "no such endpoint"),
        (("endpoint", "rotate", pool, other), 1, "no such endpoint"),
        (("endpoint", "preview", pool, other), 1, "no such endpoint"),
        (("endpoint", "show", pool, "ep_xyz"), 2, "not an endpoint id"),
        (("endpoint", "show", "no-such-pool-" + uuid.uuid4().hex[:6], eid), 1,
         "no such"),
        (("endpoint", "list", "no-such-pool-" + uuid.uuid4().hex[:6]), 1, "no such pool"),
        (("endpoint", "list", "Bad Pool"), 2, "invalid pool name"),
        (("endpoint", "set", pool, eid), 2, "nothing to change"),
        (("endpoint", "set", pool, eid, "--url", "gopher://x"), 2, "url"),
        (("endpoint", "rotate", pool, eid, "--grace", "8d"), 2, "--grace"),
        (("endpoint", "rotate", pool, eid, "--grace", "soon"), 2, "--grace"),
        (("endpoint", "show", pool, eid, "--rate", "5"), 2, "apply to"),
        (("endpoint", "frob"), 2, "unknown subcommand"),
        (("endpoint",), 2, "which?"),
    ]:
        p = ctl(stack, *args)
        assert p.returncode == rc, (args, p.returncode, p.stderr)
        assert msg in p.stderr, (args, p.stderr)
    # a refused change changes nothing
    before = ctl_json(stack, "endpoint", "show", pool, eid)
    p = ctl(stack, "endpoint", "set", pool, eid, "--rate", "7", "--mapping", badptr)
    assert p.returncode == 2
    p = ctl(stack, "endpoint", "set", pool, eid, "--rate", "7", "--event", "nope")
    assert p.returncode == 2
    assert ctl_json(stack, "endpoint", "show", pool, eid) == before
    # an endpoint of another pool is not found in this one
    other_pool = stack.create_pool(unique("t"))
    p = ctl(stack, "endpoint", "show", other_pool, eid)
    assert p.returncode == 1 and "no such endpoint" in p.stderr


def test_mapping_from_stdin(stack, pool):
    import subprocess
    from conftest import POOLCTL
    m = json.dumps({"body": {"id": {"$ptr": "/data/file/id"}}})
    p = subprocess.run([POOLCTL, "-c", stack.conf, "endpoint", "add", pool,
                        "https://example.com/", "--mapping", "-", "--json"],
                       input=m, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["mapping"] == json.loads(m)
    p = subprocess.run([POOLCTL, "-c", stack.conf, "endpoint", "add", pool,
                        "https://example.com/", "--mapping", "-", "--success", "-"],
                       input=m, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "only one option" in p.stderr


def test_rotate(stack, pool):
    e = add(stack, pool, "https://example.com/r")
    r = ctl_json(stack, "endpoint", "rotate", pool, e["id"])
    assert r["secret"].startswith("whsec_") and r["secret"] != e["secret"]
    assert r["secret_rotated_until"] is None               # no grace: at once
    r2 = ctl_json(stack, "endpoint", "rotate", pool, e["id"], "--grace", "1h")
    assert r2["secret"] not in (e["secret"], r["secret"])
    until = r2["secret_rotated_until"]
    assert until and until > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    assert ctl_json(stack, "endpoint", "show", pool, e["id"])["secret_rotated_until"] == until
    p = stack.poolctl_ok("endpoint", "rotate", pool, e["id"], "--grace", "30m")
    assert "secret:" in p.stdout and "shown only this once" in p.stderr
    assert "previous one signs too" in p.stderr


def test_preview(stack, pool, tmp_path):
    mapping = write(tmp_path, "m.json", json.dumps({
        "method": "PUT", "path": "/docs/{{/data/file/id}}",
        "body": {"doc": {"$ptr": "/data/file/id"},
                 "owner": {"$ptr": "/data/file/labels/owner"},
                 "title": "{{/data/file/name}}"}}))
    e = add(stack, pool, "https://example.com/api", "--mapping", mapping,
            "--event", "file.received", "--auth", "bearer:" + TOKEN)
    event = {"type": "file.received", "timestamp": "2026-11-21T10:15:00Z",
             "data": {"pool": pool, "file": {"id": "f 1", "name": "a.pdf"}}}
    ev = write(tmp_path, "ev.json", json.dumps(event))
    pv = ctl_json(stack, "endpoint", "preview", pool, e["id"], "--event", ev)
    assert pv["method"] == "PUT"
    assert pv["url"] == "https://example.com/api/docs/f%201"
    assert json.loads(pv["body"]) == {"doc": "f 1", "owner": None, "title": "a.pdf"}
    assert pv["missing"] == ["/data/file/labels/owner"]
    assert pv["event"] == event
    assert TOKEN not in json.dumps(pv)
    assert pv["headers"]["Authorization"] == "Bearer (secret)"

    # an unsaved mapping; a sample of a type; the endpoint's first type
    other = write(tmp_path, "o.json", json.dumps({"body": {"t": {"$ptr": "/type"}}}))
    pv = ctl_json(stack, "endpoint", "preview", pool, e["id"], "--event", ev,
                  "--mapping", other)
    assert pv["method"] == "POST" and json.loads(pv["body"]) == {"t": "file.received"}
    pv = ctl_json(stack, "endpoint", "preview", pool, e["id"], "--event", "group.ready",
                  "--mapping", other)
    assert json.loads(pv["body"]) == {"t": "group.ready"}
    pv = ctl_json(stack, "endpoint", "preview", pool, e["id"])
    assert pv["event"]["type"] == "file.received"
    # nothing saved by a preview
    assert ctl_json(stack, "endpoint", "show", pool, e["id"])["mapping"]["method"] == "PUT"

    p = stack.poolctl_ok("endpoint", "preview", pool, e["id"], "--event", ev)
    assert "PUT" in p.stdout and "/docs/f%201" in p.stdout
    assert '"title":"a.pdf"' in p.stdout and TOKEN not in p.stdout

    bad = write(tmp_path, "bad.json", "[1,")
    p = ctl(stack, "endpoint", "preview", pool, e["id"], "--event", bad)
    assert p.returncode == 2 and "line 1" in p.stderr
    p = ctl(stack, "endpoint", "preview", pool, e["id"], "--event", "nope.json")
    assert p.returncode == 2 and "cannot open" in p.stderr
    arr = write(tmp_path, "arr.json", "[1]")
    p = ctl(stack, "endpoint", "preview", pool, e["id"], "--event", arr)
    assert p.returncode == 2 and "event" in p.stderr
    badm = write(tmp_path, "bm.json", '{"method": "GET"}')
    p = ctl(stack, "endpoint", "preview", pool, e["id"], "--mapping", badm)
    assert p.returncode == 2 and "/method" in p.stderr


# ---------------------------------------------------------------- deliveries

def hook(stack, pool, receiver, answer, *opts):
    """An endpoint of pool at a fresh receiver path; (endpoint, path)."""
    path = receiver.path()
    e = add(stack, pool, receiver.url(path), *opts)
    receiver.secrets[path] = e["secret"]
    receiver.answers[path] = answer
    return e, path


def test_deliveries_list_show_retry(stack, pool, receiver):
    state = {"status": 500}
    e, path = hook(stack, pool, receiver,
                   lambda rec: (state["status"], [("X-Why", "down")], 0,
                                b'{"error": "not today"}'),
                   "--retry", "none", "--auth", "bearer:" + TOKEN)
    assert emit(stack, pool, "file.received", {"file": {"id": "f1"}}) == 1
    run_deliver(stack)
    got = receiver.received(path)
    assert len(got) == 1 and got[0]["verified"]
    assert got[0]["headers"]["authorization"] == "Bearer " + TOKEN

    rows = deliveries(stack, pool)
    assert len(rows) == 1
    d = rows[0]
    assert d["pool"] == pool and d["endpoint"] == e["id"]
    assert d["event"] == "file.received" and d["state"] == "failed"
    assert d["attempts"] == 1 and d["last_status"] == 500
    did = d["id"]
    assert deliveries(stack, pool, "--status", "failed")[0]["id"] == did
    assert deliveries(stack, pool, "--failed", "--endpoint", e["id"])[0]["id"] == did
    assert deliveries(stack, pool, "--status", "delivered") == []
    assert deliveries(stack, pool, "--event", "group.ready") == []
    assert deliveries(stack, pool, "--since", "1h")[0]["id"] == did
    assert deliveries(stack, pool, "--since", "2999-01-01T00:00:00Z") == []
    # the old form: --pool, and every pool without one
    assert ctl_json(stack, "deliveries", "list", "--pool", pool)[0]["id"] == did
    assert did in [x["id"] for x in ctl_json(stack, "deliveries", "list",
                                             "--failed", "--limit", "10000")]

    s = ctl_json(stack, "deliveries", "show", pool, did)
    assert s["id"] == did and s["state"] == "failed" and s["attempts"] == 1
    assert s["payload"]["data"] == {"file": {"id": "f1"}}
    assert len(s["history"]) == 1
    a = s["history"][0]
    assert a["outcome"] == "failed" and a["status"] == 500
    assert a["response"]["body"] == '{"error": "not today"}'
    assert a["request"]["url"] == receiver.url(path)
    assert TOKEN not in json.dumps(s)                   # headers without secrets
    assert ctl_json(stack, "deliveries", "show", did) == s    # without the pool
    p = stack.poolctl_ok("deliveries", "show", did)
    assert "not today" in p.stdout and "attempts:" in p.stdout
    assert "OUTCOME" in p.stdout and TOKEN not in p.stdout
    assert re.search(r"^attempts:\s+1$", p.stdout, re.M), p.stdout
    assert re.search(r"^response_status:\s+500$", p.stdout, re.M), p.stdout

    state["status"] = 200
    p = stack.poolctl_ok("deliveries", "retry", pool, did)
    assert "due now" in p.stderr
    assert ctl_json(stack, "deliveries", "show", did)["state"] == "pending"
    run_deliver(stack)
    assert len(receiver.received(path)) == 2
    s = ctl_json(stack, "deliveries", "show", did)
    assert s["state"] == "delivered" and len(s["history"]) == 2
    assert s["history"][1]["outcome"] == "delivered"
    assert deliveries(stack, pool, "--status", "delivered")[0]["id"] == did
    p = ctl(stack, "deliveries", "retry", did)
    assert p.returncode == 1 and "delivered already" in p.stderr

    # the table
    p = stack.poolctl_ok("deliveries", "list", pool)
    assert p.stdout.splitlines()[0].split()[:3] == ["ID", "POOL", "ENDPOINT"]
    assert did in p.stdout

    # bad input and not found
    other = stack.create_pool(unique("t"))
    for args, rc, msg in [
        (("deliveries", "show", other, did), 1, "not found"),
        (("deliveries", "show", str(uuid.uuid4())), 1, "not found"),
        (("deliveries", "retry", str(uuid.uuid4())), 1, "not found"),
        (("deliveries", "retry", "nope"), 2, "not a delivery id"),
        (("deliveries", "list", pool, "--status", "lost"), 2, "--status"),
        (("deliveries", "list", pool, "--since", "yesterday"), 2, "--since"),
        (("deliveries", "list", pool, "--limit", "0"), 2, "--limit"),
        (("deliveries", "list", pool, "--endpoint", "ep_1"), 2, "endpoint id"),
        (("deliveries", "list", pool, "--endpoint", "ep_" + "0" * 24), 1,
         "no such endpoint"),
        (("deliveries", "list", "--endpoint", e["id"]), 2, "needs the POOL"),
        (("deliveries", "list", pool, "--pool", other), 2, "two different"),
        (("deliveries", "list", "no-such-pool"), 1, "no such pool"),
        (("deliveries", "show", did, "--limit", "3"), 2, "list' only"),
        (("deliveries", "frob"), 2, "unknown subcommand"),
    ]:
        p = ctl(stack, *args)
        assert p.returncode == rc, (args, p.returncode, p.stderr)
        assert msg in p.stderr, (args, p.stderr)


def test_deliveries_recover(stack, pool, receiver):
    state = {"status": 503}
    e, path = hook(stack, pool, receiver, lambda rec: (state["status"], [], 0),
                   "--retry", "none", "--event", "group.ready")
    assert emit(stack, pool, "group.ready", {"group": {"id": "g1"}}) == 1
    assert emit(stack, pool, "group.ready", {"group": {"id": "g2"}}) == 1
    assert emit(stack, pool, "file.received", {"file": {"id": "f"}}) == 0
    run_deliver(stack)
    assert len(receiver.received(path)) == 2
    assert [d["state"] for d in deliveries(stack, pool)] == ["failed", "failed"]

    r = ctl_json(stack, "deliveries", "recover", pool, e["id"], "--since",
                 "2999-01-01T00:00:00Z")
    assert r["recovered"] == 0
    state["status"] = 200
    r = ctl_json(stack, "deliveries", "recover", pool, e["id"], "--since", "1h")
    assert r == {"pool": pool, "endpoint": e["id"], "since": r["since"],
                 "recovered": 2}
    assert all(d["state"] == "pending" for d in deliveries(stack, pool))
    run_deliver(stack)
    assert len(receiver.received(path)) == 4
    assert all(r["verified"] for r in receiver.received(path))
    assert [d["state"] for d in deliveries(stack, pool)] == ["delivered", "delivered"]
    p = stack.poolctl_ok("deliveries", "recover", pool, e["id"], "--since", "1h")
    assert "recovered:" in p.stdout and "0 failed deliveries" in p.stderr

    for args, rc, msg in [
        (("deliveries", "recover", pool, e["id"]), 2, "usage"),
        (("deliveries", "recover", pool, e["id"], "--since", "soon"), 2, "--since"),
        (("deliveries", "recover", pool, "ep_" + "0" * 24, "--since", "1h"), 1,
         "no such endpoint"),
        (("deliveries", "recover", pool, "x", "--since", "1h"), 2, "endpoint id"),
    ]:
        p = ctl(stack, *args)
        assert p.returncode == rc, (args, p.returncode, p.stderr)
        assert msg in p.stderr, (args, p.stderr)


def test_rotation_signs_with_both_secrets_during_grace(stack, pool, receiver):
    e, path = hook(stack, pool, receiver, lambda rec: (200, [], 0), "--retry", "none")
    r = ctl_json(stack, "endpoint", "rotate", pool, e["id"], "--grace", "1h")
    assert emit(stack, pool, "file.received", {"file": {"id": "x"}}) == 1
    run_deliver(stack)
    got = receiver.received(path)
    assert len(got) == 1
    rec = got[0]
    for secret in (e["secret"], r["secret"]):
        assert sw_verify(secret, rec["id"], rec["ts"], rec["body"], rec["sig"])


def test_help_lists_the_commands(stack):
    p = stack.poolctl_ok("--help")
    for s in ("endpoint add POOL URL", "endpoint preview", "deliveries recover",
              "--auth-file"):
        assert s in p.stdout, s
