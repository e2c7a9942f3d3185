import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { bossDatabase } from '../db/boss-database.ts';
import type { Database } from '../db/pool.ts';
import { assignStoredDeliveriesToJobs } from '../db/webhook-deliveries.ts';
import { QUEUES } from '../queues.ts';
import { deliveryJobData } from './delivery-job.ts';

// The intake answers 2xx once a delivery is stored; its process-delivery job is enqueued here, by
// the worker (workers/delivery-enqueuer.ts), for every stored delivery that has none. A delivery is
// never lost between the two: until it has a job, it is what the next sweep finds.

/**
 * Most deliveries in one job. The worker claims a job's deliveries, payloads included, all at
 * once, and a handler call works a few jobs (workers/delivery-worker.ts): 100 keeps that bounded.
 */
export const ENQUEUE_BATCH = 100;

/**
 * Jobs one sweep gives out, in one transaction. A sweep walks the unenqueued index from its oldest
 * entry, over the entries earlier sweeps left behind until vacuum removes them, and commits once,
 * so its cost hardly depends on how many rows it takes: the benchmark's backlog (~78,000 stored by
 * the intake runs) drained at 3,679/s one job of 100 a sweep, below what the intake stores, and at
 * 14,858/s five jobs of 100 a sweep; each job still names at most ENQUEUE_BATCH deliveries.
 */
export const JOBS_PER_SWEEP = 5;

/** Most deliveries one sweep enqueues: a sweep that enqueues this many may have left more. */
export const SWEEP_SIZE = ENQUEUE_BATCH * JOBS_PER_SWEEP;

/**
 * Gives up to SWEEP_SIZE stored deliveries without a job their jobs, ENQUEUE_BATCH to a job, in one
 * transaction (the rows name their job and the job names them, or neither happened). Returns how
 * many deliveries it enqueued.
 */
export async function enqueueStoredDeliveries(db: Database, boss: PgBoss): Promise<number> {
  const jobIds = Array.from({ length: JOBS_PER_SWEEP }, () => randomUUID());
  return db.transaction(async (transaction) => {
    const assigned = await assignStoredDeliveriesToJobs(transaction, jobIds, ENQUEUE_BATCH);
    const deliveriesOf = Map.groupBy(assigned, (row) => row.jobId);
    if (deliveriesOf.size > 0) {
      await boss.insert(
        QUEUES.processDelivery,
        [...deliveriesOf].map(([id, rows]) => ({ id, data: deliveryJobData(rows.map((row) => row.deliveryId)) })),
        { db: bossDatabase(transaction) },
      );
    }
    return assigned.length;
  });
}
