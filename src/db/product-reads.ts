import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { isoText, isoTimestamp } from './iso-timestamp.ts';
import type { Queryable } from './pool.ts';
import { latestVersionOf, versionCountOf, type Visibility } from './release-reads.ts';
import { SYNC_OUTCOMES } from './sync-state.ts';

// What the read API answers about products: each row is the API object itself (see
// release-reads.ts for why). Counts and the latest version respect the reader's visibility.

export const productViewSchema = z.object({
  name: z.string(),
  repository: z.string().describe('owner/name on GitHub, as configured'),
  description: z.string().nullable(),
  public: z.boolean().describe('false: visible only with an API token'),
  latest_version: z.string().nullable().describe('The highest public, non-development, live version (`v…`), or null'),
  release_count: z.number().int().describe('Live versions visible to the reader'),
  last_sync: z
    .object({
      started_at: isoTimestamp.nullable(),
      finished_at: isoTimestamp.nullable(),
      succeeded_at: isoTimestamp.nullable(),
      outcome: z.enum(SYNC_OUTCOMES).nullable(),
      error: z.string().nullable().describe('The last failure (shown with a token only)'),
      deferred_until: isoTimestamp.nullable().describe("While a run waits for GitHub's rate limit to reset (outcome `deferred`): when it goes on"),
    })
    .nullable()
    .describe('The last sync run, or null before the first'),
});
export type ProductView = z.infer<typeof productViewSchema>;

function productViews(where: FragmentSqlToken, visibility: Visibility) {
  return sql.type(productViewSchema)`
    SELECT
      p.name, p.repository, p.description, p.public,
      ${latestVersionOf(sql.fragment`p.id`)} AS latest_version,
      ${versionCountOf(sql.fragment`p.id`, visibility)} AS release_count,
      CASE WHEN s.product_id IS NOT NULL THEN json_build_object(
        'started_at', ${isoText(sql.fragment`s.last_started_at`)},
        'finished_at', ${isoText(sql.fragment`s.last_finished_at`)},
        'succeeded_at', ${isoText(sql.fragment`s.last_success_at`)},
        'outcome', s.last_outcome,
        'error', ${visibility === 'all' ? sql.fragment`s.last_error` : sql.fragment`NULL::text`},
        'deferred_until', ${isoText(sql.fragment`s.deferred_until`)}
      ) END AS last_sync
    FROM products p
    LEFT JOIN sync_state s ON s.product_id = p.id
    WHERE p.tracked AND ${visibility === 'public' ? sql.fragment`p.public` : sql.fragment`true`} AND ${where}
    ORDER BY p.name COLLATE "C"`;
}

export async function listProductViews(db: Queryable, visibility: Visibility): Promise<ProductView[]> {
  return [...(await db.any(productViews(sql.fragment`true`, visibility)))];
}

export async function findProductView(db: Queryable, name: string, visibility: Visibility): Promise<ProductView | null> {
  return db.maybeOne(productViews(sql.fragment`p.name = ${name}`, visibility));
}
