import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from './pool.ts';

// Reads of github_releases (writes go through src/db/releases.ts).

/** Ids of the releases not marked deleted that name one of `tags`. */
export async function findLiveReleaseIds(db: Queryable, productId: number, tags: readonly string[]): Promise<number[]> {
  if (tags.length === 0) return [];
  const rows = await db.any(sql.type(z.object({ id: z.number() }))`
    SELECT github_release_id AS id FROM github_releases
    WHERE product_id = ${productId} AND tag_name = ANY(${sql.array([...tags], 'text')}) AND deleted_at IS NULL`);
  return rows.map((row) => row.id);
}

const unseenSchema = z.object({ id: z.number(), tagName: z.string() });
export type UnseenRelease = z.infer<typeof unseenSchema>;

/**
 * Live GitHub releases of the product that sync run `runId` did not list although they fall in the
 * part of the listing it read: created after `createdAfter` (GitHub lists releases newest first),
 * or anywhere when `createdAfter` is null (the run listed every page). Candidates for deletion.
 */
export async function findUnseenReleases(db: Queryable, productId: number, runId: number, createdAfter: Date | null): Promise<UnseenRelease[]> {
  const window = createdAfter === null ? sql.fragment`true` : sql.fragment`created_at > ${createdAfter.toISOString()}::timestamptz`;
  return [
    ...(await db.any(sql.type(unseenSchema)`
      SELECT github_release_id AS id, tag_name AS "tagName" FROM github_releases
      WHERE product_id = ${productId} AND deleted_at IS NULL AND seen_in_sync_run IS DISTINCT FROM ${runId} AND ${window}
      ORDER BY github_release_id`)),
  ];
}
