-- 001: pools, their clients, and the files they upload.
--
-- Applied by `poolctl migrate` (lib/pool_db.c) in one transaction; the
-- bookkeeping table pool_schema_migrations is created by poolctl itself.
-- Later migrations add groups, results, processes and deliveries.

-- A pool is a tenant.  Its name appears in URLs and in storage paths.
CREATE TABLE pools (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL UNIQUE
                CONSTRAINT pools_name_check
                CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- per-pool settings (window, lateness, quorum, processor URL, ...)
    settings    jsonb       NOT NULL DEFAULT '{}'
                CONSTRAINT pools_settings_check
                CHECK (jsonb_typeof(settings) = 'object')
);

-- A client application of one pool.  client_id is its public id
-- ("cl_" + 24 hex); the secret is stored only as a salted KDF hash.
CREATE TABLE clients (
    id          bigserial   PRIMARY KEY,
    client_id   text        NOT NULL UNIQUE
                CONSTRAINT clients_client_id_check
                CHECK (client_id ~ '^cl_[0-9a-f]{24}$'),
    pool_id     bigint      NOT NULL REFERENCES pools (id),
    name        text        NOT NULL
                CONSTRAINT clients_name_check
                CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    role        text        NOT NULL
                CONSTRAINT clients_role_check
                CHECK (role IN ('uploader', 'listener', 'processor', 'admin')),
    secret_hash text        NOT NULL,
    disabled_at timestamptz NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clients_pool_name_key UNIQUE (pool_id, name),
    -- target of files' (client, pool) reference: a file's uploader is
    -- always a client of the file's own pool
    CONSTRAINT clients_id_pool_key UNIQUE (id, pool_id)
);

-- An uploaded file.  Storage paths are built from the pool name and id,
-- never from the client's file name.  seq is the paging cursor.
CREATE TABLE files (
    id           uuid        PRIMARY KEY,
    seq          bigserial   NOT NULL UNIQUE,
    pool_id      bigint      NOT NULL REFERENCES pools (id),
    client_id    bigint      NOT NULL,
    name         text        NOT NULL
                 CONSTRAINT files_name_check
                 CHECK (octet_length(name) BETWEEN 1 AND 255),
    size         bigint      NOT NULL
                 CONSTRAINT files_size_check CHECK (size >= 0),
    sha256       char(64)    NOT NULL
                 CONSTRAINT files_sha256_check
                 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text        NOT NULL DEFAULT 'application/octet-stream',
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT files_client_fkey FOREIGN KEY (client_id, pool_id)
        REFERENCES clients (id, pool_id)
);

CREATE INDEX files_pool_seq_idx ON files (pool_id, seq);
CREATE INDEX files_pool_client_seq_idx ON files (pool_id, client_id, seq);
