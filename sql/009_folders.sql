-- 009: folders, the pool's tree that the WebDAV view (/dav/{pool}/) and the
-- folder API show.  A file has a folder and a name in it; within a folder a
-- name belongs to one file of the view (in_view).  A newer upload of that
-- name takes the place and the earlier file leaves the view (replaced_by),
-- staying a file of its pool: its group still has it.
--
-- Folder sizes (bytes and files of the files in the view, subfolders
-- included) are kept as the folder's row plus deltas: every change of a
-- file adds a delta row per ancestor in the same transaction (a trigger, so
-- no path can forget it), and `poolctl run sizes` folds the deltas into the
-- rows and recounts.  Deltas rather than updates: every upload of a pool
-- would otherwise update its root row and wait on every other upload's
-- commit.

CREATE TABLE folders (
    id          bigserial   PRIMARY KEY,
    pool_id     bigint      NOT NULL REFERENCES pools (id),
    -- NULL for the pool's root ('/')
    parent_id   bigint      REFERENCES folders (id),
    path        text        NOT NULL
                CONSTRAINT folders_path_check
                CHECK (octet_length(path) <= 4096
                       AND (path = '/' OR path ~ '^(/[^/]+)+$')),
    bytes       bigint      NOT NULL DEFAULT 0,
    files       bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT folders_pool_path_key UNIQUE (pool_id, path),
    CONSTRAINT folders_root_check CHECK ((parent_id IS NULL) = (path = '/'))
);
CREATE INDEX folders_parent ON folders (parent_id);

CREATE TABLE folder_deltas (
    id          bigserial   PRIMARY KEY,
    folder_id   bigint      NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    bytes       bigint      NOT NULL,
    files       bigint      NOT NULL
);
CREATE INDEX folder_deltas_folder ON folder_deltas (folder_id);

ALTER TABLE files ADD COLUMN folder_id bigint
    REFERENCES folders (id) ON DELETE SET NULL;
ALTER TABLE files ADD COLUMN in_view boolean NOT NULL DEFAULT false;
-- the file that took this one's place in the view
ALTER TABLE files ADD COLUMN replaced_by uuid;
-- when it left the view (replaced, deleted through the view)
ALTER TABLE files ADD COLUMN left_view_at timestamptz;
CREATE UNIQUE INDEX files_view_name ON files (folder_id, name) WHERE in_view;
CREATE INDEX files_folder ON files (folder_id);

-- The folders from the root down to f (f included).
CREATE FUNCTION pool_folder_ancestors(f bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM folders WHERE id = f
        UNION ALL
        SELECT d.id, d.parent_id FROM folders d JOIN up ON d.id = up.parent_id
    )
    SELECT id FROM up
$$;

CREATE FUNCTION pool_files_sizes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.in_view
       AND OLD.folder_id IS NOT NULL THEN
        IF TG_OP = 'UPDATE' AND NEW.in_view
           AND NEW.folder_id IS NOT DISTINCT FROM OLD.folder_id
           AND NEW.size = OLD.size THEN
            RETURN NULL;
        END IF;
        INSERT INTO folder_deltas (folder_id, bytes, files)
            SELECT a, -OLD.size, -1 FROM pool_folder_ancestors(OLD.folder_id) a;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.in_view
       AND NEW.folder_id IS NOT NULL THEN
        INSERT INTO folder_deltas (folder_id, bytes, files)
            SELECT a, NEW.size, 1 FROM pool_folder_ancestors(NEW.folder_id) a;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER files_sizes AFTER INSERT OR DELETE OR UPDATE OF in_view, folder_id, size
    ON files FOR EACH ROW EXECUTE FUNCTION pool_files_sizes();

