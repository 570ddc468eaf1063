-- 016: webhook endpoints (docs/webhooks.md).  An endpoint is where a pool's
-- events go: made by the pool's admins (client_id NULL) or a client's own
-- callback (client_id set, at most one per client; what
-- `clients/me/callback` registered before, moved here).  Each has its
-- events, a filter, how we authenticate to it, a mapping and a success
-- rule (lib/pool_mapping.h), a retry schedule and a rate limit; its
-- signing secret rotates with a grace period during which both sign.
--
-- Every event is queued by one function, pool_emit(), in the transaction
-- of what caused it; the deliver step (lib/pool_deliver.c) sends them and
-- keeps every attempt: request and response.
CREATE TABLE endpoints (
    id              bigserial   PRIMARY KEY,
    public_id       text        NOT NULL UNIQUE
                    CHECK (public_id ~ '^ep_[0-9a-f]{24}$'),
    pool_id         bigint      NOT NULL REFERENCES pools (id),
    client_id       bigint      REFERENCES clients (id),
    url             text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description     text        NOT NULL DEFAULT ''
                    CHECK (length(description) <= 500),
    events          text[]      NOT NULL DEFAULT '{}',     -- {}: every event
    -- [{"path": [names], "pointer": P, "in": [scalars]}]: every entry must
    -- hold (normalized from the API's {P: value | [values]})
    filter          jsonb,
    auth_type       text        NOT NULL DEFAULT 'none'
                    CHECK (auth_type IN ('none', 'bearer', 'basic', 'header')),
    auth_name       text        CHECK (length(auth_name) <= 256),
    auth_secret     text        CHECK (length(auth_secret) <= 4096),
    secret          text        NOT NULL,
    prev_secret     text,
    prev_until      timestamptz,
    -- seconds to wait after each failed attempt; its length + 1 attempts
    retry_schedule  integer[]   NOT NULL
                    DEFAULT '{5,300,1800,7200,18000,36000,36000}',
    rate_limit      integer     CHECK (rate_limit BETWEEN 1 AND 100000),
    rl_second       bigint      NOT NULL DEFAULT 0,   -- epoch second counted
    rl_used         integer     NOT NULL DEFAULT 0,   -- attempts started in it
    mapping         text        CHECK (length(mapping) <= 65536),  -- keeps order
    rule            text        CHECK (length(rule) <= 16384),
    disabled_at     timestamptz,
    disabled_reason text        CHECK (length(disabled_reason) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT endpoints_client_pool_fkey FOREIGN KEY (client_id, pool_id)
        REFERENCES clients (id, pool_id)
);
CREATE INDEX endpoints_pool ON endpoints (pool_id, public_id);
CREATE UNIQUE INDEX endpoints_client ON endpoints (client_id)
    WHERE client_id IS NOT NULL;

-- clients' callbacks become their endpoints
INSERT INTO endpoints (public_id, pool_id, client_id, url, secret,
                       events, disabled_at, disabled_reason)
SELECT 'ep_' || substr(md5(random()::text || c.id::text), 1, 24), c.pool_id,
       c.id, c.callback_url, c.webhook_secret, '{}', c.callback_disabled_at,
       CASE WHEN c.callback_disabled_at IS NOT NULL
            THEN 'the endpoint answered 410 Gone' END
FROM clients c
WHERE c.callback_url IS NOT NULL AND c.webhook_secret IS NOT NULL;

ALTER TABLE deliveries ADD COLUMN endpoint_id bigint
    REFERENCES endpoints (id) ON DELETE SET NULL;
UPDATE deliveries d SET endpoint_id = e.id
FROM endpoints e WHERE d.endpoint AND e.client_id = d.client_id;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_endpoint_client_check;
ALTER TABLE deliveries DROP COLUMN endpoint;
ALTER TABLE deliveries ALTER COLUMN secret DROP NOT NULL;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at)
    WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_pool_event ON deliveries (pool_id, event, created_at);

ALTER TABLE clients DROP COLUMN callback_url;
ALTER TABLE clients DROP COLUMN webhook_secret;
ALTER TABLE clients DROP COLUMN callback_disabled_at;

-- what each attempt sent and got
ALTER TABLE delivery_attempts ADD COLUMN outcome text
    CHECK (outcome IN ('delivered', 'retry', 'failed'));
ALTER TABLE delivery_attempts ADD COLUMN method text;
ALTER TABLE delivery_attempts ADD COLUMN url text;
ALTER TABLE delivery_attempts ADD COLUMN request_headers jsonb;
-- NULL: the delivery's payload as it is (no mapping)
ALTER TABLE delivery_attempts ADD COLUMN request_body text;
ALTER TABLE delivery_attempts ADD COLUMN response_headers jsonb;
ALTER TABLE delivery_attempts ADD COLUMN response_body text
    CHECK (length(response_body) <= 65536);
ALTER TABLE delivery_attempts ADD COLUMN response_truncated boolean
    NOT NULL DEFAULT false;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey;
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_delivery_id_fkey
    FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE;
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);
UPDATE delivery_attempts SET outcome = CASE
    WHEN status BETWEEN 200 AND 299 THEN 'delivered' ELSE 'failed' END
    WHERE duration_ms IS NOT NULL;

