"""pool-processor (jobs/pool-processor.c, docs/processor.md): an external
server acting as a pool's processor by running a command.

Two kinds of tests:

* against the real stack: whole rounds (docs/rounds.md) driven by the agent,
  in pull mode and in push mode (group.ready webhooks to its listener);
* against FakeApi, a small stand-in for the server defined here, for what
  the real server never sends: wrong sizes and hashes, hostile file names,
  claims lost to another processor, expired tokens, and the bounds of the
  webhook listener.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import ROOT, free_port

AGENT = os.path.join(ROOT, "jobs", "pool-processor")
AVERAGE = os.path.join(ROOT, "scripts", "demo-average")
VECTORS = ["1 2 3\n", "2 4 6\n", "6 9 12\n"]
MEAN = "3 5 7\n"


@pytest.fixture(autouse=True)
def _agent_built():
    if not os.access(AGENT, os.X_OK):
        pytest.fail("%s is not built" % AGENT)


def agent_cmd(api, pool, client_id, secret, cmd, extra, workdir, env):
    """(argv, environment) of an agent run."""
    e = dict(os.environ)
    e["POOL_CLIENT_SECRET"] = secret
    e.update(env or {})
    return ([AGENT, "--api", api, "--pool", pool, "--client-id", client_id,
             "--workdir", workdir] + list(extra) + ["--"] + list(cmd)), e


def run_agent(api, pool, client_id, secret, cmd, *extra, workdir, timeout=120,
              env=None):
    args, e = agent_cmd(api, pool, client_id, secret, cmd, extra, workdir, env)
    return subprocess.run(args, env=e, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def _drain(stream, buf):
    for line in stream:
        buf.append(line)


def start_agent(api, pool, client_id, secret, cmd, *extra, workdir, env=None):
    """The agent, with its stdout and stderr collected as they come (so a
    test can wait for what the agent says it did)."""
    args, e = agent_cmd(api, pool, client_id, secret, cmd, extra, workdir, env)
    proc = subprocess.Popen(args, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.out_lines, proc.err_lines = [], []
    proc.readers = [threading.Thread(target=_drain, args=a, daemon=True)
                    for a in ((proc.stdout, proc.out_lines),
                              (proc.stderr, proc.err_lines))]
    for t in proc.readers:
        t.start()
    return proc


def agent_said(proc, text, timeout=30):
    """Waits until the agent's stderr holds text (or it exits)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in "".join(proc.err_lines):
            return True
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    for t in proc.readers:
        t.join(5)
    return text in "".join(proc.err_lines)


