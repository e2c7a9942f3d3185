import { PgBoss, type Queue } from 'pg-boss';
import { poolLabel } from './db/pool.ts';
import type { Logger } from './logger.ts';
import { trackPool } from './metrics/pool-metrics.ts';

// The pg-boss queues both processes share, and how each is configured. `release-registry migrate`
// installs pg-boss's schema and these queues, so an API replica can enqueue before any worker ran.

export const QUEUES = {
  /** One job per product; `exclusive` keeps at most one queued or running per product. */
  syncProduct: 'sync-product',
  syncProductDead: 'sync-product-dead',
  /** One job per enqueuer sweep, naming the stored webhook deliveries it gave the job (src/webhooks/delivery-job.ts). */
  processDelivery: 'process-delivery',
  processDeliveryDead: 'process-delivery-dead',
} as const;

export const QUEUE_DEFINITIONS: Queue[] = [
  { name: QUEUES.syncProductDead, policy: 'standard', retentionSeconds: 14 * 24 * 3600 },
  { name: QUEUES.processDeliveryDead, policy: 'standard', retentionSeconds: 14 * 24 * 3600 },
  {
    name: QUEUES.syncProduct,
    policy: 'exclusive',
    // A first sync of a very large repository pages through GitHub for minutes; the heartbeat, not
    // the expiry, is what notices a dead worker (within heartbeatSeconds).
    expireInSeconds: 3600,
    heartbeatSeconds: 30,
    retryLimit: 5,
    retryDelay: 30,
    retryBackoff: true,
    retryDelayMax: 900,
    deadLetter: QUEUES.syncProductDead,
  },
  {
    name: QUEUES.processDelivery,
    policy: 'standard',
    // Workers are woken by NOTIFY when a delivery is enqueued instead of polling (freshness).
    notify: true,
    expireInSeconds: 300,
    // A batch whose worker died, or whose outcome could not be recorded because PostgreSQL went away
    // mid-batch (the jobs stay `active`), runs again once its heartbeat lapses and a supervising pass
    // (every 15 s) notices: pg-boss's shortest heartbeat keeps that wait, an ingest lag, under 25 s.
    // A batch takes milliseconds to seconds, and the heartbeat is refreshed every 5 s while it runs.
    heartbeatSeconds: 10,
    // Backoff from 2-4 s to 5 min: the ten retries span about 18 to 23 minutes, so a GitHub outage
    // longer than the sync interval still ends with the deliveries processed, not failed for an
    // operator to replay (five retries spanned one to two minutes).
    retryLimit: 10,
    retryDelay: 2,
    retryBackoff: true,
    retryDelayMax: 300,
    deadLetter: QUEUES.processDeliveryDead,
  },
];

export type BossOptions = {
  logger: Logger;
  applicationName: string;
  maxConnections: number;
  /** Only workers run pg-boss maintenance and its scheduler. */
  supervise?: boolean;
  /** Bounds opening a connection and waiting for a free one of pg-boss's pool (node-postgres). */
  connectionTimeoutMs?: number;
  /**
   * LISTEN for new jobs (default true): what wakes a worker at once. A process that only enqueues
   * (the API) passes false: every commit that enqueues NOTIFYs, and a listener would be woken, in
   * PostgreSQL and in the process, by each of its own commits for nothing.
   */
  listen?: boolean;
  /** Create or upgrade pg-boss's schema on start: only installQueues (migrate) does. */
  install?: boolean;
};

export function createBoss(url: string, options: BossOptions): PgBoss {
  const boss = new PgBoss({
    connectionString: url,
    application_name: options.applicationName,
    max: options.maxConnections,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    useListenNotify: options.listen ?? true,
    supervise: options.supervise ?? false,
    // The supervising pass finds jobs whose worker stopped heart-beating and refreshes the queue
    // counts that release_registry_jobs exports: every 15 s rather than pg-boss's default minute.
    superviseIntervalSeconds: 15,
    monitorIntervalSeconds: 15,
    schedule: false,
    migrate: options.install ?? false,
    createSchema: options.install ?? false,
  });
  boss.on('error', (error) => options.logger.error({ err: error }, 'pg-boss error'));
  // pg-boss's pool counts as release_registry_db_pool_*{pool="<role>-boss"}. Its LISTEN connection
  // is one more, outside the pool (docs/operations.md, pool sizing).
  const untrack = trackPool(poolLabel(options.applicationName), () => {
    const counts = boss.getDb().poolCounts?.() ?? null;
    return counts === null ? null : { max: counts.max, inUse: counts.total - counts.idle, idle: counts.idle, pending: 0, waiting: counts.waiting };
  });
  boss.once('stopped', untrack);
  return boss;
}

/** Installs or upgrades pg-boss's schema and creates or updates our queues. Idempotent. */
export async function installQueues(url: string, logger: Logger): Promise<void> {
  const boss = createBoss(url, { logger, applicationName: 'release-registry-migrate-boss', maxConnections: 2, listen: false, install: true });
  await boss.start();
  try {
    for (const { name, policy, ...options } of QUEUE_DEFINITIONS) {
      await boss.createQueue(name, { policy, ...options });
      await boss.updateQueue(name, options);
    }
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}
