import type { PgBoss } from 'pg-boss';
import type { Config } from '../src/config.ts';
import type { Database } from '../src/db/pool.ts';
import type { Logger } from '../src/logger.ts';
import { listNeverSyncedProducts } from '../src/db/sync-state.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import { startSyncSchedule } from '../src/sync/sync-schedule.ts';
import { createWorkerGitHubClient } from './github-client.ts';
import { handOnSyncs, startSyncWorker } from './sync-worker.ts';

/** The worker's sync side: the sync-product handler and the SYNC_SCHEDULE ticks. */
export async function startSyncs(options: { config: Config; db: Database; boss: PgBoss; logger: Logger }): Promise<{ stop: () => Promise<void> }> {
  const { config, db, boss, logger } = options;
  const stopping = new AbortController();
  await startSyncWorker({
    db,
    boss,
    logger,
    stopping: stopping.signal,
    // A sync holds at most one pooled connection at a time; leave room for webhook ingestion.
    concurrency: Math.max(1, Math.floor(config.WORKER_CONCURRENCY / 2)),
    createClient: () => createWorkerGitHubClient(config, logger),
  });
  // A quarter of the shutdown budget at most: the handlers' grace period and closing the pools
  // come after it.
  const scheduler = startSyncSchedule({ db, boss, logger, schedule: config.SYNC_SCHEDULE, stopWaitMs: config.SHUTDOWN_TIMEOUT_MS / 4 });
  await scheduler.caughtUp;
  if (config.SYNC_ON_START) await enqueueFirstSyncs(db, boss, logger);
  return {
    // First of the worker's stops: running syncs hand their runs on while the rest stops.
    stop: async () => {
      await handOnSyncs(boss, stopping);
      await scheduler.stop();
    },
  };
}

/**
 * A product that was never synced would stay empty until the next tick (up to the whole
 * SYNC_SCHEDULE period): enqueue its first sync now. Several replicas starting at once enqueue one
 * job per product (the queue's `exclusive` policy), and a product that already has data waits for
 * the schedule as usual.
 */
async function enqueueFirstSyncs(db: Database, boss: PgBoss, logger: Logger): Promise<void> {
  try {
    const products = await listNeverSyncedProducts(db);
    const enqueued: string[] = [];
    for (const product of products) {
      // Through our pool (`db`): a collision only says "already queued", without looking the job up.
      const job = await enqueueSync(boss, { product, reason: 'startup' }, { db });
      if (!job.alreadyQueued) enqueued.push(product);
    }
    if (products.length > 0) logger.info({ enqueued, neverSynced: products }, 'first syncs enqueued');
  } catch (error) {
    // Not a reason to stop a worker whose handlers and schedule are running: the next tick syncs them.
    logger.warn({ err: error }, 'enqueueing first syncs failed; the schedule will sync those products');
  }
}
