import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { parseTag } from '../domain/version.ts';
import type { Queryable } from './pool.ts';
import type { Product } from './products.ts';

// Every write to releases goes through this module, from the sync and from webhook ingestion alike,
// so that both apply the same domain rules (src/domain/README.md). Each function is one batched,
// idempotent statement (or a short fixed series) and is meant to run inside the caller's
// transaction; the change log is appended by the releases_change_log trigger.

/** What git says about a tag. `taggedAt` null means "not known": an existing date is kept. */
export type TagFact = {
  name: string;
  refSha: string;
  gitSha: string | null;
  taggedAt: Date | null;
};

/** What GitHub says about a release. */
export type GithubReleaseFact = {
  id: number;
  tagName: string;
  name: string | null;
  draft: boolean;
  prerelease: boolean;
  createdAt: Date | null;
  publishedAt: Date | null;
  htmlUrl: string | null;
};

export type ChangeSource = 'sync' | 'webhook' | 'admin' | 'test';

export type TagWriteResult = { added: number; updated: number; moved: number; revived: number; unchanged: number; skipped: number };

/** Names the writer in the change log rows the trigger appends in this transaction. */
export async function setChangeSource(db: Queryable, source: ChangeSource): Promise<void> {
  await db.query(sql.unsafe`SELECT set_config('release_registry.change_source', ${source}, true)`);
}

const tagCounts = z.object({
  added: z.number(),
  updated: z.number(),
  moved: z.number(),
  revived: z.number(),
  refresh: z.array(z.string()),
  vacated: z.array(z.string()),
});

/**
 * Inserts or updates the rows of `tags` that are releases of `product` (tags its pattern does not
 * match are skipped and counted). A tag that was tombstoned is revived; a tag whose ref changed
 * has moved. `syncRunId` marks the rows as listed by that sync run.
 */
