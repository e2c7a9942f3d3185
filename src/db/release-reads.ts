import { sql, type FragmentSqlToken, type QuerySqlToken } from 'slonik';
import { z } from 'zod';
import type { VersionRange, VersionComparison } from '../domain/version-range.ts';
import { isoText, isoTimestamp } from './iso-timestamp.ts';
import type { Queryable } from './pool.ts';

// What the read API answers about releases: one object per version, built from the version's
// canonical row (src/db/releases.ts keeps exactly one per version). Each row these queries return
// is the API object itself, parsed by `releaseViewSchema`, so the HTTP shape and the SQL cannot
// drift apart. Ordering and paging happen here, in SQL, on the stored SemVer parts: newest first
// by precedence, keyset pagination on (major, minor, patch, prerelease_key) through the partial
// index releases_precedence_idx, so a deep page costs what the first one does.

export const releaseViewSchema = z.object({
  id: z.number().int().describe('Stable id of the version (the first tag row that carried it)'),
  name: z.string().describe('The product'),
  public: z.boolean().describe('Whether the version is public (its canonical tag has a published GitHub release, or the product makes plain tags public)'),
  created_at: isoTimestamp.describe('When the version was tagged (tagger date of an annotated tag, else the commit date; first seen when unknown)'),
  promoted_at: isoTimestamp.nullable().describe('When it became public (the GitHub release publication), or null'),
  version: z.string().describe('`v` + SemVer without build metadata, e.g. `v8.0.0`'),
  git_sha: z.string().describe('The commit the canonical tag points at (annotated tags peeled); empty when the tag names no commit'),
  is_development: z.boolean().describe('A prerelease version, or a GitHub release marked prerelease'),
  tags: z.array(z.string()).describe('Every live git tag that carries this version (for a deleted version: the tags it had), in byte order'),
  canonical_name: z.string().describe('The tag the version is taken from'),
  major: z.number().int(),
  minor: z.number().int(),
  patch: z.number().int(),
  prerelease: z.array(z.string()).describe('Prerelease identifiers, empty for a final version'),
  release_name: z.string().nullable().describe('Title of the GitHub release, if any'),
  html_url: z.string().nullable().describe('Page of the GitHub release, if any'),
  updated_at: isoTimestamp.describe('Last change to any tag of this version'),
  deleted_at: isoTimestamp.nullable().describe('When every tag of the version disappeared from GitHub; null while one is live'),
});
export type ReleaseView = z.infer<typeof releaseViewSchema>;

/** Who is asking: anonymous readers see public products and public versions only. */
export type Visibility = 'public' | 'all';

export type ReleaseFilters = {
  visibility: Visibility;
  public?: boolean | undefined;
  development?: boolean | undefined;
  range?: VersionRange | undefined;
  /** created_at >= since */
  since?: Date | undefined;
  /** created_at < until */
  until?: Date | undefined;
  includeDeleted?: boolean | undefined;
};

/** A version's place in the newest-first order: where the next page starts (exclusive). */
export type ReleasePosition = { major: number; minor: number; patch: number; prereleaseKey: Buffer };

const precedenceDesc = sql.fragment`c.major DESC, c.minor DESC, c.patch DESC, c.prerelease_key DESC`;

function comparison(value: VersionComparison): FragmentSqlToken {
  const right = sql.fragment`(${value.major}::bigint, ${value.minor}::bigint, ${value.patch}::bigint, ${sql.binary(value.prereleaseKey)})`;
  const left = sql.fragment`(c.major, c.minor, c.patch, c.prerelease_key)`;
  switch (value.operator) {
    case '=':
      return sql.fragment`${left} = ${right}`;
    case '<':
      return sql.fragment`${left} < ${right}`;
    case '<=':
      return sql.fragment`${left} <= ${right}`;
    case '>':
      return sql.fragment`${left} > ${right}`;
    case '>=':
      return sql.fragment`${left} >= ${right}`;
  }
}

/** `semver.satisfies` in SQL: one alternative must hold, with its prerelease rule. */
function rangeCondition(range: VersionRange): FragmentSqlToken {
  const alternatives = range.sets.map((set) => {
    const parts = set.comparisons.map(comparison);
    const lines = set.prereleaseLines.map(([major, minor, patch]) => sql.fragment`(${major}::bigint, ${minor}::bigint, ${patch}::bigint)`);
    parts.push(
      lines.length === 0
        ? sql.fragment`cardinality(c.prerelease) = 0`
        : sql.fragment`(cardinality(c.prerelease) = 0 OR (c.major, c.minor, c.patch) IN (${sql.join(lines, sql.fragment`, `)}))`,
    );
    return sql.fragment`(${sql.join(parts, sql.fragment` AND `)})`;
  });
  return alternatives.length === 0 ? sql.fragment`false` : sql.fragment`(${sql.join(alternatives, sql.fragment` OR `)})`;
}

const createdAt = sql.fragment`coalesce(c.tagged_at, c.first_seen_at)`;

