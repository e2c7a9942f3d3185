import type { PgBoss } from 'pg-boss';
import type { Database } from '../src/db/pool.ts';
import type { Logger } from '../src/logger.ts';
import { QUEUES } from '../src/queues.ts';
import { ENQUEUE_BATCH } from '../src/webhooks/enqueue-stored-deliveries.ts';
import type { TagStateReader } from '../src/webhooks/tag-states.ts';
import { startDeliveryEnqueuer } from './delivery-enqueuer.ts';
import { createDeliveryProcessor } from './process-deliveries.ts';

/**
 * Most deliveries one handler call works, in a backlog (jobs of ENQUEUE_BATCH each): their payloads
 * are in memory together (a product's tags are then read and written 100 per hold of its lock).
 */
const DELIVERIES_PER_BATCH = 500;

export type DeliveryWorkerOptions = {
  db: Database;
  boss: PgBoss;
  /** For the enqueuer's LISTEN connection. */
  databaseUrl: string;
  logger: Logger;
  readTagStates: TagStateReader;
  /** Jobs per batch: the tags of a batch are read from GitHub once per product. */
  batchSize?: number;
  /** Batches worked at once by this process. */
  concurrency?: number;
  /** Seconds between polls while NOTIFY wakes the worker (polling is only the safety net). */
  pollingIntervalSeconds?: number;
};

/**
 * Gives stored deliveries their jobs (delivery-enqueuer.ts) and works the process-delivery queue.
 * The queue is notify-enabled and the boss listens (src/queues.ts), so an enqueued job wakes a
 * waiting worker at once; polling stays as the floor for missed notifications and for retries
 * coming due. Jobs that run out of retries stay in process-delivery-dead for an operator
 * (`release-registry redrive process-delivery`); their deliveries are marked failed by the
 * handler's last attempt (`release-registry replay --failed`). `stop` stops the enqueuer; the boss
 * stops the handlers.
 */
export async function startDeliveryWorker(options: DeliveryWorkerOptions): Promise<{ stop: () => Promise<void> }> {
  const { boss } = options;
  const polling = options.pollingIntervalSeconds ?? 2;
  await boss.work(
    QUEUES.processDelivery,
    {
      batchSize: options.batchSize ?? Math.max(1, Math.floor(DELIVERIES_PER_BATCH / ENQUEUE_BATCH)),
      localConcurrency: options.concurrency ?? 2,
      includeMetadata: true,
      perJobResults: true,
      pollingIntervalSeconds: polling,
      notifyPollingIntervalSeconds: polling,
      // A full batch means more are waiting (a burst, or a backlog left while no worker ran): fetch
      // the next at once. Without it each slot took one batch per polling interval, and a backlog
      // drained at batchSize x concurrency / pollingIntervalSeconds jobs per second however fast
      // the batches ran.
      burstWhenBatchFull: true,
    },
    createDeliveryProcessor(options),
  );
  const enqueuer = startDeliveryEnqueuer({ db: options.db, boss, databaseUrl: options.databaseUrl, logger: options.logger, pollingIntervalSeconds: polling });
  await enqueuer.ready;
  return { stop: enqueuer.stop };
}
