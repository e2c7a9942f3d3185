import { sql } from 'slonik';
import type { Queryable } from './pool.ts';

// Writers that read GitHub's state and then write it (webhook ingestion, and the sync if it takes
// the lock too) must not interleave for one product: a writer that read an older state and commits
// after one that read a newer state would put the older state back. A transaction-level advisory
// lock per product, taken before reading GitHub and held until commit, orders them.

// The first key of the two-key advisory lock: a namespace no other lock in this database uses
// (the migration lock uses a one-key lock). It spells "rrel".
const RELEASE_WRITE_LOCK_NAMESPACE = 0x7272656c;

/** Waits for, then holds until the end of the transaction, the release-writing lock of a product. */
export async function lockProductReleases(db: Queryable, productId: number): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${RELEASE_WRITE_LOCK_NAMESPACE}::int, ${productId}::int)`);
}
