"""Rotating an endpoint's signing secret (POST .../endpoints/{id}/rotate,
docs/webhooks.md), checked by a receiver nobody here wrote: the
Standard Webhooks reference library, standardwebhooks (npm, pinned in
t/interop/package-lock.json, driven by t/interop/verify-webhook.js under
node).  During a grace period every request carries two v1 signatures, so
both the previous and the new secret verify; rotating again drops the
older one; grace_seconds 0 drops the previous at once."""

import base64
import json
import os
import subprocess
import time

import pytest

from conftest import ROOT, node_script
from test_webhooks import Receiver, run_deliver

INTEROP = os.path.join(ROOT, "t", "interop")


@pytest.fixture(scope="session")
def verify_js():
    """[node, verify-webhook.js], with the pinned standardwebhooks installed
    (npm ci from the lockfile when node_modules lacks it)."""
    return node_script(INTEROP, "standardwebhooks", "verify-webhook.js")


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def lib_verify(verify_js, secret, rec):
    """What standardwebhooks' Webhook(secret).verify(body, headers) says
    of a received request: {"ok": True} or {"ok": False, "error": ...}."""
    doc = {"secret": secret, "body": rec["body"].decode("utf-8"),
           "headers": {k: rec["headers"][k] for k in
                       ("webhook-id", "webhook-timestamp", "webhook-signature")}}
    p = subprocess.run(verify_js, input=json.dumps(doc), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, "verify-webhook.js failed:\n%s\n%s" % (p.stdout, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def ep_url(stack, pool, rest=""):
    return stack.url("/pool/v1/pools/%s/endpoints%s" % (pool, rest))


class Hook:
    """An endpoint of pool taking file.received at a receiver path."""

    def __init__(self, stack, pool, receiver):
        self.stack, self.pool, self.receiver = stack, pool, receiver
        self.admin = stack.client_session(pool, "admin")[0]
        self.up = stack.client_session(pool, "uploader")[0]
        self.path = receiver.path()
        r = self.admin.post(ep_url(stack, pool), json={
            "url": receiver.url(self.path), "events": ["file.received"]})
        assert r.status_code == 201, r.text
        self.ep = r.json()
        self.n = 0

    def rotate(self, grace):
        r = self.admin.post(ep_url(self.stack, self.pool,
                                   "/%s/rotate" % self.ep["id"]),
                            json={"grace_seconds": grace})
        assert r.status_code == 200, (r.status_code, r.text)
        j = r.json()
        assert j["secret"].startswith("whsec_")
        return j

    def event(self):
        """Uploads a file; returns the request the receiver got for it."""
        self.n += 1
        name = "r%d.txt" % self.n
        r = self.stack.upload(self.up, self.pool, name, b"x")
        assert r.status_code == 201, r.text
        deadline = time.time() + 60
        while True:
            run_deliver(self.stack)
            got = [x for x in self.receiver.received(self.path)
                   if json.loads(x["body"])["data"]["file"]["name"] == name]
            if got:
                assert len(got) == 1, got
                return got[0]
            assert time.time() < deadline, "not delivered"
            time.sleep(0.2)


def sigs(rec):
    s = rec["sig"].split()
    assert all(x.startswith("v1,") for x in s), rec["sig"]
    return s


def assert_verifies(verify_js, rec, secret):
    out = lib_verify(verify_js, secret, rec)
    assert out == {"ok": True}, out


def assert_refused(verify_js, rec, secret):
    out = lib_verify(verify_js, secret, rec)
    assert out["ok"] is False and "signature" in out["error"].lower(), out


def test_rotation_verified_by_the_reference_library(stack, pool, receiver,
                                                    verify_js):
    h = Hook(stack, pool, receiver)
    s1 = h.ep["secret"]
    assert h.ep["secret_rotated_until"] is None
    rec = h.event()
    assert len(sigs(rec)) == 1
    assert_verifies(verify_js, rec, s1)
    # a secret of the right form but not this endpoint's is refused
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert_refused(verify_js, rec, other)

    # a grace period: both sign, and both verify
    j = h.rotate(3600)
    s2 = j["secret"]
    assert s2 != s1 and j["secret_rotated_until"] is not None
    rec = h.event()
    assert len(sigs(rec)) == 2
    assert_verifies(verify_js, rec, s1)
    assert_verifies(verify_js, rec, s2)

    # rotating again during the grace period: the one before the previous
    # no longer signs
    j = h.rotate(3600)
    s3 = j["secret"]
    assert j["secret_rotated_until"] is not None
    rec = h.event()
    assert len(sigs(rec)) == 2
    assert_verifies(verify_js, rec, s2)
    assert_verifies(verify_js, rec, s3)
    assert_refused(verify_js, rec, s1)

    # grace 0: the previous is dropped at once
    j = h.rotate(0)
    s4 = j["secret"]
    assert j["secret_rotated_until"] is None
    r = h.admin.get(ep_url(stack, pool, "/" + h.ep["id"]))
    assert r.json()["secret_rotated_until"] is None and "secret" not in r.json()
    rec = h.event()
    assert len(sigs(rec)) == 1
    assert_verifies(verify_js, rec, s4)
    for old in (s1, s2, s3):
        assert_refused(verify_js, rec, old)


def test_the_library_refuses_a_changed_body_or_id(stack, pool, receiver,
                                                  verify_js):
    # the library checks what our signature covers: id, timestamp, body
    h = Hook(stack, pool, receiver)
    j = h.rotate(3600)
    rec = h.event()
    for secret in (h.ep["secret"], j["secret"]):
        assert_verifies(verify_js, rec, secret)
        changed = dict(rec, body=rec["body"].replace(b"r1.txt", b"r2.txt"))
        assert_refused(verify_js, changed, secret)
        headers = dict(rec["headers"], **{"webhook-id": rec["id"] + "x"})
        assert_refused(verify_js, dict(rec, headers=headers), secret)
