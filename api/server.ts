import { createServer, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildInfo } from '../src/build-info.ts';
import type { Config } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { Lifecycle } from '../src/lifecycle.ts';
import type { Logger } from '../src/logger.ts';
import { collectDatabaseMetrics } from '../src/metrics/database-collectors.ts';
import { markReady, setBuildInfo } from '../src/metrics/metrics.ts';
import { createBoss } from '../src/queues.ts';
import { createApp } from './app.ts';
import { startLiveCache } from './live-cache.ts';

export type RunningApi = { url: string; port: number; server: Server; lifecycle: Lifecycle; stop: () => Promise<void> };

/** How long idle keep-alive sockets stay open after SIGTERM, for requests already sent on them to be read. */
const IDLE_SOCKETS_GRACE_MS = 50;

/** Connections of the API's pg-boss pool when JOBS_POOL_SIZE is unset: it only enqueues. */
const API_JOBS_POOL_SIZE = 4;

/** Starts the API process's parts (pool, pg-boss producer, HTTP server) and returns how to stop them. */
export async function startApi(config: Config, databaseUrl: string, logger: Logger): Promise<RunningApi> {
  const lifecycle = new Lifecycle();
  const build = buildInfo(config.GIT_SHA);
  setBuildInfo(build.version, build.gitSha);
  const db = await createDatabasePool(databaseUrl, {
    logger,
    maximumPoolSize: config.DATABASE_POOL_SIZE,
    applicationName: 'release-registry-api',
    // While the database is out of reach or stalled, requests fail within these bounds (503)
    // instead of hanging: opening a connection, and waiting for a busy pool.
    connectionTimeoutMs: 2_000,
    acquireTimeoutMs: 2_000,
    statementTimeoutMs: 10_000,
  });
  const boss = createBoss(databaseUrl, {
    logger,
    applicationName: 'release-registry-api-boss',
    maxConnections: config.JOBS_POOL_SIZE ?? API_JOBS_POOL_SIZE,
    // Enqueueing (webhook intake, admin syncs) fails within the same bound as queries.
    connectionTimeoutMs: 2_000,
    // It only enqueues: no worker here to wake.
    listen: false,
  });
  await boss.start();
  const stopCollecting = collectDatabaseMetrics(db, boss);
  const live = startLiveCache(databaseUrl, logger);
  const app = createApp({ config, logger, db, boss, lifecycle, cache: live.cache });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  lifecycle.markReady();
  const startToReadySeconds = markReady('api');
  logger.info({ url, version: build.version, gitSha: build.gitSha, startToReadySeconds }, 'api listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      lifecycle.markStopping();
      // Stop accepting new connections at once (net's close: http's would also close the idle
      // keep-alive sockets right away). A request a client sent on an idle keep-alive socket just
      // before the signal may still be unread in that socket; closing it now would reset a request
      // the client rightly counts as sent before we stopped. So the idle sockets close a moment
      // later, once the event loop has read what had arrived (such requests are answered, with
      // `Connection: close`, like the ones running); busy sockets close after their response.
      // Requests still running when the drain budget is spent are cut so that the process exits
      // within SHUTDOWN_TIMEOUT_MS.
      const drainMs = Math.max(1_000, config.SHUTDOWN_TIMEOUT_MS - 3_000);
      const drained = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      await sleep(IDLE_SOCKETS_GRACE_MS);
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<'cut'>((resolve) => {
        timer = setTimeout(() => resolve('cut'), drainMs);
      });
      if ((await Promise.race([drained, cut])) === 'cut') {
        logger.warn({ drainMs }, 'in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
        await drained;
      }
      clearTimeout(timer);
      stopCollecting();
      // The API's pg-boss only enqueues: nothing of its own to finish.
      await boss.stop({ graceful: false, close: true });
      await live.stop();
      await db.end();
      logger.info('api stopped');
    })());
  return { url, port, server, lifecycle, stop };
}
