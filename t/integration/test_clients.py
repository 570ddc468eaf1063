"""Clients at scale (issue 13): the admin API for a pool's clients, labels,
secret rotation with a grace period, enrollment keys with which
applications register themselves, and `poolctl client import`."""

import json
import os
import stat
import threading
import time

import requests

from conftest import HTTP_TIMEOUT, assert_problem, unique


def clients_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/clients%s" % (pool, rest))


def keys_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/enrollment-keys%s" % (pool, rest))


def admin_session(stack, pool):
    cid, secret = stack.admin(pool)
    return stack.session(token=stack.token(cid, secret))


def enroll_key(stack, pool, *args):
    p = stack.poolctl_ok("enroll", "create", pool, *args, "--json")
    return json.loads(p.stdout)


def enroll(stack, pool, key, name, labels=None, in_body=False, **kw):
    body = {"name": name}
    if labels is not None:
        body["labels"] = labels
    headers = {}
    if in_body:
        body["enrollment_key"] = key
    elif key is not None:
        headers["Authorization"] = "Bearer " + key
    return requests.post(clients_url(stack, pool), json=body, headers=headers,
                         timeout=HTTP_TIMEOUT, **kw)


def client_rows(stack, pool):
    return int(stack.psql("SELECT count(*) FROM clients c JOIN pools p ON p.id = c.pool_id"
                          " WHERE p.name = '%s'" % pool).strip())


# ------------------------------------------------------------ the admin API

def test_admin_creates_lists_and_changes_clients(stack, pool):
    s = admin_session(stack, pool)
    r = s.post(clients_url(stack, pool), json={"name": "north-1", "role": "uploader",
                                                "labels": {"site": "north", "tier": "a"}})
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["name"] == "north-1" and j["role"] == "uploader" and j["secret"]
    assert j["labels"] == {"site": "north", "tier": "a"}
    assert r.headers["Location"].endswith("/clients/" + j["client_id"])
    assert "no-store" in r.headers["Cache-Control"]
    # the secret works, once shown it is never shown again
    assert stack.token_response(j["client_id"], j["secret"]).status_code == 200
    got = s.get(clients_url(stack, pool, "/" + j["client_id"])).json()
    assert "secret" not in got and got["labels"] == {"site": "north", "tier": "a"}
    s.post(clients_url(stack, pool), json={"name": "south-1", "role": "listener",
                                           "labels": {"site": "south"}})
    s.post(clients_url(stack, pool), json={"name": "north-2", "role": "listener",
                                           "labels": {"site": "north"}})
    names = lambda r: [c["name"] for c in r.json()["clients"]]
    r = s.get(clients_url(stack, pool), params={"label": "site=north"})
    assert names(r) == ["north-1", "north-2"]
    r = s.get(clients_url(stack, pool), params={"label": "site=north,tier=a"})
    assert names(r) == ["north-1"]
    r = s.get(clients_url(stack, pool), params={"role": "listener"})
    assert names(r) == ["north-2", "south-1"]
    # paging by name
    r = s.get(clients_url(stack, pool), params={"limit": 2})
    page1 = r.json()
    assert len(page1["clients"]) == 2 and page1["next"]
    r = s.get(clients_url(stack, pool), params={"limit": 2, "after": page1["next"]})
    rest = [c["name"] for c in r.json()["clients"]]
    everyone = [c["name"] for c in s.get(clients_url(stack, pool)).json()["clients"]]
    assert [c["name"] for c in page1["clients"]] + rest[:len(everyone) - 2] == everyone
    # PATCH: labels merge (null removes), disable and enable
    r = s.patch(clients_url(stack, pool, "/" + j["client_id"]),
                json={"labels": {"tier": None, "zone": "z1"}})
    assert r.status_code == 200, r.text
    assert r.json()["labels"] == {"site": "north", "zone": "z1"}
    r = s.patch(clients_url(stack, pool, "/" + j["client_id"]), json={"disabled": True})
    assert r.json()["disabled"] is True
    assert stack.token_response(j["client_id"], j["secret"]).status_code == 401
    r = s.patch(clients_url(stack, pool, "/" + j["client_id"]), json={"disabled": False})
    assert r.json()["disabled"] is False
    assert stack.token_response(j["client_id"], j["secret"]).status_code == 200


