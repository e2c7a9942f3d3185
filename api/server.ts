import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import type { Logger } from '../src/logger.ts';
import { createBoss } from '../src/queues.ts';
import { createApp } from './app.ts';

export type RunningApi = { url: string; port: number; server: Server; stop: () => Promise<void> };

/** Starts the API process's parts (pool, pg-boss producer, HTTP server) and returns how to stop them. */
export async function startApi(config: Config, databaseUrl: string, logger: Logger): Promise<RunningApi> {
  const db = await createDatabasePool(databaseUrl, {
    logger,
    maximumPoolSize: config.DATABASE_POOL_SIZE,
    applicationName: 'release-registry-api',
    // While the database is out of reach, requests fail within this bound instead of hanging.
    connectionTimeoutMs: 2_000,
    statementTimeoutMs: 10_000,
  });
  const boss = createBoss(databaseUrl, { logger, applicationName: 'release-registry-api-boss', maxConnections: 4 });
  await boss.start();
  const app = createApp({ config, logger, db, boss });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  logger.info({ url }, 'api listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop accepting, let in-flight requests finish (bounded by the caller's shutdown timeout).
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await boss.stop({ graceful: true, close: true, timeout: 5_000 });
      await db.end();
      logger.info('api stopped');
    })());
  return { url, port, server, stop };
}
