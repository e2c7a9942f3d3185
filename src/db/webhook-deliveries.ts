import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { binaryTextArray } from './binary-text-array.ts';
import type { Queryable } from './pool.ts';
import { repositoryMatch } from './products.ts';

// webhook_deliveries: every delivery the intake answered 2xx, stored with its raw payload before the
// answer goes out, and its processing state. The API inserts; the worker and `replay` update.

export const DELIVERY_STATUSES = ['queued', 'processing', 'processed', 'ignored', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A verified delivery as the intake stores it. */
export type NewDelivery = {
  deliveryId: string;
  event: string;
  action: string | null;
  repositoryId: number | null;
  repositoryFullName: string | null;
  hookId: number | null;
  /** The JSON payload's bytes as GitHub sent them (UTF-8; stored as text, byte for byte). */
  payload: Buffer;
  headers: Readonly<Record<string, string>>;
  /**
   * Why the delivery is ignored (a ping, an event or action not handled); null: it is handled and
   * is matched to the tracked products of its repository.
   */
  ignoredReason: string | null;
  receivedAt: Date;
};

/** What storing a delivery did: queued under the job, or ignored for the reason given. */
export type StoreOutcome = { status: 'queued'; productIds: number[] } | { status: 'ignored'; reason: string };

const storedRow = z.object({
  deliveryId: z.string(),
  status: z.enum(['queued', 'ignored']),
  productIds: z.array(z.number()),
  ignoredReason: z.string().nullable(),
});

/** Why a handled delivery that matches no product is ignored, from the columns of `row` (constant text: prepared statements use it). */
function untrackedReason(row: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`'repository ' || ${row}.repository_full_name || ' (id ' || ${row}.repository_id || ') is not a tracked product'`;
}

/**
 * Stores the deliveries whose id is not stored yet, in one statement, and says what became of each
 * one it stored. A delivery id already stored (GitHub redelivering it) is left as it was and is
 * absent from the answer, unless it failed, or was ignored for want of a tracked product that its
 * repository now has: then it is stored again as new (matched afresh, without a job), as replay
 * does. A handled delivery is matched to the tracked products of its repository
 * (repositoryMatch: GitHub's id first, then the name) and is stored
 * `queued` when some match, `ignored` otherwise; with no job, which the worker's enqueuer gives
 * them (assignStoredDeliveriesToJobs).
 */
export async function storeDeliveries(db: Queryable, deliveries: readonly NewDelivery[]): Promise<Map<string, StoreOutcome>> {
  if (deliveries.length === 0) return new Map();
  const rows = await db.any(storeDeliveriesStatement(deliveries));
  return new Map(
    rows.map((row): [string, StoreOutcome] => [
      row.deliveryId,
      row.status === 'queued' ? { status: 'queued', productIds: row.productIds } : { status: 'ignored', reason: row.ignoredReason ?? '' },
    ]),
  );
}

/**
 * storeDeliveries' statement. Exported for the intake benchmark's floor, which runs the very same
 * statement without Slonik (test/bench/support/floor-webhook-server.ts).
 */
export function storeDeliveriesStatement(deliveries: readonly NewDelivery[]) {
  const column = <T>(pick: (delivery: NewDelivery) => T) => deliveries.map(pick);
  // One statement whatever the number of deliveries: each column is one array (the payloads one
  // binary text[], src/db/binary-text-array.ts, so their quotes are not escaped and parsed again),
  // so the text never changes and each connection parses and plans it once (a named prepared
  // statement). A multi-row VALUES built per call cost the API more CPU than the database spent
  // running it, and PostgreSQL parsed and planned it again in every transaction.
  return sql.prepared('store_webhook_deliveries', storedRow)`
    INSERT INTO webhook_deliveries AS d (delivery_id, event, action, repository_id, repository_full_name, hook_id, product_ids,
                                    payload, headers, status, ignored_reason, received_at)
    SELECT v.delivery_id, v.event, v.action, v.repository_id, v.repository_full_name, v.hook_id,
           coalesce(m.product_ids, '{}'), v.payload, v.headers,
           CASE WHEN m.product_ids IS NULL THEN 'ignored' ELSE 'queued' END,
           CASE WHEN m.product_ids IS NULL THEN coalesce(v.ignored_reason, ${untrackedReason(sql.fragment`v`)}) END,
           v.received_at
    FROM unnest(
      ${sql.array(column((delivery) => delivery.deliveryId), 'text')},
      ${sql.array(column((delivery) => delivery.event), 'text')},
      ${sql.array(column((delivery) => delivery.action), 'text')},
      ${sql.array(column((delivery) => delivery.repositoryId), 'int8')},
      ${sql.array(column((delivery) => delivery.repositoryFullName), 'text')},
      ${sql.array(column((delivery) => delivery.hookId), 'int8')},
      ${sql.array(column((delivery) => JSON.stringify(delivery.headers)), 'jsonb')},
      ${sql.array(column((delivery) => delivery.ignoredReason), 'text')},
      ${sql.array(column((delivery) => delivery.receivedAt.toISOString()), 'timestamptz')},
      -- Last: node-postgres grows its message buffer as it appends parameters, so the big one last
      -- is copied once into a buffer of the right size.
      ${sql.binary(binaryTextArray(column((delivery) => delivery.payload)))}::text[]
    ) AS v (delivery_id, event, action, repository_id, repository_full_name, hook_id, headers, ignored_reason, received_at, payload)
    LEFT JOIN LATERAL (
      -- repositoryMatch, per delivery (no product: array_agg is null)
      SELECT array_agg(p.id ORDER BY p.name) AS product_ids
      FROM products p
      WHERE v.ignored_reason IS NULL AND ${repositoryMatch(sql.fragment`v.repository_id`, sql.fragment`lower(v.repository_full_name)`)}
    ) m ON true
    ON CONFLICT (delivery_id) DO UPDATE SET
      status = excluded.status, product_ids = excluded.product_ids, ignored_reason = excluded.ignored_reason,
      job_id = NULL, error = NULL, processed_at = NULL, updated_at = now()
    -- GitHub's "Redeliver" of a delivery that failed, or that no tracked product matched and one
    -- does now, is worked again, as replay does; any other stored delivery is left as it was.
    WHERE d.status = 'failed'
       OR (d.status = 'ignored' AND excluded.status = 'queued' AND d.ignored_reason = ${untrackedReason(sql.fragment`d`)})
    RETURNING d.delivery_id AS "deliveryId", d.status, d.product_ids AS "productIds", d.ignored_reason AS "ignoredReason"`;
}

export const storedDeliverySchema = z.object({
  deliveryId: z.string(),
  event: z.string(),
  action: z.string().nullable(),
  repositoryId: z.number().nullable(),
  repositoryFullName: z.string().nullable(),
  productIds: z.array(z.number()),
  /**
   * The stored JSON text, parsed by whoever classifies it: a row that does not parse must fail on
   * its own, not take down the claim or read of every row returned with it.
   */
  payload: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  ignoredReason: z.string().nullable(),
  error: z.string().nullable(),
  attempts: z.number(),
  jobId: z.string().nullable(),
  receivedAt: z.date(),
  processedAt: z.date().nullable(),
});
export type StoredDelivery = z.infer<typeof storedDeliverySchema>;

/** The columns of StoredDelivery, from `webhook_deliveries d`. */
const deliveryColumns = sql.fragment`
  d.delivery_id AS "deliveryId", d.event, d.action, d.repository_id AS "repositoryId", d.repository_full_name AS "repositoryFullName",
  d.product_ids AS "productIds", d.payload, d.status, d.ignored_reason AS "ignoredReason", d.error, d.attempts, d.job_id AS "jobId",
  d.received_at AS "receivedAt", d.processed_at AS "processedAt"`;

/**
 * The stored deliveries with these ids (those that exist), locked until the caller's transaction
 * ends: what the caller decides about them holds when it writes (retention, for one, skips them).
 */
export async function lockDeliveries(db: Queryable, deliveryIds: readonly string[]): Promise<StoredDelivery[]> {
  if (deliveryIds.length === 0) return [];
  return [
    ...(await db.any(sql.type(storedDeliverySchema)`
      SELECT ${deliveryColumns} FROM webhook_deliveries d
      WHERE d.delivery_id = ANY(${sql.array([...deliveryIds], 'text')})
      FOR UPDATE`)),
  ];
}

/**
 * A delivery as its job's worker holds it: the job it is stored under (`job_id`). Writes after the
 * claim apply only while the delivery still names that job, so an operator's `replay` (which takes
 * the delivery off its job, for a new one) is never overwritten by the old job's outcome.
 */
export type DeliveryClaim = { deliveryId: string; jobId: string };

/**
 * Marks as processing (one more attempt) and returns the deliveries that the named jobs are still
 * responsible for: those that name the job and are queued, or processing (an attempt that died),
 * or, when `retryFailed`, failed (a job an operator moved back from the dead-letter queue). A
 * delivery already processed or ignored, failed for good by an earlier attempt of the same job, or
 * moved to another job (replay, rate-limit deferral) is not claimed.
 */
export async function claimDeliveries(db: Queryable, claims: readonly (DeliveryClaim & { retryFailed: boolean })[]): Promise<StoredDelivery[]> {
  if (claims.length === 0) return [];
  return [
    ...(await db.any(sql.type(storedDeliverySchema)`
      UPDATE webhook_deliveries d
      SET status = 'processing', attempts = d.attempts + 1, updated_at = now()
      FROM ${sql.unnest(
        claims.map((claim) => [claim.deliveryId, claim.jobId, claim.retryFailed]),
        ['text', 'uuid', 'bool'],
      )} AS c(delivery_id, job_id, retry_failed)
      WHERE d.delivery_id = c.delivery_id AND d.job_id = c.job_id
        AND (d.status IN ('queued', 'processing') OR (d.status = 'failed' AND c.retry_failed))
      RETURNING ${deliveryColumns}`)),
  ];
}

function claimsTable(claims: readonly DeliveryClaim[]) {
  return sql.unnest(
    claims.map((claim) => [claim.deliveryId, claim.jobId]),
    ['text', 'uuid'],
  );
}

export async function markDeliveriesProcessed(db: Queryable, claims: readonly DeliveryClaim[]): Promise<void> {
  if (claims.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries d
    SET status = 'processed', error = NULL, ignored_reason = NULL, processed_at = now(), updated_at = now()
    FROM ${claimsTable(claims)} AS c(delivery_id, job_id)
    WHERE d.delivery_id = c.delivery_id AND d.job_id = c.job_id`);
}

export async function markDeliveriesIgnored(db: Queryable, claims: readonly DeliveryClaim[], reason: string): Promise<void> {
  if (claims.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries d
    SET status = 'ignored', ignored_reason = ${reason}, error = NULL, processed_at = now(), updated_at = now()
    FROM ${claimsTable(claims)} AS c(delivery_id, job_id)
    WHERE d.delivery_id = c.delivery_id AND d.job_id = c.job_id`);
}

/**
 * Records why processing failed. `final`: no retry is left, the delivery is `failed` (an operator
 * replays it, or redrives its job); otherwise it is `queued` again for pg-boss's retry of its job.
 * A delivery that was finished meanwhile, or moved to another job, is left alone.
 */
export async function recordDeliveryFailure(db: Queryable, claims: readonly DeliveryClaim[], error: string, final: boolean): Promise<void> {
  if (claims.length === 0) return;
  // A failure with retries left never undoes a final one: that would be a late write of an earlier
  // attempt (one that outran its expiry while the last attempt failed the delivery for good).
  const settled = final ? sql.fragment`('processed', 'ignored')` : sql.fragment`('processed', 'ignored', 'failed')`;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries d
    SET status = ${final ? 'failed' : 'queued'}, error = ${error}, updated_at = now()
    FROM ${claimsTable(claims)} AS c(delivery_id, job_id)
    WHERE d.delivery_id = c.delivery_id AND d.job_id = c.job_id AND d.status NOT IN ${settled}`);
}

/**
 * Jobs named by deliveries still queued or processing whose last change is older than
 * `unchangedSince`: the candidates for a job that ended without finishing them. In job id order,
 * after `afterJobId`, so that a caller pages through them all.
 */
export async function findJobsOfOpenDeliveries(db: Queryable, unchangedSince: Date, limit: number, afterJobId: string | null = null): Promise<string[]> {
  return [
    ...(await db.anyFirst(sql.type(z.object({ jobId: z.string() }))`
      SELECT DISTINCT job_id::text AS "jobId" FROM webhook_deliveries
      WHERE status IN ('queued', 'processing') AND job_id IS NOT NULL AND updated_at < ${unchangedSince.toISOString()}::timestamptz
        AND (${afterJobId}::uuid IS NULL OR job_id > ${afterJobId}::uuid)
      ORDER BY 1
      LIMIT ${limit}`)),
  ];
}

/**
 * Fails, with `error`, the deliveries still queued or processing under job `jobId` (which ended
 * without finishing them); returns how many.
 */
export async function failDeliveriesOfEndedJob(db: Queryable, jobId: string, error: string): Promise<number> {
  const failed = await db.anyFirst(sql.type(z.object({ deliveryId: z.string() }))`
    UPDATE webhook_deliveries SET status = 'failed', error = ${error}, updated_at = now()
    WHERE job_id = ${jobId}::uuid AND status IN ('queued', 'processing')
    RETURNING delivery_id AS "deliveryId"`);
  return failed.length;
}

/** The channel stored deliveries without a job are announced on (the intake's commits, replays), waking the worker's enqueuer. */
export const STORED_DELIVERIES_CHANNEL = 'webhook_deliveries_stored';

/** Wakes the worker's enqueuer; delivered when the transaction it is sent in commits (the intake sends it in one of its own, after its commit). */
export async function announceStoredDeliveries(db: Queryable): Promise<void> {
  await db.query(sql.unsafe`SELECT pg_notify(${STORED_DELIVERIES_CHANNEL}, '')`);
}

/**
 * Gives stored deliveries that have no job yet, oldest first, the jobs `jobIds`: up to `perJob` to
 * each, the first `perJob` to the first job and so on; returns each delivery with its job, and
 * the caller enqueues those jobs in the same transaction. Rows another enqueuer has taken are
 * skipped, not waited for.
 */
export async function assignStoredDeliveriesToJobs(
  db: Queryable,
  jobIds: readonly string[],
  perJob: number,
): Promise<Array<{ deliveryId: string; jobId: string }>> {
  if (jobIds.length === 0) return [];
  return [
    ...(await db.any(sql.type(z.object({ deliveryId: z.string(), jobId: z.string() }))`
      UPDATE webhook_deliveries d
      SET job_id = (${sql.array([...jobIds], 'uuid')})[(s.n - 1) / ${perJob}::int + 1], updated_at = now()
      FROM (
        SELECT delivery_id, row_number() OVER (ORDER BY received_at, delivery_id) AS n
        FROM (
          SELECT delivery_id, received_at FROM webhook_deliveries
          WHERE status = 'queued' AND job_id IS NULL
          ORDER BY received_at
          LIMIT ${jobIds.length * perJob}
          FOR UPDATE SKIP LOCKED) picked
      ) s
      WHERE d.delivery_id = s.delivery_id
      RETURNING d.delivery_id AS "deliveryId", d.job_id::text AS "jobId"`)),
  ];
}

/** The stored deliveries still waiting for a job, and how long the oldest has waited (0 when none). */
export async function deliveriesAwaitingJob(db: Queryable): Promise<{ count: number; oldestSeconds: number }> {
  return db.one(sql.type(z.object({ count: z.number(), oldestSeconds: z.number() }))`
    SELECT count(*)::int AS count, coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 AS "oldestSeconds"
    FROM webhook_deliveries WHERE status = 'queued' AND job_id IS NULL`);
}

/**
 * Moves claimed deliveries to another job, queued with `error` as the reason (a spent rate limit
 * defers them to its reset under that job); only those still naming the job they were claimed
 * under and not finished, so an operator's replay meanwhile is not undone. Returns the ids moved.
 */
export async function moveDeliveriesToJob(db: Queryable, claims: readonly DeliveryClaim[], jobId: string, error: string): Promise<string[]> {
  if (claims.length === 0) return [];
  return [
    ...(await db.anyFirst(sql.type(z.object({ deliveryId: z.string() }))`
      UPDATE webhook_deliveries d
      SET status = 'queued', job_id = ${jobId}::uuid, error = ${error}, processed_at = NULL, updated_at = now()
      FROM ${claimsTable(claims)} AS c(delivery_id, job_id)
      WHERE d.delivery_id = c.delivery_id AND d.job_id = c.job_id AND d.status NOT IN ('processed', 'ignored')
      RETURNING d.delivery_id AS "deliveryId"`)),
  ];
}

export async function listFailedDeliveryIds(db: Queryable): Promise<string[]> {
  const rows = await db.any(sql.type(z.object({ deliveryId: z.string() }))`
    SELECT delivery_id AS "deliveryId" FROM webhook_deliveries WHERE status = 'failed' ORDER BY received_at, delivery_id`);
  return rows.map((row) => row.deliveryId);
}

/**
 * Stores deliveries again as the intake stores them (replay), in one statement: matched to products
 * afresh, `queued` without a job (the enqueuer gives them one) when some match, else `ignored`
 * with the reason given or the intake's "not a tracked product"; off their old job. Returns, for
 * each delivery that exists, its new status, reason and the names of its products.
 */
export async function requeueDeliveries(
  db: Queryable,
  deliveries: ReadonlyArray<{ deliveryId: string; ignoredReason: string | null }>,
): Promise<Array<{ deliveryId: string; status: 'queued' | 'ignored'; ignoredReason: string | null; products: string[] }>> {
  if (deliveries.length === 0) return [];
  return [
    ...(await db.any(sql.type(
      z.object({ deliveryId: z.string(), status: z.enum(['queued', 'ignored']), ignoredReason: z.string().nullable(), products: z.array(z.string()) }),
    )`
      WITH matched AS (
        SELECT d.delivery_id, d.repository_id, d.repository_full_name, v.ignored_reason, (
          -- the intake's match (storeDeliveries), per delivery (no product: array_agg is null)
          SELECT array_agg(p.id ORDER BY p.name) FROM products p
          WHERE v.ignored_reason IS NULL AND ${repositoryMatch(sql.fragment`d.repository_id`, sql.fragment`lower(d.repository_full_name)`)}
        ) AS product_ids
        FROM webhook_deliveries d
        JOIN unnest(${sql.array(
          deliveries.map((delivery) => delivery.deliveryId),
          'text',
        )}::text[], ${sql.array(
          deliveries.map((delivery) => delivery.ignoredReason),
          'text',
        )}::text[]) AS v(delivery_id, ignored_reason) ON v.delivery_id = d.delivery_id
      )
      UPDATE webhook_deliveries d
      SET status = CASE WHEN m.product_ids IS NULL THEN 'ignored' ELSE 'queued' END,
          product_ids = coalesce(m.product_ids, '{}'),
          ignored_reason = CASE WHEN m.product_ids IS NULL THEN coalesce(m.ignored_reason, ${untrackedReason(sql.fragment`m`)}) END,
          job_id = NULL, error = NULL, processed_at = NULL, updated_at = now()
      FROM matched m
      WHERE d.delivery_id = m.delivery_id
      RETURNING d.delivery_id AS "deliveryId", d.status, d.ignored_reason AS "ignoredReason",
                ARRAY(SELECT p.name FROM products p WHERE p.id = ANY(d.product_ids) ORDER BY p.name) AS products`)),
  ];
}

/**
 * Deletes up to `limit` deliveries that are done with (processed or ignored) and were received
 * before `receivedBefore`, oldest first (migration 0032 indexes exactly those); returns how many.
 * Failed, queued and processing ones are never deleted: they still need a worker or an operator.
 * Rows another replica is deleting, or a replay is holding, are skipped, not waited for.
 */
export async function deleteFinishedDeliveries(db: Queryable, receivedBefore: Date, limit: number): Promise<number> {
  const deleted = await db.anyFirst(sql.type(z.object({ deliveryId: z.string() }))`
    DELETE FROM webhook_deliveries d
    WHERE d.delivery_id IN (
      SELECT delivery_id FROM webhook_deliveries
      WHERE status IN ('processed', 'ignored') AND received_at < ${receivedBefore.toISOString()}::timestamptz
      ORDER BY received_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING d.delivery_id AS "deliveryId"`);
  return deleted.length;
}
