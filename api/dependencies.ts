import type { PgBoss } from 'pg-boss';
import type { Config } from '../src/config.ts';
import type { Database } from '../src/db/pool.ts';
import type { Lifecycle } from '../src/lifecycle.ts';
import type { Logger } from '../src/logger.ts';
import type { ResponseCache } from './response-cache.ts';

/** What the API's routes are built from; tests build it with their own database. */
export type ApiDependencies = {
  config: Config;
  logger: Logger;
  db: Database;
  /** Enqueues jobs (webhook deliveries, admin syncs). */
  boss: PgBoss;
  /** Starting, ready or stopping (readiness, keep-alive draining); absent means ready. */
  lifecycle?: Lifecycle;
  /** Hot read answers, kept current by change notifications; without it every read hits the database. */
  cache?: ResponseCache;
};
