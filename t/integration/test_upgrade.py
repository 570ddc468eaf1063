"""Upgrading an installation made before folders (sql/009): `poolctl
migrate` is the one step.  It puts every existing file into its uploader's
folder (the newest of a name in the view, the others its earlier versions)
and gives every folder its size."""

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