-- A client's own folder, where its uploads go when they name none: named
-- after it, but never the top's "results", which shows the results.
CREATE FUNCTION pool_client_folder(client_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '/' || CASE WHEN client_name = 'results' THEN 'results-client'
                       ELSE client_name END
$$;

-- The folder at path in the pool, made with its parents when missing.  A
-- new folder may not take the name of a file in the view of its parent
-- (SQLSTATE PF409, which the library reports as a conflict), nor the root's
-- "results", which the view shows the pool's results in.
CREATE FUNCTION pool_folder_ensure(pool bigint, fpath text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    parent bigint;
    fid bigint;
    cur text := '';
    seg text;
BEGIN
    INSERT INTO folders (pool_id, parent_id, path) VALUES (pool, NULL, '/')
        ON CONFLICT (pool_id, path) DO NOTHING;
    SELECT id INTO parent FROM folders WHERE pool_id = pool AND path = '/';
    IF fpath = '/' THEN
        RETURN parent;
    END IF;
    FOREACH seg IN ARRAY string_to_array(substr(fpath, 2), '/') LOOP
        cur := cur || '/' || seg;
        SELECT id INTO fid FROM folders WHERE pool_id = pool AND path = cur;
        IF NOT FOUND THEN
            IF cur = '/results' THEN
                RAISE EXCEPTION 'the folder name "results" is reserved at the top of a pool'
                    USING ERRCODE = 'PF409';
            END IF;
            PERFORM pg_advisory_xact_lock(hashtextextended(parent::text || '/' || seg, 9));
            IF EXISTS (SELECT 1 FROM files WHERE folder_id = parent AND name = seg
                       AND in_view) THEN
                RAISE EXCEPTION 'a file named "%" is in the way of folder %', seg, cur
                    USING ERRCODE = 'PF409';
            END IF;
            INSERT INTO folders (pool_id, parent_id, path) VALUES (pool, parent, cur)
                ON CONFLICT (pool_id, path) DO NOTHING;
            SELECT id INTO fid FROM folders WHERE pool_id = pool AND path = cur;
        END IF;
        parent := fid;
    END LOOP;
    RETURN parent;
END
$$;

-- Inserts a file and puts it in the view at folder/name (folder NULL: the
-- client's own folder, named after it); a file of that name there leaves
-- the view, replaced by this one.  No row: pool or client not found.
CREATE FUNCTION pool_file_insert(fid uuid, pool text, client text, fname text,
                                 fsize bigint, fsha text, ctype text,
                                 fts timestamptz, folder text)
RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
    pid bigint;
    cid bigint;
    cname text;
    dir bigint;
    dpath text;
    rec files;
BEGIN
    SELECT p.id, c.id, c.name INTO pid, cid, cname
        FROM pools p JOIN clients c ON c.pool_id = p.id
        WHERE p.name = pool AND c.client_id = client;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    dpath := coalesce(folder, pool_client_folder(cname));
    IF dpath = '/' AND fname = 'results' THEN
        RAISE EXCEPTION 'the name "results" is reserved at the top of a pool'
            USING ERRCODE = 'PF409';
    END IF;
    dir := pool_folder_ensure(pid, dpath);
    PERFORM pg_advisory_xact_lock(hashtextextended(dir::text || '/' || fname, 9));
    IF EXISTS (SELECT 1 FROM folders WHERE parent_id = dir
               AND path = rtrim(dpath, '/') || '/' || fname) THEN
        RAISE EXCEPTION 'a folder named "%" is in the way in %', fname, dpath
            USING ERRCODE = 'PF409';
    END IF;
    UPDATE files SET in_view = false, replaced_by = fid, left_view_at = now()
        WHERE folder_id = dir AND name = fname AND in_view;
    INSERT INTO files (id, pool_id, client_id, name, size, sha256,
                       content_type, ts, folder_id, in_view)
        VALUES (fid, pid, cid, fname, fsize, fsha,
                coalesce(ctype, 'application/octet-stream'), fts, dir, true)
        RETURNING * INTO rec;
    RETURN NEXT rec;
END
$$;

-- Existing installations: every pool gets its root, every client that has
-- files a folder named after it, and each file goes into its client's
-- folder; of several files with one name there, the newest is the one in
-- the view and the others are its earlier versions.
INSERT INTO folders (pool_id, parent_id, path)
    SELECT id, NULL, '/' FROM pools;
INSERT INTO folders (pool_id, parent_id, path)
    SELECT DISTINCT c.pool_id, r.id, pool_client_folder(c.name)
    FROM clients c
    JOIN folders r ON r.pool_id = c.pool_id AND r.path = '/'
    WHERE EXISTS (SELECT 1 FROM files f WHERE f.client_id = c.id);
UPDATE files f SET folder_id = d.id
    FROM clients c, folders d
    WHERE c.id = f.client_id AND d.pool_id = f.pool_id
      AND d.path = pool_client_folder(c.name);
WITH newest AS (
    SELECT DISTINCT ON (folder_id, name) id FROM files
    ORDER BY folder_id, name, received_at DESC, seq DESC
)
UPDATE files f SET in_view = true FROM newest n WHERE f.id = n.id;
UPDATE files f SET replaced_by = n.id, left_view_at = n.received_at
    FROM files n
    WHERE NOT f.in_view AND n.in_view AND n.folder_id = f.folder_id
      AND n.name = f.name;

-- Dead properties of the WebDAV view (PROPPATCH), on a file or a folder:
-- they move with it and go with it.  value is the property element's
-- content as XML text (namespace declarations included), as mod_dav_fs
-- keeps them.
CREATE TABLE dav_props (
    file_id     uuid        REFERENCES files (id) ON DELETE CASCADE,
    folder_id   bigint      REFERENCES folders (id) ON DELETE CASCADE,
    ns          text        NOT NULL,
    name        text        NOT NULL,
    value       text        NOT NULL,
    CONSTRAINT dav_props_target_check
        CHECK ((file_id IS NULL) <> (folder_id IS NULL)),
    CONSTRAINT dav_props_size_check
        CHECK (octet_length(ns) <= 1024 AND octet_length(name) <= 1024
               AND octet_length(value) <= 65536)
);
CREATE UNIQUE INDEX dav_props_file ON dav_props (file_id, ns, name)
    WHERE file_id IS NOT NULL;
CREATE UNIQUE INDEX dav_props_folder ON dav_props (folder_id, ns, name)
    WHERE folder_id IS NOT NULL;
