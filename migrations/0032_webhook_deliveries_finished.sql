-- Retention deletes processed and ignored deliveries past WEBHOOK_RETENTION_DAYS, oldest first, a
-- batch per statement (workers/delivery-retention.ts). Without an index each batch scanned the table
-- from its start, over the rows earlier batches had deleted and vacuum had not yet removed; this
-- index holds exactly the deliveries retention may delete, in the order it deletes them.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (received_at) WHERE status IN ('processed', 'ignored');
-- Built plainly, not CONCURRENTLY (migrations run in a transaction): intake writes wait for the
-- build, about half a second per million deliveries measured here, and retention keeps the table
-- near WEBHOOK_RETENTION_DAYS of them; well within the intake's 10 s statement timeout.
