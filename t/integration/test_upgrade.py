"""Upgrading an older installation: `poolctl migrate` is the one step.
Before folders (sql/009): every existing file goes into its uploader's
folder (the newest of a name in the view, the others its earlier versions)
and every folder gets its size.  Before endpoints (sql/016): clients'
callbacks become their endpoints, and what was queued is still sent."""

import base64
import glob
import os
import re
import uuid

from conftest import ROOT, unique

SQL_DIR = os.path.join(ROOT, "sql")


def test_migrate_puts_existing_files_into_their_clients_folders(stack):
    db = "up_" + uuid.uuid4().hex[:10]
    stack.psql("CREATE DATABASE %s OWNER mod_pool" % db, db="postgres")
    try:
        # the schema as version 8 left it, made the way poolctl made it
        for path in sorted(glob.glob(os.path.join(SQL_DIR, "00[1-8]_*.sql"))):
            sql = open(path).read()
            stack.sh("pg_psql", db, "-c", "SET ROLE mod_pool", "-c", sql)
        stack.psql("SET ROLE mod_pool; CREATE TABLE pool_schema_migrations ("
                   " version int PRIMARY KEY, name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now());"
                   + "".join("INSERT INTO pool_schema_migrations VALUES (%d, '%s');"
                             % (int(os.path.basename(p)[:3]), os.path.basename(p))
                             for p in sorted(glob.glob(os.path.join(SQL_DIR, "00[1-8]_*.sql")))),
                   db=db)
        # a pool, two clients, and their files: a name uploaded twice
        pool = unique("up")
        old, new, other = (str(uuid.uuid4()) for _ in range(3))
        stack.psql(
            "SET ROLE mod_pool;"
            "INSERT INTO pools (name) VALUES ('%(pool)s');"
            "INSERT INTO clients (client_id, pool_id, name, role, secret_hash)"
            " SELECT 'cl_' || lpad(n::text, 24, '0'), p.id, c, 'uploader', 'x'"
            " FROM pools p, (VALUES (1, 'alice'), (2, 'bob')) v(n, c);"
            "INSERT INTO files (id, pool_id, client_id, name, size, sha256, ts,"
            " received_at)"
            " SELECT f.id::uuid, p.id, c.id, f.name, f.size, repeat('a', 64), now(),"
            " now() - f.age * interval '1 hour'"
            " FROM pools p JOIN clients c ON c.pool_id = p.id,"
            " (VALUES ('%(old)s', 'alice', 'x.txt', 10, 2),"
            "         ('%(new)s', 'alice', 'x.txt', 20, 1),"
            "         ('%(other)s', 'bob', 'y.txt', 5, 1)) f(id, cl, name, size, age)"
            " WHERE c.name = f.cl" % dict(pool=pool, old=old, new=new, other=other),
            db=db)
        conf = os.path.join(stack.var, "httpd-pool-%s.conf" % db)
        with open(stack.conf) as f:
            text = f.read()
        text = re.sub(r"dbname=\w+", "dbname=" + db, text)
        with open(conf, "w") as f:
            f.write(text)
        p = stack.poolctl("-c", conf, "migrate", conf=False)
        assert p.returncode == 0, p.stderr
        assert "009_folders.sql" in p.stderr, p.stderr

        rows = stack.psql(
            "SELECT f.id, d.path, f.in_view, f.replaced_by FROM files f"
            " LEFT JOIN folders d ON d.id = f.folder_id ORDER BY f.id", db=db)
        got = {r.split("|")[0]: r.split("|")[1:] for r in rows.split()}
        assert got[new] == ["/alice", "t", ""]
        assert got[old] == ["/alice", "f", new]
        assert got[other] == ["/bob", "t", ""]
        sizes = stack.psql(
            "SELECT d.path, d.bytes + coalesce(sum(x.bytes), 0),"
            " d.files + coalesce(sum(x.files), 0) FROM folders d"
            " LEFT JOIN folder_deltas x ON x.folder_id = d.id"
            " GROUP BY d.id ORDER BY d.path", db=db).split()
        # the earlier x.txt counts for the pool, not for the folder
        assert sizes == ["/|25|2", "/alice|20|1", "/bob|5|1"]
        # and migrate again does nothing
        p = stack.poolctl("-c", conf, "migrate", conf=False)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "applied 0 migrations", p.stdout
    finally:
        stack.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db, db="postgres")


