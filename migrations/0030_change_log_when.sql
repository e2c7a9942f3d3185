-- A full sync touches every row it lists (seen_in_sync_run), and each such update entered
-- record_release_change() only for it to find no column it logs and return. The update trigger now
-- has a WHEN clause over exactly the columns that function compares, so those rows never call it.
-- A column added to the function's comparison must be added here too. (A WHEN clause of an
-- INSERT trigger cannot name OLD: inserts get a trigger of their own.)
DROP TRIGGER releases_change_log ON releases;

CREATE TRIGGER releases_change_log
  AFTER INSERT ON releases
  FOR EACH ROW EXECUTE FUNCTION record_release_change();

CREATE TRIGGER releases_change_log_update
  AFTER UPDATE ON releases
  FOR EACH ROW
  WHEN ((OLD.ref_sha, OLD.git_sha, OLD.tagged_at, OLD.public, OLD.is_development, OLD.promoted_at, OLD.deleted_at,
         OLD.github_release_id, OLD.release_name, OLD.release_html_url, OLD.is_canonical)
        IS DISTINCT FROM
        (NEW.ref_sha, NEW.git_sha, NEW.tagged_at, NEW.public, NEW.is_development, NEW.promoted_at, NEW.deleted_at,
         NEW.github_release_id, NEW.release_name, NEW.release_html_url, NEW.is_canonical))
  EXECUTE FUNCTION record_release_change();

-- The feed reads a product's changes in (xid, id) order through release_changes_product_feed_idx;
-- nothing reads them in (product_id, id) order, and every change log row paid for this index.
DROP INDEX release_changes_product_idx;
