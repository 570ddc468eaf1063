-- 014: links for clients (docs/api.md, "Links for clients"): a client
-- hands a signed URL to someone without credentials, to download one file
-- of its pool or to upload one file into it as that client.  Unlike a
-- processor's stateless link, each has a row: it counts its downloads,
-- can be revoked, and lists its uses.  The URL carries the row's id and
-- an HMAC over it (lib/pool_link.c), so that verifying one is the
-- signature plus a lookup of this row by its primary key.
CREATE TABLE client_links (
    id            uuid        PRIMARY KEY,
    seq           bigserial   NOT NULL UNIQUE,      -- paging cursor
    pool_id       bigint      NOT NULL REFERENCES pools (id),
    client_id     bigint      NOT NULL,              -- its creator
    kind          text        NOT NULL
                  CONSTRAINT client_links_kind_check
                  CHECK (kind IN ('download', 'upload')),
    -- download: the file; upload: the file it stored (NULL until then).
    -- A file removed by retention takes its download links with it.
    file_id       uuid        NULL REFERENCES files (id) ON DELETE CASCADE,
    -- upload: the name, folder (NULL: the creator's own) and event
    -- timestamp (NULL: the time of the upload) of the file, and its limit
    name          text        NULL
                  CONSTRAINT client_links_name_check
                  CHECK (octet_length(name) BETWEEN 1 AND 255),
    folder        text        NULL
                  CONSTRAINT client_links_folder_check
                  CHECK (octet_length(folder) <= 4096),
    ts            timestamptz NULL,
    max_size      bigint      NULL
                  CONSTRAINT client_links_max_size_check CHECK (max_size > 0),
    -- download: how many GETs it admits (NULL: any number until expiry)
    max_downloads integer     NULL
                  CONSTRAINT client_links_max_downloads_check
                  CHECK (max_downloads > 0),
    downloads     integer     NOT NULL DEFAULT 0,
    -- upload: the request that holds it while its body arrives (a random
    -- token), since when; a claim older than the lease (lib) is void
    claim         text        NULL,
    claimed_at    timestamptz NULL,
    used_at       timestamptz NULL,                  -- upload: stored
    uses          integer     NOT NULL DEFAULT 0,    -- rows in client_link_uses
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz NULL,
    CONSTRAINT client_links_client_fkey FOREIGN KEY (client_id, pool_id)
        REFERENCES clients (id, pool_id),
    CONSTRAINT client_links_shape_check CHECK (
        (kind = 'download' AND file_id IS NOT NULL AND name IS NULL
         AND max_size IS NULL AND used_at IS NULL AND claim IS NULL)
        OR (kind = 'upload' AND name IS NOT NULL AND max_size IS NOT NULL
            AND max_downloads IS NULL AND downloads = 0
            AND (used_at IS NULL) = (file_id IS NULL))),
    CONSTRAINT client_links_claim_check
        CHECK ((claim IS NULL) = (claimed_at IS NULL)),
    CONSTRAINT client_links_downloads_check
        CHECK (downloads >= 0
               AND (max_downloads IS NULL OR downloads <= max_downloads))
);
-- a client's links, a pool's links (listings); the sweep's purge
CREATE INDEX client_links_pool_client_seq_idx
    ON client_links (pool_id, client_id, seq);
CREATE INDEX client_links_pool_seq_idx ON client_links (pool_id, seq);
CREATE INDEX client_links_expires_idx ON client_links (expires_at);
CREATE INDEX client_links_file_idx ON client_links (file_id);

-- One use of a link: a download it admitted, an upload that claimed it.
CREATE TABLE client_link_uses (
    id             bigserial   PRIMARY KEY,
    link_id        uuid        NOT NULL
                   REFERENCES client_links (id) ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    method         text        NOT NULL,
    remote_addr    text        NOT NULL,
    status         integer     NOT NULL,
    bytes_sent     bigint      NOT NULL DEFAULT 0,
    bytes_received bigint      NOT NULL DEFAULT 0
);
CREATE INDEX client_link_uses_link_idx ON client_link_uses (link_id, id);