export async function upsertTags(
  db: Queryable,
  product: Pick<Product, 'id' | 'tagPattern'>,
  tags: readonly TagFact[],
  options: { syncRunId?: number | null } = {},
): Promise<TagWriteResult> {
  const rows: unknown[][] = [];
  const seen = new Set<string>();
  let skipped = 0;
  for (const tag of tags) {
    if (seen.has(tag.name)) continue;
    seen.add(tag.name);
    const version = parseTag(tag.name, product.tagPattern);
    if (version === null) {
      skipped += 1;
      continue;
    }
    rows.push([
      tag.name,
      version.version,
      version.major,
      version.minor,
      version.patch,
      pgTextArray(version.prerelease),
      pgTextArray(version.build),
      `\\x${version.prereleaseKey.toString('hex')}`,
      tag.refSha,
      tag.gitSha,
      tag.taggedAt?.toISOString() ?? null,
    ]);
  }
  if (rows.length === 0) return { added: 0, updated: 0, moved: 0, revived: 0, unchanged: 0, skipped };

  const runId = options.syncRunId ?? null;
  // A new row has no GitHub release yet as far as the insert knows (a tag that has one is refreshed below).
  const newRow = derivedFields({
    released: sql.fragment`false`,
    releasePrerelease: sql.fragment`NULL::boolean`,
    releasePublishedAt: sql.fragment`NULL::timestamptz`,
    plainTagsPublic: sql.fragment`p.plain_tags_public`,
    prerelease: sql.fragment`i.prerelease::text[]`,
    taggedAt: sql.fragment`i.tagged_at::timestamptz`,
  });
  const counts = await db.one(sql.type(tagCounts)`
    WITH raw AS (
      SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'int8', 'int8', 'int8', 'text', 'text', 'text', 'text', 'text', 'text'])}
        AS t(tag, version, major, minor, patch, prerelease, build, prerelease_key, ref_sha, git_sha, tagged_at)
    ),
    -- A version carried by another tag (stored, or in this batch): which tag is canonical is for
    -- refreshCanonical to decide. Otherwise a new row is its version's canonical tag.
    -- The lookups below are per input row through the indexes (LATERAL, LIMIT 1): a batch costs the
    -- same whether the product has a thousand rows or a million, whatever the planner's statistics
    -- say (right after a backfill started they say the table is empty, and it would scan it).
    input AS (
      SELECT raw.*, (count(*) OVER (PARTITION BY raw.version) > 1
                     OR (SELECT true FROM releases e WHERE e.product_id = ${product.id} AND e.version = raw.version LIMIT 1) IS NOT NULL) AS contested
      FROM raw
    ),
    existing AS (
      SELECT r.tag, r.version, r.ref_sha, r.git_sha, r.tagged_at, r.deleted_at
      FROM input i CROSS JOIN LATERAL (
        SELECT r.tag, r.version, r.ref_sha, r.git_sha, r.tagged_at, r.deleted_at FROM releases r
        WHERE r.product_id = ${product.id} AND r.tag = i.tag LIMIT 1
      ) r
    ),
    upserted AS (
      -- A new row gets the derived fields and the canonical flag it has in the common case (a
      -- version first seen, no GitHub release yet), and only rows outside that case are refreshed
      -- below: a backfill writes each row and its change log entry once.
      INSERT INTO releases AS r (product_id, tag, version, major, minor, patch, prerelease, build, prerelease_key,
                                 ref_sha, git_sha, tagged_at, seen_in_sync_run, present_at, is_development, public, promoted_at, is_canonical)
      SELECT ${product.id}, i.tag, i.version, i.major, i.minor, i.patch, i.prerelease::text[], i.build::text[], decode(substr(i.prerelease_key, 3), 'hex'),
             i.ref_sha, i.git_sha, i.tagged_at::timestamptz, ${runId}::bigint, clock_timestamp(),
             ${newRow.isDevelopment}, ${newRow.public}, ${newRow.promotedAt},
             NOT i.contested
      FROM input i JOIN products p ON p.id = ${product.id}
      ON CONFLICT (product_id, tag) DO UPDATE SET
        version = excluded.version, major = excluded.major, minor = excluded.minor, patch = excluded.patch,
        prerelease = excluded.prerelease, build = excluded.build, prerelease_key = excluded.prerelease_key,
        ref_sha = excluded.ref_sha,
        git_sha = excluded.git_sha,
        tagged_at = CASE
          WHEN excluded.tagged_at IS NOT NULL THEN excluded.tagged_at
          WHEN excluded.ref_sha IS DISTINCT FROM r.ref_sha THEN NULL
          ELSE r.tagged_at END,
        deleted_at = NULL,
        seen_in_sync_run = coalesce(excluded.seen_in_sync_run, r.seen_in_sync_run),
        -- Every row named is written, unchanged ones too: a tag found present after a sync's listing
        -- was taken must be spared by its tombstone step even when nothing else about it changed
        -- (deleted and pushed again at the same commit meanwhile).
        present_at = clock_timestamp(),
        updated_at = CASE
          WHEN (r.ref_sha, r.git_sha, r.deleted_at IS NULL, r.version) IS DISTINCT FROM (excluded.ref_sha, excluded.git_sha, true, excluded.version)
            OR (excluded.tagged_at IS NOT NULL AND excluded.tagged_at IS DISTINCT FROM r.tagged_at)
          THEN now() ELSE r.updated_at END
      RETURNING r.tag, (r.xmax = 0) AS inserted
    ),
    counted AS (
      SELECT u.tag, u.inserted, i.contested,
        CASE WHEN NOT u.inserted AND e.version <> i.version THEN e.version END AS vacated,
        u.inserted AS added,
        NOT u.inserted AND e.deleted_at IS NOT NULL AS revived,
        NOT u.inserted AND e.deleted_at IS NULL AND (e.ref_sha, e.git_sha) IS DISTINCT FROM (i.ref_sha, i.git_sha) AS moved,
        NOT u.inserted AND e.deleted_at IS NULL AND (e.ref_sha, e.git_sha) IS NOT DISTINCT FROM (i.ref_sha, i.git_sha)
          AND i.tagged_at IS NOT NULL AND i.tagged_at::timestamptz IS DISTINCT FROM e.tagged_at AS updated,
        -- As the upsert's updated_at says: a fact of the row changed, not only the run that saw it.
        NOT u.inserted AND (
          (e.ref_sha, e.git_sha, e.deleted_at IS NULL, e.version) IS DISTINCT FROM (i.ref_sha, i.git_sha, true, i.version)
          OR (i.tagged_at IS NOT NULL AND i.tagged_at::timestamptz IS DISTINCT FROM e.tagged_at)
        ) AS changed
      FROM upserted u JOIN input i ON i.tag = u.tag LEFT JOIN existing e ON e.tag = u.tag
    )
    SELECT
      count(*) FILTER (WHERE added)::int AS added,
      count(*) FILTER (WHERE revived)::int AS revived,
      count(*) FILTER (WHERE moved)::int AS moved,
      count(*) FILTER (WHERE updated)::int AS updated,
      -- Rows whose derived fields or canonical flag may be stale: stored rows whose facts changed
      -- (a full sync touches every row it lists, and rechecking those whose only change is
      -- seen_in_sync_run would recompute the whole product for nothing), and new rows the insert
      -- could not settle: contested versions and tags that already have a GitHub release. (A stored
      -- row is always "contested" by itself, so contested only counts for new rows.)
      coalesce(array_agg(tag) FILTER (
        WHERE changed
           OR (inserted AND (contested
               OR (SELECT true FROM github_releases g WHERE g.product_id = ${product.id} AND g.tag_name = counted.tag LIMIT 1) IS NOT NULL))
      ), '{}') AS refresh,
      -- Versions a stored row left (a new tag pattern reads its tag anew): the tags still carrying
      -- them are not in this batch's refresh, and one of them may have to take the canonical flag.
      coalesce(array_agg(DISTINCT vacated) FILTER (WHERE vacated IS NOT NULL), '{}') AS vacated
    FROM counted`);

  await refreshReleaseRows(db, product.id, counts.refresh, { vacatedVersions: counts.vacated });
  const changed = counts.added + counts.updated + counts.moved + counts.revived;
  return {
    added: counts.added,
    updated: counts.updated,
    moved: counts.moved,
    revived: counts.revived,
    unchanged: rows.length - changed,
    skipped,
  };
}

