"""poolctl pool set / pool show: per-pool settings (docs/rounds.md, "Pool
settings"), the processor secret (shown once, rotated, cleared) and the
refusal of every bad value with nothing changed."""

import json
import re

import pytest

from conftest import unique

SECRET_RE = re.compile(r"^processor_secret: (whsec_[A-Za-z0-9+/=]+)$", re.M)

DEFAULTS = {
    "window": None, "offset": 0, "lateness": 0, "min_files": 1,
    "min_clients": 1, "quorum_policy": "skip", "processor_url": None,
    "result_timeout": 600, "max_attempts": 3, "late_policy": "keep",
    "retention": None, "delivery_retention": 30 * 86400,
    "max_storage_bytes": None,
    "max_monthly_download_bytes": None, "max_clients": None,
    "mode": "pull", "grouping": False,
}


def show_json(stack, pool):
    p = stack.poolctl_ok("pool", "show", pool, "--json")
    return json.loads(p.stdout)


def show_text(stack, pool):
    """pool show as {key: value} of its "key: value" lines."""
    p = stack.poolctl_ok("pool", "show", pool)
    out = {}
    for line in p.stdout.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def stored(stack, pool):
    """pools.settings and processor_secret as the database has them."""
    row = stack.psql("SELECT settings::text, coalesce(processor_secret, '')"
                     " FROM pools WHERE name = '%s'" % pool).strip()
    settings, _, secret = row.partition("|")
    return json.loads(settings), secret or None


def set_ok(stack, pool, *pairs, json_out=False):
    args = ["pool", "set", pool] + list(pairs) + (["--json"] if json_out else [])
    return stack.poolctl_ok(*args)


def test_defaults_shown(stack, pool):
    j = show_json(stack, pool)
    assert j["name"] == pool
    assert j["settings"] == DEFAULTS
    assert j["processor_secret_set"] is False
    t = show_text(stack, pool)
    assert t["mode"] == "pull"
    assert t["lateness"] == "0 (default)"
    assert t["result_timeout"] == "10m (default)"
    assert t["window"].endswith("(default)")
    assert stored(stack, pool) == ({}, None)


def test_set_show_round_trip_text(stack, pool):
    p = set_ok(stack, pool, "window=5m", "offset=30", "lateness=2m",
               "min_files=10", "min_clients=2", "quorum_policy=trigger",
               "max_attempts=5", "late_policy=reject", "retention=90d",
               "result_timeout=1h")
    assert "processor_secret" not in p.stdout
    t = show_text(stack, pool)
    assert t["window"] == "5m"
    assert t["offset"] == "30s"
    assert t["lateness"] == "2m"
    assert t["min_files"] == "10"
    assert t["min_clients"] == "2"
    assert t["quorum_policy"] == "trigger"
    assert t["max_attempts"] == "5"
    assert t["late_policy"] == "reject"
    assert t["retention"] == "90d"
    assert t["result_timeout"] == "1h"
    assert t["mode"] == "pull"
    assert t["processor_url"].endswith("(default)")
    # stored as SQL reads it: integer seconds, policies as words, set keys only
    s, secret = stored(stack, pool)
    assert s == {"window": 300, "offset": 30, "lateness": 120, "min_files": 10,
                 "min_clients": 2, "quorum_policy": "trigger",
                 "max_attempts": 5, "late_policy": "reject",
                 "retention": 90 * 86400, "result_timeout": 3600}
    assert secret is None
    assert stack.psql("SELECT (settings->>'window')::bigint FROM pools"
                      " WHERE name = '%s'" % pool).strip() == "300"


def test_set_show_round_trip_json(stack, pool):
    p = set_ok(stack, pool, "window=1h", "min_files=3", json_out=True)
    j = json.loads(p.stdout)
    assert j["pool"] == pool
    assert "processor_secret" not in j
    want = dict(DEFAULTS, window=3600, min_files=3, grouping=True)
    assert j["settings"] == want
    assert show_json(stack, pool)["settings"] == want


def test_reset_to_default(stack, pool):
    set_ok(stack, pool, "window=10m", "lateness=1m", "min_files=4")
    set_ok(stack, pool, "lateness=", "min_files=")
    s, _ = stored(stack, pool)
    assert s == {"window": 600}
    t = show_text(stack, pool)
    assert t["lateness"] == "0 (default)"
    assert t["min_files"] == "1 (default)"
    assert t["window"] == "10m"


def test_processor_secret_once_rotated_cleared(stack, pool):
    url = "https://processor.example/hooks/group-ready"
    p = set_ok(stack, pool, "processor_url=" + url)
    m = SECRET_RE.search(p.stdout)
    assert m, p.stdout
    first = m.group(1)
    assert "processor" in p.stderr.lower()      # tells where to configure it
    assert stored(stack, pool)[1] == first

    # never shown again
    p = stack.poolctl_ok("pool", "show", pool)
    assert first not in p.stdout and "whsec_" not in p.stdout
    assert "push (processor secret set)" in p.stdout
    p = stack.poolctl_ok("pool", "show", pool, "--json")
    assert "whsec_" not in p.stdout
    j = json.loads(p.stdout)
    assert j["settings"]["mode"] == "push"
    assert j["settings"]["processor_url"] == url
    assert j["processor_secret_set"] is True
    assert "whsec_" not in stack.poolctl_ok("pool", "list", "--json").stdout

    # another setting keeps the secret and does not print it
    p = set_ok(stack, pool, "window=5m")
    assert "whsec_" not in p.stdout
    assert stored(stack, pool)[1] == first

    # setting the URL again (even the same one) rotates it; JSON shows it once
    p = set_ok(stack, pool, "processor_url=" + url, json_out=True)
    j = json.loads(p.stdout)
    second = j["processor_secret"]
    assert second.startswith("whsec_") and second != first
    assert j["settings"]["mode"] == "push"
    assert "whsec_" not in json.dumps(j["settings"])
    assert stored(stack, pool)[1] == second

    # clearing the URL clears the secret: pull mode
    p = set_ok(stack, pool, "processor_url=")
    assert "whsec_" not in p.stdout
    s, secret = stored(stack, pool)
    assert secret is None
    assert "processor_url" not in s
    j = show_json(stack, pool)
    assert j["settings"]["mode"] == "pull"
    assert j["settings"]["processor_url"] is None
    assert j["processor_secret_set"] is False
    assert show_text(stack, pool)["mode"] == "pull"


