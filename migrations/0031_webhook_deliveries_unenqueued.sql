-- The intake stores a delivery without its job (its 2xx waits for one commit, not for a job too);
-- the worker's enqueuer gives stored deliveries their jobs, oldest first. This index holds exactly
-- the deliveries still waiting for one, so a sweep costs the same whether the queue behind them is
-- empty or a million jobs long.
CREATE INDEX webhook_deliveries_unenqueued_idx ON webhook_deliveries (received_at) WHERE status = 'queued' AND job_id IS NULL;