/** Tombstones the named tags (a delete event, or tags absent from a complete listing). */
export async function tombstoneTags(db: Queryable, productId: number, tagNames: readonly string[]): Promise<number> {
  if (tagNames.length === 0) return 0;
  return tombstoneWhere(db, productId, sql.fragment`r.tag = ANY(${sql.array([...tagNames], 'text')})`);
}

/**
 * Makes the named tags what GitHub says they are now: a tag it has (`tag` set) is upserted, revived
 * or moved as need be; a tag it does not have (`tag` null) is tombstoned. The sync's read of listed
 * tags and webhook ingestion both write tag states so.
 */
export async function writeTagPresence(
  db: Queryable,
  product: Pick<Product, 'id' | 'tagPattern'>,
  states: ReadonlyArray<{ name: string; tag: TagFact | null }>,
): Promise<TagWriteResult & { tombstoned: number }> {
  const present = states.flatMap((state) => (state.tag === null ? [] : [state.tag]));
  const absent = states.filter((state) => state.tag === null).map((state) => state.name);
  const written = await upsertTags(db, product, present);
  return { ...written, tombstoned: await tombstoneTags(db, product.id, absent) };
}

/**
 * After a complete listing by sync run `runId`, tombstones every live tag the run did not list.
 * Only call this when the listing really was complete: a partial listing must tombstone nothing.
 * As for tombstoneTagsNotInRefListing, tags found present since `listedAt` are spared.
 */
export async function tombstoneTagsNotSeenInRun(db: Queryable, productId: number, runId: number, listedAt: Date): Promise<number> {
  return tombstoneWhere(db, productId, sql.fragment`r.seen_in_sync_run IS DISTINCT FROM ${runId} AND ${notFoundPresentSince(listedAt)}`);
}

/**
 * The row was not found present on GitHub (present_at) since `listedAt`. Not updated_at: the
 * canonical and release-field refreshes move that too, for rows nobody found anywhere.
 */
function notFoundPresentSince(listedAt: Date): FragmentSqlToken {
  return sql.fragment`(r.present_at IS NULL OR r.present_at < ${listedAt.toISOString()}::timestamptz)`;
}

export type ReleaseWriteResult = {
  /** Releases added or whose fields changed (their tags' release fields were refreshed). */
  written: number;
  added: number;
  /** Releases already stored with exactly these fields (and not marked deleted). */
  unchanged: number;
  /**
   * Of the unchanged, those an earlier sync run listed (not this one, not only a webhook): where an
   * incremental listing may stop, since what is older was listed by that run or before it.
   */
  confirmed: number;
};

/**
 * After a complete listing of the tag refs, kept in sync_ref_listing, tombstones every live tag it
 * does not name. Tags found present since `listedAt` (the database time just before the listing
 * was asked for) are spared: a webhook may have brought such a tag back after the listing was read.
 */
export async function tombstoneTagsNotInRefListing(db: Queryable, productId: number, listedAt: Date): Promise<number> {
  return tombstoneWhere(
    db,
    productId,
    sql.fragment`${notFoundPresentSince(listedAt)}
      AND NOT EXISTS (SELECT 1 FROM sync_ref_listing s WHERE s.product_id = ${productId} AND s.tag = r.tag)`,
  );
}

