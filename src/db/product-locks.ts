import { sql } from 'slonik';
import type { Queryable } from './pool.ts';
import type { ChangeSource } from './releases.ts';

// Writers that read GitHub's state and then write it (webhook ingestion and the sync) must not
// interleave for one product: a writer that read an older state and commits after one that read a
// newer state would put the older state back. A transaction-level advisory lock per product, taken
// before reading GitHub and held until commit, orders them.

// The first key of the two-key advisory lock: a namespace no other lock in this database uses
// (the migration lock uses a one-key lock). It spells "rrel".
const RELEASE_WRITE_LOCK_NAMESPACE = 0x7272656c;

// A changed products file is applied by every replica that starts; one at a time, so that what one
// reads of the stored definitions before writing them is still what it writes over ("rdef").
const PRODUCT_DEFINITIONS_LOCK_NAMESPACE = 0x72646566;

/**
 * Opens a release-writing transaction in one round trip: waits for, then holds until the end of
 * the transaction, the product's release-writing lock; names the change source the
 * releases_change_log trigger records, and turns PostgreSQL's JIT compilation off for the
 * transaction. The batch writers' statements look expensive to the planner (a subplan per input
 * row), which crosses `jit_above_cost`, and compiling them took 60 of 95 ms of a 1,000-row upsert
 * that runs in 35 ms without: JIT pays off for long analytical queries, not for these. Three
 * settings, one statement: each write transaction of a sync or of webhook ingestion would
 * otherwise spend two more round trips before its first write.
 */
export async function beginReleaseWrite(db: Queryable, productId: number, source: ChangeSource): Promise<void> {
  await db.query(sql.unsafe`
    SELECT pg_advisory_xact_lock(${RELEASE_WRITE_LOCK_NAMESPACE}::int, ${productId}::int),
           set_config('release_registry.change_source', ${source}, true),
           set_config('jit', 'off', true)`);
}

/**
 * Waits for, then holds until the end of the transaction, the release-writing lock of each of
 * `productIds`, in id order (release writers hold one product's lock at a time, so an order shared
 * by every holder of several is enough to rule out a deadlock between them).
 */
export async function holdReleaseWriteLocks(db: Queryable, productIds: readonly number[]): Promise<void> {
  for (const productId of [...new Set(productIds)].sort((a, b) => a - b)) {
    await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${RELEASE_WRITE_LOCK_NAMESPACE}::int, ${productId}::int)`);
  }
}

/** Waits for, then holds until the end of the transaction, the right to change product definitions. */
export async function holdProductDefinitionsLock(db: Queryable): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_advisory_xact_lock(${PRODUCT_DEFINITIONS_LOCK_NAMESPACE}::int, 0)`);
}
