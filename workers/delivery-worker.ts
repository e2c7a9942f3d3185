import type { PgBoss } from 'pg-boss';
import type { Database } from '../src/db/pool.ts';
import { markDeliveryDeadLettered } from '../src/db/webhook-deliveries.ts';
import type { Logger } from '../src/logger.ts';
import { QUEUES } from '../src/queues.ts';
import type { TagStateReader } from '../src/webhooks/tag-states.ts';
import { createDeliveryProcessor, type DeliveryJob } from './process-deliveries.ts';

export type DeliveryWorkerOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  readTagStates: TagStateReader;
  /** Jobs per batch: the tags of a batch are read from GitHub once per product. */
  batchSize?: number;
  /** Batches worked at once by this process. */
  concurrency?: number;
  /** Seconds between polls while NOTIFY wakes the worker (polling is only the safety net). */
  pollingIntervalSeconds?: number;
  onProductWritten?: (productId: number, deliveryIds: readonly string[]) => void;
};

/**
 * Works the process-delivery queue and its dead-letter queue. The queue is notify-enabled and the
 * boss listens (src/queues.ts), so a delivery committed by the API wakes a waiting worker at once;
 * polling stays as the floor for missed notifications and for retries coming due.
 */
export async function startDeliveryWorker(options: DeliveryWorkerOptions): Promise<void> {
  const { boss, db, logger } = options;
  const polling = options.pollingIntervalSeconds ?? 10;
  await boss.work(
    QUEUES.processDelivery,
    {
      batchSize: options.batchSize ?? 25,
      localConcurrency: options.concurrency ?? 2,
      includeMetadata: true,
      perJobResults: true,
      pollingIntervalSeconds: polling,
      notifyPollingIntervalSeconds: polling,
    },
    createDeliveryProcessor(options),
  );
  await boss.work(
    QUEUES.processDeliveryDead,
    { batchSize: 25, includeMetadata: true, pollingIntervalSeconds: polling },
    async (jobs: Array<DeliveryJob & { sourceId: string | null; sourceOutput: object | null }>) => {
      for (const job of jobs) {
        if (job.sourceId === null) continue;
        const error = (job.sourceOutput as { error?: unknown } | null)?.error;
        await markDeliveryDeadLettered(db, job.data.deliveryId, job.sourceId, typeof error === 'string' ? error : 'retries exhausted');
        logger.warn({ deliveryId: job.data.deliveryId, error }, 'webhook delivery failed for good; `release-registry replay --failed` queues it again');
      }
    },
  );
}
