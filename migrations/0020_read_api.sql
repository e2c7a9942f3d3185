-- What the read API needs beyond the foundation schema.

-- The events feed (GET /v1/events) reads the change log in (xid, id) order: ids are taken before
-- commit, so id order can put a late-committing change before ones a follower already read, while
-- every change with xid below the oldest running transaction is final (src/db/release-events.ts).
CREATE INDEX release_changes_feed_idx ON release_changes (xid, id);
CREATE INDEX release_changes_product_feed_idx ON release_changes (product_id, xid, id);

-- The API keeps hot answers in memory and drops them when a release changes (the releases trigger
-- sends NOTIFY release_changes, '<product id>'). A product's own settings (visibility, tracking)
-- and the outcome of its syncs are part of those answers too, so they notify the same way.
CREATE FUNCTION notify_product_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('release_changes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER products_notify_change
  AFTER INSERT OR UPDATE OR DELETE ON products
  FOR EACH ROW EXECUTE FUNCTION notify_product_change();

CREATE FUNCTION notify_sync_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('release_changes', NEW.product_id::text);
  RETURN NULL;
END;
$$;

-- Only the run's start and outcome are shown by the API; progress updates during a run are not.
CREATE TRIGGER sync_state_notify_outcome
  AFTER UPDATE ON sync_state
  FOR EACH ROW
  WHEN ((OLD.last_started_at, OLD.last_finished_at, OLD.last_outcome) IS DISTINCT FROM (NEW.last_started_at, NEW.last_finished_at, NEW.last_outcome))
  EXECUTE FUNCTION notify_sync_outcome();

CREATE TRIGGER sync_state_notify_insert
  AFTER INSERT ON sync_state
  FOR EACH ROW EXECUTE FUNCTION notify_sync_outcome();