/** Tombstones the product's live rows that meet `condition` (on `releases r`); their versions' canonical tags are recomputed. */
async function tombstoneWhere(db: Queryable, productId: number, condition: FragmentSqlToken): Promise<number> {
  const tombstoned = await db.any(sql.type(z.object({ tag: z.string() }))`
    UPDATE releases r SET deleted_at = now(), updated_at = now()
    WHERE r.product_id = ${productId} AND r.deleted_at IS NULL AND ${condition}
    RETURNING r.tag`);
  if (tombstoned.length > 0) await refreshCanonical(db, productId, tombstoned.map((row) => row.tag), []);
  return tombstoned.length;
}

/** Upserts GitHub releases and refreshes the release fields of the tags they name (old and new). */
export async function upsertGithubReleases(
  db: Queryable,
  productId: number,
  releases: readonly GithubReleaseFact[],
  options: { syncRunId?: number | null } = {},
): Promise<ReleaseWriteResult> {
  if (releases.length === 0) return { written: 0, added: 0, unchanged: 0, confirmed: 0 };
  const unique = new Map(releases.map((release) => [release.id, release]));
  const rows = [...unique.values()].map((release) => [
    release.id,
    release.tagName,
    release.name,
    release.draft,
    release.prerelease,
    release.createdAt?.toISOString() ?? null,
    release.publishedAt?.toISOString() ?? null,
    release.htmlUrl,
  ]);
  const runId = options.syncRunId ?? null;
  const outcome = await db.one(sql.type(z.object({ tags: z.array(z.string()), written: z.number(), added: z.number(), unchanged: z.number(), confirmed: z.number() }))`
    WITH input AS (
      SELECT github_release_id, tag_name, name, draft, prerelease, created_at::timestamptz AS created_at,
             published_at::timestamptz AS published_at, html_url
      FROM ${sql.unnest(rows, ['int8', 'text', 'text', 'bool', 'bool', 'text', 'text', 'text'])}
        AS t(github_release_id, tag_name, name, draft, prerelease, created_at, published_at, html_url)
    ),
    previous AS (
      SELECT g.github_release_id, g.tag_name, g.seen_in_sync_run,
             (g.tag_name, g.name, g.draft, g.prerelease, g.created_at, g.published_at, g.html_url, g.deleted_at IS NULL)
               IS NOT DISTINCT FROM (i.tag_name, i.name, i.draft, i.prerelease, i.created_at, i.published_at, i.html_url, true) AS same
      FROM github_releases g JOIN input i USING (github_release_id)
      WHERE g.product_id = ${productId}
    ),
    upserted AS (
      INSERT INTO github_releases AS g (product_id, github_release_id, tag_name, name, draft, prerelease, created_at, published_at, html_url, seen_in_sync_run)
      SELECT ${productId}, github_release_id, tag_name, name, draft, prerelease, created_at, published_at, html_url, ${runId}::bigint
      FROM input
      ON CONFLICT (product_id, github_release_id) DO UPDATE SET
        tag_name = excluded.tag_name, name = excluded.name, draft = excluded.draft, prerelease = excluded.prerelease,
        created_at = excluded.created_at, published_at = excluded.published_at, html_url = excluded.html_url,
        deleted_at = NULL,
        seen_in_sync_run = coalesce(excluded.seen_in_sync_run, g.seen_in_sync_run),
        updated_at = CASE
          WHEN (g.tag_name, g.name, g.draft, g.prerelease, g.created_at, g.published_at, g.html_url, g.deleted_at IS NULL)
            IS DISTINCT FROM (excluded.tag_name, excluded.name, excluded.draft, excluded.prerelease, excluded.created_at,
                              excluded.published_at, excluded.html_url, true)
          THEN now() ELSE g.updated_at END
      WHERE (g.tag_name, g.name, g.draft, g.prerelease, g.created_at, g.published_at, g.html_url, g.deleted_at IS NULL, g.seen_in_sync_run)
        IS DISTINCT FROM (excluded.tag_name, excluded.name, excluded.draft, excluded.prerelease, excluded.created_at, excluded.published_at,
                          excluded.html_url, true, coalesce(excluded.seen_in_sync_run, g.seen_in_sync_run))
      RETURNING g.github_release_id, g.tag_name
    ),
    -- Rows whose only change is the sync run that saw them touch no release fields.
    changed AS (
      SELECT u.github_release_id, u.tag_name FROM upserted u LEFT JOIN previous p USING (github_release_id)
      WHERE p.github_release_id IS NULL OR NOT p.same
    ),
    affected AS (
      SELECT tag_name AS tag FROM changed
      UNION SELECT p.tag_name FROM previous p JOIN changed c USING (github_release_id) WHERE p.tag_name <> c.tag_name
    )
    SELECT
      (SELECT coalesce(array_agg(tag), '{}') FROM affected) AS tags,
      (SELECT count(*) FROM changed)::int AS written,
      (SELECT count(*) FROM input i WHERE NOT EXISTS (SELECT 1 FROM previous p WHERE p.github_release_id = i.github_release_id))::int AS added,
      (SELECT count(*) FROM previous WHERE same)::int AS unchanged,
      (SELECT count(*) FROM previous WHERE same AND seen_in_sync_run IS DISTINCT FROM ${runId}::bigint AND seen_in_sync_run IS NOT NULL)::int AS confirmed`);
  await refreshReleaseRows(db, productId, outcome.tags);
  return { written: outcome.written, added: outcome.added, unchanged: outcome.unchanged, confirmed: outcome.confirmed };
}

