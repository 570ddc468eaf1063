"""Bearer tokens (and HTTP Basic) on every API request; key rotation."""

import os
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, assert_problem, jwt_parts


def get_list(stack, pool, headers=None, auth=None):
    return requests.get(stack.files_url(pool), headers=headers or {}, auth=auth,
                        timeout=HTTP_TIMEOUT)


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def assert_invalid_token(r):
    assert_problem(r, 401)
    www = r.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer"), www
    assert 'error="invalid_token"' in www, www


@pytest.fixture
def me(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    return {"sub": cid, "pool": pool, "role": "uploader"}


def test_missing_credentials(stack, pool):
    r = get_list(stack, pool)
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith('Bearer realm="pool"')


def test_forged_token_with_the_right_key_is_accepted(stack, me):
    # proves the forging below is right, so each rejection is for its reason
    r = get_list(stack, me["pool"], bearer(stack.forge(me)))
    assert r.status_code == 200, r.text


def _now():
    return int(time.time())


def test_forged_token_with_past_nbf_and_own_client_id_is_accepted(stack, me):
    tok = stack.forge(dict(me, nbf=_now() - 5, client_id=me["sub"]))
    r = get_list(stack, me["pool"], bearer(tok))
    assert r.status_code == 200, r.text


BAD_TOKENS = {
    "garbage": lambda st, me: "garbage",
    "two_parts": lambda st, me: ".".join(st.forge(me).split(".")[:2]),
    "four_parts": lambda st, me: st.forge(me) + ".x",
    "bad_base64": lambda st, me: "!!!." + st.forge(me).split(".", 1)[1],
    "not_json": lambda st, me: "bm90IGpzb24." + st.forge(me).split(".", 1)[1],
    "bad_signature": lambda st, me: st.forge(me, key=os.urandom(32)),
    "truncated_signature": lambda st, me: st.forge(me)[:-4],
    "alg_none": lambda st, me: st.forge(me, alg="none"),
    "alg_none_with_sig": lambda st, me: st.forge(me, header={"alg": "none"}),
    "alg_HS512": lambda st, me: st.forge(me, alg="HS512"),
    "alg_HS384_label": lambda st, me: st.forge(me, header={"alg": "HS384"}),
    "alg_RS256": lambda st, me: st.forge(me, header={"alg": "RS256"}),
    "typ_other": lambda st, me: st.forge(me, header={"typ": "foo"}),
    "expired": lambda st, me: st.forge(dict(me, iat=_now() - 1000, exp=_now() - 10)),
    "wrong_aud": lambda st, me: st.forge(dict(me, aud="someone-else")),
    "wrong_iss": lambda st, me: st.forge(dict(me, iss="http://evil.example")),
    "unknown_kid": lambda st, me: st.forge(me, kid="k-no-such-key"),
    "no_kid": lambda st, me: st.forge(me, header={"kid": None}),
    "no_exp": lambda st, me: st.forge(me, drop=("exp",)),
    "no_sub": lambda st, me: st.forge(me, drop=("sub",)),
    "exp_as_string": lambda st, me: st.forge(dict(me, exp=str(_now() + 100))),
    "issued_in_future": lambda st, me: st.forge(dict(me, iat=_now() + 3600, exp=_now() + 4000)),
    "too_long": lambda st, me: st.forge(dict(me, pad="x" * 4000)),
    "not_before_in_future": lambda st, me: st.forge(dict(me, nbf=_now() + 3600)),
    "nbf_as_string": lambda st, me: st.forge(dict(me, nbf=str(_now()))),
    "client_id_of_another": lambda st, me: st.forge(dict(me, client_id="someone-else")),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_invalid_token_is_401(stack, me, kind):
    tok = BAD_TOKENS[kind](stack, me)
    assert_invalid_token(get_list(stack, me["pool"], bearer(tok)))
    # the same on the write path
    r = requests.put(stack.files_url(me["pool"], "/x.bin"), data=b"x",
                     headers=bearer(tok), timeout=HTTP_TIMEOUT)
    assert_invalid_token(r)
    assert stack.list_all(me["pool"]) == []


def test_bearer_with_empty_token(stack, pool):
    r = get_list(stack, pool, {"Authorization": "Bearer "})
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_unknown_scheme(stack, pool):
    r = get_list(stack, pool, {"Authorization": "Digest username=x"})
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_basic_on_the_api(stack, pool):
    cid, secret = stack.make_client(pool, "listener")
    assert get_list(stack, pool, auth=(cid, secret)).status_code == 200
    r = get_list(stack, pool, auth=(cid, secret + "x"))
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate")


def test_token_is_bounded_to_its_pool(stack, pool):
    """A token names its pool: another pool's path is 404 even with a valid
    signature."""
    other = stack.create_pool()
    cid, secret = stack.make_client(pool, "admin")
    tok = stack.token(cid, secret)
    r = get_list(stack, other, bearer(tok))
    assert_problem(r, 404)


def test_key_rotation(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    old = stack.token(cid, secret)
    old_kid = jwt_parts(old)[0]["kid"]
    pid = stack.httpd_pid()

    p = stack.poolctl("key", "generate", stack.key_file, conf=False)
    assert p.returncode == 0, p.stderr
    new_kid = stack.keys()[-1][0]
    assert new_kid != old_kid
    stack.graceful()

    deadline = time.time() + 20
    kid = None
    while time.time() < deadline:
        try:
            r = stack.token_response(cid, secret)
            if r.status_code == 200:
                kid = jwt_parts(r.json()["access_token"])[0]["kid"]
                if kid == new_kid:
                    break
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    assert kid == new_kid, "new tokens are not signed with the appended key"
    assert stack.httpd_pid() == pid, "graceful restart replaced the parent process"

    # the old token still verifies, the new one too, and so does a token
    # forged with the new key
    assert get_list(stack, pool, bearer(old)).status_code == 200
    new = r.json()["access_token"]
    assert get_list(stack, pool, bearer(new)).status_code == 200
    forged = stack.forge({"sub": cid, "pool": pool, "role": "uploader"})
    assert jwt_parts(forged)[0]["kid"] == new_kid
    assert get_list(stack, pool, bearer(forged)).status_code == 200
