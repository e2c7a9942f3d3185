import type { PgBoss } from 'pg-boss';
import { sampleDatabaseActivity, type DatabaseActivity } from '../db/database-activity.ts';
import type { Queryable } from '../db/pool.ts';
import { deliveriesAwaitingJob } from '../db/webhook-deliveries.ts';
import {
  collectorUp,
  deliveriesAwaitingJobGauge,
  JOB_STATES,
  jobs,
  type JobState,
  lockWaitingSessions,
  lockWaitLongest,
  oldestDeliveryAwaitingJob,
  onScrape,
  serverConnections,
  serverMaxConnections,
} from './metrics.ts';

// Scrape-time gauges read from the database: pg-boss's job counts, the webhook deliveries still
// waiting for a job, and the server's connections and lock waits. Each read is bounded (a scrape must answer while the database is down, and quickly),
// and reused for a second so that several scrapers cost one read. A read that fails or times out
// removes its gauges, rather than repeating stale values, and sets
// release_registry_metrics_collector_up{collector} to 0.

// Well inside Prometheus' default scrape timeout (10 s), and long enough for a loaded server.
const READ_TIMEOUT_MS = 3_000;
const REUSE_MS = 1_000;

type Source = { db: Queryable; boss: PgBoss | undefined };
const sources: Source[] = [];

type Sample<T> = { at: number; value: Promise<T> };
let activitySample: Sample<DatabaseActivity> | undefined;
let jobsSample: Sample<Awaited<ReturnType<PgBoss['getQueues']>>> | undefined;
let backlogSample: Sample<Awaited<ReturnType<typeof deliveriesAwaitingJob>>> | undefined;

/**
 * Reads the database gauges through `db` (and the job counts through `boss`) at every scrape, until
 * the returned function is called. With several sources (`release-registry start` runs the API and
 * the worker in one process), the latest registered one is read: they see the same database.
 */
export function collectDatabaseMetrics(db: Queryable, boss?: PgBoss): () => void {
  const source = { db, boss };
  sources.push(source);
  activitySample = undefined;
  jobsSample = undefined;
  backlogSample = undefined;
  return () => {
    const index = sources.indexOf(source);
    if (index !== -1) sources.splice(index, 1);
  };
}

onScrape(async () => {
  const source = sources.at(-1);
  if (source === undefined) return;
  const now = performance.now();
  if (activitySample === undefined || now - activitySample.at > REUSE_MS) {
    activitySample = { at: now, value: withTimeout(sampleDatabaseActivity(source.db)) };
  }
  if (source.boss !== undefined && (jobsSample === undefined || now - jobsSample.at > REUSE_MS)) {
    jobsSample = { at: now, value: withTimeout(source.boss.getQueues()) };
  }
  if (backlogSample === undefined || now - backlogSample.at > REUSE_MS) {
    backlogSample = { at: now, value: withTimeout(deliveriesAwaitingJob(source.db)) };
  }
  await Promise.all([
    exportActivity(activitySample.value),
    source.boss === undefined ? undefined : exportJobs(jobsSample!.value),
    exportBacklog(backlogSample.value),
  ]);
});

async function exportActivity(sample: Promise<DatabaseActivity>): Promise<void> {
  lockWaitingSessions.reset();
  lockWaitLongest.reset();
  serverConnections.reset();
  serverMaxConnections.reset();
  try {
    const activity = await sample;
    serverMaxConnections.set(activity.maxConnections);
    for (const row of activity.applications) {
      serverConnections.set({ application: row.application }, row.connections);
      if (row.application === 'other') continue;
      lockWaitingSessions.set({ application: row.application }, row.lockWaiting);
      lockWaitLongest.set({ application: row.application }, row.longestLockWaitSeconds);
    }
    collectorUp.set({ collector: 'database_activity' }, 1);
  } catch {
    collectorUp.set({ collector: 'database_activity' }, 0);
  }
}

async function exportJobs(sample: ReturnType<PgBoss['getQueues']>): Promise<void> {
  jobs.reset();
  try {
    for (const queue of await sample) {
      const counts: Record<JobState, number> = {
        ready: queue.readyCount,
        deferred: queue.deferredCount,
        blocked: queue.blockedCount,
        active: queue.activeCount,
        failed: queue.failedCount,
      };
      for (const state of JOB_STATES) jobs.set({ queue: queue.name, state }, counts[state]);
    }
    collectorUp.set({ collector: 'jobs' }, 1);
  } catch {
    collectorUp.set({ collector: 'jobs' }, 0);
  }
}

async function exportBacklog(sample: ReturnType<typeof deliveriesAwaitingJob>): Promise<void> {
  deliveriesAwaitingJobGauge.reset();
  oldestDeliveryAwaitingJob.reset();
  try {
    const backlog = await sample;
    deliveriesAwaitingJobGauge.set(backlog.count);
    oldestDeliveryAwaitingJob.set(backlog.oldestSeconds);
    collectorUp.set({ collector: 'webhook_backlog' }, 1);
  } catch {
    collectorUp.set({ collector: 'webhook_backlog' }, 0);
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
  });
  // The losing promise must not become an unhandled rejection.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
