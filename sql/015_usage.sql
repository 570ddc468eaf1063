-- 015: usage metering (docs/api.md, "Usage and quotas").
--
-- Every counted action adds a row to usage_deltas in the transaction that
-- commits the action (triggers on the tables the actions write, and the
-- module for downloads, counted from the bytes it actually sent), so a
-- count can neither be lost nor made twice.  Rows are only ever inserted:
-- concurrent actions never wait on a shared counter.  `poolctl run usage`
-- folds them into usage_daily (per client and, client_id 0, per pool) and
-- pool_storage, and adds storage byte-days; readers add the deltas not yet
-- folded, so what they see is exact at any moment.
CREATE TABLE usage_deltas (
    id          bigserial   PRIMARY KEY,
    pool_id     bigint      NOT NULL,
    client_id   bigint      NOT NULL DEFAULT 0,   -- 0: the pool's own
    day         date        NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    metric      text        NOT NULL,
    amount      bigint      NOT NULL
);
CREATE INDEX usage_deltas_pool ON usage_deltas (pool_id, metric, client_id);

CREATE TABLE usage_daily (
    pool_id     bigint      NOT NULL,
    day         date        NOT NULL,
    client_id   bigint      NOT NULL,             -- 0: the pool's total
    metric      text        NOT NULL,
    amount      bigint      NOT NULL,
    PRIMARY KEY (pool_id, day, client_id, metric)
);

-- Bytes held in the store, per client of a pool (client 0: the total),
-- as of the last fold; and when storage was last turned into byte-days.
CREATE TABLE pool_storage (
    pool_id     bigint      NOT NULL,
    client_id   bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    PRIMARY KEY (pool_id, client_id)
);
CREATE TABLE usage_state (
    id          integer     PRIMARY KEY CHECK (id = 1),
    sampled_at  timestamptz NOT NULL
);
INSERT INTO usage_state VALUES (1, now());

-- Adds one delta for a client and one for its pool's total.
CREATE FUNCTION pool_usage_add(p_pool bigint, p_client bigint, p_metric text,
                               p_amount bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO usage_deltas (pool_id, client_id, metric, amount)
    SELECT p_pool, c, p_metric, p_amount
    FROM unnest(CASE WHEN coalesce(p_client, 0) = 0 THEN ARRAY[0::bigint]
                     ELSE ARRAY[p_client, 0] END) AS c
    WHERE p_amount <> 0
$$;

-- files: received (count and bytes) and storage held
CREATE FUNCTION pool_usage_files() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'files_received', 1);
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'bytes_received', NEW.size);
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'stored_bytes', NEW.size);
        RETURN NEW;
    END IF;
    PERFORM pool_usage_add(OLD.pool_id, OLD.client_id, 'stored_bytes', -OLD.size);
    RETURN OLD;
END $$;
CREATE TRIGGER files_usage AFTER INSERT OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION pool_usage_files();

-- results: storage held from their arrival, and publication
CREATE FUNCTION pool_usage_results() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'stored_bytes', NEW.size);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pool_usage_add(OLD.pool_id, OLD.client_id, 'stored_bytes', -OLD.size);
        RETURN OLD;
    ELSIF OLD.seq IS NULL AND NEW.seq IS NOT NULL THEN
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'results_published', 1);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER results_usage AFTER INSERT OR DELETE OR UPDATE OF seq ON results
    FOR EACH ROW EXECUTE FUNCTION pool_usage_results();

-- deliveries: every attempt, sent (2xx) or failed
CREATE FUNCTION pool_usage_attempts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    d deliveries%ROWTYPE;
BEGIN
    SELECT * INTO d FROM deliveries WHERE id = NEW.delivery_id;
    PERFORM pool_usage_add(d.pool_id, d.client_id,
        CASE WHEN NEW.status BETWEEN 200 AND 299 THEN 'deliveries_sent'
             ELSE 'deliveries_failed' END, 1);
    RETURN NEW;
END $$;
CREATE TRIGGER delivery_attempts_usage AFTER INSERT ON delivery_attempts
    FOR EACH ROW EXECUTE FUNCTION pool_usage_attempts();