def test_admin_api_bad_input(stack, pool):
    s = admin_session(stack, pool)
    url = clients_url(stack, pool)
    before = client_rows(stack, pool)
    assert_problem(s.post(url, data="{}", headers={"Content-Type": "text/plain"}), 415)
    j = assert_problem(s.post(url, data="{\"name\": ", headers={"Content-Type": "application/json"}), 400)
    assert "column" in j["detail"]
    assert_problem(s.post(url, json=["x"]), 400)
    assert_problem(s.post(url, json={"name": "x", "role": "uploader", "colour": 1}), 422, "colour")
    assert_problem(s.post(url, json={"role": "uploader"}), 422, "name")
    assert_problem(s.post(url, json={"name": "Bad Name", "role": "uploader"}), 422, "name")
    assert_problem(s.post(url, json={"name": "x", "role": "root"}), 422, "role")
    for labels in ({"Site": "x"}, {"s": 1}, {"s": "a\nb"}, {"s": "x" * 257}, ["a"],
                   {("k%d" % i): "v" for i in range(33)}):
        assert_problem(s.post(url, json={"name": "x", "role": "uploader", "labels": labels}),
                       422, "labels")
    assert_problem(s.post(url, data="x" * 20000, headers={"Content-Type": "application/json"}), 413)
    assert client_rows(stack, pool) == before
    s.post(url, json={"name": "taken", "role": "uploader"})
    j = assert_problem(s.post(url, json={"name": "taken", "role": "admin"}), 409, "name")
    assert "taken" in j["detail"]
    for q in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"role": "root"},
              {"label": "nokey"}, {"label": "K=v"}, {"after": "Bad Cursor"}):
        assert_problem(s.get(url, params=q), 422)
    assert_problem(s.get(url + "?limit=1&limit=2"), 400)
    cid = s.get(url).json()["clients"][0]["client_id"]
    assert_problem(s.patch(clients_url(stack, pool, "/" + cid), json={"disabled": "yes"}), 422, "disabled")
    assert_problem(s.patch(clients_url(stack, pool, "/" + cid), json={"labels": {"a": 1}}), 422, "labels")
    assert_problem(s.put(clients_url(stack, pool, "/" + cid), json={}), 405)
    assert_problem(s.get(clients_url(stack, pool, "/cl_" + "0" * 24)), 404)


def test_only_admins_manage_clients_and_pools_stay_apart(stack, pool, client_of):
    up = client_of(pool, "uploader")
    assert_problem(up.s.get(clients_url(stack, pool)), 403)
    assert_problem(up.s.post(clients_url(stack, pool), json={"name": "x", "role": "admin"}), 403)
    assert_problem(up.s.patch(clients_url(stack, pool, "/" + up.client_id),
                              json={"disabled": False}), 403)
    assert_problem(up.s.get(keys_url(stack, pool)), 403)
    # but every client reads itself
    me = up.s.get(clients_url(stack, pool, "/me")).json()
    assert me["client_id"] == up.client_id and "secret" not in me
    other = stack.create_pool(unique("other"))
    stranger = client_of(other, "uploader")
    s = admin_session(stack, pool)
    # another pool's client is not found through this pool
    assert_problem(s.get(clients_url(stack, pool, "/" + stranger.client_id)), 404)
    assert_problem(s.patch(clients_url(stack, pool, "/" + stranger.client_id),
                           json={"disabled": True}), 404)
    assert stranger.s.get(clients_url(stack, other, "/me")).json()["disabled"] is False
    # and another pool is not there at all
    assert_problem(s.get(clients_url(stack, other)), 404)
    assert_problem(s.post(keys_url(stack, other), json={"role": "uploader"}), 404)