/** Marks GitHub releases deleted (a release `deleted` event, or absence from a complete listing). */
export async function deleteGithubReleases(db: Queryable, productId: number, releaseIds: readonly number[]): Promise<number> {
  if (releaseIds.length === 0) return 0;
  const deleted = await db.any(sql.type(z.object({ tag: z.string() }))`
    UPDATE github_releases SET deleted_at = now(), updated_at = now()
    WHERE product_id = ${productId} AND github_release_id = ANY(${sql.array([...releaseIds], 'int8')}) AND deleted_at IS NULL
    RETURNING tag_name AS tag`);
  const tags = [...new Set(deleted.map((row) => row.tag))];
  await refreshReleaseRows(db, productId, tags);
  return deleted.length;
}

/**
 * Brings the named rows (or all the product's) up to date after their facts changed: first the
 * fields derived from their GitHub release, then the canonical tag of their versions (which reads
 * `public`, so it must come second). `vacatedVersions`: versions the named rows carried before
 * this write and carry no more; their remaining tags are ranked again too.
 */
export async function refreshReleaseRows(
  db: Queryable,
  productId: number,
  tags: readonly string[] | 'all',
  options: { vacatedVersions?: readonly string[] } = {},
): Promise<void> {
  await refreshDerivedFields(db, productId, tags);
  await refreshCanonical(db, productId, tags, options.vacatedVersions ?? []);
}

/**
 * Recomputes the fields of releases rows that derive from their GitHub release and the product
 * (derivedFields): the release wins that is not a draft, then the most recently published, then
 * the newest id.
 */
async function refreshDerivedFields(db: Queryable, productId: number, tags: readonly string[] | 'all'): Promise<void> {
  if (tags !== 'all' && tags.length === 0) return;
  const tagFilter = tags === 'all' ? sql.fragment`true` : sql.fragment`r.tag = ANY(${sql.array([...tags], 'text')})`;
  const fields = derivedFields({
    released: sql.fragment`released`,
    releasePrerelease: sql.fragment`release_prerelease`,
    releasePublishedAt: sql.fragment`release_published_at`,
    plainTagsPublic: sql.fragment`plain_tags_public`,
    prerelease: sql.fragment`prerelease`,
    taggedAt: sql.fragment`tagged_at`,
  });
  await db.query(sql.unsafe`
    WITH best AS (
      SELECT DISTINCT ON (g.tag_name) g.*
      FROM github_releases g
      WHERE g.product_id = ${productId} AND g.deleted_at IS NULL
        AND g.tag_name IN (SELECT r.tag FROM releases r WHERE r.product_id = ${productId} AND ${tagFilter})
      ORDER BY g.tag_name, g.draft, g.published_at DESC NULLS LAST, g.github_release_id DESC
    ),
    computed AS (
      SELECT r.id,
             b.github_release_id, b.name AS release_name, b.draft AS release_draft, b.prerelease AS release_prerelease,
             b.created_at AS release_created_at, b.published_at AS release_published_at, b.html_url AS release_html_url,
             coalesce(NOT b.draft AND b.published_at IS NOT NULL, false) AS released,
             p.plain_tags_public, r.tagged_at, r.prerelease
      FROM releases r
      JOIN products p ON p.id = r.product_id
      LEFT JOIN best b ON b.tag_name = r.tag
      WHERE r.product_id = ${productId} AND ${tagFilter}
    ),
    derived AS (
      SELECT id, github_release_id, release_name, release_draft, release_prerelease, release_created_at, release_published_at, release_html_url,
             ${fields.public} AS public, ${fields.isDevelopment} AS is_development, ${fields.promotedAt} AS promoted_at
      FROM computed
    )
    UPDATE releases r SET
      github_release_id = d.github_release_id, release_name = d.release_name, release_draft = d.release_draft,
      release_prerelease = d.release_prerelease, release_created_at = d.release_created_at,
      release_published_at = d.release_published_at, release_html_url = d.release_html_url,
      public = d.public, is_development = d.is_development, promoted_at = d.promoted_at, updated_at = now()
    FROM derived d
    WHERE r.id = d.id
      AND (r.github_release_id, r.release_name, r.release_draft, r.release_prerelease, r.release_created_at, r.release_published_at,
           r.release_html_url, r.public, r.is_development, r.promoted_at)
        IS DISTINCT FROM (d.github_release_id, d.release_name, d.release_draft, d.release_prerelease, d.release_created_at,
           d.release_published_at, d.release_html_url, d.public, d.is_development, d.promoted_at)`);
}

