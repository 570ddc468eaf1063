-- 019: fewer statements per stored file.  Every statement a trigger or
-- function runs pays the executor's start and end (ExecutorStart alone was
-- 10% of all CPU during 100 KB WebDAV PUTs), so the per-file paths now
-- run one statement where they ran several.  Same results as before
-- (sql/009, 015, 018).

-- A folder that exists (the usual case) is one lookup; only a missing one
-- takes the path that makes it and its parents.
CREATE OR REPLACE FUNCTION pool_folder_ensure(pool bigint, fpath text)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    parent bigint;
    fid bigint;
    cur text := '';
    seg text;
BEGIN
    SELECT id INTO fid FROM folders WHERE pool_id = pool AND path = fpath;
    IF FOUND THEN
        RETURN fid;
    END IF;
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

-- The folder-size deltas of a file entering or leaving the view: one
-- INSERT over the folder's ancestors (the walk of pool_folder_ancestors,
-- inline, rather than a function call and a statement of its own).
CREATE OR REPLACE FUNCTION pool_files_sizes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.in_view
       AND OLD.folder_id IS NOT NULL THEN
        IF TG_OP = 'UPDATE' AND NEW.in_view
           AND NEW.folder_id IS NOT DISTINCT FROM OLD.folder_id
           AND NEW.size = OLD.size THEN
            RETURN NULL;
        END IF;
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT d.id, d.parent_id FROM folders d WHERE d.id = OLD.folder_id
            UNION ALL
            SELECT d.id, d.parent_id FROM folders d JOIN up ON d.id = up.parent_id
        )
        INSERT INTO folder_deltas (folder_id, bytes, files)
            SELECT up.id, -OLD.size, -1 FROM up;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.in_view
       AND NEW.folder_id IS NOT NULL THEN
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT d.id, d.parent_id FROM folders d WHERE d.id = NEW.folder_id
            UNION ALL
            SELECT d.id, d.parent_id FROM folders d JOIN up ON d.id = up.parent_id
        )
        INSERT INTO folder_deltas (folder_id, bytes, files)
            SELECT up.id, NEW.size, 1 FROM up;
    END IF;
    RETURN NULL;
END
$$;

-- A new file's usage (files and bytes received, bytes stored; for its
-- client and its pool's total) in one INSERT instead of three calls of
-- pool_usage_add.
CREATE OR REPLACE FUNCTION pool_usage_files() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_deltas (pool_id, client_id, metric, amount)
        SELECT NEW.pool_id, c.id, m.metric, m.amount
        FROM unnest(CASE WHEN coalesce(NEW.client_id, 0) = 0
                         THEN ARRAY[0::bigint]
                         ELSE ARRAY[NEW.client_id, 0] END) AS c(id),
             (VALUES ('files_received', 1::bigint),
                     ('bytes_received', NEW.size),
                     ('stored_bytes', NEW.size)) AS m(metric, amount)
        WHERE m.amount <> 0;
        RETURN NEW;
    END IF;
    PERFORM pool_usage_add(OLD.pool_id, OLD.client_id, 'stored_bytes', -OLD.size);
    RETURN OLD;
END $$;
