-- 012: clients at scale: labels, secret rotation with a grace period, and
-- enrollment keys with which client applications register themselves
-- (docs/api.md, "Clients").

-- labels: key=value pairs an admin or the enrolling application gives a
-- client, shown and filtered on in listings.  prev_secret_hash: the secret
-- a rotation replaced, still accepted until prev_secret_until.
ALTER TABLE clients
    ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT clients_labels_check
        CHECK (jsonb_typeof(labels) = 'object'),
    ADD COLUMN prev_secret_hash text NULL,
    ADD COLUMN prev_secret_until timestamptz NULL,
    ADD CONSTRAINT clients_prev_secret_check
        CHECK ((prev_secret_hash IS NULL) = (prev_secret_until IS NULL));

-- label filters (labels @> '{"site":"north"}') of pools with many clients
CREATE INDEX clients_labels_idx ON clients USING gin (labels jsonb_path_ops);

-- An enrollment key: the key an admin hands to an application so it can
-- register itself as a client of one pool, with one role.  key_id is its
-- public part; the secret part is stored only as a salted hash.  uses
-- counts the clients it has made; a key stops working when it expires, is
-- revoked, or has made uses_max clients.
CREATE TABLE enroll_keys (
    id          bigserial   PRIMARY KEY,
    key_id      text        NOT NULL UNIQUE
                CONSTRAINT enroll_keys_key_id_check
                CHECK (key_id ~ '^ek_[0-9a-f]{16}$'),
    pool_id     bigint      NOT NULL REFERENCES pools (id),
    role        text        NOT NULL
                CONSTRAINT enroll_keys_role_check
                CHECK (role IN ('uploader', 'listener', 'processor')),
    secret_hash text        NOT NULL,
    labels      jsonb       NOT NULL DEFAULT '{}'
                CONSTRAINT enroll_keys_labels_check
                CHECK (jsonb_typeof(labels) = 'object'),
    uses_max    integer     NULL
                CONSTRAINT enroll_keys_uses_max_check CHECK (uses_max > 0),
    uses        integer     NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT enroll_keys_uses_check
        CHECK (uses >= 0 AND (uses_max IS NULL OR uses <= uses_max))
);
CREATE INDEX enroll_keys_pool_idx ON enroll_keys (pool_id, created_at);

-- which key made a client (NULL: made by poolctl or an admin)
ALTER TABLE clients ADD COLUMN enroll_key_id bigint NULL
    REFERENCES enroll_keys (id);
