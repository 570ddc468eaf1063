-- 011: the folder an import's file goes to (POST .../imports "folder"), a
-- path of the pool's tree as sql/009 keeps it; NULL: the importing
-- client's own folder, as for every other way of uploading.
ALTER TABLE imports ADD COLUMN folder text
    CONSTRAINT imports_folder_check
    CHECK (folder IS NULL OR octet_length(folder) <= 4096);
