-- 007: a result whose publication fails is recorded on its row and tried
-- again later (the deliveries' backoff), so that it never blocks the
-- publish step's queue; after POOL_PUBLISH_MAX_ATTEMPTS it is left failed
-- (publish_failed_at) until `poolctl results retry`.  An unpublished result
-- has no seq, so it holds no place in its pool's feed.
ALTER TABLE results ADD COLUMN publish_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN publish_error text;
-- NULL: due now
ALTER TABLE results ADD COLUMN next_publish_at timestamptz;
ALTER TABLE results ADD COLUMN publish_failed_at timestamptz;
CREATE INDEX results_publish_failed ON results (publish_failed_at)
    WHERE seq IS NULL AND publish_failed_at IS NOT NULL;
