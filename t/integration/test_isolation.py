"""A client never sees or touches another pool."""

import json

import pytest

from conftest import assert_problem, unique

SECRET_NAME = "confidential-quarterly-report.bin"


@pytest.fixture
def two_pools(stack, client_of):
    """Pool A (the caller) and pool B (the victim, with one file)."""
    a = stack.create_pool(unique("alpha"))
    b = stack.create_pool(unique("victimpool"))
    victim = client_of(b, "uploader")
    f = victim.upload_ok(SECRET_NAME, b"victim data " * 10)
    return a, b, f


def strip_id(r):
    j = r.json()
    j.pop("request_id", None)
    return j


def assert_no_leak(r, b, f, client_echo_ok=False):
    assert b not in r.text
    assert SECRET_NAME not in r.text
    assert f["sha256"] not in r.text
    if not client_echo_ok:
        assert f["client"] not in r.text
    for v in r.headers.values():
        assert b not in v and SECRET_NAME not in v


@pytest.mark.parametrize("role", ["uploader", "admin", "listener"])
def test_other_pool_is_404_and_leaks_nothing(stack, two_pools, client_of, role):
    a, b, f = two_pools
    me = client_of(a, role)
    nowhere = unique("nosuchpool")
    before = stack.snapshot(b)

    def req(method, pool, rest="", **kw):
        return me.s.request(method, stack.files_url(pool, rest), **kw)

    # a pool that exists and one that does not give the same answer
    r1 = req("GET", b)
    r2 = req("GET", nowhere)
    assert_problem(r1, 404)
    assert_problem(r2, 404)
    assert_no_leak(r1, b, f)
    assert json.dumps(strip_id(r1)).replace(b, "P") == json.dumps(strip_id(r2)).replace(nowhere, "P")

    for method, rest, kw in [
        ("PUT", "/intruder.txt", {"data": b"intrude"}),
        ("GET", "/" + f["id"], {}),
        ("HEAD", "/" + f["id"], {}),
        ("GET", "", {"params": {"client": f["client"]}}),
    ]:
        r = req(method, b, rest, **kw)
        assert r.status_code == 404, (method, rest, r.status_code, r.text[:300])
        if method != "HEAD":
            assert_problem(r, 404)
        assert_no_leak(r, b, f)

    # the victim's file id under the caller's own pool: 404, nothing leaked
    r = req("GET", a, "/" + f["id"])
    assert_problem(r, 404)
    assert_no_leak(r, b, f)

    stack.assert_nothing_stored(b, before)
    assert stack.list_all(a) == []


def test_other_pool_with_basic_auth(stack, two_pools):
    a, b, f = two_pools
    cid, secret = stack.make_client(a, "admin")
    s = stack.session(basic=(cid, secret))
    before = stack.snapshot(b)
    r = s.get(stack.files_url(b, "/" + f["id"]))
    assert_problem(r, 404)
    assert_no_leak(r, b, f)
    r = s.put(stack.files_url(b, "/x"), data=b"x")
    assert_problem(r, 404)
    stack.assert_nothing_stored(b, before)


def test_listing_shows_own_pool_only(stack, two_pools, client_of):
    a, b, f = two_pools
    me = client_of(a, "uploader")
    mine = me.upload_ok("mine.txt", b"mine")
    r = me.get()
    assert [x["id"] for x in r.json()["files"]] == [mine["id"]]
    assert_no_leak(r, b, f)
    # filtering by the victim's client id reveals nothing
    r = me.get(params={"client": f["client"]})
    assert r.status_code in (200, 404, 422)
    if r.status_code == 200:
        assert r.json()["files"] == []
    assert_no_leak(r, b, f, client_echo_ok=True)


def test_paging_cursor_of_other_pool_reveals_nothing(stack, two_pools, client_of):
    a, b, f = two_pools
    victim = client_of(b, "uploader")
    for i in range(3):
        victim.upload_ok("v%d" % i, b"v")
    r = victim.get(params={"limit": 1})
    cursor = r.json()["next"]
    assert cursor
    me = client_of(a, "uploader")
    r = me.get(params={"after": cursor})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["files"] == []
    assert_no_leak(r, b, f)
