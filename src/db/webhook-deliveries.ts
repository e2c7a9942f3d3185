import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from './pool.ts';

// webhook_deliveries: every delivery the intake answered 2xx, stored with its raw payload before the
// answer goes out, and its processing state. The API inserts; the worker and `replay` update.

export const DELIVERY_STATUSES = ['queued', 'processing', 'processed', 'ignored', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type NewDelivery = {
  deliveryId: string;
  event: string;
  action: string | null;
  repositoryId: number | null;
  repositoryFullName: string | null;
  hookId: number | null;
  productIds: readonly number[];
  /** The JSON payload as GitHub sent it (stored as text, byte for byte). */
  payloadJson: string;
  headers: Readonly<Record<string, string>>;
  status: 'queued' | 'ignored';
  ignoredReason: string | null;
  /** The process-delivery job enqueued with it (null when ignored). */
  jobId: string | null;
  receivedAt: Date;
};

/**
 * Inserts deliveries whose id is not stored yet, in one statement, and returns the ids it inserted:
 * a delivery id already stored (GitHub redelivered it) is left as it was.
 */
export async function insertDeliveries(db: Queryable, deliveries: readonly NewDelivery[]): Promise<Set<string>> {
  if (deliveries.length === 0) return new Set();
  // One parameter per value rather than sql.unnest: unnest sends each column as one array literal,
  // in which every quote of a 7 kB JSON payload would be escaped and parsed again.
  const rows = deliveries.map(
    (delivery) => sql.fragment`(
      ${delivery.deliveryId}, ${delivery.event}, ${delivery.action}, ${delivery.repositoryId}::bigint, ${delivery.repositoryFullName},
      ${delivery.hookId}::bigint, ${sql.array([...delivery.productIds], 'int4')}, ${delivery.payloadJson},
      ${JSON.stringify(delivery.headers)}::jsonb, ${delivery.status}, ${delivery.ignoredReason}, ${delivery.jobId}::uuid,
      ${delivery.receivedAt.toISOString()}::timestamptz)`,
  );
  const inserted = await db.any(sql.type(z.object({ deliveryId: z.string() }))`
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository_id, repository_full_name, hook_id, product_ids,
                                    payload, headers, status, ignored_reason, job_id, received_at)
    VALUES ${sql.join(rows, sql.fragment`, `)}
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id AS "deliveryId"`);
  return new Set(inserted.map((row) => row.deliveryId));
}

export const storedDeliverySchema = z.object({
  deliveryId: z.string(),
  event: z.string(),
  action: z.string().nullable(),
  repositoryId: z.number().nullable(),
  repositoryFullName: z.string().nullable(),
  productIds: z.array(z.number()),
  /** Parsed from the stored text (the intake stored only what parsed as a JSON object). */
  payload: z.string().transform((text): unknown => JSON.parse(text)),
  status: z.enum(DELIVERY_STATUSES),
  ignoredReason: z.string().nullable(),
  error: z.string().nullable(),
  attempts: z.number(),
  jobId: z.string().nullable(),
  receivedAt: z.date(),
  processedAt: z.date().nullable(),
});
export type StoredDelivery = z.infer<typeof storedDeliverySchema>;

const deliveryColumns = sql.fragment`
  delivery_id AS "deliveryId", event, action, repository_id AS "repositoryId", repository_full_name AS "repositoryFullName",
  product_ids AS "productIds", payload, status, ignored_reason AS "ignoredReason", error, attempts, job_id AS "jobId",
  received_at AS "receivedAt", processed_at AS "processedAt"`;

export async function findDelivery(db: Queryable, deliveryId: string): Promise<StoredDelivery | null> {
  return db.maybeOne(sql.type(storedDeliverySchema)`SELECT ${deliveryColumns} FROM webhook_deliveries WHERE delivery_id = ${deliveryId}`);
}

/** Marks the deliveries a worker took up as processing (one more attempt) and returns them. */
export async function claimDeliveries(db: Queryable, deliveryIds: readonly string[]): Promise<StoredDelivery[]> {
  if (deliveryIds.length === 0) return [];
  return [
    ...(await db.any(sql.type(storedDeliverySchema)`
      UPDATE webhook_deliveries
      SET status = 'processing', attempts = attempts + 1, updated_at = now()
      WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')})
      RETURNING ${deliveryColumns}`)),
  ];
}

export async function markDeliveriesProcessed(db: Queryable, deliveryIds: readonly string[]): Promise<void> {
  if (deliveryIds.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries
    SET status = 'processed', error = NULL, ignored_reason = NULL, processed_at = now(), updated_at = now()
    WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')})`);
}

export async function markDeliveriesIgnored(db: Queryable, deliveryIds: readonly string[], reason: string): Promise<void> {
  if (deliveryIds.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries
    SET status = 'ignored', ignored_reason = ${reason}, error = NULL, processed_at = now(), updated_at = now()
    WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')})`);
}

/**
 * Records why processing failed. `final`: no retry is left, the delivery is `failed` (an operator
 * replays it); otherwise it is `queued` again for pg-boss's retry. A delivery that a later
 * attempt already finished is left alone.
 */
export async function recordDeliveryFailure(db: Queryable, deliveryIds: readonly string[], error: string, final: boolean): Promise<void> {
  if (deliveryIds.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries
    SET status = ${final ? 'failed' : 'queued'}, error = ${error}, updated_at = now()
    WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')}) AND status NOT IN ('processed', 'ignored')`);
}

export async function listFailedDeliveryIds(db: Queryable): Promise<string[]> {
  const rows = await db.any(sql.type(z.object({ deliveryId: z.string() }))`
    SELECT delivery_id AS "deliveryId" FROM webhook_deliveries WHERE status = 'failed' ORDER BY received_at, delivery_id`);
  return rows.map((row) => row.deliveryId);
}

/** Queues a stored delivery again under a new job (replay), with the products it matches now. */
export async function requeueDelivery(
  db: Queryable,
  delivery: { deliveryId: string; jobId: string | null; productIds: readonly number[]; status: 'queued' | 'ignored'; ignoredReason: string | null },
): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE webhook_deliveries
    SET status = ${delivery.status}, job_id = ${delivery.jobId}::uuid, product_ids = ${sql.array([...delivery.productIds], 'int4')},
        ignored_reason = ${delivery.ignoredReason}, error = NULL, processed_at = NULL, updated_at = now()
    WHERE delivery_id = ${delivery.deliveryId}`);
}
