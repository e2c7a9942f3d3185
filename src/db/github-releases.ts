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
