-- 006: retention.  `poolctl sweep` deletes the files of finished groups
-- once their pool's `retention` has passed; an import that brought such a
-- file keeps its record (state done) without the file.
ALTER TABLE imports DROP CONSTRAINT imports_file_id_fkey;
ALTER TABLE imports ADD CONSTRAINT imports_file_id_fkey
    FOREIGN KEY (file_id) REFERENCES files (id) ON DELETE SET NULL;
