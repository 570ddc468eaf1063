-- The SHA-256 state of an upload's data up to upload_offset, saved as its
-- chunks arrive (lib/pool_sha.c), so that completion, on any node, need not
-- read the data again.  NULL: unknown (completion reads the data).
ALTER TABLE uploads ADD COLUMN sha256_state text;