-- Usage: an attempt counts once, when its outcome is recorded (an attempt
-- cut by a crash has none), per statement: a fan-out of thousands records
-- in one statement.
DROP TRIGGER delivery_attempts_usage ON delivery_attempts;
DROP FUNCTION pool_usage_attempts();
CREATE FUNCTION pool_usage_attempts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_deltas (pool_id, client_id, metric, amount)
    SELECT d.pool_id, c.c,
           CASE WHEN n.outcome = 'delivered' THEN 'deliveries_sent'
                ELSE 'deliveries_failed' END, count(*)
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    JOIN deliveries d ON d.id = n.delivery_id
    CROSS JOIN LATERAL unnest(CASE WHEN d.client_id IS NULL
        THEN ARRAY[0::bigint] ELSE ARRAY[d.client_id, 0] END) AS c(c)
    WHERE o.outcome IS NULL AND n.outcome IS NOT NULL
    GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;
CREATE TRIGGER delivery_attempts_usage AFTER UPDATE ON delivery_attempts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pool_usage_attempts();

-- RFC 3339 as the API writes it (lib/pool_ts.c pool_ts_format): UTC, "Z",
-- microseconds only when there are some.
CREATE FUNCTION pool_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 = 0
                THEN ''
                ELSE '.' || lpad((extract(microseconds FROM t)::bigint
                                  % 1000000)::text, 6, '0') END
        || 'Z'
$$;

-- Does the event envelope ev pass an endpoint's filter?
CREATE FUNCTION pool_filter_pass(f jsonb, ev jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT f IS NULL OR NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(f) x
        WHERE NOT (x->'in') @> jsonb_build_array(coalesce(
            ev #> ARRAY(SELECT jsonb_array_elements_text(x->'path')),
            'null'::jsonb)))
$$;

