import type { PgBoss } from 'pg-boss';
import { buildInfo } from '../src/build-info.ts';
import type { Config } from '../src/config.ts';
import { checkDatabase } from '../src/db/check-database.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { listProducts } from '../src/db/products.ts';
import { Lifecycle } from '../src/lifecycle.ts';
import type { Logger } from '../src/logger.ts';
import { collectDatabaseMetrics } from '../src/metrics/database-collectors.ts';
import { markReady, setBuildInfo } from '../src/metrics/metrics.ts';
import { createBoss } from '../src/queues.ts';
import { githubTagStateReader } from '../src/webhooks/tag-states.ts';
import { startDeliveryRetention } from './delivery-retention.ts';
import { startStrandedDeliveriesCheck } from './stranded-deliveries.ts';
import { startDeliveryWorker } from './delivery-worker.ts';
import { createWorkerGitHubClient } from './github-client.ts';
import { startMetricsServer, type RunningMetricsServer } from './metrics-server.ts';
import { startSyncs } from './start-syncs.ts';

export type RunningWorker = { boss: PgBoss; lifecycle: Lifecycle; metricsUrl: string | undefined; stop: () => Promise<void> };

export type WorkerOptions = {
  /** Serve /metrics and /-/healthz on METRICS_PORT (default). `start` serves them on the API instead. */
  metricsServer?: boolean;
};

/**
 * Starts a worker replica: works the queues for the products the database tracks. The products file
 * is applied by `migrate` (the release step) and `start`, never by a worker: replicas of two
 * versions side by side in a rolling deploy, or one started without PRODUCTS_FILE, would otherwise
 * each write their own file over the other's at every start.
 */
export async function startWorker(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  options: WorkerOptions = {},
): Promise<RunningWorker> {
  const lifecycle = new Lifecycle();
  const build = buildInfo(config.GIT_SHA);
  setBuildInfo(build.version, build.gitSha);
  const db = await createDatabasePool(databaseUrl, {
    logger,
    maximumPoolSize: config.DATABASE_POOL_SIZE,
    applicationName: 'release-registry-worker',
    // Jobs may wait longer than requests for a busy pool; a timeout fails the job, which is retried.
    acquireTimeoutMs: 10_000,
  });
  const tracked = await listProducts(db);
  if (tracked.length === 0) logger.warn('no product is tracked: run `release-registry migrate` with PRODUCTS_FILE to load the products file');
  else logger.info({ products: tracked.map((product) => product.name) }, 'tracked products');

  const boss = createBoss(databaseUrl, {
    logger,
    applicationName: 'release-registry-worker-boss',
    maxConnections: config.JOBS_POOL_SIZE ?? Math.max(4, config.WORKER_CONCURRENCY + 2),
    supervise: true,
  });
  let bossRunning = false;
  boss.once('stopped', () => {
    bossRunning = false;
  });
  await boss.start();
  bossRunning = true;
  const stopCollecting = collectDatabaseMetrics(db, boss);

  let metrics: RunningMetricsServer | undefined;
  if (options.metricsServer ?? true) {
    metrics = await startMetricsServer(config, logger, async () => {
      const database = await checkDatabase(db, logger);
      const jobs = bossRunning && lifecycle.state !== 'stopping' ? 'running' : 'stopped';
      return { healthy: database === 'ok' && jobs === 'running', details: { database, jobs, lifecycle: lifecycle.state } };
    });
  }

  const github = createWorkerGitHubClient(config, logger);
  const deliveries = await startDeliveryWorker({ db, boss, databaseUrl, logger, readTagStates: githubTagStateReader(github), concurrency: config.WORKER_CONCURRENCY });
  const syncs = await startSyncs({ config, db, boss, logger });
  const retention = startDeliveryRetention({ db, logger, retentionDays: config.WEBHOOK_RETENTION_DAYS });
  const stranded = startStrandedDeliveriesCheck({ db, boss, logger });

  // Job handlers (boss.work) are registered above this point: ready means working the queues.
  lifecycle.markReady();
  const startToReadySeconds = markReady('worker');
  logger.info({ version: build.version, gitSha: build.gitSha, startToReadySeconds }, 'worker started');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const stopAsked = performance.now();
      lifecycle.markStopping();
      await syncs.stop();
      await retention.stop();
      await stranded.stop();
      await deliveries.stop();
      // graceful: handlers get the grace period to finish; pg-boss then fails what is still active
      // ("pg-boss shut down while active"), which hands those jobs back for a retry rather than
      // leaving them active until they expire. The rest of SHUTDOWN_TIMEOUT_MS closes the pools;
      // the grace counts from the signal, so the stops above (a retention batch finishing) do not
      // push pg-boss's hand-back past the deadline.
      const graceMs = Math.max(1_000, config.SHUTDOWN_TIMEOUT_MS - 2_000 - (performance.now() - stopAsked));
      await boss.stop({ graceful: true, close: true, timeout: graceMs });
      stopCollecting();
      await metrics?.close();
      await db.end();
      logger.info('worker stopped');
    })());
  return { boss, lifecycle, metricsUrl: metrics?.url, stop };
}
