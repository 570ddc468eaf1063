-- 010: WebDAV locks of the view (/dav/{pool}/), kept here rather than in a
-- node's DavLockDB so that a lock taken through one httpd node holds on
-- every node of a cluster.
--
-- One row per lock, at the path it was taken on (mod_dav's "direct" lock).
-- The locks a depth-infinity lock puts on the members of a folder
-- ("indirect" locks; mod_dav_fs writes one record per member) are not
-- stored: a lock covers every path under its own, so the locks of a path
-- are the rows at the path and the depth-infinity rows at its ancestors.
-- Members that appear later (a PUT, an upload through the API) are covered
-- without anything to copy, and an UNLOCK or an expiry is one row.
--
-- A lock on a path where the view has nothing is a lock-null resource: no
-- flag says so, it is whatever the view does not have (lib/pool_davlock.c).
--
-- Expiry: every lock has an end (an "Infinite" timeout is capped by the
-- library); rows past their end are ignored by every read and deleted
-- lazily when the next lock of their pool is taken.
--
-- Every statement names the pool: locks of a pool are never visible to
-- another pool, even with a token of the other pool in hand.

CREATE TABLE dav_locks (
    -- the lock token is opaquelocktoken:<token>
    token       uuid        PRIMARY KEY,
    pool_id     bigint      NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    -- the path in the pool it was taken on, in normal form (lib/pool_view.h)
    path        text        NOT NULL
                CONSTRAINT dav_locks_path_check
                CHECK (octet_length(path) <= 4096
                       AND (path = '/' OR path ~ '^(/[^/]+)+$')),
    exclusive   boolean     NOT NULL,
    -- Depth: infinity (covers everything under path), else depth 0
    infinite    boolean     NOT NULL,
    -- the DAV:owner element of the LOCK request, verbatim XML
    owner       text
                CONSTRAINT dav_locks_owner_check
                CHECK (octet_length(owner) <= 8192),
    -- the authenticated client that took it
    auth_user   text
                CONSTRAINT dav_locks_auth_user_check
                CHECK (octet_length(auth_user) <= 256),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
-- the locks of a path and of its ancestors (path = ANY(...))
CREATE INDEX dav_locks_pool_path ON dav_locks (pool_id, path);
-- live locks of a pool, and the lazy purge of expired ones
CREATE INDEX dav_locks_pool_expires ON dav_locks (pool_id, expires_at);
