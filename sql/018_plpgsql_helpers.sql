-- 018: the helpers that run for every stored file, in PL/pgSQL instead of
-- SQL.  A SQL function that cannot be inlined (a recursive CTE, an INSERT,
-- an EXISTS) is parsed and planned again at every call from a trigger:
-- the profile of 100 KB PUTs through the WebDAV view had 10% of all CPU
-- in fmgr_sql.  PL/pgSQL keeps its plans for the session.  Same
-- arguments, results and volatility as before (sql/009, 015, 016).

CREATE OR REPLACE FUNCTION pool_folder_ancestors(f bigint)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT d.id, d.parent_id FROM folders d WHERE d.id = f
            UNION ALL
            SELECT d.id, d.parent_id FROM folders d
            JOIN up ON d.id = up.parent_id
        )
        SELECT up.id FROM up;
END $$;

CREATE OR REPLACE FUNCTION pool_usage_add(p_pool bigint, p_client bigint,
                                          p_metric text, p_amount bigint)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_amount <> 0 THEN
        INSERT INTO usage_deltas (pool_id, client_id, metric, amount)
        SELECT p_pool, x.c, p_metric, p_amount
        FROM unnest(CASE WHEN coalesce(p_client, 0) = 0
                         THEN ARRAY[0::bigint]
                         ELSE ARRAY[p_client, 0] END) AS x(c);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION pool_stored_bytes(p bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((SELECT s.bytes FROM pool_storage s
                     WHERE s.pool_id = p AND s.client_id = 0), 0)
         + coalesce((SELECT sum(u.amount) FROM usage_deltas u
                     WHERE u.pool_id = p AND u.metric = 'stored_bytes'
                       AND u.client_id = 0), 0)::bigint;
END $$;

CREATE OR REPLACE FUNCTION pool_wants(p_pool bigint, p_event text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM endpoints e
                   WHERE e.pool_id = p_pool AND e.client_id IS NULL
                     AND e.disabled_at IS NULL
                     AND (cardinality(e.events) = 0
                          OR p_event = ANY (e.events)));
END $$;
