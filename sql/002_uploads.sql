-- 002: resumable (tus) uploads.
--
-- One row per upload: what the client announced, how far it got, and a
-- lease (lock_token, locked_until) that a request holds while it writes the
-- upload's data file (STORAGE/.uploads/<id>).  The lease expires, so a
-- crashed httpd child cannot hold an upload for ever.  A completed upload
-- points at the file it became; partial uploads (concatenation) never
-- become files themselves and are 'consumed' by the final upload that
-- joins them.  `poolctl sweep` deletes rows past expires_at and their data.

CREATE TABLE uploads (
    id             uuid        PRIMARY KEY,
    pool_id        bigint      NOT NULL REFERENCES pools (id),
    client_id      bigint      NOT NULL,
    -- NULL while the length is deferred (Upload-Defer-Length: 1)
    upload_length  bigint
                   CONSTRAINT uploads_length_check
                   CHECK (upload_length IS NULL OR upload_length >= 0),
    upload_offset  bigint      NOT NULL DEFAULT 0
                   CONSTRAINT uploads_offset_check
                   CHECK (upload_offset >= 0
                          AND (upload_length IS NULL
                               OR upload_offset <= upload_length)),
    -- Upload-Metadata as the client sent it (echoed by HEAD), and the
    -- file fields taken from it
    metadata       text
                   CONSTRAINT uploads_metadata_check
                   CHECK (octet_length(metadata) <= 16384),
    name           text        NOT NULL
                   CONSTRAINT uploads_name_check
                   CHECK (octet_length(name) BETWEEN 1 AND 255),
    content_type   text        NOT NULL DEFAULT 'application/octet-stream',
    ts             timestamptz NOT NULL,
    concat         text        NOT NULL DEFAULT 'none'
                   CONSTRAINT uploads_concat_check
                   CHECK (concat IN ('none', 'partial', 'final')),
    -- a final upload's Upload-Concat value
    parts          text,
    state          text        NOT NULL DEFAULT 'open'
                   CONSTRAINT uploads_state_check
                   CHECK (state IN ('open', 'done', 'consumed')),
    file_id        uuid        REFERENCES files (id) ON DELETE SET NULL,
    expires_at     timestamptz NOT NULL,
    locked_until   timestamptz,
    lock_token     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uploads_client_fkey FOREIGN KEY (client_id, pool_id)
        REFERENCES clients (id, pool_id)
);

CREATE INDEX uploads_expires_idx ON uploads (expires_at);
CREATE INDEX uploads_pool_client_idx ON uploads (pool_id, client_id);
