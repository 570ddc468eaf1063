-- 013: messages between the clients of a pool (docs/api.md, "Messages").
--
-- A message goes to one client (to_client), to every client of a role
-- (to_role) or to the whole pool (neither): ONE row whatever the number of
-- receivers.  Who received it is worked out when an inbox is read, from
-- three partial indexes (one per kind of address) that the inbox query
-- merges in seq order (lib/pool_messages.c).  A receipt row exists only
-- once a receiver marks a message read.

CREATE TABLE messages (
    id          uuid        PRIMARY KEY,
    -- the inbox and sent-box cursor, increasing (unique by its sequence;
    -- no index of its own, which the planner would take over the
    -- per-address ones for a high cursor)
    seq         bigserial   NOT NULL,
    pool_id     bigint      NOT NULL REFERENCES pools (id),
    sender_id   bigint      NOT NULL,
    to_client   bigint,
    to_role     text
                CONSTRAINT messages_to_role_check
                CHECK (to_role IN ('uploader', 'listener', 'processor', 'admin')),
    subject     text
                CONSTRAINT messages_subject_check
                CHECK (char_length(subject) BETWEEN 1 AND 200),
    -- any JSON value, kept as the text the API serialised (json, not
    -- jsonb: member order stays the sender's)
    body        json        NOT NULL
                CONSTRAINT messages_body_check
                CHECK (octet_length(body::text) <= 65536),
    -- attachments: ids of files of the pool (no reference: retention may
    -- remove a file before the message; fetching it then gives 404)
    files       uuid[]      NOT NULL DEFAULT '{}'
                CONSTRAINT messages_files_check CHECK (cardinality(files) <= 20),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_to_check CHECK (to_client IS NULL OR to_role IS NULL),
    -- sender and receiver are clients of the message's own pool
    CONSTRAINT messages_sender_fkey FOREIGN KEY (sender_id, pool_id)
        REFERENCES clients (id, pool_id),
    CONSTRAINT messages_to_client_fkey FOREIGN KEY (to_client, pool_id)
        REFERENCES clients (id, pool_id)
);
CREATE INDEX messages_direct ON messages (to_client, seq)
    WHERE to_client IS NOT NULL;
CREATE INDEX messages_role ON messages (pool_id, to_role, seq)
    WHERE to_role IS NOT NULL;
CREATE INDEX messages_pool ON messages (pool_id, seq)
    WHERE to_client IS NULL AND to_role IS NULL;
CREATE INDEX messages_sent ON messages (sender_id, seq);
-- retention: a pool's messages older than its `retention` (poolctl sweep)
CREATE INDEX messages_pool_created ON messages (pool_id, created_at);

CREATE TABLE message_reads (
    message_id  uuid        NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    client_id   bigint      NOT NULL REFERENCES clients (id),
    read_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, client_id)
);

-- The last message number handed out (0 before the first).  A client
-- created now receives the role and pool messages numbered after it: a
-- broadcast reaches the clients that existed when it took its number.
CREATE FUNCTION pool_messages_mark() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(pg_sequence_last_value('messages_seq_seq'::regclass), 0)
$$;

-- Existing clients receive every message (there is none yet); the
-- default is set apart so that adding the column rewrites nothing.
ALTER TABLE clients ADD COLUMN messages_after bigint NOT NULL DEFAULT 0;
ALTER TABLE clients ALTER COLUMN messages_after SET DEFAULT pool_messages_mark();
