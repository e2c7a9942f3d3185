import type { PgBoss } from 'pg-boss';
import type { Database } from '../src/db/pool.ts';
import { failDeliveriesOfEndedJob, findJobsOfOpenDeliveries } from '../src/db/webhook-deliveries.ts';
import type { Logger } from '../src/logger.ts';
import { QUEUES } from '../src/queues.ts';
import { startPeriodicTask, type Housekeeping } from './periodic-task.ts';

// A delivery is marked failed by its job's last attempt when that attempt fails. An attempt can
// also end without recording anything: the worker killed or stopped during it, its heartbeat
// lapsed, its database connection lost. With retries left pg-boss runs the job again, which claims
// the same deliveries; after the last one, the job has failed (or was cancelled) while its
// deliveries still say queued or processing, where neither `replay --failed` nor the admin list of
// failed deliveries looks. So every few minutes each worker replica looks for deliveries left open
// under a job that has ended, or is gone, and fails them saying so: an operator replays them like
// any other failure. Replicas doing the same is harmless (the update only finds open rows).

/** Open deliveries unchanged for this long are checked (a live job's attempt touches its deliveries when it claims them). */
const QUIET_MS = 10 * 60_000;
/** Jobs read per query, and checked per run at most (the next run goes on after the last one checked). */
const JOBS_PER_PAGE = 200;
const JOBS_PER_RUN = 2_000;
const ENDED_STATES = new Set(['failed', 'cancelled', 'completed']);

export type StrandedDeliveriesOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  /** node-cron expression of the runs (default: every 10 minutes, at minute 7, 17, …). */
  schedule?: string;
};

/** `run` fails the open deliveries of ended jobs, as at `now`, and returns how many. */
export function startStrandedDeliveriesCheck(options: StrandedDeliveriesOptions): Housekeeping {
  const { db, boss, logger } = options;
  /**
   * Where the next run goes on: many live jobs with quiet deliveries (a long rate-limit deferral
   * makes one per batch) must not keep the ones after them from being checked.
   */
  let after: string | null = null;
  const run = async (now = new Date()): Promise<number> => {
    const unchangedSince = new Date(now.getTime() - QUIET_MS);
    let total = 0;
    for (let checked = 0; checked < JOBS_PER_RUN; ) {
      const page = await findJobsOfOpenDeliveries(db, unchangedSince, JOBS_PER_PAGE, after);
      for (const jobId of page) {
        after = jobId;
        checked += 1;
        const [job] = await boss.findJobs(QUEUES.processDelivery, { id: jobId });
        if (job !== undefined && !ENDED_STATES.has(job.state)) continue;
        const how = job === undefined ? 'is gone' : `ended ${job.state} after ${job.retryCount + 1} attempt(s)`;
        const failed = await failDeliveriesOfEndedJob(db, jobId, `its processing job ${jobId} ${how} without finishing it: replay it`);
        if (failed > 0) logger.warn({ jobId, deliveries: failed, job: job?.state ?? 'gone' }, 'webhook deliveries left open by an ended job marked failed');
        total += failed;
      }
      if (page.length < JOBS_PER_PAGE) {
        // The end: the next run starts from the first job again.
        after = null;
        break;
      }
    }
    return total;
  };
  const task = startPeriodicTask({
    name: 'stranded-deliveries',
    schedule: options.schedule ?? '7-59/10 * * * *',
    logger,
    failure: 'checking for webhook deliveries left open by ended jobs failed',
    run,
  });
  return { run, stop: task.stop };
}
