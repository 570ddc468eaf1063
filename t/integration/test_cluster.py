"""mod_pool as a cluster (scripts/run-cluster): two httpd nodes sharing one
database, one key file and one store, behind HAProxy, with the job loops of
both nodes running at once.

The module's `cluster` fixture starts the cluster with the same shell
functions as scripts/run-cluster (`bash scripts/stack.sh cluster_up`, then
`cluster_down`) in the test stack's state directory ($POOL_TEST_VAR/cluster/,
cluster.env): on the stack's PostgreSQL server, in a database of its own
(mod_pool_cluster, as run-cluster beside run-local), so that the job loops
of the cluster never touch the pools of the other tests; scripts/test tears
it down too should pytest be killed.  It uses the module and poolctl of the
tree under test (POOL_ROOT, APACHE2: the sanitizer pass's build runs the
nodes there).  The nodes' storage is POOL_CLUSTER_STORE's (unset: the
WebDAV store server when the module knows PoolStorageCredentials, else one
shared directory).

Every node's error log, and the store server's, is checked after every test
like the main httpd's."""

import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from conftest import BAD_LOG_RE, LOG_KEEP_DIR, POOLCTL, ROOT, STACK_SH, assert_problem, unique
from test_rounds import seed_groups
from test_webhooks import Receiver
from tus_helpers import OFFSET_CT, TUS, uploads_url

HTTP_TIMEOUT = 60
NODES = (1, 2)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def wait_for(pred, timeout=30.0, what="the state asserted"):
    """pred() until it is true (returns it), or fails after timeout."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("not reached in %.0f s: %s" % (timeout, what))
        time.sleep(0.1)


STORE_BENIGN = re.compile(r"An error occurred while reading the request body"
                          r"|Unable to create collection")


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def alive(pid):
    """A process that runs (a zombie does not)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] != "Z"
    except OSError:
        return False
    return False


