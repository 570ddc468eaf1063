"""Failures around an upload: a client that goes away, the database going
down and coming back, many clients at once; request ids everywhere."""

import concurrent.futures
import hashlib
import os
import socket
import time

import requests

from conftest import HTTP_TIMEOUT, assert_oauth_error, assert_problem


def test_client_disconnects_mid_upload(stack, uploader):
    before = stack.snapshot(uploader.pool)
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
        head = ("PUT /pool/v1/pools/%s/files/partial.bin?ts=1700000000 HTTP/1.1\r\n"
                "Host: 127.0.0.1:%d\r\n"
                "Authorization: Bearer %s\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Content-Length: 5000000\r\n\r\n") % (uploader.pool, stack.port, uploader.token)
        sock.sendall(head.encode())
        sock.sendall(os.urandom(1024 * 1024))
        time.sleep(0.2)
        sock.close()
    # no row, no visible file, and the spool is cleaned up after a moment
    stack.assert_nothing_stored(uploader.pool, before, wait=10)
    # and the server is fine
    j = uploader.upload_ok("after.bin", b"still works")
    assert j["size"] == 11


def test_client_disconnects_mid_chunked_upload(stack, uploader):
    before = stack.snapshot(uploader.pool)
    sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
    head = ("PUT /pool/v1/pools/%s/files/partial.bin HTTP/1.1\r\n"
            "Host: 127.0.0.1:%d\r\n"
            "Authorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n") % (uploader.pool, stack.port, uploader.token)
    sock.sendall(head.encode())
    chunk = os.urandom(65536)
    for _ in range(8):
        sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    time.sleep(0.2)
    sock.close()
    stack.assert_nothing_stored(uploader.pool, before, wait=10)


def test_database_down_then_back(stack, uploader, allow_errors):
    # mod_pool logs the unavailable database at [error]: expected here
    allow_errors(r"(?i)database|postgres|connect|libpq|server closed|socket")
    pool = uploader.pool
    uploader.upload_ok("before.bin", b"before")
    before = stack.snapshot(pool)
    pid = stack.httpd_pid()
    stack.pg_stop()
    try:
        r = uploader.get()
        j = assert_problem(r, 503)
        assert j["request_id"] == r.headers["X-Request-Id"]

        r = uploader.upload("during.bin", os.urandom(200000))
        assert_problem(r, 503)

        r = stack.token_response(uploader.client_id, uploader.secret)
        assert_oauth_error(r, 503, "temporarily_unavailable")

        r = requests.get(stack.files_url(pool), auth=(uploader.client_id, uploader.secret),
                         timeout=HTTP_TIMEOUT)
        assert_problem(r, 503)
        # the spool is clean while the database is still down
        deadline = time.time() + 5
        while stack.spool_entries() and time.time() < deadline:
            time.sleep(0.1)
        assert stack.spool_entries() == []
        assert stack.stored_paths(pool) == before["paths"]
    finally:
        stack.pg_start()

    # the same httpd serves again, without a restart
    deadline = time.time() + 15
    while True:
        r = uploader.get()
        if r.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert stack.httpd_pid() == pid
    assert sorted(f["id"] for f in r.json()["files"]) == before["ids"]
    j = uploader.upload_ok("after.bin", b"after")
    assert j["size"] == 5
    assert stack.token_response(uploader.client_id, uploader.secret).status_code == 200
    assert len(stack.list_all(pool)) == 2


def test_concurrent_uploads(stack, uploader):
    blobs = [os.urandom(50000 + i) for i in range(32)]

    def put(i):
        s = stack.session(token=uploader.token)
        r = stack.upload(s, uploader.pool, "c%02d.bin" % i, blobs[i])
        return i, r.status_code, r.json() if r.status_code == 201 else r.text

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(put, range(len(blobs))))
    for i, status, j in results:
        assert status == 201, (i, j)
        assert j["sha256"] == hashlib.sha256(blobs[i]).hexdigest()
    assert len({j["id"] for _, _, j in results}) == len(blobs)
    assert len(stack.list_all(uploader.pool)) == len(blobs)
    assert stack.spool_entries() == []


def test_request_ids(stack, uploader):
    rs = [
        uploader.get(),
        uploader.upload("r.bin", b"r"),
        uploader.get("/" + "0" * 8),
        requests.get(stack.files_url(uploader.pool), timeout=HTTP_TIMEOUT),
        requests.post(stack.url("/pool/v1/token"), timeout=HTTP_TIMEOUT),
        requests.get(stack.url("/pool/v1/no-such-endpoint"), timeout=HTTP_TIMEOUT),
    ]
    ids = [r.headers.get("X-Request-Id") for r in rs]
    assert all(ids), [(r.status_code, r.headers) for r in rs]
    assert len(set(ids)) == len(ids)
    for r in rs:
        if r.status_code >= 400:
            assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_unknown_api_path_is_404_problem(stack, uploader):
    for path in ("/pool/v1/no-such-endpoint", "/pool/v2/token", "/pool/",
                 "/pool/v1/pools/%s/nothing" % uploader.pool):
        r = uploader.s.get(stack.url(path))
        assert_problem(r, 404)

