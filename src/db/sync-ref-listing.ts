import { sql } from 'slonik';
import { z } from 'zod';
import { SyncSupersededError } from '../errors.ts';
import type { Queryable } from './pool.ts';

// sync_ref_listing holds one listing of a product's tag refs (name and ref sha) while a sync run
// compares it with the stored releases rows in SQL, a batch at a time: memory in the worker does
// not grow with the number of tags, and the comparison uses the releases (product_id, tag) index.

/** Forgets the products' listings (a new listing starts, the run's tag phase ended, or a relisting resets them). */
export async function clearRefListing(db: Queryable, productIds: number | readonly number[]): Promise<void> {
  const ids = typeof productIds === 'number' ? [productIds] : [...productIds];
  await db.query(sql.unsafe`DELETE FROM sync_ref_listing WHERE product_id = ANY(${sql.array(ids, 'int4')})`);
}

/**
 * Adds a batch of refs of the listing (one statement; a ref listed again keeps the last sha),
 * fenced on the run's owner like every write of a run: the listing is staged outside the run's
 * write transactions, so a job whose run was taken over (its claim lapsed) must not add its
 * older refs to the listing of the run that replaced it. Throws SyncSupersededError.
 */
export async function addToRefListing(db: Queryable, productId: number, owner: string, refs: ReadonlyArray<{ name: string; sha: string }>): Promise<void> {
  if (refs.length === 0) return;
  // FOR SHARE: a takeover (an UPDATE of run_owner) waits for this statement, or this statement
  // sees the new owner; either way no ref of the old owner lands after the takeover.
  const owned = await db.oneFirst(sql.type(z.object({ owned: z.boolean() }))`
    WITH run AS (
      SELECT product_id FROM sync_state WHERE product_id = ${productId} AND run_owner = ${owner} FOR SHARE
    ), added AS (
      INSERT INTO sync_ref_listing (product_id, tag, ref_sha)
      SELECT run.product_id, t.tag, t.ref_sha FROM run, ${sql.unnest(
        refs.map((ref) => [ref.name, ref.sha]),
        ['text', 'text'],
      )} AS t(tag, ref_sha)
      ON CONFLICT (product_id, tag) DO UPDATE SET ref_sha = excluded.ref_sha
      WHERE sync_ref_listing.ref_sha IS DISTINCT FROM excluded.ref_sha
    )
    SELECT EXISTS (SELECT 1 FROM run) AS owned`);
  if (!owned) throw new SyncSupersededError(productId, owner);
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