class Cluster:
    """A running cluster of scripts/run-cluster, read from its cluster.env."""

    def __init__(self, var):
        self.var = var
        self.dir = os.path.join(var, "cluster")
        self.env = dict(os.environ)
        self.env.update({
            "POOL_ROOT": ROOT,
            "POOL_VAR": var,
            "POOL_PG_FAST": "1",
            "POOL_MAX_FILE_SIZE": "8M",
            # the tests' webhook receivers are on loopback
            "POOL_OUTBOUND_ALLOW": "127.0.0.0/8 ::1/128",
            "POOL_JOB_INTERVAL": "1",
        })
        for k in ("BALANCER_PORT", "NODE1_PORT", "NODE2_PORT", "STORE_PORT"):
            self.env.pop(k, None)
        self.e = {}
        self.log_offsets = {}
        self.allowed = []       # error-log lines expected in the current test

    # -- shell functions of scripts/stack.sh (the ones run-cluster calls)
    def sh(self, *args, check=True, timeout=180):
        p = subprocess.run(["bash", STACK_SH] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("stack.sh %s failed (%d):\n%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def up(self):
        self.sh("cluster_up", timeout=300)
        self.e = {}
        with open(os.path.join(self.var, "cluster.env")) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    self.e[k] = shlex.split(v)[0] if v else ""
        self.balancer = self.e["BALANCER_URL"]
        self.nodes = {n: self.e["NODE%d_URL" % n] for n in NODES}
        self.ports = {n: int(self.e["NODE%d_PORT" % n]) for n in NODES}
        self.conf = {n: self.e["CONF%d" % n] for n in NODES}

    def down(self):
        return self.sh("cluster_down", check=False, timeout=180)

    def all_ports(self):
        return [int(self.e[k]) for k in ("BALANCER_PORT", "NODE1_PORT", "NODE2_PORT",
                                         "STORE_PORT") if k in self.e]

    def psql(self, sql):
        return self.sh("pg_psql", self.e["CLUSTER_DB_NAME"], "-tAc", sql).stdout

    def poolctl(self, *args, node=1):
        p = subprocess.run([POOLCTL, "-c", self.conf[node]] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
            assert marker not in p.stderr, "sanitizer report from poolctl:\n" + p.stderr
        assert p.returncode == 0, "poolctl %s: %s" % (" ".join(map(str, args)), p.stderr)
        return p.stdout

    # -- nodes
    def node_pid(self, n):
        with open(os.path.join(self.dir, "node%d" % n, "run", "httpd.pid")) as f:
            return int(f.read().strip())

    def kill_node(self, n):
        """kill -9 of the whole node: its parent and every child."""
        pid = self.node_pid(n)
        assert os.getpgid(pid) == pid, "httpd is not the leader of its process group"
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: not alive(pid) and not accepts(self.ports[n]), 15,
                 "node %d gone" % n)

    def start_node(self, n):
        self.sh("node_start", str(n))

    def balancer_status(self):
        """{"node1": "UP", ...} as HAProxy's health checks see the nodes."""
        r = requests.get(self.balancer + "/haproxy-stats;csv", timeout=10)
        assert r.status_code == 200, r.status_code
        out = {}
        for line in r.text.splitlines():
            f = line.split(",")
            if len(f) > 17 and f[0] == "nodes" and f[1].startswith("node"):
                out[f[1]] = f[17]
        return out

    # -- clients
    def client(self, pool, role="uploader"):
        j = json.loads(self.poolctl("client", "add", pool, unique(role[:4]),
                                    "--role", role, "--json"))
        return j["client_id"], j["secret"]

    def token(self, client_id, secret, base=None):
        r = requests.post((base or self.balancer) + "/pool/v1/token",
                          data={"grant_type": "client_credentials"},
                          auth=(client_id, secret), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["access_token"]

    def session(self, token):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + token
        return s

    def pool_with_uploader(self):
        pool = unique("cl")
        self.poolctl("pool", "create", pool)
        cid, secret = self.client(pool)
        return pool, self.session(self.token(cid, secret))

    # -- logs
    def logs(self):
        return {"node1": os.path.join(self.dir, "node1", "log", "error_log"),
                "node2": os.path.join(self.dir, "node2", "log", "error_log"),
                "store": os.path.join(self.dir, "store", "log", "error_log")}

    def new_bad_lines(self):
        bad = []
        for name, path in self.logs().items():
            try:
                with open(path, "rb") as f:
                    f.seek(self.log_offsets.get(name, 0))
                    data = f.read()
            except FileNotFoundError:
                continue
            self.log_offsets[name] = self.log_offsets.get(name, 0) + len(data)
            for line in data.decode("utf-8", "replace").splitlines():
                # the store is the customer's server: what a client that
                # died mid-PUT (a node killed) or a collection two nodes made
                # at once leave in its log is not an error of ours
                if name == "store" and STORE_BENIGN.search(line):
                    continue
                if BAD_LOG_RE.search(line) and not any(a.search(line) for a in self.allowed):
                    bad.append("%s: %s" % (name, line))
        return bad

    def keep_logs(self):
        """Copies the logs to var/test-logs/cluster-*, for a look afterwards."""
        try:
            os.makedirs(LOG_KEEP_DIR, exist_ok=True)
            for sub in ("node1/log/error_log", "node1/log/access_log",
                        "node2/log/error_log", "node2/log/access_log",
                        "store/log/error_log", "haproxy/haproxy.log",
                        "jobs/node1.log", "jobs/node2.log"):
                src = os.path.join(self.dir, sub)
                if os.path.exists(src):
                    shutil.copyfile(src, os.path.join(
                        LOG_KEEP_DIR, "cluster-" + sub.replace("/", "-")))
        except OSError:
            pass


@pytest.fixture(scope="module")
def cluster(stack):
    c = Cluster(stack.var)
    try:
        c.up()
    except Exception:
        c.keep_logs()
        c.down()
        raise
    try:
        yield c
    finally:
        ports = c.all_ports()
        p = c.down()
        c.keep_logs()
        bad = c.new_bad_lines()
        if not os.environ.get("POOL_KEEP_TEST_VAR"):
            shutil.rmtree(c.dir, ignore_errors=True)
        assert p.returncode == 0, "cluster_down failed:\n" + p.stderr
        # nothing of it is left listening
        left = [port for port in ports if accepts(port)]
        assert not left, "still listening after cluster_down: %r" % left
        assert not bad, "unexpected lines in the cluster's error logs at shutdown:\n" + \
            "\n".join(bad[:30])


@pytest.fixture(autouse=True)
def _cluster_log_guard(cluster):
    cluster.new_bad_lines()     # what came before this test is not its own
    cluster.allowed = []
    yield
    bad = cluster.new_bad_lines()
    cluster.allowed = []
    assert not bad, "unexpected lines in the cluster's error logs:\n" + "\n".join(bad[:30])


def path_of(url):
    return urlsplit(url).path


def tus_create(s, base, pool, length):
    h = dict(TUS)
    h["Upload-Length"] = str(length)
    r = s.post(uploads_url(base, pool), headers=h, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, (r.status_code, r.text)
    return path_of(r.headers["Location"])


def tus_patch(s, base, path, offset, data):
    h = dict(TUS)
    h["Upload-Offset"] = str(offset)
    h["Content-Type"] = OFFSET_CT
    return s.patch(base + path, headers=h, data=data, timeout=HTTP_TIMEOUT)


def tus_offset(s, base, path):
    r = s.head(base + path, headers=TUS, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.headers)
    return int(r.headers["Upload-Offset"])


def files_url(base, pool, rest=""):
    return "%s/pool/v1/pools/%s/files%s" % (base, pool, rest)


def upload_id(path):
    return path.rstrip("/").rsplit("/", 1)[1]


# ---------------------------------------------------------------- the cluster itself

def test_cluster_env_and_both_configs(cluster):
    for k in ("BALANCER_URL", "NODE1_URL", "NODE2_URL", "STORE_URL", "STORE_USER",
              "STORE_PASSWORD", "CONF1", "CONF2"):
        assert cluster.e.get(k), k
    assert len(set(cluster.all_ports())) == 4
    assert cluster.e["CLUSTER_STORE"] in ("dav", "dir")
    conf1, conf2 = (open(cluster.conf[n]).read() for n in NODES)
    storage = [re.search(r"^\s*PoolStorage\s+(\S+)", c, re.M).group(1) for c in (conf1, conf2)]
    assert storage[0] == storage[1]
    if cluster.e["CLUSTER_STORE"] == "dav":
        assert storage[0] == cluster.e["STORE_URL"]
        assert "PoolStorageCredentials" in conf1 and "PoolStorageCredentials" in conf2
    # the same issuer on both nodes: the balancer
    for c in (conf1, conf2):
        assert re.search(r"^\s*PoolPublicURL\s+%s\s*$" % re.escape(cluster.balancer), c, re.M)
    # poolctl works with either node's configuration: one database
    pool = unique("cl")
    cluster.poolctl("pool", "create", pool, node=1)
    assert pool in cluster.poolctl("pool", "list", node=2)
    # HAProxy's health checks see both nodes up
    assert cluster.balancer_status() == {"node1": "UP", "node2": "UP"}


def test_balancer_spreads_requests_and_forwards_the_client(cluster):
    """Round-robin over both nodes; the nodes log the client's address from
    X-Forwarded-For (option forwardfor, mod_remoteip)."""
    ids = []
    for _ in range(6):
        r = requests.options(uploads_url(cluster.balancer, "any"), timeout=HTTP_TIMEOUT,
                             headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 204
        ids.append(r.headers["X-Request-Id"])

    def served():
        out = {}
        for n in NODES:
            with open(os.path.join(cluster.dir, "node%d" % n, "log", "access_log")) as f:
                for line in f:
                    rid = line.split()[-1]
                    if rid in ids:
                        out[rid] = (n, line)
        return out if len(out) == len(ids) else None
    got = wait_for(served, 10, "every request in a node's access log")
    assert {n for n, _ in got.values()} == set(NODES), got
    assert all(line.startswith("203.0.113.7 ") for _, line in got.values()), got


def test_store_server_speaks_what_the_webdav_store_needs(cluster):
    base = cluster.e["STORE_URL"]
    auth = (cluster.e["STORE_USER"], cluster.e["STORE_PASSWORD"])
    s = requests.Session()
    s.auth = auth
    cluster.allowed.append(re.compile(r"\[auth_basic:error\].*user %s: authentication failure"
                                      r".*Password Mismatch" % re.escape(auth[0])))
    assert requests.request("PROPFIND", base, headers={"Depth": "1"},
                            timeout=HTTP_TIMEOUT).status_code == 401
    assert requests.get(base, auth=(auth[0], "wrong"), timeout=HTTP_TIMEOUT).status_code == 401
    r = s.options(base, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and "1" in r.headers.get("DAV", ""), r.headers
    col = base + "t-%s/" % uuid.uuid4().hex
    assert s.request("MKCOL", col, timeout=HTTP_TIMEOUT).status_code == 201
    a, b = os.urandom(300000), os.urandom(1000)
    assert s.put(col + "a.tmp", data=a, timeout=HTTP_TIMEOUT).status_code == 201
    # chunked, as a stream of unknown length
    assert s.put(col + "b", data=iter([b[:10], b[10:]]), timeout=HTTP_TIMEOUT).status_code == 201
    r = s.get(col + "a.tmp", headers={"Range": "bytes=1000-1999"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 206 and r.content == a[1000:2000]
    # MOVE onto an existing name, with Overwrite: T
    r = s.request("MOVE", col + "a.tmp", headers={"Destination": col + "b", "Overwrite": "T"},
                  timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, r.status_code
    assert s.get(col + "b", timeout=HTTP_TIMEOUT).content == a
    assert s.get(col + "a.tmp", timeout=HTTP_TIMEOUT).status_code == 404
    r = s.request("MOVE", col + "b", headers={"Destination": col + "c", "Overwrite": "F"},
                  timeout=HTTP_TIMEOUT)
    assert r.status_code == 201
    r = s.request("PROPFIND", col, headers={"Depth": "1"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 207
    hrefs = re.findall(r"<D:href>([^<]*)</D:href>", r.text)
    assert sorted(hrefs) == sorted([path_of(col), path_of(col) + "c"]), hrefs
    assert s.delete(col + "c", timeout=HTTP_TIMEOUT).status_code == 204
    assert s.get(col + "c", timeout=HTTP_TIMEOUT).status_code == 404
    assert s.delete(col, timeout=HTTP_TIMEOUT).status_code == 204


# ---------------------------------------------------------------- any request on any node

def test_upload_through_balancer_download_from_each_node(cluster):
    pool, s = cluster.pool_with_uploader()
    data = os.urandom(3 * 1024 * 1024 + 11)
    r = s.put(files_url(cluster.balancer, pool, "/across.bin"), data=data,
              params={"ts": "2026-11-21T10:15:00Z"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, (r.status_code, r.text)
    fid = r.json()["id"]
    assert r.json()["sha256"] == sha(data)
    for n in NODES:
        d = s.get(files_url(cluster.nodes[n], pool, "/" + fid), timeout=HTTP_TIMEOUT)
        assert d.status_code == 200, (n, d.status_code)
        assert len(d.content) == len(data) and sha(d.content) == sha(data), n
        d = s.get(files_url(cluster.nodes[n], pool, "/" + fid),
                  headers={"Range": "bytes=100-199"}, timeout=HTTP_TIMEOUT)
        assert d.status_code == 206 and d.content == data[100:200], n
        listed = s.get(files_url(cluster.nodes[n], pool), timeout=HTTP_TIMEOUT).json()["files"]
        assert [(f["id"], f["sha256"]) for f in listed] == [(fid, sha(data))]


def test_webdav_view_is_the_same_on_every_node(cluster):
    """A PUT through node 1's view shows on node 2's; a lock taken through
    node 2 holds on node 1 (locks are in the database)."""
    pool = unique("cl")
    cluster.poolctl("pool", "create", pool)
    cid, secret = cluster.client(pool)
    auth = (cid, secret)
    dav = {n: "%s/dav/%s/" % (cluster.nodes[n], pool) for n in NODES}
    r = requests.request("MKCOL", dav[1] + "shared", auth=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.status_code
    data = os.urandom(200000)
    r = requests.put(dav[1] + "shared/x.bin", data=data, auth=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.status_code
    r = requests.get(dav[2] + "shared/x.bin", auth=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and sha(r.content) == sha(data)
    r = requests.request("PROPFIND", dav[2] + "shared/", headers={"Depth": "1"},
                         auth=auth, timeout=HTTP_TIMEOUT)
    assert r.status_code == 207 and "x.bin" in r.text
    lock = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            '<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
            '</D:lockinfo>')
    r = requests.request("LOCK", dav[2] + "shared/x.bin", data=lock, auth=auth,
                         headers={"Timeout": "Second-600"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, (r.status_code, r.text)
    token = r.headers["Lock-Token"]
    r = requests.put(dav[1] + "shared/x.bin", data=b"without the token", auth=auth,
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 423, r.status_code
    r = requests.put(dav[1] + "shared/x.bin", data=b"with the token", auth=auth,
                     headers={"If": "(%s)" % token}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, r.status_code
    r = requests.request("UNLOCK", dav[1] + "shared/x.bin", auth=auth,
                         headers={"Lock-Token": token}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, r.status_code
    r = requests.get(dav[2] + "shared/x.bin", auth=auth, timeout=HTTP_TIMEOUT)
    assert r.content == b"with the token"


def test_tus_upload_moves_between_nodes(cluster):
    pool, s = cluster.pool_with_uploader()
    data = os.urandom(700000)
    n1, n2 = cluster.nodes[1], cluster.nodes[2]
    path = tus_create(s, n1, pool, len(data))
    r = tus_patch(s, n2, path, 0, data[:250000])
    assert r.status_code == 204, (r.status_code, r.text)
    assert tus_offset(s, n1, path) == 250000
    r = tus_patch(s, n1, path, 250000, data[250000:500000])
    assert r.status_code == 204, (r.status_code, r.text)
    assert "Pool-File-Id" not in r.headers
    assert tus_offset(s, n2, path) == 500000
    r = tus_patch(s, n2, path, 500000, data[500000:])
    assert r.status_code == 204, (r.status_code, r.text)
    fid = r.headers["Pool-File-Id"]
    for base in (n1, cluster.balancer):
        h = s.head(base + path, headers=TUS, timeout=HTTP_TIMEOUT)
        assert h.headers["Upload-Offset"] == str(len(data))
        assert h.headers["Pool-File-Id"] == fid
    d = s.get(files_url(cluster.balancer, pool, "/" + fid), timeout=HTTP_TIMEOUT)
    assert d.status_code == 200 and sha(d.content) == sha(data)
    listed = s.get(files_url(n1, pool), timeout=HTTP_TIMEOUT).json()["files"]
    assert [(f["id"], f["size"], f["sha256"]) for f in listed] == [(fid, len(data), sha(data))]


def test_patches_on_both_nodes_at_once_one_wins(cluster):
    pool, s = cluster.pool_with_uploader()
    data = os.urandom(4 * 1024 * 1024)
    path = tus_create(s, cluster.nodes[1], pool, len(data))
    token = s.headers["Authorization"]
    start = threading.Barrier(2)
    results = {}

    def send(n):
        own = requests.Session()
        own.headers["Authorization"] = token
        start.wait()
        r = tus_patch(own, cluster.nodes[n], path, 0, data)
        results[n] = (r.status_code, r.headers.get("Pool-File-Id"))

    threads = [threading.Thread(target=send, args=(n,)) for n in NODES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in results.values())
    assert codes[0] == 204 and codes[1] in (409, 423), results
    fid = [f for code, f in results.values() if code == 204][0]
    assert tus_offset(s, cluster.nodes[2], path) == len(data)
    d = s.get(files_url(cluster.balancer, pool, "/" + fid), timeout=HTTP_TIMEOUT)
    assert d.status_code == 200 and sha(d.content) == sha(data)
    listed = s.get(files_url(cluster.balancer, pool), timeout=HTTP_TIMEOUT).json()["files"]
    assert [(f["id"], f["sha256"]) for f in listed] == [(fid, sha(data))]


# ---------------------------------------------------------------- jobs on both nodes

def test_job_loops_of_both_nodes_trigger_and_publish_once(cluster):
    """The `poolctl run` loops of both nodes (two hosts) work the same
    groups at once: each group is triggered once, each result published once."""
    n = 300
    rcv = Receiver()
    try:
        pool = unique("cl")
        cluster.poolctl("pool", "create", pool)
        proc_path, hook_path = rcv.path(), rcv.path()
        cid, secret = cluster.client(pool)
        s = cluster.session(cluster.token(cid, secret))
        r = s.put("%s/pool/v1/pools/%s/clients/me/callback" % (cluster.balancer, pool),
                  json={"url": rcv.url(hook_path)}, timeout=HTTP_TIMEOUT)
        assert r.status_code in (200, 201), r.text
        # n files of n past windows, received in time (rows only), then the
        # window is set: the loops' next group step takes them all (the
        # group step only looks at files received since its last run once
        # a pool has a window, and these rows say they came hours ago)
        seed_groups(cluster, pool, cid, n)
        out = cluster.poolctl("pool", "set", pool, "window=1m",
                              "processor_url=" + rcv.url(proc_path))
        assert "whsec_" in out

        # the loops group, close and trigger them: n group.ready webhooks
        wait_for(lambda: len(rcv.received(proc_path)) >= n, 180, "%d group.ready webhooks" % n)
        ready = [json.loads(x["body"]) for x in rcv.received(proc_path)]
        assert all(ev["type"] == "group.ready" for ev in ready)
        by_group = {ev["data"]["id"]: ev["data"] for ev in ready}
        assert len(by_group) == n
        q = ("SELECT count(*), count(DISTINCT (payload->'data'->>'id'))"
             " FROM deliveries d JOIN pools p ON p.id = d.pool_id"
             " WHERE p.name = '%s' AND d.event = 'group.ready'" % pool)
        assert cluster.psql(q).strip() == "%d|%d" % (n, n)
        assert cluster.psql("SELECT count(*) FROM groups g JOIN pools p ON"
                            " p.id = g.pool_id WHERE p.name = '%s' AND"
                            " g.attempts = 1" % pool).strip() == str(n)

        # the processor returns every result (signed links, via the balancer)
        local = threading.local()

        def put_result(item):
            gid, m = item
            if not hasattr(local, "s"):
                local.s = requests.Session()
            r = local.s.put(m["result_url"], data=gid.encode(), timeout=HTTP_TIMEOUT)
            return r.status_code, r.text
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            answers = list(ex.map(put_result, by_group.items()))
        assert [a for a in answers if a[0] != 201] == []

        # the loops publish them: n result.published webhooks, seq 1..n
        wait_for(lambda: len(rcv.received(hook_path)) >= n, 180,
                 "%d result.published webhooks" % n)
        seqs = cluster.psql("SELECT r.seq FROM results r JOIN pools p ON"
                            " p.id = r.pool_id WHERE p.name = '%s' ORDER BY 1" % pool).split()
        assert [int(x) for x in seqs] == list(range(1, n + 1))
        assert cluster.psql(
            "SELECT count(*), count(DISTINCT payload->'data'->>'seq')"
            " FROM deliveries d JOIN pools p ON p.id = d.pool_id"
            " WHERE p.name = '%s' AND d.event = 'result.published'" % pool
        ).strip() == "%d|%d" % (n, n)
        published = [json.loads(x["body"]) for x in rcv.received(hook_path)]
        assert sorted(ev["data"]["seq"] for ev in published) == list(range(1, n + 1))
        # each webhook sent once (no delivery sent by both loops)
        for p in (proc_path, hook_path):
            ids = [x["id"] for x in rcv.received(p)]
            assert len(ids) == n and len(set(ids)) == n, (p, len(ids), len(set(ids)))
        assert cluster.psql("SELECT count(*) FROM groups g JOIN pools p ON"
                            " p.id = g.pool_id WHERE p.name = '%s' AND"
                            " g.state = 'done'" % pool).strip() == str(n)
    finally:
        rcv.close()
        cluster.psql("UPDATE deliveries SET state = 'failed' WHERE state = 'pending'")


# ---------------------------------------------------------------- a node dies

def test_node_killed_mid_patch_upload_resumes_on_the_other(cluster):
    """kill -9 of node 1 while it receives a PATCH: once the dead writer's
    lease expires (60 s, LEASE_SECONDS in mod_pool/pool_tus.c: the test
    waits for it), node 2 takes the upload over at the offset HEAD reports;
    no byte is lost or doubled.  Node 1 is started again meanwhile."""
    pool, s = cluster.pool_with_uploader()
    data = os.urandom(1536 * 1024)
    first = 256 * 1024
    n1, n2 = cluster.nodes[1], cluster.nodes[2]
    path = tus_create(s, n1, pool, len(data))
    uid = upload_id(path)
    assert tus_patch(s, n1, path, 0, data[:first]).status_code == 204

    # a PATCH on node 1 that sends part of its body, then stalls
    release = threading.Event()
    sent = []
    outcome = {}

    def body():
        for i in range(first, first + 4 * 65536, 65536):
            sent.append(i)
            yield data[i:i + 65536]
        release.wait(60)

    def slow():
        own = requests.Session()
        own.headers["Authorization"] = s.headers["Authorization"]
        try:
            r = tus_patch(own, n1, path, first, body())
            outcome["status"] = r.status_code
        except requests.RequestException as e:
            outcome["error"] = e

    t = threading.Thread(target=slow)
    t.start()
    try:
        # node 1 holds the upload's lease and is receiving the body
        wait_for(lambda: cluster.psql(
            "SELECT lock_token IS NOT NULL AND locked_until > now() FROM uploads"
            " WHERE id = '%s'" % uid).strip() == "t", 30, "node 1 holding the lease")
        wait_for(lambda: len(sent) == 4, 30, "the client sending")
        if cluster.e["CLUSTER_STORE"] == "dir":
            # ... and has written some of it (the store's upload data)
            data_file = os.path.join(cluster.dir, "storage", ".uploads", uid)
            wait_for(lambda: os.path.getsize(data_file) > first, 30,
                     "node 1 writing the PATCH's bytes")
        cluster.kill_node(1)
    finally:
        release.set()
        t.join(120)
    assert "status" not in outcome, outcome      # the connection broke

    # the balancer's health check sees node 1 down; requests go to node 2
    wait_for(lambda: cluster.balancer_status().get("node1") == "DOWN", 30, "node1 DOWN")
    # what node 1 received of the broken PATCH was never recorded
    off = tus_offset(s, n2, path)
    assert off == first
    # the dead writer's lease still holds ...
    r = tus_patch(s, n2, path, off, data[off:])
    assert r.status_code == 423, (r.status_code, r.text)
    # (node 1 again, back in the balancer: a new process knows nothing of
    # the dead one's lease)
    cluster.start_node(1)
    wait_for(lambda: cluster.balancer_status().get("node1") == "UP", 30, "node1 UP again")
    assert tus_offset(s, n1, path) == first
    # ... until it expires
    wait_for(lambda: cluster.psql(
        "SELECT locked_until IS NULL OR locked_until <= now() FROM uploads"
        " WHERE id = '%s'" % uid).strip() == "t", 120, "the lease of node 1 expiring")
    off = tus_offset(s, cluster.balancer, path)
    assert off == first
    r = tus_patch(s, n2, path, off, data[off:])
    assert r.status_code == 204, (r.status_code, r.text)
    fid = r.headers["Pool-File-Id"]
    d = s.get(files_url(cluster.balancer, pool, "/" + fid), timeout=HTTP_TIMEOUT)
    assert d.status_code == 200
    assert len(d.content) == len(data) and sha(d.content) == sha(data)
    listed = s.get(files_url(cluster.balancer, pool), timeout=HTTP_TIMEOUT).json()["files"]
    assert [(f["id"], f["size"], f["sha256"]) for f in listed] == [(fid, len(data), sha(data))]

    d = s.get(files_url(n1, pool, "/" + fid), timeout=HTTP_TIMEOUT)
    assert d.status_code == 200 and sha(d.content) == sha(data)


def store_get(cluster, rel):
    auth = (cluster.e["STORE_USER"], cluster.e["STORE_PASSWORD"])
    return requests.get(cluster.e["STORE_URL"] + rel, auth=auth,
                        timeout=HTTP_TIMEOUT)


def test_bytes_are_on_the_store_server(cluster):
    """What a node acknowledged is on the store server itself: the object
    under its id, with the size and bytes sent (looked at with GET and
    PROPFIND, as an operator would)."""
    pool, s = cluster.pool_with_uploader()
    data = os.urandom(1024 * 1024 + 5)
    r = s.put(files_url(cluster.balancer, pool, "/stored.bin"), data=data,
              timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    rel = "objects/%s/%s/%s" % (pool, fid[:2], fid)
    g = store_get(cluster, rel)
    assert g.status_code == 200 and sha(g.content) == sha(data)
    auth = (cluster.e["STORE_USER"], cluster.e["STORE_PASSWORD"])
    p = requests.request("PROPFIND", cluster.e["STORE_URL"] + rel.rsplit("/", 1)[0] + "/",
                         auth=auth, headers={"Depth": "1"}, timeout=HTTP_TIMEOUT)
    assert p.status_code == 207
    assert fid in p.text and ">%d<" % len(data) in p.text
    # nothing is left in staging once it is acknowledged
    p = requests.request("PROPFIND", cluster.e["STORE_URL"] + "staging/",
                         auth=auth, headers={"Depth": "1"}, timeout=HTTP_TIMEOUT)
    assert p.status_code == 207 and "staging/" in p.text


def test_store_down_then_back(cluster):
    """The store server stops in the middle of the traffic: uploads and
    downloads get 503 problem+json with Retry-After and nothing is stored
    half; when the store is back the nodes work again by themselves."""
    cluster.allowed.append(re.compile(r"WebDAV store|store is unavailable|"
                                      r"cannot (stage|read|write|open)"))
    pool, s = cluster.pool_with_uploader()
    before = os.urandom(200 * 1024)
    r = s.put(files_url(cluster.balancer, pool, "/before.bin"), data=before,
              timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    kept = r.json()["id"]

    started = threading.Event()

    def slow_body():
        for i in range(200):
            if i == 5:
                started.set()
            yield b"s" * 65536
            time.sleep(0.02)

    answers = []

    def slow_put():
        try:
            answers.append(s.put(files_url(cluster.nodes[1], pool, "/slow.bin"),
                                 data=slow_body(), timeout=HTTP_TIMEOUT).status_code)
        except requests.RequestException as e:
            answers.append(e)       # the server may cut the body short

    t = threading.Thread(target=slow_put)
    t.start()
    assert started.wait(30)
    cluster.sh("store_stop")
    try:
        t.join(120)
        assert answers and answers[0] != 201, answers
        for n in NODES:
            r = s.put(files_url(cluster.nodes[n], pool, "/during.bin"),
                      data=b"while the store is down", timeout=HTTP_TIMEOUT)
            j = assert_problem(r, 503)
            assert int(r.headers["Retry-After"]) > 0
            assert "store" in j["detail"]
            r = s.get(files_url(cluster.nodes[n], pool, "/" + kept),
                      timeout=HTTP_TIMEOUT)
            assert_problem(r, 503)
            assert int(r.headers["Retry-After"]) > 0
        listed = s.get(files_url(cluster.balancer, pool), timeout=HTTP_TIMEOUT).json()
        assert [f["id"] for f in listed["files"]] == [kept]
    finally:
        cluster.sh("store_start")
    # back by itself: no node restarted
    for n in NODES:
        r = s.put(files_url(cluster.nodes[n], pool, "/after%d.bin" % n),
                  data=b"after %d" % n, timeout=HTTP_TIMEOUT)
        assert r.status_code == 201, (n, r.status_code, r.text)
        d = s.get(files_url(cluster.nodes[n], pool, "/" + kept), timeout=HTTP_TIMEOUT)
        assert d.status_code == 200 and d.content == before
    listed = s.get(files_url(cluster.balancer, pool), timeout=HTTP_TIMEOUT).json()
    assert len(listed["files"]) == 3