/** Conditions on a canonical row `c` (the product's own visibility is checked by the caller). */
function versionConditions(filters: ReleaseFilters): FragmentSqlToken[] {
  const conditions = [sql.fragment`c.is_canonical`];
  if (filters.visibility === 'public') conditions.push(sql.fragment`c.public`);
  if (filters.public !== undefined) conditions.push(sql.fragment`c.public = ${filters.public}`);
  if (filters.development !== undefined) conditions.push(sql.fragment`c.is_development = ${filters.development}`);
  if (!filters.includeDeleted) conditions.push(sql.fragment`c.deleted_at IS NULL`);
  if (filters.range !== undefined) conditions.push(rangeCondition(filters.range));
  if (filters.since !== undefined) conditions.push(sql.fragment`${createdAt} >= ${sql.timestamp(filters.since)}`);
  if (filters.until !== undefined) conditions.push(sql.fragment`${createdAt} < ${sql.timestamp(filters.until)}`);
  return conditions;
}

function before(position: ReleasePosition): FragmentSqlToken {
  return sql.fragment`(c.major, c.minor, c.patch, c.prerelease_key) < (${position.major}::bigint, ${position.minor}::bigint, ${position.patch}::bigint, ${sql.binary(position.prereleaseKey)})`;
}

function productVisible(visibility: Visibility): FragmentSqlToken {
  return visibility === 'public' ? sql.fragment`p.tracked AND p.public` : sql.fragment`p.tracked`;
}

/**
 * The API objects of the canonical rows in `page` (a relation with the releases columns, and
 * `product_name` for ordering), in `order`. The version's other tags give `tags`, its stable `id`
 * and `updated_at`: one lookup through releases_version_idx per row of the page.
 */
function releaseView(page: FragmentSqlToken, order: FragmentSqlToken): QuerySqlToken<typeof releaseViewSchema> {
  return sql.type(releaseViewSchema)`
    SELECT
      v.id, p.name, c.public,
      ${isoText(createdAt)} AS created_at,
      ${isoText(sql.fragment`c.promoted_at`)} AS promoted_at,
      'v' || c.version AS version,
      coalesce(c.git_sha, '') AS git_sha,
      c.is_development,
      v.tags,
      c.tag AS canonical_name,
      c.major, c.minor, c.patch, c.prerelease,
      c.release_name, c.release_html_url AS html_url,
      ${isoText(sql.fragment`greatest(c.updated_at, v.updated_at)`)} AS updated_at,
      ${isoText(sql.fragment`c.deleted_at`)} AS deleted_at
    FROM (${page}) c
    JOIN products p ON p.id = c.product_id
    CROSS JOIN LATERAL (
      SELECT min(s.id) AS id,
             coalesce(array_agg(s.tag ORDER BY s.tag COLLATE "C") FILTER (WHERE s.deleted_at IS NULL OR c.deleted_at IS NOT NULL), '{}') AS tags,
             max(s.updated_at) AS updated_at
      FROM releases s
      WHERE s.product_id = c.product_id AND s.version = c.version
    ) v
    ORDER BY ${order}`;
}

/** One page of a product's versions, newest first, starting after `after`. */
export function productReleasesQuery(
  productId: number,
  filters: ReleaseFilters,
  page: { limit: number; after?: ReleasePosition | undefined },
): QuerySqlToken<typeof releaseViewSchema> {
  const conditions = versionConditions(filters);
  if (page.after !== undefined) conditions.push(before(page.after));
  return releaseView(
    sql.fragment`
      SELECT c.* FROM releases c
      WHERE c.product_id = ${productId} AND ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY ${precedenceDesc}
      LIMIT ${page.limit}`,
    precedenceDesc,
  );
}

export async function listProductReleases(
  db: Queryable,
  productId: number,
  filters: ReleaseFilters,
  page: { limit: number; after?: ReleasePosition | undefined },
): Promise<ReleaseView[]> {
  return [...(await db.any(productReleasesQuery(productId, filters, page)))];
}

/**
 * One page of every product's versions: products in name order (byte order), each product's
 * versions newest first. The page continues the product it stopped in through the index, then
 * takes at most `limit` rows of each following product, so its cost does not grow with depth.
 */
export function allReleasesQuery(
  filters: ReleaseFilters,
  page: { limit: number; after?: (ReleasePosition & { product: string }) | undefined },
): QuerySqlToken<typeof releaseViewSchema> {
  const conditions = sql.join(versionConditions(filters), sql.fragment` AND `);
  const visible = productVisible(filters.visibility);
  const afterProduct = page.after?.product ?? '';
  const rest = sql.fragment`
    SELECT c.*, p.name AS product_name
    FROM (SELECT p.id, p.name FROM products p WHERE ${visible} AND p.name COLLATE "C" > ${afterProduct}) p
    CROSS JOIN LATERAL (
      SELECT c.* FROM releases c
      WHERE c.product_id = p.id AND ${conditions}
      ORDER BY ${precedenceDesc}
      LIMIT ${page.limit}
    ) c`;
  const branches =
    page.after === undefined
      ? rest
      : sql.fragment`
          (SELECT c.*, ${page.after.product}::text AS product_name
           FROM releases c
           WHERE c.product_id = (SELECT p.id FROM products p WHERE p.name = ${page.after.product} AND ${visible})
             AND ${conditions} AND ${before(page.after)}
           ORDER BY ${precedenceDesc}
           LIMIT ${page.limit})
          UNION ALL
          (${rest})`;
  const order = sql.fragment`c.product_name COLLATE "C", ${precedenceDesc}`;
  return releaseView(sql.fragment`SELECT * FROM (${branches}) c ORDER BY ${order} LIMIT ${page.limit}`, order);
}

