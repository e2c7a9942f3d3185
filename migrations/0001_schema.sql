-- The registry's schema. pg-boss keeps its own schema (pgboss); nothing here touches it.
-- Each migration runs in one transaction and is recorded in schema_migrations (src/db/migrate.ts).

-- Products come from PRODUCTS_FILE; the worker and `release-registry migrate` copy the file here.
CREATE TABLE products (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$'),
  -- owner/name as configured; several products may share a repository (monorepos, other patterns).
  repository text NOT NULL CHECK (repository ~ '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'),
  -- GitHub's numeric id and current owner/name, learnt from webhooks and syncs: a renamed or
  -- transferred repository keeps its id, so it keeps its product.
  github_repository_id bigint,
  github_full_name text,
  tag_pattern text NOT NULL,
  plain_tags_public boolean NOT NULL DEFAULT false,
  public boolean NOT NULL DEFAULT true,
  description text,
  -- false once the product is removed from the products file; its releases are kept.
  tracked boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_repository_idx ON products (lower(repository));
CREATE INDEX products_github_repository_id_idx ON products (github_repository_id) WHERE github_repository_id IS NOT NULL;

-- One row per product and git tag that carries a version of it. Tags that share a version
-- (v1.2.3 and 1.2.3) are separate rows; exactly one of them is canonical (src/db/releases.ts says
-- which), and the read API answers one object per version built from the canonical row.
CREATE TABLE releases (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id integer NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  tag text NOT NULL,
  -- SemVer without build metadata; the parts below are what ordering and paging use.
  version text NOT NULL,
  major bigint NOT NULL CHECK (major >= 0),
  minor bigint NOT NULL CHECK (minor >= 0),
  patch bigint NOT NULL CHECK (patch >= 0),
  prerelease text[] NOT NULL DEFAULT '{}',
  build text[] NOT NULL DEFAULT '{}',
  -- Bytewise order = SemVer precedence of the prerelease part (src/domain/version.ts).
  prerelease_key bytea NOT NULL,
  -- What the tag ref points at: the tag object for annotated tags, else the commit. A change means
  -- the tag moved.
  ref_sha text CHECK (ref_sha ~ '^[0-9a-f]{40}$'),
  -- The commit the tag points to, annotated tags peeled. Null when the tag names no commit.
  git_sha text CHECK (git_sha ~ '^[0-9a-f]{40}$'),
  -- Tagger date for annotated tags, commit date for lightweight ones.
  tagged_at timestamptz,
  -- The GitHub release of this tag, copied from github_releases (the published one wins).
  github_release_id bigint,
  release_name text,
  release_draft boolean,
  release_prerelease boolean,
  release_created_at timestamptz,
  release_published_at timestamptz,
  release_html_url text,
  -- Derived: a published, non-draft release (or the product's plain_tags_public) makes it public.
  public boolean NOT NULL DEFAULT false,
  is_development boolean NOT NULL DEFAULT false,
  promoted_at timestamptz,
  is_canonical boolean NOT NULL DEFAULT false,
  -- Tombstone: the tag disappeared from GitHub. Kept, hidden by default, revived if it returns.
  deleted_at timestamptz,
  -- The sync run that last listed this tag; a complete listing tombstones tags it did not see.
  seen_in_sync_run bigint,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (product_id, tag)
);
-- Newest-first paging by precedence over canonical rows, as the read API asks for it.
CREATE INDEX releases_precedence_idx ON releases (product_id, major DESC, minor DESC, patch DESC, prerelease_key DESC)
  WHERE is_canonical;
CREATE INDEX releases_version_idx ON releases (product_id, version);
CREATE INDEX releases_line_idx ON releases (product_id, major, minor, patch);

-- Every GitHub release we have seen, including drafts and releases whose tag is not known yet.
-- Release fields on releases rows are derived from here, so a release and its tag may arrive in
-- any order.
CREATE TABLE github_releases (
  product_id integer NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  github_release_id bigint NOT NULL,
  tag_name text NOT NULL,
  name text,
  draft boolean NOT NULL,
  prerelease boolean NOT NULL,
  created_at timestamptz,
  published_at timestamptz,
  html_url text,
  deleted_at timestamptz,
  seen_in_sync_run bigint,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (product_id, github_release_id)
);
CREATE INDEX github_releases_tag_idx ON github_releases (product_id, tag_name);

-- The change log: one row per change to a release row, written by a trigger so that no code path
-- can forget it. `id` is monotonic, but ids are taken before commit, so a reader that follows the
-- log must not read past the oldest transaction still running (xid; see src/db/release-changes.ts).
CREATE TABLE release_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  release_id bigint NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
  product_id integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('created', 'updated', 'promoted', 'moved', 'deleted', 'revived')),
  -- {"column": [old, new], ...} for the columns that changed.
  changes jsonb NOT NULL DEFAULT '{}',
  source text,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX release_changes_product_idx ON release_changes (product_id, id);
CREATE INDEX release_changes_release_idx ON release_changes (release_id, xid);

CREATE FUNCTION record_release_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_kind text;
  diff jsonb := '{}';
BEGIN
  IF TG_OP = 'INSERT' THEN
    change_kind := 'created';
  ELSE
    -- Only facts a client can see count as changes; bookkeeping columns do not.
    IF OLD.ref_sha IS DISTINCT FROM NEW.ref_sha THEN diff := diff || jsonb_build_object('ref_sha', jsonb_build_array(OLD.ref_sha, NEW.ref_sha)); END IF;
    IF OLD.git_sha IS DISTINCT FROM NEW.git_sha THEN diff := diff || jsonb_build_object('git_sha', jsonb_build_array(OLD.git_sha, NEW.git_sha)); END IF;
    IF OLD.tagged_at IS DISTINCT FROM NEW.tagged_at THEN diff := diff || jsonb_build_object('tagged_at', jsonb_build_array(OLD.tagged_at, NEW.tagged_at)); END IF;
    IF OLD.public IS DISTINCT FROM NEW.public THEN diff := diff || jsonb_build_object('public', jsonb_build_array(OLD.public, NEW.public)); END IF;
    IF OLD.is_development IS DISTINCT FROM NEW.is_development THEN diff := diff || jsonb_build_object('is_development', jsonb_build_array(OLD.is_development, NEW.is_development)); END IF;
    IF OLD.promoted_at IS DISTINCT FROM NEW.promoted_at THEN diff := diff || jsonb_build_object('promoted_at', jsonb_build_array(OLD.promoted_at, NEW.promoted_at)); END IF;
    IF OLD.deleted_at IS DISTINCT FROM NEW.deleted_at THEN diff := diff || jsonb_build_object('deleted_at', jsonb_build_array(OLD.deleted_at, NEW.deleted_at)); END IF;
    IF OLD.github_release_id IS DISTINCT FROM NEW.github_release_id THEN diff := diff || jsonb_build_object('github_release_id', jsonb_build_array(OLD.github_release_id, NEW.github_release_id)); END IF;
    IF OLD.release_name IS DISTINCT FROM NEW.release_name THEN diff := diff || jsonb_build_object('release_name', jsonb_build_array(OLD.release_name, NEW.release_name)); END IF;
    IF OLD.release_html_url IS DISTINCT FROM NEW.release_html_url THEN diff := diff || jsonb_build_object('release_html_url', jsonb_build_array(OLD.release_html_url, NEW.release_html_url)); END IF;
    IF OLD.is_canonical IS DISTINCT FROM NEW.is_canonical THEN diff := diff || jsonb_build_object('is_canonical', jsonb_build_array(OLD.is_canonical, NEW.is_canonical)); END IF;
    IF diff = '{}' THEN
      RETURN NULL;
    END IF;
    change_kind := CASE
      WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN 'deleted'
      WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN 'revived'
      WHEN NOT OLD.public AND NEW.public THEN 'promoted'
      WHEN OLD.ref_sha IS DISTINCT FROM NEW.ref_sha OR OLD.git_sha IS DISTINCT FROM NEW.git_sha THEN 'moved'
      ELSE 'updated'
    END;
  END IF;
  -- One entry per release per transaction: a write that touches a row several times (a tag
  -- moved, then its canonical flag recomputed) is one change to whoever follows the log.
  IF TG_OP = 'UPDATE' THEN
    UPDATE release_changes c SET
      kind = CASE
        WHEN c.kind = 'created' OR change_kind = 'created' THEN 'created'
        WHEN 'deleted' IN (c.kind, change_kind) THEN 'deleted'
        WHEN 'revived' IN (c.kind, change_kind) THEN 'revived'
        WHEN 'promoted' IN (c.kind, change_kind) THEN 'promoted'
        WHEN 'moved' IN (c.kind, change_kind) THEN 'moved'
        ELSE 'updated' END,
      -- Keep the value before the transaction as "old", take the latest as "new".
      changes = CASE WHEN c.kind = 'created' THEN '{}'::jsonb ELSE (
        SELECT coalesce(jsonb_object_agg(key, CASE WHEN c.changes ? key THEN jsonb_build_array(c.changes -> key -> 0, value -> 1) ELSE value END), '{}')
        FROM jsonb_each(diff)
      ) || (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(c.changes) WHERE NOT diff ? key) END
    WHERE c.release_id = NEW.id AND c.xid = pg_current_xact_id();
    IF FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  INSERT INTO release_changes (release_id, product_id, kind, changes, source)
  VALUES (NEW.id, NEW.product_id, change_kind, diff, nullif(current_setting('release_registry.change_source', true), ''));
  -- Wakes API caches (LISTEN release_changes). Delivered at commit, once per product per transaction.
  PERFORM pg_notify('release_changes', NEW.product_id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER releases_change_log
  AFTER INSERT OR UPDATE ON releases
  FOR EACH ROW EXECUTE FUNCTION record_release_change();

-- Sync progress and results per product: ETags for conditional requests, the cursor of the page
-- last written (a killed worker resumes there), and the last run's outcome.
CREATE TABLE sync_state (
  product_id integer PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
  tags_etag text,
  releases_etag text,
  run_id bigint NOT NULL DEFAULT 0,
  run_phase text CHECK (run_phase IN ('tags', 'releases', 'finishing')),
  run_mode text CHECK (run_mode IN ('full', 'incremental')),
  run_cursor text,
  run_started_at timestamptz,
  run_progress jsonb NOT NULL DEFAULT '{}',
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_success_at timestamptz,
  last_outcome text CHECK (last_outcome IN ('succeeded', 'failed', 'deferred')),
  last_result jsonb,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every webhook delivery we answered 2xx, stored before the answer goes out.
CREATE TABLE webhook_deliveries (
  delivery_id text PRIMARY KEY,
  event text NOT NULL,
  action text,
  repository_id bigint,
  repository_full_name text,
  hook_id bigint,
  product_ids integer[] NOT NULL DEFAULT '{}',
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('queued', 'processing', 'processed', 'ignored', 'failed')),
  ignored_reason text,
  error text,
  attempts integer NOT NULL DEFAULT 0,
  job_id uuid,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_open_idx ON webhook_deliveries (received_at) WHERE status IN ('queued', 'processing');
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (received_at) WHERE status = 'failed';