# --------------------------------------------------------- secret rotation

def test_rotated_secret_keeps_the_old_one_for_the_grace_period(stack, pool):
    cid, old = stack.make_client(pool, "uploader")
    s = stack.session(basic=(cid, old))
    r = s.post(clients_url(stack, pool, "/me/secret"), json={"grace_seconds": 3600})
    assert r.status_code == 200, r.text
    j = r.json()
    new = j["secret"]
    assert new != old and j["client_id"] == cid and j["previous_secret_valid_until"]
    assert "no-store" in r.headers["Cache-Control"]
    assert stack.token_response(cid, new).status_code == 200
    assert stack.token_response(cid, old).status_code == 200
    assert requests.get(stack.files_url(pool), auth=(cid, old), timeout=HTTP_TIMEOUT).status_code == 200
    # a second rotation drops the first secret at once, without grace
    r = stack.session(basic=(cid, new)).post(clients_url(stack, pool, "/me/secret"),
                                             json={"grace_seconds": 0})
    newer = r.json()["secret"]
    assert r.json()["previous_secret_valid_until"] is None
    assert stack.token_response(cid, newer).status_code == 200
    assert stack.token_response(cid, new).status_code == 401
    assert stack.token_response(cid, old).status_code == 401


def test_grace_period_ends(stack, pool):
    cid, old = stack.make_client(pool, "listener")
    tok = stack.token(cid, old)
    r = stack.session(token=tok).post(clients_url(stack, pool, "/me/secret"),
                                      json={"grace_seconds": 1})
    new = r.json()["secret"]
    until = r.json()["previous_secret_valid_until"]
    assert until
    # wait for the state: the database says the grace period is over
    deadline = time.time() + 30
    while stack.psql("SELECT prev_secret_until > now() FROM clients WHERE client_id = '%s'"
                     % cid).strip() == "t":
        assert time.time() < deadline
        time.sleep(0.2)
    assert stack.token_response(cid, old).status_code == 401
    assert stack.token_response(cid, new).status_code == 200