def stop_agent(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for t in proc.readers:
        t.join(10)
    return proc.returncode, "".join(proc.err_lines)


def wait_port(port, proc=None, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the agent exited: %s" % proc.stderr.read())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nothing listens on port %d" % port)


def whsec():
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def sign(secret, msg_id, ts, body):
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body,
                   hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def post_hook(port, secret, body, msg_id=None, ts=None, sig=None):
    msg_id = msg_id or str(uuid.uuid4())
    ts = str(int(time.time())) if ts is None else str(ts)
    sig = sig or sign(secret, msg_id, ts, body)
    return requests.post("http://127.0.0.1:%d/hook" % port, data=body,
                         headers={"webhook-id": msg_id,
                                  "webhook-timestamp": ts,
                                  "webhook-signature": sig,
                                  "Content-Type": "application/json"},
                         timeout=10)


def raw_request(port, data, read=True):
    """Sends raw bytes; returns the status of the answer (or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(data)
        if not read:
            return None
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", buf)
        return int(m.group(1)) if m else None
    finally:
        s.close()


# ---------------------------------------------------------------- real rounds

def this_minute_ts():
    """A ts one second into the current minute's window."""
    now = int(time.time())
    return now - now % 60 + 1


def prepare_round(stack, pool, client_of, vectors, *settings):
    """Three uploaders send a vector each for the current minute; the
    group is then closed at once (its closes_at moved to now with SQL, as
    t/integration/test_rounds.py does) instead of waiting for the minute
    to end.  Files of a window that has already closed would be late and
    not count for the quorum (docs/rounds.md, "Late files")."""
    stack.poolctl_ok("pool", "set", pool, "window=1m", "lateness=0",
                     "min_clients=%d" % len(vectors), *settings)
    ts = this_minute_ts()
    uploaders = [client_of(pool) for _ in vectors]
    for i, (c, v) in enumerate(zip(uploaders, vectors)):
        c.upload_ok("vector-%d.txt" % i, v.encode(), ts=str(ts))
    proc_id, proc_secret = stack.make_client(pool, "processor")
    stack.poolctl_ok("run", "--once", "group")
    stack.psql("UPDATE groups SET closes_at = now() WHERE state = 'open'"
               " AND pool_id = (SELECT id FROM pools WHERE name = '%s')" % pool)
    return uploaders, proc_id, proc_secret


def groups_of(stack, pool):
    cid, secret = stack.admin(pool)
    s = stack.session(basic=(cid, secret))
    r = s.get(stack.url("/pool/v1/pools/%s/groups" % pool))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["groups"]


def the_group(stack, pool):
    groups = groups_of(stack, pool)
    assert len(groups) == 1, groups
    return groups[0]


def assert_mean_published(stack, pool, uploaders, mean):
    for c in uploaders:
        r = c.s.get(stack.url("/pool/v1/pools/%s/results/latest" % pool))
        assert r.status_code == 200, (r.status_code, r.text)
        res = r.json()
        assert res["name"] == "average.txt"
        assert res["content_type"].startswith("text/plain")
        r = c.s.get(stack.url(res["url"]))
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text == mean
        assert res["sha256"] == hashlib.sha256(mean.encode()).hexdigest()


def test_pull_round(stack, pool, client_of, tmp_path):
    uploaders, pid, psecret = prepare_round(stack, pool, client_of, VECTORS)
    stack.poolctl_ok("run", "--once", "group", "trigger")
    g = the_group(stack, pool)
    assert g["state"] == "triggered", g
    assert g["files"] == 3 and g["clients"] == 3, g

    p = run_agent(stack.url("/pool"), pool, pid, psecret, [AVERAGE], "--once",
                  "--result-name", "average.txt", "--result-type", "text/plain",
                  workdir=str(tmp_path / "work"))
    assert p.returncode == 0, p.stderr
    assert "group %s: done" % g["id"] in p.stderr
    assert os.listdir(str(tmp_path / "work")) == []   # cleaned up
    assert the_group(stack, pool)["state"] == "done"

    stack.poolctl_ok("run", "--once", "publish")
    assert_mean_published(stack, pool, uploaders, MEAN)
    g = the_group(stack, pool)
    assert g["result_seq"] is not None

    # a second pass finds nothing to do
    p = run_agent(stack.url("/pool"), pool, pid, psecret, [AVERAGE], "--once",
                  workdir=str(tmp_path / "work"))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""


def test_failing_command_reports_and_leaves_the_group(stack, pool, client_of,
                                                      tmp_path):
    uploaders, pid, psecret = prepare_round(stack, pool, client_of, VECTORS)
    stack.poolctl_ok("run", "--once", "group", "trigger")
    g = the_group(stack, pool)
    cmd = ["/bin/sh", "-c", "echo first line >&2; echo 'it broke: boom' >&2;"
           " exit 3", "fail"]
    p = run_agent(stack.url("/pool"), pool, pid, psecret, cmd, "--once", "-v",
                  workdir=str(tmp_path / "work"))
    assert p.returncode == 1, p.stderr
    assert "group %s: failed" % g["id"] in p.stderr
    assert "exited with status 3" in p.stderr

    g = the_group(stack, pool)
    assert g["state"] == "claimed", g
    assert g["process"], g
    proc_id = g["process"]
    cid, secret = stack.admin(pool)
    s = stack.session(basic=(cid, secret))
    r = s.get(stack.url("/pool/v1/processes/%s" % proc_id))
    assert r.status_code == 200, (r.status_code, r.text)
    proc = r.json()
    assert proc["status"] == 0, proc            # still running: left to expire
    assert "exited with status 3" in proc["message"], (proc, p.stderr)
    assert "it broke: boom" in proc["message"], proc

    stack.poolctl_ok("run", "--once", "publish")
    r = uploaders[0].s.get(stack.url("/pool/v1/pools/%s/results/latest" % pool))
    assert r.status_code == 404, (r.status_code, r.text)


def test_push_round(stack, pool, client_of, tmp_path):
    port = free_port()
    p = stack.poolctl_ok("pool", "set", pool,
                         "processor_url=http://127.0.0.1:%d/hook" % port)
    m = re.search(r"whsec_[A-Za-z0-9+/=]+", p.stdout + p.stderr)
    assert m, "no processor secret printed: %r" % (p.stdout + p.stderr)
    secret_file = tmp_path / "whsec"
    secret_file.write_text(m.group(0) + "\n")

    uploaders, pid, psecret = prepare_round(stack, pool, client_of, VECTORS)
    # a long pull interval: the pass at start-up finds nothing, the webhook
    # has to do the work
    agent = start_agent(stack.url("/pool"), pool, pid, psecret, [AVERAGE],
                        "--listen", "127.0.0.1:%d" % port,
                        "--webhook-secret-file", str(secret_file),
                        "--every", "3600", "--result-name", "average.txt",
                        "--result-type", "text/plain",
                        workdir=str(tmp_path / "work"))
    try:
        wait_port(port, agent)
        # a forged signature is refused
        r = post_hook(port, whsec(), json.dumps(
            {"type": "group.ready", "timestamp": "2026-11-21T10:15:00Z",
             "data": {"id": str(uuid.uuid4())}}).encode())
        assert r.status_code == 401, (r.status_code, r.text)

        stack.poolctl_ok("run", "--once", "group", "trigger", "deliver")
        deadline = time.time() + 60
        while time.time() < deadline:
            g = the_group(stack, pool)
            if g["state"] == "done":
                break
            time.sleep(0.5)
        assert g["state"] == "done", g
        # and the agent has read the answer to its upload
        assert agent_said(agent, "group %s: done" % g["id"]), \
            "".join(agent.err_lines)
    finally:
        rc, err = stop_agent(agent)
    assert rc == 0, err
    assert "accept:" not in err, err
    stack.poolctl_ok("run", "--once", "publish")
    assert_mean_published(stack, pool, uploaders, MEAN)


# ---------------------------------------------------------------- FakeApi

class FakeApi:
    """Just enough of the server for the agent: token, groups, claim,
    progress, files (signed links), result.  Groups are added with
    add_group(); everything the agent did is recorded."""

    def __init__(self, pool="fake", client_id="cl_fake", secret="s3cret",
                 token_lifetime=900):
        self.pool = pool
        self.client_id = client_id
        self.secret = secret
        self.token_lifetime = token_lifetime
        self.lock = threading.Lock()
        self.tokens = set()
        self.token_requests = 0
        self.groups = {}
        self.blobs = {}
        self.progress = {}
        self.results = {}
        self.claims = []
        self.requests = []
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, obj=None, raw=None, ctype="application/json"):
                body = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n)

            def authed(self):
                h = self.headers.get("Authorization", "")
                return h.startswith("Bearer ") and h[7:] in api.tokens

            def handle_any(self, method):
                u = urlsplit(self.path)
                q = parse_qs(u.query)
                parts = u.path.strip("/").split("/")
                with api.lock:
                    api.requests.append((method, self.path,
                                         dict(self.headers.items())))
                body = self.body() if method in ("POST", "PUT") else b""
                if u.path == "/pool/v1/token" and method == "POST":
                    want = "Basic " + base64.b64encode(
                        ("%s:%s" % (api.client_id, api.secret)).encode()).decode()
                    if self.headers.get("Authorization") != want \
                            or body != b"grant_type=client_credentials":
                        return self.answer(401, {"error": "invalid_client",
                                                 "detail": "bad credentials"})
                    tok = uuid.uuid4().hex
                    with api.lock:
                        api.tokens.add(tok)
                        api.token_requests += 1
                    return self.answer(200, {"access_token": tok,
                                             "token_type": "Bearer",
                                             "expires_in": api.token_lifetime})
                if parts[:4] != ["pool", "v1", "pools", api.pool]:
                    return self.answer(404, {"detail": "no such resource"})
                rest = parts[4:]
                if rest[:1] == ["files"] and len(rest) == 2 and method == "GET":
                    if "sig" not in q or "Authorization" in self.headers:
                        return self.answer(403, {"detail": "unsigned"})
                    return self.answer(200, raw=api.blobs[rest[1]],
                                       ctype="application/octet-stream")
                if rest[:1] == ["groups"] and len(rest) == 3 \
                        and rest[2] == "result" and method == "PUT":
                    if "sig" not in q or "Authorization" in self.headers:
                        return self.answer(403, {"detail": "unsigned"})
                    with api.lock:
                        api.results[rest[1]] = {
                            "body": body, "name": q.get("name", ["result"])[0],
                            "type": self.headers.get("Content-Type")}
                        api.groups[rest[1]]["state"] = "done"
                    return self.answer(201, {"seq": None})
                if not self.authed():
                    return self.answer(401, {"detail": "bad token"})
                if rest == ["groups"] and method == "GET":
                    state = q.get("state", [None])[0]
                    with api.lock:
                        gs = [{"id": gid, "seq": i, "state": g["state"]}
                              for i, (gid, g) in enumerate(api.groups.items())
                              if state is None or g["state"] == state]
                    return self.answer(200, {"groups": gs, "next": None})
                if rest[:1] == ["groups"] and len(rest) == 3 and method == "POST":
                    gid = rest[1]
                    g = api.groups.get(gid)
                    if g is None:
                        return self.answer(404, {"detail": "no such group"})
                    if rest[2] == "claim":
                        with api.lock:
                            api.claims.append(gid)
                        if g["state"] not in ("triggered",) or g.get("taken"):
                            return self.answer(409, {"detail": "group is %s" % g["state"]})
                        g["state"] = "claimed"
                        return self.answer(200, api.manifest(gid))
                    if rest[2] == "progress":
                        j = json.loads(body)
                        # as the server: no control characters but tab
                        if any(ord(ch) < 0x20 and ch != "\t"
                               for ch in j.get("message", "")):
                            return self.answer(422, {"detail": "message must "
                                                     "not contain control "
                                                     "characters"})
                        assert set(j) <= {"percent", "message"}
                        assert 0 <= j["percent"] <= 100
                        assert len(j.get("message", "").encode()) <= 2000
                        with api.lock:
                            api.progress.setdefault(gid, []).append(j)
                        return self.answer(200, {"status": 0})
                return self.answer(404, {"detail": "no such resource"})

            def do_GET(self):
                self.handle_any("GET")

            def do_POST(self):
                self.handle_any("POST")

            def do_PUT(self):
                self.handle_any("PUT")

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = S(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.api = "http://127.0.0.1:%d/pool" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add_group(self, files, state="triggered", taken=False):
        """files: list of (name, bytes) or dicts with name/data and optional
        size/sha256 overrides."""
        gid = str(uuid.uuid4())
        entries = []
        for f in files:
            if isinstance(f, tuple):
                f = {"name": f[0], "data": f[1]}
            fid = str(uuid.uuid4())
            self.blobs[fid] = f["data"]
            entries.append({
                "id": fid, "client": "cl_x", "name": f["name"],
                "size": f.get("size", len(f["data"])),
                "sha256": f.get("sha256", hashlib.sha256(f["data"]).hexdigest()),
                "content_type": "application/octet-stream",
                "ts": "2026-11-21T10:15:00Z", "late": False,
                "url": "http://127.0.0.1:%d/pool/v1/pools/%s/files/%s"
                       "?expires=9999999999&kid=k1&sig=abc" % (self.port, self.pool, fid)})
        self.groups[gid] = {"state": state, "files": entries, "taken": taken}
        return gid

    def manifest(self, gid):
        return {"id": gid, "seq": 1, "state": "claimed",
                "window": {"start": "2026-11-21T10:00:00Z",
                           "end": "2026-11-21T10:05:00Z"},
                "files": self.groups[gid]["files"],
                "result_url": "http://127.0.0.1:%d/pool/v1/pools/%s/groups/%s/result"
                              "?expires=9999999999&kid=k1&sig=abc" % (self.port, self.pool, gid),
                "links_expire": "2026-11-28T10:00:00Z"}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    f = FakeApi()
    yield f
    f.close()


def fake_run(fake, cmd, *extra, workdir, **kw):
    return run_agent(fake.api, fake.pool, fake.client_id, fake.secret, cmd,
                     *extra, workdir=workdir, **kw)


ENV_DUMP = r"""
set -eu
{
  echo "cwd=$(pwd)"
  echo "group=$POOL_GROUP"
  echo "input_dir=$POOL_INPUT_DIR"
  echo "manifest=$POOL_MANIFEST"
  echo "output=$POOL_OUTPUT"
  echo "secret=${POOL_CLIENT_SECRET:-unset}"
  for a in "$@"; do echo "arg=$a"; done
  for a in "$@"; do [ -f "$a" ] && echo "content=$(cat "$a")"; done
} > "$POOL_OUTPUT"
"""


def test_fake_round_env_args_and_names(fake, tmp_path):
    gid = fake.add_group([("../../etc/passwd", b"one"), ("a b\x7f.txt", b"two"),
                          ("", b"three")])
    work = tmp_path / "work"
    p = fake_run(fake, ["/bin/sh", "-c", ENV_DUMP, "envdump", "first-arg"],
                 "--once", "--result-name", "out put.txt", workdir=str(work))
    assert p.returncode == 0, p.stderr
    assert "group %s: done" % gid in p.stderr
    res = fake.results[gid]
    assert res["name"] == "out put.txt"
    assert res["type"] == "application/octet-stream"
    lines = res["body"].decode().splitlines()
    d = str(work / gid)
    assert "cwd=" + d in lines
    assert "group=" + gid in lines
    assert "input_dir=%s/in" % d in lines
    assert "manifest=%s/manifest.json" % d in lines
    assert "output=%s/out/result" % d in lines
    assert "secret=unset" in lines                      # not passed on
    args = [l[4:] for l in lines if l.startswith("arg=")]
    fid3 = fake.groups[gid]["files"][2]["id"]
    assert args == ["first-arg", d + "/in/0001-.._.._etc_passwd",
                    d + "/in/0002-a_b_.txt", d + "/in/0003-" + fid3]
    assert [l for l in lines if l.startswith("content=")] == \
        ["content=one", "content=two", "content=three"]
    assert not work.joinpath(gid).exists()              # cleaned
    msgs = [m.get("message", "") for m in fake.progress[gid]]
    assert msgs[0] == "downloading 3 files"
    assert any(m.startswith("downloaded 3 files") for m in msgs)
    assert any(m.startswith("running ") for m in msgs)
    assert msgs[-1] == "uploading the result"
    # signed links went without the token
    for method, path, headers in fake.requests:
        if "sig=" in path:
            assert "Authorization" not in headers


def test_fake_keep_and_manifest(fake, tmp_path):
    gid = fake.add_group([("v.txt", b"1 2 3\n"), ("w.txt", b"3 4 5\n")])
    work = tmp_path / "work"
    p = fake_run(fake, [AVERAGE], "--once", "--keep", workdir=str(work))
    assert p.returncode == 0, p.stderr
    assert fake.results[gid]["body"] == b"2 3 4\n"
    kept = work / gid
    assert json.loads((kept / "manifest.json").read_text())["id"] == gid
    assert sorted(os.listdir(str(kept / "in"))) == ["0001-v.txt", "0002-w.txt"]
    assert (kept / "out" / "result").read_bytes() == b"2 3 4\n"


@pytest.mark.parametrize("override,why", [
    ({"sha256": "0" * 64}, "SHA-256"),
    ({"size": 2}, "more bytes than announced"),
    ({"size": 10}, "got 5 bytes, the manifest says 10"),
])
def test_fake_bad_file_fails_the_group(fake, tmp_path, override, why):
    f = {"name": "x.bin", "data": b"hello"}
    f.update(override)
    gid = fake.add_group([f])
    ran = tmp_path / "ran"
    p = fake_run(fake, ["/bin/sh", "-c", "touch %s" % ran], "--once",
                 workdir=str(tmp_path / "work"))
    assert p.returncode == 1, p.stderr
    assert why in p.stderr
    assert not ran.exists()                              # command not run
    assert gid not in fake.results
    last = fake.progress[gid][-1]["message"]
    assert last.startswith("pool-processor failed: download of file 1 of 1")
    assert why in last
    assert os.listdir(str(tmp_path / "work")) == []


def test_fake_failing_command_message_is_bounded(fake, tmp_path):
    gid = fake.add_group([("v.txt", b"1\n")])
    cmd = ["/bin/sh", "-c",
           "i=0; while [ $i -lt 500 ]; do echo \"noise line $i\" >&2; "
           "i=$((i+1)); done; printf 'caf\\303\\251 \\377 last words\\n' >&2;"
           " exit 7"]
    p = fake_run(fake, cmd, "--once", workdir=str(tmp_path / "work"))
    assert p.returncode == 1, p.stderr
    msg = fake.progress[gid][-1]["message"]
    assert "exited with status 7" in msg
    assert msg.endswith("noise line 499 | caf\u00e9 ? last words"), msg
    assert "noise line 1 |" not in msg
    assert len(msg.encode()) <= 2000
    assert gid not in fake.results


def test_fake_no_output_is_a_failure(fake, tmp_path):
    gid = fake.add_group([("v.txt", b"1\n")])
    p = fake_run(fake, ["/bin/true"], "--once", workdir=str(tmp_path / "work"))
    assert p.returncode == 1, p.stderr
    assert "wrote no result to POOL_OUTPUT" in fake.progress[gid][-1]["message"]


def test_fake_claim_conflict_is_skipped_silently(fake, tmp_path):
    gid = fake.add_group([("v.txt", b"1\n")], taken=True)
    p = fake_run(fake, [AVERAGE], "--once", workdir=str(tmp_path / "work"))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    assert fake.claims == [gid]
    assert gid not in fake.progress


def test_fake_token_renewed_after_401(fake, tmp_path):
    gid = fake.add_group([("v.txt", b"1 2\n")])
    # every token but the newest is forgotten by the server: dropped while
    # the command runs, so that the agent's next request (its "uploading"
    # progress) gets a 401.  The command waits until the test has dropped
    # them (the file dropped exists; at most 60 s), and the test drops them
    # once the agent has said it runs the command: no timing involved.
    dropped = tmp_path / "dropped"
    cmd = ["/bin/sh", "-c", 'i=0; while [ ! -e "$0" ] && [ $i -lt 600 ]; do'
           ' sleep 0.1; i=$((i + 1)); done; cp "$1" "$POOL_OUTPUT"',
           str(dropped)]
    proc = start_agent(fake.api, fake.pool, fake.client_id, fake.secret, cmd,
                       "--once", workdir=str(tmp_path / "work"))
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not any(
            m.get("message", "").startswith("running ")
            for m in list(fake.progress.get(gid, []))):
        time.sleep(0.05)
    with fake.lock:
        fake.tokens.clear()
    dropped.touch()
    proc.wait(timeout=90)
    for t in proc.readers:
        t.join(10)
    err = "".join(proc.err_lines)
    assert proc.returncode == 0, err
    assert fake.results[gid]["body"] == b"1 2\n"
    assert fake.token_requests == 2


def test_fake_wrong_secret(fake, tmp_path):
    fake.add_group([("v.txt", b"1\n")])
    p = run_agent(fake.api, fake.pool, fake.client_id, "wrong", [AVERAGE],
                  "--once", workdir=str(tmp_path / "work"))
    assert p.returncode == 1
    assert "no token: HTTP 401: bad credentials" in p.stderr


def test_usage_errors(tmp_path):
    base = ["--api", "http://127.0.0.1:1/pool", "--pool", "p", "--client-id", "c"]
    env = dict(os.environ, POOL_CLIENT_SECRET="x")
    for args in (
            [],
            base,                                          # no command
            base + ["--once", "--every", "5", "--", "true"],
            base + ["--listen", "127.0.0.1:1", "--once", "--", "true"],
            base + ["--every", "0", "--", "true"],
            base + ["--listen", "127.0.0.1:1", "--", "true"],  # no whsec
            base + ["--bogus", "--", "true"],
            base + ["--", "no-such-command-here"],
            ["--api", "ftp://x/pool", "--pool", "p", "--client-id", "c", "--", "true"],
            ["--api", "http://127.0.0.1:1/pool", "--pool", "../p", "--client-id", "c",
             "--", "true"],
    ):
        p = subprocess.run([AGENT] + args, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)
    env.pop("POOL_CLIENT_SECRET")
    p = subprocess.run([AGENT] + base + ["--", "true"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=10)
    assert p.returncode == 2 and "POOL_CLIENT_SECRET" in p.stderr


# ---------------------------------------------------------------- listener

@pytest.fixture
def listening(fake, tmp_path):
    """A FakeApi and an agent listening for its webhooks."""
    port = free_port()
    secret = whsec()
    sf = tmp_path / "whsec"
    sf.write_text(secret + "\n")
    proc = start_agent(fake.api, fake.pool, fake.client_id, fake.secret,
                       [AVERAGE], "--listen", "127.0.0.1:%d" % port,
                       "--webhook-secret-file", str(sf), "--every", "3600",
                       workdir=str(tmp_path / "work"))
    wait_port(port, proc)
    yield fake, port, secret, proc
    _, err = stop_agent(proc)
    # the listener waits for connections quietly (it once logged a warning
    # "accept: Resource temporarily unavailable" five times a second)
    assert "accept:" not in err, err


def envelope(gid, event="group.ready"):
    return json.dumps({"type": event, "timestamp": "2026-11-21T10:15:00Z",
                       "data": {"id": gid, "state": "triggered"}}).encode()


def test_listener_good_webhook_gets_the_group_processed(listening):
    fake, port, secret, proc = listening
    gid = fake.add_group([("v.txt", b"1 2 3\n"), ("w.txt", b"3 4 5\n")])
    r = post_hook(port, secret, envelope(gid))
    assert r.status_code == 202, r.text
    # the agent's own word that it is done (it has read the answer to its
    # result upload), not the fake API's receipt of the result
    assert agent_said(proc, "group %s: done" % gid), "".join(proc.err_lines)
    assert fake.results[gid]["body"] == b"2 3 4\n"
    rc, err = stop_agent(proc)
    assert rc == 0, err


def test_listener_refuses_bad_signatures(listening):
    fake, port, secret, proc = listening
    gid = fake.add_group([("v.txt", b"1\n")], state="closed")
    body = envelope(gid)
    assert post_hook(port, whsec(), body).status_code == 401        # forged
    old = int(time.time()) - 600
    assert post_hook(port, secret, body, ts=old).status_code == 401  # replay
    r = requests.post("http://127.0.0.1:%d/hook" % port, data=body, timeout=10)
    assert r.status_code == 401                                      # unsigned
    mid, ts = str(uuid.uuid4()), str(int(time.time()))
    sig = sign(secret, mid, ts, body)
    assert post_hook(port, secret, body + b" ", msg_id=mid, ts=ts,
                     sig=sig).status_code == 401                     # changed body
    # a good webhook after them: the agent takes its webhooks in the order
    # they came, so once it is done with this one, a refused one that had
    # been queued all the same would have been claimed before it
    after = fake.add_group([("v.txt", b"2 4\n")])
    assert post_hook(port, secret, envelope(after)).status_code == 202
    assert agent_said(proc, "group %s: done" % after), "".join(proc.err_lines)
    assert gid not in fake.claims
    assert set(fake.claims) == {after}


def test_listener_bounds(listening):
    fake, port, secret, proc = listening
    assert raw_request(port, b"GET /hook HTTP/1.1\r\nHost: x\r\n\r\n") == 405
    assert raw_request(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n\r\n") == 411
    assert raw_request(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 411
    assert raw_request(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 1048577\r\n\r\n") == 413
    assert raw_request(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 12x\r\n\r\n") == 400
    assert raw_request(port, b"POST /hook HTTP/1.1\r\nHost: x\r\n"
                             b"X-Big: " + b"a" * 17000 + b"\r\n\r\n") == 431
    assert raw_request(port, b"garbage\r\n\r\n") == 400
    # a client that sends half a request and stalls does not stop the next
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /hook HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
    try:
        gid = fake.add_group([("v.txt", b"4 4\n")])
        # the stalled connection holds the listener for at most its read
        # timeout (10 s)
        r = requests.post("http://127.0.0.1:%d/hook" % port, data=envelope(gid),
                          headers=_signed_headers(secret, envelope(gid)),
                          timeout=30)
        assert r.status_code == 202
    finally:
        s.close()
    # and the agent processes that group (before the test ends and stops
    # it: not in the middle of its work)
    assert agent_said(proc, "group %s: done" % gid), "".join(proc.err_lines)
    # a valid signature on an event the agent does not handle
    assert post_hook(port, secret, envelope(str(uuid.uuid4()),
                                            "webhook.test")).status_code == 202
    assert post_hook(port, secret, b"not json").status_code == 400
    assert proc.poll() is None


def _signed_headers(secret, body):
    mid, ts = str(uuid.uuid4()), str(int(time.time()))
    return {"webhook-id": mid, "webhook-timestamp": ts,
            "webhook-signature": sign(secret, mid, ts, body)}
