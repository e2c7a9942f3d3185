-- Live rows start their present_at (0040) from updated_at, what the tombstone step compared until
-- then: a sync run under way across the deploy spares what it spared before (a tag a webhook
-- brought back meanwhile). Rows written since 0040 have their own. One pass over the table, once;
-- the change log trigger does not fire (present_at is not logged).
UPDATE releases SET present_at = updated_at WHERE deleted_at IS NULL AND present_at IS NULL;
