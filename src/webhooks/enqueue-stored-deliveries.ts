import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { bossDatabase } from '../db/boss-database.ts';
import type { Database } from '../db/pool.ts';
import { assignStoredDeliveriesToJob } from '../db/webhook-deliveries.ts';
import { QUEUES } from '../queues.ts';
import { deliveryJobData } from './delivery-job.ts';

// The intake answers 2xx once a delivery is stored; its process-delivery job is enqueued here, by
// the worker (workers/delivery-enqueuer.ts), for every stored delivery that has none. A delivery is
// never lost between the two: until it has a job, it is what the next sweep finds.

/**
 * Most deliveries given one job by one sweep. Each sweep walks the unenqueued index from its oldest
 * entry, over the entries earlier sweeps left behind until vacuum removes them, so larger jobs
 * drain a backlog faster (100,000 stored: ~4,700/s 100 at a time, ~15,700/s 500 at a time,
 * measured; both above what the intake stores), but the worker claims a job's deliveries, payloads
 * included, all at once, and reads their tags under the product's lock in one transaction: 100
 * keeps that bounded (workers/delivery-worker.ts).
 */
export const ENQUEUE_BATCH = 100;

/**
 * Gives up to `limit` stored deliveries without a job one new job, in one transaction (the rows
 * name the job and the job names them, or neither happened). Returns how many it enqueued.
 */
export async function enqueueStoredDeliveries(db: Database, boss: PgBoss, limit = ENQUEUE_BATCH): Promise<number> {
  const jobId = randomUUID();
  return db.transaction(async (transaction) => {
    const deliveryIds = await assignStoredDeliveriesToJob(transaction, jobId, limit);
    if (deliveryIds.length > 0) {
      await boss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData(deliveryIds) }], { db: bossDatabase(transaction) });
    }
    return deliveryIds.length;
  });
}