def test_rotation_bad_input(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    s = stack.session(basic=(cid, secret))
    url = clients_url(stack, pool, "/me/secret")
    for body in ({"grace_seconds": -1}, {"grace_seconds": 604801}, {"grace_seconds": "1h"},
                 {"grace": 5}):
        assert_problem(s.post(url, json=body), 422)
    assert_problem(s.get(url), 405)
    # nothing changed
    assert stack.token_response(cid, secret).status_code == 200
    # no body: the default grace of a day
    r = s.post(url)
    assert r.status_code == 200, r.text
    assert stack.token_response(cid, secret).status_code == 200


# ---------------------------------------------------------------- enrollment

def test_application_enrolls_with_a_key(stack, pool):
    k = enroll_key(stack, pool, "--role", "uploader", "--uses", "5", "--label", "fleet=a")
    assert k["key"].startswith(k["key_id"] + "_") and k["state"] == "active"
    r = enroll(stack, pool, k["key"], "device-1", labels={"serial": "s1"})
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["role"] == "uploader" and j["name"] == "device-1"
    assert j["labels"] == {"fleet": "a", "serial": "s1"}
    assert "no-store" in r.headers["Cache-Control"]
    tok = stack.token(j["client_id"], j["secret"])
    up = stack.upload(stack.session(token=tok), pool, "a.bin", b"x" * 10)
    assert up.status_code == 201, up.text
    # the key in the body works the same way; the application's labels win
    r = enroll(stack, pool, k["key"], "device-2", labels={"fleet": "b"}, in_body=True)
    assert r.status_code == 201, r.text
    assert r.json()["labels"] == {"fleet": "b"}
    shown = json.loads(stack.poolctl_ok("enroll", "show", pool, k["key_id"], "--json").stdout)
    assert shown["uses"] == 2 and "key" not in shown


def test_enrollment_refusals(stack, pool):
    k = enroll_key(stack, pool, "--role", "listener", "--uses", "1")
    before = client_rows(stack, pool)
    # no key, a wrong key, a key of another pool, both ways at once
    assert_problem(enroll(stack, pool, None, "d1"), 401)
    assert_problem(enroll(stack, pool, k["key"][:-2] + "xx", "d1"), 401)
    assert_problem(enroll(stack, pool, "ek_0000000000000000_" + "A" * 43, "d1"), 401)
    assert_problem(enroll(stack, pool, "ek_short", "d1"), 401)
    other = stack.create_pool(unique("other"))
    assert_problem(enroll(stack, other, k["key"], "d1"), 401)
    r = requests.post(clients_url(stack, pool), json={"name": "d1", "enrollment_key": k["key"]},
                      headers={"Authorization": "Bearer " + k["key"]}, timeout=HTTP_TIMEOUT)
    assert_problem(r, 400)
    assert_problem(enroll(stack, pool, k["key"], "Bad Name"), 422, "name")
    assert_problem(enroll(stack, pool, k["key"], "d1", labels={"X": "y"}), 422, "labels")
    r = requests.post(clients_url(stack, pool), json={"name": "d1", "role": "admin"},
                      headers={"Authorization": "Bearer " + k["key"]}, timeout=HTTP_TIMEOUT)
    assert_problem(r, 422, "role")
    assert client_rows(stack, pool) == before
    # a name taken: 409 and the use is not counted
    stack.make_client(pool, "uploader", name="taken")
    assert_problem(enroll(stack, pool, k["key"], "taken"), 409, "name")
    assert enroll(stack, pool, k["key"], "d1").status_code == 201
    # used up
    j = assert_problem(enroll(stack, pool, k["key"], "d2"), 403)
    assert "used up" in j["detail"]
    # revoked
    k2 = enroll_key(stack, pool, "--role", "uploader")
    stack.poolctl_ok("enroll", "revoke", pool, k2["key_id"])
    assert "revoked" in assert_problem(enroll(stack, pool, k2["key"], "d3"), 403)["detail"]
    # expired: wait for the state the database reports
    k3 = enroll_key(stack, pool, "--role", "uploader", "--expires", "1s")
    deadline = time.time() + 30
    while json.loads(stack.poolctl_ok("enroll", "show", pool, k3["key_id"], "--json").stdout)["state"] != "expired":
        assert time.time() < deadline
        time.sleep(0.2)
    assert "expired" in assert_problem(enroll(stack, pool, k3["key"], "d4"), 403)["detail"]


def test_concurrent_enrollments_respect_uses(stack, pool):
    k = enroll_key(stack, pool, "--role", "uploader", "--uses", "3")
    results = [None] * 12

    def go(i):
        results[i] = enroll(stack, pool, k["key"], "c%d" % i).status_code

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count(201) == 3, results
    assert set(results) == {201, 403}, results
    shown = json.loads(stack.poolctl_ok("enroll", "show", pool, k["key_id"], "--json").stdout)
    assert shown["uses"] == 3 and shown["state"] == "used"


def test_admin_api_for_enrollment_keys(stack, pool, client_of):
    s = admin_session(stack, pool)
    r = s.post(keys_url(stack, pool), json={"role": "processor", "uses": 2, "expires_in": 3600,
                                            "labels": {"team": "x"}})
    assert r.status_code == 201, r.text
    k = r.json()
    assert k["key"] and k["role"] == "processor" and k["uses_max"] == 2
    assert k["created_by"] == stack.admin(pool)[0]
    listed = s.get(keys_url(stack, pool)).json()["keys"]
    assert [x["key_id"] for x in listed] == [k["key_id"]] and "key" not in listed[0]
    assert s.get(keys_url(stack, pool, "/" + k["key_id"])).json()["state"] == "active"
    r = s.delete(keys_url(stack, pool, "/" + k["key_id"]))
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert_problem(enroll(stack, pool, k["key"], "p1"), 403)
    for body in ({"role": "admin"}, {}, {"role": "uploader", "uses": 0},
                 {"role": "uploader", "expires_in": 7776001}, {"role": "uploader", "x": 1},
                 {"role": "uploader", "labels": {"A": "b"}}):
        assert_problem(s.post(keys_url(stack, pool), json=body), 422)
    assert_problem(s.get(keys_url(stack, pool, "/ek_0000000000000000")), 404)
    other = stack.create_pool(unique("other"))
    theirs = enroll_key(stack, other, "--role", "uploader")
    assert_problem(s.get(keys_url(stack, pool, "/" + theirs["key_id"])), 404)
    assert_problem(s.delete(keys_url(stack, pool, "/" + theirs["key_id"])), 404)
    assert json.loads(stack.poolctl_ok("enroll", "show", other, theirs["key_id"],
                                       "--json").stdout)["state"] == "active"


# ------------------------------------------------------------------ poolctl

def test_poolctl_labels_rotation_enable(stack, pool):
    p = stack.poolctl_ok("client", "add", pool, "lab", "--role", "uploader",
                         "--label", "site=n", "--label", "rack=7", "--json")
    j = json.loads(p.stdout)
    assert j["labels"] == {"site": "n", "rack": "7"}
    cid = j["client_id"]
    out = stack.poolctl_ok("client", "list", pool, "--label", "site=n").stdout
    assert cid in out and "rack=7" in out and "LABELS" in out
    assert stack.poolctl_ok("client", "list", pool, "--label", "site=s").stdout.strip() == ""
    p = stack.poolctl_ok("client", "label", cid, "rack=", "zone=z", "--json")
    assert json.loads(p.stdout)["labels"] == {"site": "n", "zone": "z"}
    p = stack.poolctl_ok("client", "secret", cid, "--grace", "1h", "--json")
    r = json.loads(p.stdout)
    assert stack.token_response(cid, r["secret"]).status_code == 200
    assert stack.token_response(cid, j["secret"]).status_code == 200
    stack.poolctl_ok("client", "disable", cid)
    assert stack.token_response(cid, r["secret"]).status_code == 401
    stack.poolctl_ok("client", "enable", cid)
    assert stack.token_response(cid, r["secret"]).status_code == 200
    for bad in (["client", "add", pool, "x", "--role", "uploader", "--label", "K=v"],
                ["client", "label", cid, "novalue"],
                ["client", "secret", cid, "--grace", "8d"],
                ["enroll", "create", pool, "--role", "admin"],
                ["enroll", "create", pool, "--role", "uploader", "--expires", "91d"],
                ["enroll", "create", pool, "--role", "uploader", "--uses", "0"]):
        assert stack.poolctl(*bad).returncode == 2, bad


def test_poolctl_import_csv_and_json(stack, pool, tmp_path):
    src = tmp_path / "clients.csv"
    src.write_text("name,role,labels\nimp-a,uploader,site=n;rack=1\n"
                   "\"imp-b\",listener,\nimp-c,,\n")
    out = tmp_path / "creds.csv"
    p = stack.poolctl("client", "import", pool, str(src), "--out", str(out), "--role", "processor")
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_text().splitlines()
    assert lines[0] == "client_id,secret,name,role"
    creds = {l.split(",")[2]: l.split(",") for l in lines[1:]}
    assert sorted(creds) == ["imp-a", "imp-b", "imp-c"]
    assert creds["imp-c"][3] == "processor"
    for name, (cid, secret, _, role) in creds.items():
        assert stack.token_response(cid, secret).status_code == 200, name
    listed = json.loads(stack.poolctl_ok("client", "list", pool, "--label", "rack=1",
                                         "--json").stdout)
    assert [c["name"] for c in listed] == ["imp-a"]
    assert listed[0]["labels"] == {"site": "n", "rack": "1"}
    js = tmp_path / "clients.json"
    js.write_text(json.dumps([{"name": "imp-j%d" % i, "role": "uploader",
                               "labels": {"n": str(i)}} for i in range(50)]))
    out2 = tmp_path / "creds.json"
    stack.poolctl_ok("client", "import", pool, str(js), "--out", str(out2))
    creds2 = json.loads(out2.read_text())
    assert len(creds2) == 50 and creds2[7]["name"] == "imp-j7"
    assert stack.token_response(creds2[7]["client_id"], creds2[7]["secret"]).status_code == 200


def test_poolctl_import_all_or_nothing(stack, pool, tmp_path):
    stack.make_client(pool, "uploader", name="already")
    before = client_rows(stack, pool)
    cases = [
        ("name,role\nn1,uploader\nalready,uploader\n", "already"),  # taken
        ("name,role\nn1,uploader\nn1,listener\n", "twice"),        # in the file twice
        ("name,role\nn1,uploader\nBad,uploader\n", "line 3"),      # bad name
        ("name,role\nn1,superuser\n", "role"),
        ("name,colour\nn1,red\n", "header"),
        ("name,role\n\"n1,uploader\n", "line 2"),
        ("[{\"name\": \"n1\", \"role\": \"uploader\", \"x\": 1}]", "item 1"),
        ("[{\"name\": \"n1\", \"role\": \"uploader\", \"labels\": {\"K\": \"v\"}}]", "label"),
        ("", "empty"),
    ]
    for i, (text, mention) in enumerate(cases):
        src = tmp_path / ("in%d" % i)
        src.write_text(text)
        out = tmp_path / ("out%d" % i)
        p = stack.poolctl("client", "import", pool, str(src), "--out", str(out))
        assert p.returncode == 1, (text, p.stderr)
        assert mention in p.stderr, (mention, p.stderr)
        assert not out.exists(), text
    assert client_rows(stack, pool) == before
    # the credentials file must be new
    src = tmp_path / "ok.csv"
    src.write_text("name,role\nfresh,uploader\n")
    existing = tmp_path / "exists"
    existing.write_text("keep me")
    assert stack.poolctl("client", "import", pool, str(src), "--out", str(existing)).returncode == 1
    assert existing.read_text() == "keep me"
    assert client_rows(stack, pool) == before
    assert stack.poolctl("client", "import", unique("nosuch"), str(src), "--out",
                         str(tmp_path / "o")).returncode == 1
    assert stack.poolctl("client", "import", pool, str(src)).returncode == 2  # no --out


def test_poolctl_imports_ten_thousand_clients(stack, pool, tmp_path):
    src = tmp_path / "fleet.csv"
    src.write_text("name,role,labels\n" + "".join(
        "dev-%05d,uploader,batch=%d\n" % (i, i % 10) for i in range(10000)))
    out = tmp_path / "fleet-creds.csv"
    t0 = time.time()
    p = stack.poolctl("client", "import", pool, str(src), "--out", str(out), "--json")
    elapsed = time.time() - t0
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["imported"] == 10000
    lines = out.read_text().splitlines()
    assert len(lines) == 10001
    assert client_rows(stack, pool) == 10000
    # a sample of the written secrets works
    for line in (lines[1], lines[5000], lines[-1]):
        cid, secret, name, role = line.split(",")
        assert stack.token_response(cid, secret).status_code == 200, name
    listed = json.loads(stack.poolctl_ok("client", "list", pool, "--label", "batch=3",
                                         "--json").stdout)
    assert len(listed) == 1000
    print("imported 10,000 clients in %.2f s" % elapsed)
