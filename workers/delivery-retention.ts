import type { Database } from '../src/db/pool.ts';
import { deleteFinishedDeliveries } from '../src/db/webhook-deliveries.ts';
import type { Logger } from '../src/logger.ts';
import { deliveriesDeleted } from '../src/metrics/metrics.ts';
import { startPeriodicTask, type Housekeeping } from './periodic-task.ts';

// Stored deliveries are kilobytes each (the payload as GitHub sent it), and once processed or
// ignored they are history: the releases hold what they changed. Every hour each worker replica
// deletes those older than WEBHOOK_RETENTION_DAYS, a batch per statement so that no statement
// holds many rows or runs long; replicas skip each other's rows (SKIP LOCKED), so running the same
// hour in every replica only shares the work. A redelivery of a deleted delivery (GitHub redelivers
// for a few days) is stored and processed again, which is harmless: processing is idempotent.

/** Rows per DELETE. */
const DELETE_BATCH = 1_000;
/** Most batches one run deletes; the rest waits for the next run (a backlog drains over hours, not in one long burst). */
const MAX_BATCHES_PER_RUN = 100;

export type DeliveryRetentionOptions = {
  db: Database;
  logger: Logger;
  /** 0: keep every delivery (no task runs). */
  retentionDays: number;
  /** node-cron expression of the runs (default: hourly, at minute 23). */
  schedule?: string;
};

/** `run` deletes what is past retention at `now` and returns how many deliveries. */
export function startDeliveryRetention(options: DeliveryRetentionOptions): Housekeeping {
  const { db, logger, retentionDays } = options;
  /** Set by stop: a run under way ends after its current batch (the rest waits for the next run). */
  let stopping = false;
  const run = async (now = new Date()): Promise<number> => {
    if (retentionDays === 0) return 0;
    const receivedBefore = new Date(now.getTime() - retentionDays * 86_400_000);
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_RUN && !stopping; batch += 1) {
      const deleted = await deleteFinishedDeliveries(db, receivedBefore, DELETE_BATCH);
      total += deleted;
      deliveriesDeleted.inc(deleted);
      if (deleted < DELETE_BATCH) break;
    }
    if (total > 0) logger.info({ deleted: total, receivedBefore: receivedBefore.toISOString() }, 'deleted webhook deliveries past retention');
    return total;
  };
  // A failed run (the database away): the next one deletes what it did not.
  const task =
    retentionDays > 0
      ? startPeriodicTask({ name: 'delivery-retention', schedule: options.schedule ?? '23 * * * *', logger, failure: 'deleting webhook deliveries past retention failed', run })
      : undefined;
  return {
    run,
    stop: async () => {
      stopping = true;
      await task?.stop();
    },
  };
}
