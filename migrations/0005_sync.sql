-- What the GitHub sync (src/sync/README.md) keeps beyond the foundation's sync_state.

ALTER TABLE sync_state
  -- The pg-boss job that runs the product's current sync run. Every progress write is fenced on
  -- it, so a job that lost its claim (a stalled worker whose heartbeat lapsed) cannot write over
  -- the run that replaced it.
  ADD COLUMN run_owner text,
  -- The database time at which the run's tag listing was taken: only rows not written since may
  -- be tombstoned for being absent from it (a webhook may have revived a tag in the meantime).
  ADD COLUMN run_listed_at timestamptz,
  -- The last complete, unconditional listing of every release. The releases probe's ETag covers
  -- only the newest 100 releases, so edits of older ones are caught by this periodic pass.
  ADD COLUMN releases_full_at timestamptz,
  -- The last scheduler tick (node-cron's nominal time) that enqueued a sync of the product. Every
  -- worker replica ticks; the one that moves this forward enqueues, the others do nothing.
  ADD COLUMN scheduled_slot timestamptz,
  -- When a run was deferred by a spent rate limit: the reset it waits for.
  ADD COLUMN deferred_until timestamptz;

-- The tag refs of one listing (GET .../git/matching-refs/tags) of a product's repository, kept
-- while a run compares them with the stored rows in SQL: which tags are new or moved, which are
-- gone. Filled in batches as the listing streams in, emptied when the run's tag phase ends.
-- The keyset walk over names (tag > cursor ORDER BY tag) follows the primary key.
CREATE TABLE sync_ref_listing (
  product_id integer NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  tag text NOT NULL,
  ref_sha text NOT NULL,
  PRIMARY KEY (product_id, tag)
);
