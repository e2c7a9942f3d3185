import type { Database } from '../db/pool.ts';
import { findProductsForRepository } from '../db/products.ts';
import { announceStoredDeliveries, findDelivery, requeueDelivery } from '../db/webhook-deliveries.ts';
import { PermanentPayloadError } from '../errors.ts';
import { classifyStoredDelivery, ignoredReasonOf } from './classify-delivery.ts';

export type ReplayResult =
  | { deliveryId: string; status: 'queued'; products: string[] }
  | { deliveryId: string; status: 'ignored'; reason: string }
  | { deliveryId: string; status: 'not_found' };

/**
 * Queues stored deliveries again (`release-registry replay`): each is classified and matched to
 * products afresh (a product added since may now claim it) and queued without a job, as the intake
 * stores a delivery, so the worker's enqueuer gives the replayed deliveries their jobs as it does
 * new ones: a few jobs of up to 100, each reading GitHub once per product, rather than a job and a
 * GitHub query per delivery (replaying a thousand deliveries after an outage would spend a
 * thousand). The NOTIFY that wakes the enqueuer is committed with them. Taking the delivery off its
 * old job also fences that job: it no longer claims it, nor records an outcome on it. Processing is
 * idempotent, so replaying a delivery that was processed already is harmless. An unknown id is
 * reported and the rest are still replayed: each delivery commits on its own, so stopping would
 * hide what was queued.
 */
export async function replayDeliveries(db: Database, deliveryIds: readonly string[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const deliveryId of deliveryIds) {
    results.push(
      await db.transaction(async (transaction): Promise<ReplayResult> => {
        const delivery = await findDelivery(transaction, deliveryId);
        if (delivery === null) return { deliveryId, status: 'not_found' };
        // A stored payload that does not parse can never be processed: ignored with the reason.
        const classified = classifyStoredDelivery(delivery);
        let reason = classified instanceof PermanentPayloadError ? classified.message : ignoredReasonOf(classified);
        const products =
          reason === null ? await findProductsForRepository(transaction, { id: delivery.repositoryId, fullName: delivery.repositoryFullName }) : [];
        if (reason === null && products.length === 0) {
          reason = `repository ${delivery.repositoryFullName} (id ${delivery.repositoryId}) is not a tracked product`;
        }
        if (reason !== null) {
          await requeueDelivery(transaction, { deliveryId, productIds: [], status: 'ignored', ignoredReason: reason });
          return { deliveryId, status: 'ignored', reason };
        }
        await requeueDelivery(transaction, { deliveryId, productIds: products.map((product) => product.id), status: 'queued', ignoredReason: null });
        await announceStoredDeliveries(transaction);
        return { deliveryId, status: 'queued', products: products.map((product) => product.name) };
      }),
    );
  }
  return results;
}
