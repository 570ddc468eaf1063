"""POST /pool/v1/token: OAuth2 client-credentials grant."""

import time

import requests

from conftest import HTTP_TIMEOUT, assert_oauth_error, jwt_parts, unique


def post_token(stack, data=None, auth=None, headers=None):
    return requests.post(stack.url("/pool/v1/token"), data=data, auth=auth,
                         headers=headers, timeout=HTTP_TIMEOUT)


def assert_invalid_client(r):
    return assert_oauth_error(r, 401, "invalid_client")


def test_token_with_basic(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    before = int(time.time())
    r = post_token(stack, {"grant_type": "client_credentials"}, auth=(cid, secret))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert r.headers.get("X-Request-Id")
    j = r.json()
    assert j["token_type"] == "Bearer"
    assert isinstance(j["expires_in"], int) and j["expires_in"] == 900
    header, claims = jwt_parts(j["access_token"])
    assert header["alg"] == "HS256"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in [k for k, _ in stack.keys()]
    assert claims["iss"] == stack.issuer
    assert claims["aud"] == "mod_pool"
    assert claims["sub"] == cid
    assert claims["client_id"] == cid     # RFC 9068 2.2
    assert claims["pool"] == pool
    assert claims["role"] == "uploader"
    assert claims["jti"]
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["exp"] - claims["iat"] == j["expires_in"]


def test_token_with_form_fields(stack, pool):
    cid, secret = stack.make_client(pool, "listener")
    r = post_token(stack, {"grant_type": "client_credentials", "client_id": cid,
                           "client_secret": secret})
    assert r.status_code == 200, r.text
    _, claims = jwt_parts(r.json()["access_token"])
    assert claims["sub"] == cid
    assert claims["role"] == "listener"


def test_token_is_usable(stack, pool):
    cid, secret = stack.make_client(pool, "listener")
    tok = stack.token(cid, secret)
    r = stack.session(token=tok).get(stack.files_url(pool))
    assert r.status_code == 200, r.text


def test_tokens_are_unique(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    a, b = stack.token(cid, secret), stack.token(cid, secret)
    assert a != b
    assert jwt_parts(a)[1]["jti"] != jwt_parts(b)[1]["jti"]


def test_wrong_secret(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"},
                                     auth=(cid, secret + "x")))
    assert_invalid_client(post_token(stack, {"grant_type": "client_credentials",
                                             "client_id": cid, "client_secret": "nope"}))


def test_unknown_client_looks_like_wrong_secret(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    a = assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"},
                                         auth=(cid, "wrong-secret")))
    b = assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"},
                                         auth=("cl_" + "0" * 24, "wrong-secret")))
    c = assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"},
                                         auth=("not even an id", "x")))
    # no client enumeration: same answer whether the client exists or not
    assert a["error_description"] == b["error_description"] == c["error_description"]
    assert cid not in a["error_description"]


def test_no_credentials(stack):
    assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"}))


def test_disabled_client_gets_no_token(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    stack.poolctl_ok("client", "disable", cid)
    assert_invalid_client(post_token(stack, {"grant_type": "client_credentials"},
                                     auth=(cid, secret)))


def test_missing_grant_type(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    r = post_token(stack, {"scope": "x"}, auth=(cid, secret))
    assert_oauth_error(r, 400, "invalid_request")
    r = post_token(stack, None, auth=(cid, secret))
    assert_oauth_error(r, 400, "invalid_request")


def test_unsupported_grant_type(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    for gt in ("password", "authorization_code", "client_credentials2"):
        r = post_token(stack, {"grant_type": gt}, auth=(cid, secret))
        assert_oauth_error(r, 400, "unsupported_grant_type")


def test_token_endpoint_errors_are_oauth_json(stack, pool):
    """Every error of the token endpoint is RFC 6749 JSON, also those not
    about credentials (method, body type, repeated parameter)."""
    cid, secret = stack.make_client(pool, "uploader")
    r = requests.get(stack.url("/pool/v1/token"), timeout=HTTP_TIMEOUT)
    assert_oauth_error(r, 405, "invalid_request")
    assert r.headers.get("Allow") == "POST"
    r = post_token(stack, "grant_type=client_credentials", auth=(cid, secret),
                   headers={"Content-Type": "text/plain"})
    assert_oauth_error(r, 400, "invalid_request")
    r = post_token(stack, "grant_type=client_credentials&grant_type=client_credentials",
                   auth=(cid, secret),
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    j = assert_oauth_error(r, 400, "invalid_request")
    assert "grant_type" in j["error_description"]
    r = post_token(stack, {"grant_type": "client_credentials", "client_id": cid,
                           "client_secret": secret}, auth=(cid, secret))
    assert_oauth_error(r, 400, "invalid_request")


def test_token_response_does_not_echo_secret(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    r = post_token(stack, {"grant_type": "client_credentials"}, auth=(cid, secret + "!"))
    assert secret not in r.text
    r = post_token(stack, {"grant_type": "client_credentials"}, auth=(cid, secret))
    assert secret not in r.text


def test_other_pool_client_token_names_its_own_pool(stack):
    a, b = stack.create_pool(unique("ta")), stack.create_pool(unique("tb"))
    ca = stack.make_client(a, "admin")
    cb = stack.make_client(b, "admin")
    assert jwt_parts(stack.token(*ca))[1]["pool"] == a
    assert jwt_parts(stack.token(*cb))[1]["pool"] == b