BAD = [
    ("window=30s", "window"),
    ("window=31d", "window"),
    ("window=0", "window"),
    ("window=5x", "window"),
    ("window=1.5h", "window"),
    ("window=-1m", "window"),
    ("offset=10m", "offset"),           # not less than the stored window (10m)
    ("lateness=31d", "lateness"),
    ("lateness=soon", "lateness"),
    ("min_files=0", "min_files"),
    ("min_files=1000001", "min_files"),
    ("min_files=ten", "min_files"),
    ("min_clients=0", "min_clients"),
    ("min_clients=100001", "min_clients"),
    ("quorum_policy=maybe", "quorum_policy"),
    ("processor_url=ftp://proc.example/", "processor_url"),
    ("processor_url=proc.example", "processor_url"),
    ("processor_url=https://user:pw@proc.example/", "processor_url"),
    ("processor_url=https://proc.example/#x", "processor_url"),
    ("processor_url=https://proc.example/a b", "processor_url"),
    ("processor_url=https://proc.example/" + "a" * 2048, "processor_url"),
    ("result_timeout=0", "result_timeout"),
    ("result_timeout=8d", "result_timeout"),
    ("max_attempts=0", "max_attempts"),
    ("max_attempts=101", "max_attempts"),
    ("late_policy=drop", "late_policy"),
    ("retention=59m", "retention"),
    ("retention=3651d", "retention"),
    ("colour=blue", "colour"),
    ("window", "window"),
]


@pytest.fixture(scope="module")
def configured(stack):
    """A pool with some settings and a processor, for the refusals."""
    pool = stack.create_pool(unique("bad"))
    stack.poolctl_ok("pool", "set", pool, "window=10m", "min_files=2",
                     "processor_url=https://proc.example/ok")
    return pool


@pytest.mark.parametrize("pair,key", BAD)
def test_bad_value_refused(stack, configured, pair, key):
    before = (show_json(stack, configured), stored(stack, configured))
    # alone, and after a good pair (all pairs are checked first)
    for args in ([pair], ["lateness=1m", pair]):
        p = stack.poolctl("pool", "set", configured, *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert key in p.stderr, p.stderr
        assert p.stdout == ""
        assert (show_json(stack, configured), stored(stack, configured)) == before


def test_duplicate_key_refused(stack, pool):
    p = stack.poolctl("pool", "set", pool, "window=5m", "window=10m")
    assert p.returncode == 2, p.stderr
    assert "window" in p.stderr
    assert stored(stack, pool) == ({}, None)


def test_unknown_key_lists_valid_ones(stack, pool):
    p = stack.poolctl("pool", "set", pool, "windows=5m")
    assert p.returncode == 2
    assert "windows" in p.stderr
    for k in ("window", "lateness", "processor_url", "retention"):
        assert k in p.stderr


def test_smaller_window_than_offset_names_offset(stack, pool):
    set_ok(stack, pool, "window=1h", "offset=40m")
    before = stored(stack, pool)
    p = stack.poolctl("pool", "set", pool, "window=30m")
    assert p.returncode == 2
    assert "offset" in p.stderr
    assert stored(stack, pool) == before
    set_ok(stack, pool, "window=30m", "offset=10m")
    assert stored(stack, pool)[0] == {"window": 1800, "offset": 600}


def test_usage_errors(stack, pool):
    p = stack.poolctl("pool", "set", pool)
    assert p.returncode == 2 and "usage" in p.stderr
    p = stack.poolctl("pool", "set")
    assert p.returncode == 2
    p = stack.poolctl("pool", "set", "Bad Name", "window=5m")
    assert p.returncode == 2


def test_unknown_pool(stack):
    name = unique("nosuch")
    p = stack.poolctl("pool", "set", name, "window=5m")
    assert p.returncode == 1
    assert name in p.stderr
    p = stack.poolctl("pool", "show", name)
    assert p.returncode == 1


def test_other_pool_untouched(stack):
    a = stack.create_pool(unique("sa"))
    b = stack.create_pool(unique("sb"))
    set_ok(stack, b, "window=2h", "processor_url=https://b.example/")
    before = (show_json(stack, b), stored(stack, b))
    set_ok(stack, a, "window=5m", "late_policy=reject",
           "processor_url=https://a.example/")
    set_ok(stack, a, "processor_url=")
    assert (show_json(stack, b), stored(stack, b)) == before
    assert show_json(stack, a)["settings"]["window"] == 300
