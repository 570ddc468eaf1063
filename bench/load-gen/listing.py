#!/usr/bin/python3
"""bench/load: compare the acknowledged uploads with the pool's listing.

    listing.py BASE POOL TOKEN ACKS_FILE OUT_DIR

Pages through GET /pool/v1/pools/{pool}/files?limit=1000 (one keep-alive
connection), writes OUT_DIR/listing.txt ("id sha256 size") and
OUT_DIR/listing-check.txt ("key value"), and names on stderr every
acknowledged upload that is missing from the listing or listed with another
SHA-256 or size.
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    base, pool, token, acks_path, out = sys.argv[1:6]
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
    listed = {}
    after = None
    pages = 0
    while True:
        q = {"limit": "1000"}
        if after:
            q["after"] = after
        path = "/pool/v1/pools/%s/files?%s" % (pool, urllib.parse.urlencode(q))
        for attempt in range(6):
            conn.request("GET", path, headers={"Authorization": "Bearer " + token})
            r = conn.getresponse()
            body = r.read()
            if r.status != 503:
                break
            # the documented 503 (database busy or unavailable): not a loss
            time.sleep(5)
        if r.status != 200:
            sys.exit("listing: GET %s: HTTP %d %s" % (path, r.status, body[:300]))
        d = json.loads(body)
        pages += 1
        for f in d["files"]:
            listed[f["id"]] = (f["sha256"], int(f["size"]))
        after = d.get("next")
        if not after:
            break
    with open(out + "/listing.txt", "w") as fh:
        for i, (sha, size) in listed.items():
            fh.write("%s %s %d\n" % (i, sha, size))

    acked = missing = wrong = dup = 0
    seen = set()
    with open(acks_path) as fh:
        for line in fh:
            kind, i, sha, size = line.split()
            acked += 1
            if i in seen:
                dup += 1
            seen.add(i)
            if i not in listed:
                missing += 1
                print("listing: MISSING %s %s (acknowledged, not listed)" % (kind, i),
                      file=sys.stderr)
            elif listed[i] != (sha, int(size)):
                wrong += 1
                print("listing: WRONG %s %s: listed %s %d, sent %s %s"
                      % (kind, i, listed[i][0], listed[i][1], sha, size), file=sys.stderr)
    extra = len(set(listed) - seen)
    with open(out + "/listing-check.txt", "w") as fh:
        fh.write("listed %d\npages %d\nacked %d\nmissing %d\nwrong %d\nduplicate_ids %d\n"
                 "listed_not_acked %d\n" % (len(listed), pages, acked, missing, wrong, dup,
                                            extra))


if __name__ == "__main__":
    main()
