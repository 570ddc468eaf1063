"""Credential guessing is throttled (PoolAuthThrottle, default 20 failed
secrets per client id and 100 per source address within 60 s): a burst of
wrong secrets gets 429 with Retry-After without the KDF being run, while
the right client keeps working; every child of httpd sees the same counts.

The attackers connect from other loopback addresses (127.0.0.2, ...), so
that the rest of the suite, on 127.0.0.1, is not blocked by these tests."""

import secrets

import requests

from conftest import HTTP_TIMEOUT, assert_oauth_error, assert_problem, fs_store_only

CLIENT_MAX = 20
ADDR_MAX = 100


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Connections from a given local address."""

    def __init__(self, addr, **kw):
        self.addr = addr
        super().__init__(**kw)

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.addr, 0)
        super().init_poolmanager(*a, **kw)


def from_addr(addr):
    s = requests.Session()
    s.mount("http://", SourceAdapter(addr))
    return s


def token_from(s, stack, cid, secret):
    # a new connection each time: the children of httpd take turns
    return s.post(stack.url("/pool/v1/token"), data={"grant_type": "client_credentials"},
                  auth=(cid, secret), timeout=HTTP_TIMEOUT,
                  headers={"Connection": "close"})


def test_wrong_secrets_for_one_client_get_429_the_right_client_keeps_working(stack, pool):
    cid, secret = stack.make_client(pool, "uploader")
    other, other_secret = stack.make_client(pool, "uploader")
    # the right client authenticated before the attack (its secret is known)
    assert stack.token_response(cid, secret).status_code == 200
    log_at = stack.error_log_size()

    attacker = from_addr("127.0.0.2")
    for i in range(CLIENT_MAX):
        assert_oauth_error(token_from(attacker, stack, cid, "guess-%d" % i), 401,
                           "invalid_client")
    r = token_from(attacker, stack, cid, "guess-x")
    j = assert_oauth_error(r, 429, "temporarily_unavailable")
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert "retry" in j["error_description"]
    # Basic on the API is refused the same way, before any check
    r = attacker.get(stack.files_url(pool), auth=(cid, "guess-y"), timeout=HTTP_TIMEOUT)
    assert_problem(r, 429)
    assert 0 < int(r.headers["Retry-After"]) <= 60
    # even the right secret from elsewhere is not checked for a new caller...
    # ...but the client that proved it before keeps working, on every child
    for _ in range(6):
        r = stack.token_response(cid, secret, headers={"Connection": "close"})
        assert r.status_code == 200, r.text
    r = requests.get(stack.files_url(pool), auth=(cid, secret), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    # other clients, and other addresses, are not affected
    assert stack.token_response(other, other_secret).status_code == 200
    assert token_from(attacker, stack, other, other_secret).status_code == 200
    log = stack.error_log_since(log_at).decode(errors="replace")
    assert "failed secrets for client '%s'" % cid in log, log[-2000:]


def test_unknown_client_ids_count_like_known_ones(stack, pool):
    """Guessing ids that do not exist is throttled as well (and answered
    as for a wrong secret, until the block)."""
    ghost = "cl_" + secrets.token_hex(12)
    attacker = from_addr("127.0.0.4")
    for i in range(CLIENT_MAX):
        assert_oauth_error(token_from(attacker, stack, ghost, "x%d" % i), 401, "invalid_client")
    assert_oauth_error(token_from(attacker, stack, ghost, "x"), 429, "temporarily_unavailable")


def test_one_address_guessing_many_ids_is_blocked(stack, pool):
    """Per source address: ADDR_MAX failures over any ids block the address;
    a client that never authenticated gets 429 from there, but is served
    from another address."""
    cid, secret = stack.make_client(pool, "uploader")
    attacker = from_addr("127.0.0.3")
    log_at = stack.error_log_size()
    codes = []
    for i in range(ADDR_MAX):
        r = attacker.get(stack.files_url(pool), timeout=HTTP_TIMEOUT,
                         auth=("cl_" + secrets.token_hex(12), "nope"))
        codes.append(r.status_code)
    assert codes == [401] * ADDR_MAX, codes
    r = attacker.get(stack.files_url(pool), auth=(cid, secret), timeout=HTTP_TIMEOUT)
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    r = token_from(attacker, stack, cid, secret)
    assert_oauth_error(r, 429, "temporarily_unavailable")
    # from 127.0.0.1 the same (never verified) client is served
    r = requests.get(stack.files_url(pool), auth=(cid, secret), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    log = stack.error_log_since(log_at).decode(errors="replace")
    assert "failed secrets from 127.0.0.3" in log, log[-2000:]


def test_bearer_tokens_are_not_throttled(stack, pool):
    """Tokens are checked by signature (cheap): a blocked client id keeps
    using the tokens it holds."""
    cid, secret = stack.make_client(pool, "uploader")
    tok = stack.token(cid, secret)
    attacker = from_addr("127.0.0.5")
    for i in range(CLIENT_MAX + 1):
        token_from(attacker, stack, cid, "g%d" % i)
    assert token_from(attacker, stack, cid, "g").status_code == 429
    r = stack.session(token=tok).get(stack.files_url(pool))
    assert r.status_code == 200, r.text


@fs_store_only
def test_webdav_view_is_throttled_too(stack, pool, allow_errors):
    """The WebDAV view's Basic logins go through the same throttle: past it,
    401 with Retry-After (an authn provider can only deny)."""
    allow_errors(r"AH01617: user \S+: authentication failure")   # mod_auth_basic's own
    cid, secret = stack.make_client(pool, "uploader")
    attacker = from_addr("127.0.0.6")
    url = stack.url("/dav/%s/" % pool)
    for i in range(CLIENT_MAX):
        r = attacker.request("PROPFIND", url, headers={"Depth": "0"},
                             auth=(cid, "g%d" % i), timeout=HTTP_TIMEOUT)
        assert r.status_code == 401 and "Retry-After" not in r.headers, r.status_code
    r = attacker.request("PROPFIND", url, headers={"Depth": "0"},
                         auth=(cid, "g"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and 0 < int(r.headers["Retry-After"]) <= 60, r.headers
    # the API answers the same client id with 429 now
    r = attacker.get(stack.files_url(pool), auth=(cid, "g"), timeout=HTTP_TIMEOUT)
    assert_problem(r, 429)
