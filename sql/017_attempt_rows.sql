-- 017: a webhook attempt's row is written once, with its outcome, by the
-- statement that records it (lib/pool_deliver.c), no longer inserted at
-- the claim and updated afterwards: half the writes of a fan-out.  An
-- attempt whose runner stopped before recording it gets its row (with no
-- outcome) when the delivery is claimed again after the lease; until then
-- the API shows it from the lease (lib/pool_deliveries.c).
--
-- Usage counts each attempt once, by its outcome, now when it is inserted.
DROP TRIGGER delivery_attempts_usage ON delivery_attempts;
CREATE OR REPLACE FUNCTION pool_usage_attempts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_deltas (pool_id, client_id, metric, amount)
    SELECT d.pool_id, c.c,
           CASE WHEN n.outcome = 'delivered' THEN 'deliveries_sent'
                ELSE 'deliveries_failed' END, count(*)
    FROM new_rows n
    JOIN deliveries d ON d.id = n.delivery_id
    CROSS JOIN LATERAL unnest(CASE WHEN d.client_id IS NULL
        THEN ARRAY[0::bigint] ELSE ARRAY[d.client_id, 0] END) AS c(c)
    WHERE n.outcome IS NOT NULL
    GROUP BY 1, 2, 3;
    RETURN NULL;
END $$;
CREATE TRIGGER delivery_attempts_usage AFTER INSERT ON delivery_attempts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pool_usage_attempts();

-- rows are no longer updated: no room to keep free on their pages
ALTER TABLE delivery_attempts SET (fillfactor = 100);
