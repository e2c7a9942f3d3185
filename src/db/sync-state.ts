import { sql } from 'slonik';
import { z } from 'zod';
import { SyncSupersededError } from '../errors.ts';
import type { Queryable } from './pool.ts';
import { clearRefListing } from './sync-ref-listing.ts';

// sync_state: one row per product, holding the ETags of the last complete listings, the progress
// of the run in course (so a killed worker resumes where it stopped) and the last run's outcome.
// Progress writes are fenced on `run_owner` (the pg-boss job of the run): a job that lost its claim
// cannot write over the run that replaced it (SyncSupersededError).

export const RUN_PHASES = ['tags', 'releases', 'finishing'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export type RunMode = 'full' | 'incremental';
/** The values of sync_state.last_outcome. */
export const SYNC_OUTCOMES = ['succeeded', 'failed', 'deferred'] as const;
export type SyncOutcome = (typeof SYNC_OUTCOMES)[number];

const runStateSchema = z.object({
  productId: z.number(),
  tagsEtag: z.string().nullable(),
  releasesEtag: z.string().nullable(),
  runId: z.number(),
  runPhase: z.enum(RUN_PHASES).nullable(),
  runMode: z.enum(['full', 'incremental']).nullable(),
  runCursor: z.string().nullable(),
  runStartedAt: z.date().nullable(),
  runProgress: z.record(z.string(), z.unknown()),
  runOwner: z.string().nullable(),
  runListedAt: z.date().nullable(),
  releasesFullAt: z.date().nullable(),
  lastSuccessAt: z.date().nullable(),
  lastOutcome: z.enum(SYNC_OUTCOMES).nullable(),
  lastResult: z.record(z.string(), z.unknown()).nullable(),
  lastError: z.string().nullable(),
  deferredUntil: z.date().nullable(),
  now: z.date(),
});
export type SyncState = z.infer<typeof runStateSchema>;

const stateColumns = sql.fragment`
  product_id AS "productId", tags_etag AS "tagsEtag", releases_etag AS "releasesEtag", run_id AS "runId",
  run_phase AS "runPhase", run_mode AS "runMode", run_cursor AS "runCursor", run_started_at AS "runStartedAt",
  run_progress AS "runProgress", run_owner AS "runOwner", run_listed_at AS "runListedAt",
  releases_full_at AS "releasesFullAt", last_success_at AS "lastSuccessAt", last_outcome AS "lastOutcome",
  last_result AS "lastResult", last_error AS "lastError", deferred_until AS "deferredUntil", now() AS now`;

/** The product's sync state, or null before its first sync. */
export async function readSyncState(db: Queryable, productId: number): Promise<SyncState | null> {
  return db.maybeOne(sql.type(runStateSchema)`SELECT ${stateColumns} FROM sync_state WHERE product_id = ${productId}`);
}

/**
 * Locks the product's sync state row for the caller's transaction (creating it on a first sync)
 * and returns it: a run is started or resumed under this lock.
 */
export async function lockSyncState(db: Queryable, productId: number): Promise<SyncState> {
  await db.query(sql.unsafe`INSERT INTO sync_state (product_id) VALUES (${productId}) ON CONFLICT (product_id) DO NOTHING`);
  return db.one(sql.type(runStateSchema)`SELECT ${stateColumns} FROM sync_state WHERE product_id = ${productId} FOR UPDATE`);
}

/** Starts a new run: the next run id, phase `tags`, no cursor, owned by `owner`. */
export async function startRun(db: Queryable, productId: number, run: { owner: string; mode: RunMode; progress: object }): Promise<SyncState> {
  return db.one(sql.type(runStateSchema)`
    UPDATE sync_state SET
      run_id = run_id + 1, run_phase = 'tags', run_mode = ${run.mode}, run_cursor = NULL, run_started_at = now(),
      run_progress = ${sql.jsonb(run.progress as never)}, run_owner = ${run.owner}, run_listed_at = now(),
      last_started_at = now(), deferred_until = NULL, updated_at = now()
    WHERE product_id = ${productId}
    RETURNING ${stateColumns}`);
}

/**
 * Takes over the unfinished run of the product (a retry, a resumed deferral, another worker). A
 * refs listing staged by an earlier attempt keeps its time: rows written since (by webhooks) are
 * newer than it, and must not be tombstoned for missing from it; otherwise the attempt lists again.
 */
export async function resumeRun(db: Queryable, productId: number, owner: string): Promise<SyncState> {
  return db.one(sql.type(runStateSchema)`
    UPDATE sync_state SET
      run_owner = ${owner}, run_listed_at = CASE WHEN run_progress ? 'staged' THEN run_listed_at ELSE now() END,
      last_started_at = now(), deferred_until = NULL, updated_at = now()
    WHERE product_id = ${productId}
    RETURNING ${stateColumns}`);
}

/**
 * The run is about to ask GitHub for the listing its tombstone step will compare with: from now on,
 * a tag found present (releases.present_at) is spared by that step. Returns the time, which the
 * run keeps. Fenced on the owner like every write of the run.
 */
export async function markListingTaken(db: Queryable, productId: number, owner: string): Promise<Date> {
  const marked = await db.maybeOneFirst(sql.type(z.object({ listedAt: z.date() }))`
    UPDATE sync_state SET run_listed_at = clock_timestamp(), updated_at = now()
    WHERE product_id = ${productId} AND run_owner = ${owner}
    RETURNING run_listed_at AS "listedAt"`);
  if (marked === null) throw new SyncSupersededError(productId, owner);
  return marked;
}

export type ProgressUpdate = {
  phase: RunPhase;
  cursor: string | null;
  progress: object;
  /** New ETags, written with the work they vouch for; undefined leaves the stored one. */
  tagsEtag?: string | null;
  releasesEtag?: string | null;
  releasesFullAt?: 'now';
};

/**
 * Records the run's progress in the caller's transaction, next to the rows it vouches for.
 * Throws SyncSupersededError (rolling the transaction back) when `owner` no longer owns the run.
 */
export async function saveRunProgress(db: Queryable, productId: number, owner: string, update: ProgressUpdate): Promise<void> {
  const sets = [
    sql.fragment`run_phase = ${update.phase}`,
    sql.fragment`run_cursor = ${update.cursor}`,
    sql.fragment`run_progress = ${sql.jsonb(update.progress as never)}`,
    sql.fragment`updated_at = now()`,
  ];
  if (update.tagsEtag !== undefined) sets.push(sql.fragment`tags_etag = ${update.tagsEtag}`);
  if (update.releasesEtag !== undefined) sets.push(sql.fragment`releases_etag = ${update.releasesEtag}`);
  if (update.releasesFullAt === 'now') sets.push(sql.fragment`releases_full_at = now()`);
  const saved = await db.maybeOne(sql.type(z.object({ productId: z.number() }))`
    UPDATE sync_state SET ${sql.join(sets, sql.fragment`, `)}
    WHERE product_id = ${productId} AND run_owner = ${owner}
    RETURNING product_id AS "productId"`);
  if (saved === null) throw new SyncSupersededError(productId, owner);
}

/** The run ended with every listing complete: its outcome becomes the product's last result. */
export async function finishRun(db: Queryable, productId: number, owner: string, result: object): Promise<void> {
  const finished = await db.maybeOne(sql.type(z.object({ productId: z.number() }))`
    UPDATE sync_state SET
      run_phase = NULL, run_mode = NULL, run_cursor = NULL, run_owner = NULL, run_listed_at = NULL, run_progress = '{}',
      last_finished_at = now(), last_success_at = now(), last_outcome = 'succeeded', last_result = ${sql.jsonb(result as never)},
      last_error = NULL, deferred_until = NULL, updated_at = now()
    WHERE product_id = ${productId} AND run_owner = ${owner}
    RETURNING product_id AS "productId"`);
  if (finished === null) throw new SyncSupersededError(productId, owner);
}

/**
 * An attempt ended without finishing the run (failed, or deferred to a rate-limit reset). The
 * run's phase, cursor and progress stay, so the next attempt resumes it. Returns false when the
 * run belongs to another job by now (nothing is written then).
 */
export async function recordRunInterruption(
  db: Queryable,
  productId: number,
  owner: string,
  interruption: { outcome: 'failed' | 'deferred'; error: string; result: object; progress: object; deferredUntil?: Date },
): Promise<boolean> {
  const recorded = await db.maybeOne(sql.type(z.object({ productId: z.number() }))`
    UPDATE sync_state SET
      run_progress = ${sql.jsonb(interruption.progress as never)},
      last_finished_at = now(), last_outcome = ${interruption.outcome}, last_result = ${sql.jsonb(interruption.result as never)},
      last_error = ${interruption.error}, deferred_until = ${interruption.deferredUntil?.toISOString() ?? null}::timestamptz,
      updated_at = now()
    WHERE product_id = ${productId} AND run_owner = ${owner}
    RETURNING product_id AS "productId"`);
  return recorded !== null;
}

/**
 * How far ahead of the database's clock a scheduler tick may be and still be claimed. Claims only
 * move forward, so a replica whose clock runs fast claims slots the others reach later, and they
 * find those slots taken until real time catches up, even after that replica is gone: a day fast,
 * it holds every replica's scheduled syncs back for a day. Beyond this bound its ticks are refused.
 * Clocks kept by NTP agree to milliseconds, so a minute refuses no replica with a working clock,
 * and what a fast replica can still hold back once gone is at most a minute of ticks (at most one
 * of a schedule every minute or slower). A late tick needs no allowance here: node-cron fires it
 * up to missedExecutionTolerance (30 s, sync-schedule.ts) after its nominal time, which puts the
 * slot behind the database's clock, not ahead of it.
 */
export const SCHEDULED_SLOT_MAX_AHEAD_MS = 60_000;

export type SlotClaim = {
  /** The products for which no replica claimed this slot (or a later one) yet: this replica enqueues them. */
  productIds: number[];
  /** The slot minus the database's now(): how far ahead the replica's clock is, give or take the tick's lateness. */
  aheadMs: number;
  /** The slot is more than SCHEDULED_SLOT_MAX_AHEAD_MS ahead of the database's clock: nothing was claimed. */
  refused: boolean;
};

/**
 * Claims the scheduler tick `slot` for the given products. Every replica ticks on SYNC_SCHEDULE;
 * node-cron names a tick by its nominal time, the same in every replica whose clock is roughly
 * right, so the first replica to get here enqueues and the others find the slot taken, however far
 * apart they tick. A slot too far ahead of the database's clock is refused (SCHEDULED_SLOT_MAX_AHEAD_MS).
 */
export async function claimScheduledSlot(db: Queryable, productIds: readonly number[], slot: Date): Promise<SlotClaim> {
  return db.one(sql.type(z.object({ productIds: z.array(z.number()), aheadMs: z.number(), refused: z.boolean() }))`
    WITH clock AS (
      SELECT ${slot.toISOString()}::timestamptz AS slot,
             ${slot.toISOString()}::timestamptz > now() + ${SCHEDULED_SLOT_MAX_AHEAD_MS} * interval '1 millisecond' AS refused,
             now() AS now
    ), claimed AS (
      INSERT INTO sync_state AS s (product_id, scheduled_slot)
      SELECT t.id, clock.slot FROM unnest(${sql.array([...productIds], 'int4')}) AS t(id), clock
      WHERE NOT clock.refused
      ON CONFLICT (product_id) DO UPDATE SET scheduled_slot = excluded.scheduled_slot
      WHERE s.scheduled_slot IS NULL OR s.scheduled_slot < excluded.scheduled_slot
      RETURNING s.product_id
    )
    SELECT (SELECT coalesce(array_agg(product_id ORDER BY product_id), '{}') FROM claimed) AS "productIds",
           (extract(epoch FROM clock.slot - clock.now) * 1000)::float8 AS "aheadMs", clock.refused
    FROM clock`);
}

/** Tracked products that have never finished a sync successfully (a starting worker syncs them). */
export async function listNeverSyncedProducts(db: Queryable): Promise<string[]> {
  return [
    ...(await db.anyFirst(sql.type(z.object({ name: z.string() }))`
      SELECT p.name FROM products p LEFT JOIN sync_state s ON s.product_id = p.id
      WHERE p.tracked AND s.last_success_at IS NULL
      ORDER BY p.name`)),
  ];
}

/**
 * Tracked products that finished a sync successfully, but not since `since` (a scheduled tick a
 * starting worker makes up is due for these only: the others have no data yet, or fresh data).
 */
export async function listProductsSyncedOnlyBefore(db: Queryable, since: Date): Promise<string[]> {
  return [
    ...(await db.anyFirst(sql.type(z.object({ name: z.string() }))`
      SELECT p.name FROM products p JOIN sync_state s ON s.product_id = p.id
      WHERE p.tracked AND s.last_success_at < ${since.toISOString()}::timestamptz
      ORDER BY p.name`)),
  ];
}

/**
 * Forgets what the last syncs of these products established (their ETags and success), so that
 * their next sync lists every tag and release again: their repository or tag pattern changed.
 * The run in course, if any, is abandoned with its staged refs listing: both were made under the
 * old definition, and resuming them would store the listing's ETag and a success as if the new
 * one had been listed. With run_owner cleared, a job still running it (on another replica) fails
 * its next fenced write with SyncSupersededError instead of finishing over the reset.
 */
export async function resetSyncForRelisting(db: Queryable, productIds: readonly number[]): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE sync_state
    SET tags_etag = NULL, releases_etag = NULL, releases_full_at = NULL, last_success_at = NULL,
        run_phase = NULL, run_mode = NULL, run_cursor = NULL, run_owner = NULL, run_listed_at = NULL, run_progress = '{}',
        updated_at = now()
    WHERE product_id = ANY(${sql.array([...productIds], 'int4')})`);
  await clearRefListing(db, productIds);
}