-- rounds: the seconds from a round's trigger to its end (done or failed).
-- Kept as an invariant (the sum equals that of every finished round's
-- process as it now is), so a round failed, retried and finished counts
-- its whole time once; the retry shows as a negative amount on its day.
CREATE FUNCTION pool_usage_processes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind <> 'group' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status IN (1, 2) THEN
        PERFORM pool_usage_add(OLD.pool_id, OLD.client_id, 'processing_seconds',
            -floor(extract(epoch FROM OLD.updated_at - OLD.created_at))::bigint);
    END IF;
    IF NEW.status IN (1, 2) THEN
        PERFORM pool_usage_add(NEW.pool_id, NEW.client_id, 'processing_seconds',
            floor(extract(epoch FROM NEW.updated_at - NEW.created_at))::bigint);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER processes_usage AFTER INSERT OR UPDATE ON processes
    FOR EACH ROW EXECUTE FUNCTION pool_usage_processes();

-- messages: one per message sent, whatever the number of receivers
CREATE FUNCTION pool_usage_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pool_usage_add(NEW.pool_id, NEW.sender_id, 'messages_sent', 1);
    RETURN NEW;
END $$;
CREATE TRIGGER messages_usage AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION pool_usage_messages();

-- what is stored already counts from now on
INSERT INTO pool_storage (pool_id, client_id, bytes)
SELECT pool_id, client_id, sum(size) FROM (
    SELECT pool_id, client_id, size FROM files
    UNION ALL
    SELECT pool_id, client_id, size FROM results WHERE client_id IS NOT NULL) s
GROUP BY pool_id, client_id;
INSERT INTO pool_storage (pool_id, client_id, bytes)
SELECT pool_id, 0, sum(size) FROM (
    SELECT pool_id, size FROM files
    UNION ALL
    SELECT pool_id, size FROM results) s
GROUP BY pool_id;

-- ------------------------------------------------------------- quotas

-- The bytes a pool holds now (exact: the fold and the deltas it has not
-- folded yet, read in one snapshot).
CREATE FUNCTION pool_stored_bytes(p bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT bytes FROM pool_storage
                     WHERE pool_id = p AND client_id = 0), 0)
         + coalesce((SELECT sum(amount) FROM usage_deltas
                     WHERE pool_id = p AND metric = 'stored_bytes'
                       AND client_id = 0), 0)::bigint
$$;

-- max_storage_bytes: a file that would take the pool over it is refused
-- (PF507: 507 with this message).  Concurrent uploads do not wait for each
-- other: each is checked against what is committed, so a pool may go over
-- by the files in flight at that moment (at most one per connection).
-- Results are counted but never refused: a round must be able to end.
CREATE FUNCTION pool_quota_files() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    maxb bigint;
    held bigint;
BEGIN
    SELECT (settings->>'max_storage_bytes')::bigint INTO maxb
        FROM pools WHERE id = NEW.pool_id;
    IF maxb IS NULL THEN
        RETURN NEW;
    END IF;
    held := pool_stored_bytes(NEW.pool_id);
    IF held + NEW.size > maxb THEN
        RAISE EXCEPTION 'the pool''s storage quota is reached (max_storage_bytes %: % bytes are held, the file has %); nothing was stored',
            maxb, held, NEW.size USING ERRCODE = 'PF507';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER files_quota BEFORE INSERT ON files
    FOR EACH ROW EXECUTE FUNCTION pool_quota_files();

-- max_clients: counted after each statement that adds clients, under a
-- lock of the pool's row, so concurrent additions cannot overshoot
-- (PF409: 409 with this message).  Disabled clients count.
CREATE FUNCTION pool_quota_clients() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint;
BEGIN
    FOR r IN SELECT p.id, (p.settings->>'max_clients')::bigint AS maxc
             FROM pools p WHERE p.id IN (SELECT DISTINCT pool_id FROM added)
               AND p.settings ? 'max_clients'
    LOOP
        PERFORM 1 FROM pools WHERE id = r.id FOR UPDATE;
        SELECT count(*) INTO n FROM clients WHERE pool_id = r.id;
        IF n > r.maxc THEN
            RAISE EXCEPTION 'the pool may have at most % clients (max_clients); it would have %',
                r.maxc, n USING ERRCODE = 'PF409';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER clients_quota AFTER INSERT ON clients
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION pool_quota_clients();
