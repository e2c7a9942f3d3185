import type { Database, Queryable } from '../db/pool.ts';
import { findProductsForRepository } from '../db/products.ts';
import { announceStoredDeliveries, lockDeliveries, requeueDelivery } from '../db/webhook-deliveries.ts';
import { PermanentPayloadError } from '../errors.ts';
import { classifyStoredDelivery, ignoredReasonOf } from './classify-delivery.ts';
import { ENQUEUE_BATCH } from './enqueue-stored-deliveries.ts';

export type ReplayResult =
  | { deliveryId: string; status: 'queued'; products: string[] }
  | { deliveryId: string; status: 'ignored'; reason: string }
  | { deliveryId: string; status: 'not_found' };

/**
 * Queues stored deliveries again (`release-registry replay`): each is classified and matched to
 * products afresh (a product added since may now claim it) and queued without a job, as the intake
 * stores a delivery, so the worker's enqueuer gives the replayed deliveries their jobs as it does
 * new ones: jobs of up to 100, each reading GitHub once per product, rather than a job and a GitHub
 * query per delivery (replaying a thousand deliveries after an outage would spend a thousand).
 * Deliveries are replayed 100 to a transaction, with the NOTIFY that wakes the enqueuer committed
 * with them: a running enqueuer sees a whole part or none of it, so it does not cut them into small
 * jobs as they commit. Taking a delivery off its old job also fences that job: it no longer claims
 * it, nor records an outcome on it. Processing is idempotent, so replaying a delivery that was
 * processed already is harmless. An unknown id is reported and the rest are still replayed.
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
  const found = new Map((await lockDeliveries(transaction, deliveryIds)).map((delivery) => [delivery.deliveryId, delivery]));
  const results: ReplayResult[] = [];
  for (const deliveryId of deliveryIds) {
    const delivery = found.get(deliveryId);
    if (delivery === undefined) {
      results.push({ deliveryId, status: 'not_found' });
      continue;
    }
    // A stored payload that does not parse can never be processed: ignored with the reason.
    const classified = classifyStoredDelivery(delivery);
    let reason = classified instanceof PermanentPayloadError ? classified.message : ignoredReasonOf(classified);
    const products = reason === null ? await findProductsForRepository(transaction, { id: delivery.repositoryId, fullName: delivery.repositoryFullName }) : [];
    if (reason === null && products.length === 0) {
      reason = `repository ${delivery.repositoryFullName} (id ${delivery.repositoryId}) is not a tracked product`;
    }
    if (reason !== null) {
      await requeueDelivery(transaction, { deliveryId, productIds: [], status: 'ignored', ignoredReason: reason });
      results.push({ deliveryId, status: 'ignored', reason });
      continue;
    }
    await requeueDelivery(transaction, { deliveryId, productIds: products.map((product) => product.id), status: 'queued', ignoredReason: null });
    results.push({ deliveryId, status: 'queued', products: products.map((product) => product.name) });
  }
  if (results.some((result) => result.status === 'queued')) await announceStoredDeliveries(transaction);
  return results;
}