/**
 * The fields a row derives from its GitHub release and its product, as SQL over the given columns;
 * `released`: the row has a release that is published and not a draft. public = released, or the
 * product makes plain tags public; is_development = the version has a prerelease part, or the
 * release is marked prerelease; promoted_at = the release's published_at (for plain tags: the
 * tag's date). Drafts never make a release public. One definition for refreshDerivedFields and
 * upsertTags' new rows.
 */
function derivedFields(columns: {
  released: FragmentSqlToken;
  releasePrerelease: FragmentSqlToken;
  releasePublishedAt: FragmentSqlToken;
  plainTagsPublic: FragmentSqlToken;
  prerelease: FragmentSqlToken;
  taggedAt: FragmentSqlToken;
}): { public: FragmentSqlToken; isDevelopment: FragmentSqlToken; promotedAt: FragmentSqlToken } {
  const { released, releasePrerelease, releasePublishedAt, plainTagsPublic, prerelease, taggedAt } = columns;
  return {
    public: sql.fragment`(${released} OR ${plainTagsPublic})`,
    isDevelopment: sql.fragment`(cardinality(${prerelease}) > 0 OR (${released} AND ${releasePrerelease}))`,
    promotedAt: sql.fragment`CASE WHEN ${released} THEN ${releasePublishedAt} WHEN ${plainTagsPublic} THEN ${taggedAt} END`,
  };
}

/**
 * Tags that carry the same version are one release; exactly one of them is canonical (the API's
 * `canonical_name`, the row its fields come from). The winner, in order: a live tag over a
 * tombstoned one; a public one over a non-public one; no build metadata over build metadata;
 * the spelling `v<version>`, then `<version>`; then the smallest tag name in byte order.
 */
async function refreshCanonical(db: Queryable, productId: number, tags: readonly string[] | 'all', vacatedVersions: readonly string[]): Promise<void> {
  if (tags !== 'all' && tags.length === 0 && vacatedVersions.length === 0) return;
  const versionFilter =
    tags === 'all'
      ? sql.fragment`true`
      : // One IN over a UNION, not an OR of two conditions: an OR'ed subquery is not planned as a
        // join, and would be checked against every row of the product.
        sql.fragment`version IN (SELECT version FROM releases WHERE product_id = ${productId} AND tag = ANY(${sql.array([...tags], 'text')})
                                 UNION ALL SELECT unnest(${sql.array([...vacatedVersions], 'text')}))`;
  await db.query(sql.unsafe`
    WITH ranked AS (
      SELECT id, row_number() OVER (
        PARTITION BY version
        ORDER BY deleted_at IS NOT NULL, NOT public, cardinality(build) > 0, tag <> 'v' || version, tag <> version, tag COLLATE "C"
      ) = 1 AS canonical
      FROM releases
      WHERE product_id = ${productId} AND ${versionFilter}
    )
    UPDATE releases r SET is_canonical = ranked.canonical, updated_at = now()
    FROM ranked
    WHERE r.id = ranked.id AND r.is_canonical IS DISTINCT FROM ranked.canonical`);
}

/** PostgreSQL array literal for text[] (passed through unnest as text, then cast). */
function pgTextArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}
