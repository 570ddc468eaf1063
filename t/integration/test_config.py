"""The rendered configuration, and httpd refusing bad directives."""

import os
import re
import subprocess

import pytest

from conftest import ROOT

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")


def configtest(stack, pool_conf_text, tmp_path):
    """apache2 -t on a copy of the test stack's httpd.conf whose Include
    points at pool_conf_text."""
    pool_conf = tmp_path / "httpd-pool.conf"
    pool_conf.write_text(pool_conf_text)
    main = open(stack.httpd_conf).read().replace(stack.conf, str(pool_conf))
    main_path = tmp_path / "httpd.conf"
    main_path.write_text(main)
    return subprocess.run([APACHE2, "-f", str(main_path), "-t"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)


def test_rendered_config_is_valid(stack, tmp_path):
    p = configtest(stack, open(stack.conf).read(), tmp_path)
    assert p.returncode == 0, p.stdout
    assert "Syntax OK" in p.stdout


def test_rendered_config_has_local_values(stack):
    text = open(stack.conf).read()
    assert re.search(r"^PoolStorage %s$" % re.escape(stack.storage), text, re.M)
    assert re.search(r"^PoolKeyFile %s$" % re.escape(stack.key_file), text, re.M)
    assert re.search(r"^PoolPublicURL %s$" % re.escape(stack.base), text, re.M)
    assert re.search(r"^PoolMaxFileSize 8M$", text, re.M)
    assert re.search(r"^\s*LoadModule pool_module %s$" % re.escape(
        os.path.join(ROOT, "mod_pool", ".libs", "mod_pool.so")), text, re.M)


@pytest.mark.parametrize("directive,value", [
    ("PoolMaxFileSize", "12Q"),
    ("PoolMaxFileSize", "0"),
    ("PoolTokenLifetime", "soon"),
    ("PoolTokenLifetime", "0"),
    ("PoolDatabaseConnections", "0"),
    ("PoolKeyFile", "/nonexistent/pool-keys"),
])
def test_bad_directive_fails_configtest_naming_it(stack, tmp_path, directive, value):
    text = open(stack.conf).read()
    text, n = re.subn(r"^%s .*$" % directive, "%s %s" % (directive, value), text, flags=re.M)
    assert n == 1
    p = configtest(stack, text, tmp_path)
    assert p.returncode != 0, p.stdout
    assert directive in p.stdout, p.stdout


def test_sample_config_has_every_directive():
    sample = open(os.path.join(ROOT, "conf", "httpd-pool.conf")).read()
    for d in ("PoolDatabase", "PoolStorage", "PoolKeyFile", "PoolPublicURL",
              "PoolMaxFileSize", "PoolTokenLifetime", "PoolDatabaseConnections",
              "SetHandler pool", "AuthBasicProvider socache pool", "Require pool-member",
              "Dav pool", "Require pool-role uploader admin",
              "AllowEncodedSlashes NoDecode"):
        assert re.search(r"^\s*%s\b" % re.escape(d), sample, re.M), d
