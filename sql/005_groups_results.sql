-- 005: rounds.  Files of similar timestamps are gathered into groups (one
-- per window of the pool), a processor returns one result per group, and
-- results are published to the pool with a per-pool sequence number.
--
-- Per-pool settings (window, lateness, quorum, ...) are in pools.settings
-- (jsonb, checked by lib/pool_settings.c); the processor's webhook signing
-- secret is kept apart so that no listing of settings can show it.
ALTER TABLE pools ADD COLUMN processor_secret text;
-- the last published result's sequence number of the pool
ALTER TABLE pools ADD COLUMN result_seq bigint NOT NULL DEFAULT 0;
-- the `group` step has looked at every file received before this time
-- (less a margin); NULL: look at all of the pool's files
ALTER TABLE pools ADD COLUMN grouped_until timestamptz;

-- A group: the files of a pool whose ts fall in [window_start, window_end).
-- States move forward only:
--   open -> closed -> triggered -> claimed -> done
--                  \-> skipped (quorum missed)     \-> failed (attempts)
-- (expire moves triggered/claimed back to closed/triggered for another
-- attempt while attempts < max_attempts.)
CREATE TABLE groups (
    id            uuid        PRIMARY KEY,
    seq           bigserial   NOT NULL UNIQUE,
    pool_id       bigint      NOT NULL REFERENCES pools (id),
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    -- window_end + lateness, fixed when the group is made
    closes_at     timestamptz NOT NULL,
    state         text        NOT NULL DEFAULT 'open'
                  CONSTRAINT groups_state_check
                  CHECK (state IN ('open', 'closed', 'skipped', 'triggered',
                                   'claimed', 'done', 'failed')),
    -- counted at close (files that came in time, and their clients)
    files         integer,
    clients       integer,
    attempts      integer     NOT NULL DEFAULT 0,
    -- when the current attempt's result is due (triggered in push mode,
    -- claimed in either mode)
    deadline      timestamptz,
    claimed_by    bigint      REFERENCES clients (id),
    process_id    uuid        REFERENCES processes (id),
    -- the last trigger webhook (push mode)
    delivery_id   uuid        REFERENCES deliveries (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    triggered_at  timestamptz,
    finished_at   timestamptz,
    CONSTRAINT groups_window_check CHECK (window_end > window_start),
    CONSTRAINT groups_pool_window_key UNIQUE (pool_id, window_start)
);
CREATE INDEX groups_open ON groups (closes_at) WHERE state = 'open';
CREATE INDEX groups_ready ON groups (closed_at) WHERE state = 'closed';
CREATE INDEX groups_due ON groups (deadline)
    WHERE state IN ('triggered', 'claimed');
CREATE INDEX groups_pool_window ON groups (pool_id, window_start, window_end);

-- A file's group is the group of its pool whose window holds its ts (no
-- per-file column: grouping a million files writes only the groups); it is
-- late when received at or after the group's closes_at.
CREATE INDEX files_pool_ts ON files (pool_id, ts);
CREATE INDEX files_pool_received ON files (pool_id, received_at);

-- The one result of a group.  Stored as STORAGE/.results/<id> when it
-- arrives; `publish` gives it the pool's next seq and links it into
-- STORAGE/<pool>/results/<path_name> (the WebDAV view).
CREATE TABLE results (
    id            uuid        PRIMARY KEY,
    pool_id       bigint      NOT NULL REFERENCES pools (id),
    group_id      uuid        NOT NULL UNIQUE REFERENCES groups (id),
    client_id     bigint      REFERENCES clients (id),
    name          text        NOT NULL
                  CONSTRAINT results_name_check
                  CHECK (octet_length(name) BETWEEN 1 AND 255),
    size          bigint      NOT NULL CHECK (size >= 0),
    sha256        char(64)    NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type  text        NOT NULL DEFAULT 'application/octet-stream',
    received_at   timestamptz NOT NULL DEFAULT now(),
    seq           bigint,
    path_name     text,
    published_at  timestamptz,
    locked_until  timestamptz,
    CONSTRAINT results_pool_seq_key UNIQUE (pool_id, seq),
    CONSTRAINT results_published_check
        CHECK ((seq IS NULL) = (published_at IS NULL))
);
CREATE INDEX results_unpublished ON results (received_at) WHERE seq IS NULL;

-- Who has downloaded which result (read receipts for admins).
CREATE TABLE result_reads (
    result_id     uuid        NOT NULL REFERENCES results (id),
    client_id     bigint      NOT NULL REFERENCES clients (id),
    first_at      timestamptz NOT NULL DEFAULT now(),
    last_at       timestamptz NOT NULL DEFAULT now(),
    reads         integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (result_id, client_id)
);
