-- 020: a file that takes the place of another in its folder changes the
-- folder sizes by the difference of the two, in at most one statement.
-- Before, the earlier file leaving the view and the new one entering it
-- each walked the folder's ancestors and inserted deltas (-old, -1 and
-- +new, +1): two trigger calls and two INSERTs per replacing upload for
-- a net (new - old, 0), which is nothing when the sizes are equal.
--
-- files.replaces names the file a new one replaced (the pair of
-- replaced_by); the size triggers skip both rows of a replacement (their
-- WHEN clauses cost no function call) and pool_file_insert adds the net
-- delta itself.  The cached sizes stay equal to a recount (`poolctl run
-- sizes`).

ALTER TABLE files ADD COLUMN replaces uuid;

DROP TRIGGER files_sizes ON files;
CREATE TRIGGER files_sizes_insert AFTER INSERT ON files FOR EACH ROW
    WHEN (NEW.replaces IS NULL)
    EXECUTE FUNCTION pool_files_sizes();
CREATE TRIGGER files_sizes_update AFTER UPDATE OF in_view, folder_id, size
    ON files FOR EACH ROW
    WHEN (NOT (OLD.replaced_by IS NULL AND NEW.replaced_by IS NOT NULL))
    EXECUTE FUNCTION pool_files_sizes();
CREATE TRIGGER files_sizes_delete AFTER DELETE ON files FOR EACH ROW
    EXECUTE FUNCTION pool_files_sizes();

CREATE OR REPLACE FUNCTION pool_file_insert(fid uuid, pool text, client text,
                                            fname text, fsize bigint,
                                            fsha text, ctype text,
                                            fts timestamptz, folder text)
RETURNS SETOF files
LANGUAGE plpgsql AS $$
DECLARE
    pid bigint;
    cid bigint;
    cname text;
    dir bigint;
    dpath text;
    old_id uuid;
    old_size bigint;
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
    -- at most one file is in the view under a name (files_view_name)
    UPDATE files SET in_view = false, replaced_by = fid, left_view_at = now()
        WHERE folder_id = dir AND name = fname AND in_view
        RETURNING id, size INTO old_id, old_size;
    INSERT INTO files (id, pool_id, client_id, name, size, sha256,
                       content_type, ts, folder_id, in_view, replaces)
        VALUES (fid, pid, cid, fname, fsize, fsha,
                coalesce(ctype, 'application/octet-stream'), fts, dir, true,
                old_id)
        RETURNING * INTO rec;
    IF old_id IS NOT NULL AND fsize <> old_size THEN
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT d.id, d.parent_id FROM folders d WHERE d.id = dir
            UNION ALL
            SELECT d.id, d.parent_id FROM folders d JOIN up ON d.id = up.parent_id
        )
        INSERT INTO folder_deltas (folder_id, bytes, files)
            SELECT up.id, fsize - old_size, 0 FROM up;
    END IF;
    RETURN NEXT rec;
END
$$;
