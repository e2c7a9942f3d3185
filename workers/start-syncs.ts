import type { PgBoss } from 'pg-boss';
import type { Config } from '../src/config.ts';
import type { Database } from '../src/db/pool.ts';
import { createGitHubClient } from '../src/github/client.ts';
import type { Logger } from '../src/logger.ts';
import { recordGitHubRequest } from '../src/metrics/metrics.ts';
import { startSyncSchedule } from '../src/sync/sync-schedule.ts';
import { startSyncWorker } from './sync-worker.ts';

/** The worker's sync side: the sync-product handler and the SYNC_SCHEDULE ticks. */
export async function startSyncs(options: { config: Config; db: Database; boss: PgBoss; logger: Logger }): Promise<{ stop: () => Promise<void> }> {
  const { config, db, boss, logger } = options;
  await startSyncWorker({
    db,
    boss,
    logger,
    // A sync holds at most one pooled connection at a time; leave room for webhook ingestion.
    concurrency: Math.max(1, Math.floor(config.WORKER_CONCURRENCY / 2)),
    createClient: () =>
      createGitHubClient({
        baseUrl: config.GITHUB_API_URL,
        token: config.GITHUB_TOKEN,
        logger,
        onRequest: ({ resource, status }) => recordGitHubRequest(resource === 'graphql' ? 'graphql' : 'rest', status === 0 ? 'error' : status),
      }),
  });
  const scheduler = startSyncSchedule({ db, boss, logger, schedule: config.SYNC_SCHEDULE });
  return { stop: scheduler.stop };
}
