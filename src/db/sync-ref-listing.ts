import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from './pool.ts';

// sync_ref_listing holds one listing of a product's tag refs (name and ref sha) while a sync run
// compares it with the stored releases rows in SQL, a batch at a time: memory in the worker does
// not grow with the number of tags, and the comparison uses the releases (product_id, tag) index.

/** Forgets the product's listing (a new listing starts, or the run's tag phase ended). */
export async function clearRefListing(db: Queryable, productId: number): Promise<void> {
  await db.query(sql.unsafe`DELETE FROM sync_ref_listing WHERE product_id = ${productId}`);
}

/** Adds a batch of refs of the listing (one statement; a ref listed again keeps the last sha). */
export async function addToRefListing(db: Queryable, productId: number, refs: ReadonlyArray<{ name: string; sha: string }>): Promise<void> {
  if (refs.length === 0) return;
  await db.query(sql.unsafe`
    INSERT INTO sync_ref_listing (product_id, tag, ref_sha)
    SELECT ${productId}, tag, ref_sha FROM ${sql.unnest(
      refs.map((ref) => [ref.name, ref.sha]),
      ['text', 'text'],
    )} AS t(tag, ref_sha)
    ON CONFLICT (product_id, tag) DO UPDATE SET ref_sha = excluded.ref_sha
    WHERE sync_ref_listing.ref_sha IS DISTINCT FROM excluded.ref_sha`);
}

/**
 * The next `limit` listed tags, in name order after `after`, whose stored row is missing, points at
 * another ref sha (the tag moved) or is tombstoned (the tag came back): the tags to read again.
 */
export async function listedTagsToRead(db: Queryable, productId: number, after: string | null, limit: number): Promise<string[]> {
  const rows = await db.any(sql.type(z.object({ tag: z.string() }))`
    SELECT s.tag FROM sync_ref_listing s
    LEFT JOIN releases r ON r.product_id = s.product_id AND r.tag = s.tag
    WHERE s.product_id = ${productId} AND (${after}::text IS NULL OR s.tag > ${after}::text)
      AND (r.id IS NULL OR r.ref_sha IS DISTINCT FROM s.ref_sha OR r.deleted_at IS NOT NULL)
    ORDER BY s.tag
    LIMIT ${limit}`);
  return rows.map((row) => row.tag);
}