export async function listAllReleases(
  db: Queryable,
  filters: ReleaseFilters,
  page: { limit: number; after?: (ReleasePosition & { product: string }) | undefined },
): Promise<ReleaseView[]> {
  return [...(await db.any(allReleasesQuery(filters, page)))];
}

/** One version of a product (SemVer without build metadata), or null when it is not visible. */
export async function findRelease(db: Queryable, productId: number, version: string, filters: ReleaseFilters): Promise<ReleaseView | null> {
  const conditions = sql.join(versionConditions(filters), sql.fragment` AND `);
  return db.maybeOne(
    releaseView(
      sql.fragment`SELECT c.* FROM releases c WHERE c.product_id = ${productId} AND c.version = ${version} AND ${conditions}`,
      sql.fragment`c.id`,
    ),
  );
}

/**
 * The current API objects of the given versions (any visibility), keyed by `releaseKey` of the
 * product name and the version.
 */
export async function releaseViewsOf(
  db: Queryable,
  versions: ReadonlyArray<{ productId: number; version: string }>,
): Promise<Map<string, ReleaseView>> {
  const unique = [...new Map(versions.map((entry) => [`${entry.productId}:${entry.version}`, entry])).values()];
  const productIds = sql.array(
    unique.map((entry) => entry.productId),
    'int4',
  );
  const versionTexts = sql.array(
    unique.map((entry) => entry.version),
    'text',
  );
  const rows = await db.any(
    releaseView(
      sql.fragment`
        SELECT c.* FROM releases c
        JOIN unnest(${productIds}, ${versionTexts}) AS k(product_id, version)
          ON c.product_id = k.product_id AND c.version = k.version
        WHERE c.is_canonical`,
      sql.fragment`c.id`,
    ),
  );
  return new Map(rows.map((row) => [releaseKey(row.name, row.version), row]));
}

/** `product:version` with the version as the API spells it (`v1.2.3`). */
export function releaseKey(product: string, version: string): string {
  return `${product}:${version.startsWith('v') ? version : `v${version}`}`;
}

/** What "latest" means: the highest version that is public, not development and not deleted. */
const LATEST: ReleaseFilters = { visibility: 'public', development: false, includeDeleted: false };

/** The latest version (within `range` when given), or null. */
export async function findLatestRelease(db: Queryable, productId: number, range?: VersionRange): Promise<ReleaseView | null> {
  const [latest] = await listProductReleases(db, productId, { ...LATEST, range }, { limit: 1 });
  return latest ?? null;
}

/** The latest version of product `productId` as the API spells it (`v…`), as a scalar subquery (null: none). */
export function latestVersionOf(productId: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`(
    SELECT 'v' || c.version FROM releases c
    WHERE c.product_id = ${productId} AND ${sql.join(versionConditions(LATEST), sql.fragment` AND `)}
    ORDER BY ${precedenceDesc}
    LIMIT 1)`;
}

/** How many live versions of product `productId` the reader sees, as a scalar subquery. */
export function versionCountOf(productId: FragmentSqlToken, visibility: Visibility): FragmentSqlToken {
  return sql.fragment`(
    SELECT count(*) FROM releases c
    WHERE c.product_id = ${productId} AND ${sql.join(versionConditions({ visibility, includeDeleted: false }), sql.fragment` AND `)})::int`;
}

const lineSchema = z.object({ highest_final: z.number().nullable(), highest_any: z.number().nullable() });

/**
 * The next patch number of the line major.minor, counting every tag ever seen in it (any
 * visibility, tombstoned ones too: a version number once used is never handed out again). A line
 * whose highest patch exists only as prereleases (1.2.0-rc.1) gets that patch (1.2.0).
 */
export async function nextPatch(db: Queryable, productId: number, major: number, minor: number): Promise<number> {
  const line = await db.one(sql.type(lineSchema)`
    SELECT max(patch) FILTER (WHERE cardinality(prerelease) = 0) AS highest_final, max(patch) AS highest_any
    FROM releases
    WHERE product_id = ${productId} AND major = ${major}::bigint AND minor = ${minor}::bigint`);
  const afterFinal = line.highest_final === null ? 0 : line.highest_final + 1;
  return Math.max(afterFinal, line.highest_any ?? 0);
}