-- Queues event (with data, the envelope's "data") of pool p_pool for every
-- enabled endpoint that takes it: the pool's own endpoints (client_id
-- NULL), and the client endpoints of p_clients (all of the pool's clients
-- when p_all_clients), each of an enabled client.  Returns how many.
CREATE FUNCTION pool_emit(p_pool bigint, p_event text, p_data jsonb,
                          p_all_clients boolean, p_clients bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ev jsonb := jsonb_build_object('type', p_event,
        'timestamp', pool_rfc3339(now()),
        'data', p_data);
    n integer;
BEGIN
    INSERT INTO deliveries (id, pool_id, client_id, endpoint_id, url, event,
                            payload)
    SELECT gen_random_uuid(), e.pool_id, e.client_id, e.id, e.url, p_event,
           ev
    FROM endpoints e
    LEFT JOIN clients c ON c.id = e.client_id
    WHERE e.pool_id = p_pool AND e.disabled_at IS NULL
      AND (cardinality(e.events) = 0 OR p_event = ANY (e.events))
      AND (e.client_id IS NULL
           OR (c.disabled_at IS NULL
               AND (p_all_clients OR e.client_id = ANY (p_clients))))
      AND pool_filter_pass(e.filter, ev);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Does the pool have an enabled endpoint of its own for event?  (What the
-- triggers below ask before building an event.)
CREATE FUNCTION pool_wants(p_pool bigint, p_event text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM endpoints e
                   WHERE e.pool_id = p_pool AND e.client_id IS NULL
                     AND e.disabled_at IS NULL
                     AND (cardinality(e.events) = 0
                          OR p_event = ANY (e.events)))
$$;

-- file.received: {"pool", "file": the File of GET .../files/{id}}, for
-- every file that enters by any path, in the transaction that stores it.
CREATE FUNCTION pool_files_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pool_emit(n.pool_id, 'file.received', jsonb_build_object(
        'pool', p.name,
        'file', jsonb_build_object(
            'id', n.id, 'pool', p.name, 'name', n.name, 'size', n.size,
            'sha256', n.sha256, 'content_type', n.content_type,
            'ts', pool_rfc3339(n.ts),
            'received_at', pool_rfc3339(n.received_at),
            'client', c.client_id, 'folder', d.path,
            'current', n.in_view)),
        false, NULL)
    FROM new_rows n JOIN pools p ON p.id = n.pool_id
    JOIN clients c ON c.id = n.client_id
    LEFT JOIN folders d ON d.id = n.folder_id
    WHERE pool_wants(n.pool_id, 'file.received');
    RETURN NULL;
END $$;
CREATE TRIGGER files_event AFTER INSERT ON files
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pool_files_event();

-- group.closed (its window closed: counts known), group.ready (handed to
-- the processor: triggered in push mode, claimed from closed in pull
-- mode), group.failed (given up): {"pool", "group": the group of GET
-- .../groups}.
CREATE FUNCTION pool_groups_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ev text := CASE
        WHEN NEW.state = 'closed' THEN 'group.closed'
        WHEN NEW.state = 'triggered' THEN 'group.ready'
        WHEN NEW.state = 'claimed' AND OLD.state = 'closed' THEN 'group.ready'
        WHEN NEW.state = 'failed' THEN 'group.failed' END;
BEGIN
    IF ev IS NULL OR NOT pool_wants(NEW.pool_id, ev) THEN
        RETURN NULL;
    END IF;
    PERFORM pool_emit(NEW.pool_id, ev, jsonb_build_object(
        'pool', p.name,
        'group', jsonb_build_object(
            'id', NEW.id, 'seq', NEW.seq, 'state', NEW.state,
            'window', jsonb_build_object(
                'start', pool_rfc3339(NEW.window_start),
                'end', pool_rfc3339(NEW.window_end)),
            'closes_at', pool_rfc3339(NEW.closes_at),
            'files', NEW.files, 'clients', NEW.clients,
            'attempts', NEW.attempts,
            'max_attempts',
                coalesce((p.settings->>'max_attempts')::bigint, 3),
            'deadline', pool_rfc3339(NEW.deadline),
            'result_seq', (SELECT r.seq FROM results r
                           WHERE r.group_id = NEW.id),
            'process', NEW.process_id))
        -- why it was given up: its process's message (lib/pool_groups.c)
        || CASE WHEN ev = 'group.failed' THEN jsonb_build_object('reason',
               coalesce((SELECT pr.message FROM processes pr
                         WHERE pr.id = NEW.process_id), 'given up'))
           ELSE '{}'::jsonb END,
        false, NULL)
    FROM pools p WHERE p.id = NEW.pool_id;
    RETURN NULL;
END $$;
CREATE TRIGGER groups_event AFTER UPDATE OF state ON groups
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION pool_groups_event();

-- client.enrolled: {"pool", "client": the Client of GET .../clients/{id},
-- "enrollment_key"}: an application registered itself with a key.
CREATE FUNCTION pool_clients_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pool_emit(n.pool_id, 'client.enrolled', jsonb_build_object(
        'pool', p.name,
        'client', jsonb_build_object(
            'client_id', n.client_id, 'pool', p.name, 'name', n.name,
            'role', n.role, 'disabled', n.disabled_at IS NOT NULL,
            'labels', n.labels, 'created_at', pool_rfc3339(n.created_at)),
        'enrollment_key', k.key_id),
        false, NULL)
    FROM new_rows n JOIN pools p ON p.id = n.pool_id
    JOIN enroll_keys k ON k.id = n.enroll_key_id
    WHERE pool_wants(n.pool_id, 'client.enrolled');
    RETURN NULL;
END $$;
CREATE TRIGGER clients_event AFTER INSERT ON clients
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pool_clients_event();

-- The pool setting "delivery_retention" (default 30 days): finished
-- deliveries older than it are swept with their attempts; a group keeps
-- its record when its trigger's delivery goes.
ALTER TABLE groups DROP CONSTRAINT groups_delivery_id_fkey;
ALTER TABLE groups ADD CONSTRAINT groups_delivery_id_fkey
    FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE SET NULL;
CREATE INDEX deliveries_created ON deliveries (created_at)
    WHERE state <> 'pending';
-- (covers what this one did)
DROP INDEX deliveries_failed;

-- A claim changes no indexed column of its delivery, and an outcome none
-- of its attempt: with room left on their pages those updates are HOT (no
-- new index entries), which is most of what a fan-out of thousands costs.
ALTER TABLE deliveries SET (fillfactor = 70);
ALTER TABLE delivery_attempts SET (fillfactor = 50);
