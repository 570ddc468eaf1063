-- 004: webhook deliveries: who holds a delivery's lease, and whether it goes
-- to its client's registered endpoint (then the endpoint's URL and secret as
-- they are at sending time are used) or to its own url (e.g. an import's
-- callback_url).
ALTER TABLE deliveries ADD COLUMN lock_owner text;
ALTER TABLE deliveries ADD COLUMN endpoint boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_endpoint_client_check
    CHECK (NOT endpoint OR client_id IS NOT NULL);
CREATE INDEX deliveries_failed ON deliveries (created_at) WHERE state = 'failed';