def test_migrate_turns_callbacks_into_endpoints(stack):
    """An installation made before endpoints (sql/016): each client's
    callback becomes its endpoint (URL, secret, disabled after a 410), its
    deliveries point at it, old attempts get an outcome, and a delivery
    queued before the upgrade is sent after it, signed with the secret the
    client was given before."""
    from test_webhooks import Receiver
    db = "up_" + uuid.uuid4().hex[:10]
    stack.psql("CREATE DATABASE %s OWNER mod_pool" % db, db="postgres")
    old = sorted(p for p in glob.glob(os.path.join(SQL_DIR, "0*.sql"))
                 if int(os.path.basename(p)[:3]) < 16)
    rcv = Receiver()
    try:
        for path in old:
            stack.sh("pg_psql", db, "-c", "SET ROLE mod_pool", "-c", open(path).read())
        stack.psql("SET ROLE mod_pool; CREATE TABLE pool_schema_migrations ("
                   " version int PRIMARY KEY, name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now());"
                   + "".join("INSERT INTO pool_schema_migrations VALUES (%d, '%s');"
                             % (int(os.path.basename(p)[:3]), os.path.basename(p))
                             for p in old), db=db)
        pool = unique("up")
        hook, gone = rcv.path(), rcv.path()
        secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        pending, failed, imp = (str(uuid.uuid4()) for _ in range(3))
        stack.psql(
            "SET ROLE mod_pool;"
            "INSERT INTO pools (name) VALUES ('%(pool)s');"
            "INSERT INTO clients (client_id, pool_id, name, role, secret_hash,"
            " callback_url, webhook_secret, callback_disabled_at)"
            " SELECT 'cl_' || lpad(v.n::text, 24, '0'), p.id, v.c, 'listener', 'x',"
            " v.url, v.s, v.off FROM pools p, (VALUES"
            "  (1, 'alice', '%(u1)s', '%(secret)s', NULL::timestamptz),"
            "  (2, 'bob', '%(u2)s', 'whsec_b', now()),"
            "  (3, 'carol', NULL, NULL, NULL)) v(n, c, url, s, off)"
            " WHERE p.name = '%(pool)s';"
            "INSERT INTO deliveries (id, pool_id, client_id, url, secret, event,"
            " payload, state, attempts, endpoint)"
            " SELECT d.id::uuid, p.id, c.id, d.url, d.s, 'webhook.test',"
            " '{\"type\": \"webhook.test\", \"data\": {}}', d.st, d.n, d.ep"
            " FROM pools p JOIN clients c ON c.pool_id = p.id, (VALUES"
            "  ('%(pending)s', 'alice', '%(u1)s', '%(secret)s', 'pending', 1, true),"
            "  ('%(failed)s', 'bob', '%(u2)s', 'whsec_b', 'failed', 1, true),"
            "  ('%(imp)s', 'carol', 'http://127.0.0.1:9/imp', 'whsec_c', 'failed', 1,"
            "   false)) d(id, cl, url, s, st, n, ep)"
            " WHERE p.name = '%(pool)s' AND c.name = d.cl;"
            "INSERT INTO delivery_attempts (delivery_id, status, error, duration_ms)"
            " VALUES ('%(pending)s', 500, 'the endpoint answered 500', 12),"
            "        ('%(failed)s', 410, 'the endpoint answered 410', 7),"
            "        ('%(imp)s', NULL, 'refused', 3);"
            % dict(pool=pool, u1=rcv.url(hook), u2=rcv.url(gone), secret=secret,
                   pending=pending, failed=failed, imp=imp), db=db)
        conf = os.path.join(stack.var, "httpd-pool-%s.conf" % db)
        with open(stack.conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(re.sub(r"dbname=\w+", "dbname=" + db, text))
        p = stack.poolctl("-c", conf, "migrate", conf=False)
        assert p.returncode == 0, p.stderr
        assert "016_endpoints.sql" in p.stderr, p.stderr

        eps = stack.psql(
            "SELECT c.name, e.url, e.secret, e.events, e.disabled_at IS NOT NULL,"
            " coalesce(e.disabled_reason, '') FROM endpoints e"
            " JOIN clients c ON c.id = e.client_id ORDER BY c.name", db=db)
        assert eps.splitlines() == [
            "alice|%s|%s|{}|f|" % (rcv.url(hook), secret),
            "bob|%s|whsec_b|{}|t|the endpoint answered 410 Gone" % rcv.url(gone)]
        links = stack.psql(
            "SELECT d.id, coalesce(c.name, '-') FROM deliveries d"
            " LEFT JOIN endpoints e ON e.id = d.endpoint_id"
            " LEFT JOIN clients c ON c.id = e.client_id ORDER BY d.id", db=db)
        assert dict(l.split("|") for l in links.splitlines()) == {
            pending: "alice", failed: "bob", imp: "-"}
        outcomes = stack.psql("SELECT delivery_id, outcome FROM delivery_attempts",
                              db=db)
        assert dict(l.split("|") for l in outcomes.splitlines()) == {
            pending: "failed", failed: "failed", imp: "failed"}
        cols = stack.psql("SELECT column_name FROM information_schema.columns"
                          " WHERE table_name = 'clients'", db=db).split()
        assert not {"callback_url", "webhook_secret", "callback_disabled_at"} & set(cols)

        # the delivery queued before the upgrade goes out, signed as before
        rcv.secrets[hook] = secret
        stack.psql("UPDATE deliveries SET next_attempt_at = now()"
                   " WHERE id = '%s'" % pending, db=db)
        p = stack.poolctl("-c", conf, "run", "--once", "deliver", conf=False,
                          timeout=120)
        assert p.returncode == 0, p.stderr
        got = rcv.received(hook)
        assert len(got) == 1 and got[0]["id"] == pending and got[0]["verified"]
        assert rcv.received(gone) == []
        assert stack.psql("SELECT state, attempts FROM deliveries WHERE id = '%s'"
                          % pending, db=db).strip() == "delivered|2"
    finally:
        rcv.close()
        stack.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % db, db="postgres")
