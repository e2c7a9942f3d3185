import type { Config } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { syncProductDefinitions } from '../src/db/products.ts';
import type { Logger } from '../src/logger.ts';
import type { ProductDefinition } from '../src/products.ts';
import { createBoss } from '../src/queues.ts';

export type RunningWorker = { stop: () => Promise<void> };

/** Starts a worker replica: copies the products file into the database, then works the queues. */
export async function startWorker(config: Config, databaseUrl: string, logger: Logger, products: readonly ProductDefinition[]): Promise<RunningWorker> {
  const db = await createDatabasePool(databaseUrl, {
    logger,
    maximumPoolSize: config.DATABASE_POOL_SIZE,
    applicationName: 'release-registry-worker',
  });
  const tracked = await syncProductDefinitions(db, products);
  logger.info({ products: tracked.map((product) => product.name) }, 'products loaded');

  const boss = createBoss(databaseUrl, {
    logger,
    applicationName: 'release-registry-worker-boss',
    maxConnections: Math.max(4, config.WORKER_CONCURRENCY + 2),
    supervise: true,
  });
  await boss.start();
  logger.info('worker started');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // graceful: active jobs finish within the timeout; the rest are handed back to the queue.
      await boss.stop({ graceful: true, close: true, timeout: config.SHUTDOWN_TIMEOUT_MS - 1_000 });
      await db.end();
      logger.info('worker stopped');
    })());
  return { stop };
}
