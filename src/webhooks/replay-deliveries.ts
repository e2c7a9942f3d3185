import type { Database, Queryable } from '../db/pool.ts';
import { announceStoredDeliveries, lockDeliveries, requeueDeliveries } from '../db/webhook-deliveries.ts';
import { PermanentPayloadError } from '../errors.ts';
import { classifyStoredDelivery, ignoredReasonOf } from './classify-delivery.ts';
import { ENQUEUE_BATCH } from './enqueue-stored-deliveries.ts';

export type ReplayResult =
  | { deliveryId: string; status: 'queued'; products: string[] }
  | { deliveryId: string; status: 'ignored'; reason: string }
  | { deliveryId: string; status: 'not_found' };

/**
 * Queues stored deliveries again (`release-registry replay`): each is classified again and matched
 * to products afresh by the intake's rules, all of a part in one statement (requeueDeliveries; a
 * product added since may now claim it), and queued without a job, as the intake stores a
 * delivery, so the worker's enqueuer gives the replayed deliveries their jobs as it does new ones:
 * jobs of up to 100, each reading GitHub once per product, rather than a job and a GitHub query
 * per delivery (replaying a thousand deliveries after an outage would spend a thousand).
 * Deliveries are replayed 100 to a transaction, with the NOTIFY that wakes the enqueuer committed
 * with them: a running enqueuer sees a whole part or none of it, so it does not cut them into
 * small jobs as they commit. Taking a delivery off its old job also fences that job: it no longer
 * claims it, nor records an outcome on it. Processing is idempotent, so replaying a delivery that
 * was processed already is harmless. An unknown id is reported and the rest are still replayed.
 */
export async function replayDeliveries(db: Database, deliveryIds: readonly string[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (let start = 0; start < deliveryIds.length; start += ENQUEUE_BATCH) {
    results.push(...(await db.transaction((transaction) => replayPart(transaction, deliveryIds.slice(start, start + ENQUEUE_BATCH)))));
  }
  return results;
}

async function replayPart(transaction: Queryable, deliveryIds: readonly string[]): Promise<ReplayResult[]> {
  // Locked: a delivery retention would delete meanwhile is not reported queued.
  const found = await lockDeliveries(transaction, deliveryIds);
  const requeued = new Map(
    (
      await requeueDeliveries(
        transaction,
        found.map((delivery) => {
          // A stored payload that does not parse can never be processed: ignored with the reason.
          const classified = classifyStoredDelivery(delivery);
          return { deliveryId: delivery.deliveryId, ignoredReason: classified instanceof PermanentPayloadError ? classified.message : ignoredReasonOf(classified) };
        }),
      )
    ).map((row) => [row.deliveryId, row]),
  );
  const results = deliveryIds.map((deliveryId): ReplayResult => {
    const row = requeued.get(deliveryId);
    if (row === undefined) return { deliveryId, status: 'not_found' };
    return row.status === 'queued' ? { deliveryId, status: 'queued', products: row.products } : { deliveryId, status: 'ignored', reason: row.ignoredReason ?? '' };
  });
  if (results.some((result) => result.status === 'queued')) await announceStoredDeliveries(transaction);
  return results;
}
