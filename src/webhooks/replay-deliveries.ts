import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { bossDatabase } from '../db/boss-database.ts';
import type { Database } from '../db/pool.ts';
import { findProductsForRepository } from '../db/products.ts';
import { findDelivery, requeueDelivery } from '../db/webhook-deliveries.ts';
import { PermanentPayloadError } from '../errors.ts';
import { QUEUES } from '../queues.ts';
import { classifyStoredDelivery, ignoredReasonOf } from './classify-delivery.ts';
import { deliveryJobData } from './delivery-job.ts';

export type ReplayResult =
  | { deliveryId: string; status: 'queued'; jobId: string; productIds: number[] }
  | { deliveryId: string; status: 'ignored'; reason: string }
  | { deliveryId: string; status: 'not_found' };

/**
 * Queues stored deliveries again (`release-registry replay`): each is classified and matched to
 * products afresh (a product added since may now claim it) and gets a new process-delivery job,
 * written in the same transaction as its new state. Processing is idempotent, so replaying a
 * delivery that was processed already is harmless. An unknown id is reported and the rest are
 * still replayed: each delivery commits on its own, so stopping would hide what was queued.
 */
export async function replayDeliveries(db: Database, boss: PgBoss, deliveryIds: readonly string[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const deliveryId of deliveryIds) {
    results.push(
      await db.transaction(async (transaction) => {
        const delivery = await findDelivery(transaction, deliveryId);
        if (delivery === null) return { deliveryId, status: 'not_found' };
        let productIds: number[] = [];
        // A stored payload that does not parse can never be processed: ignored with the reason.
        const classified = classifyStoredDelivery(delivery);
        let reason = classified instanceof PermanentPayloadError ? classified.message : ignoredReasonOf(classified);
        if (reason === null) {
          productIds = (
            await findProductsForRepository(transaction, { id: delivery.repositoryId, fullName: delivery.repositoryFullName })
          ).map((product) => product.id);
          if (productIds.length === 0) {
            reason = `repository ${delivery.repositoryFullName} (id ${delivery.repositoryId}) is not a tracked product`;
          }
        }
        if (reason !== null) {
          await requeueDelivery(transaction, { deliveryId, jobId: null, productIds, status: 'ignored', ignoredReason: reason });
          return { deliveryId, status: 'ignored', reason };
        }
        const jobId = randomUUID();
        await requeueDelivery(transaction, { deliveryId, jobId, productIds, status: 'queued', ignoredReason: null });
        await boss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData([deliveryId]) }], { db: bossDatabase(transaction) });
        return { deliveryId, status: 'queued', jobId, productIds };
      }),
    );
  }
  return results;
}
