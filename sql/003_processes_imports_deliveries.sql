-- 003: status records for long work (processes), upload by URL (imports),
-- and outbound signed webhooks with their attempts (deliveries).

CREATE TABLE processes (
    id          uuid PRIMARY KEY,
    pool_id     bigint NOT NULL REFERENCES pools (id),
    client_id   bigint REFERENCES clients (id),
    kind        text NOT NULL CHECK (kind IN ('import', 'group')),
    status      smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    percent     smallint CHECK (percent BETWEEN 0 AND 100),
    message     text CHECK (length(message) <= 2000),
    result      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processes_pool ON processes (pool_id, created_at);

CREATE TABLE imports (
    process_id      uuid PRIMARY KEY REFERENCES processes (id),
    pool_id         bigint NOT NULL REFERENCES pools (id),
    client_id       bigint NOT NULL REFERENCES clients (id),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    name            text CHECK (name IS NULL OR length(name) BETWEEN 1 AND 255),
    ts              timestamptz NOT NULL,
    callback_url    text CHECK (callback_url IS NULL OR length(callback_url) <= 2048),
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'done', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    lock_owner      text,
    file_id         uuid REFERENCES files (id),
    last_error      text CHECK (length(last_error) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_due ON imports (next_attempt_at) WHERE state = 'queued';

-- Per-client webhook endpoint and its signing secret (whsec_...).  Import
-- callbacks are signed with the calling client's secret.
ALTER TABLE clients ADD COLUMN callback_url text
    CHECK (callback_url IS NULL OR length(callback_url) <= 2048);
ALTER TABLE clients ADD COLUMN webhook_secret text;
ALTER TABLE clients ADD COLUMN callback_disabled_at timestamptz;

-- One outbound webhook (Standard Webhooks): id is the webhook-id.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    pool_id         bigint NOT NULL REFERENCES pools (id),
    client_id       bigint REFERENCES clients (id),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    secret          text NOT NULL,
    event           text NOT NULL CHECK (length(event) BETWEEN 1 AND 100),
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_status     integer,
    last_error      text CHECK (length(last_error) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_pool ON deliveries (pool_id, created_at);

CREATE TABLE delivery_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES deliveries (id),
    at          timestamptz NOT NULL DEFAULT now(),
    status      integer,
    error       text CHECK (length(error) <= 2000),
    duration_ms integer
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at);
