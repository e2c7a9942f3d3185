import { randomUUID } from 'node:crypto';
import type { JobResult, JobWithMetadata, PgBoss } from 'pg-boss';
import { z } from 'zod';
import { bossDatabase } from '../src/db/boss-database.ts';
import type { Database } from '../src/db/pool.ts';
import { findProductByName } from '../src/db/products.ts';
import { readSyncState } from '../src/db/sync-state.ts';
import { AppError, issuesFromZod, SyncSupersededError } from '../src/errors.ts';
import type { GitHubClient } from '../src/github/client.ts';
import type { Logger } from '../src/logger.ts';
import { observeJob, observeSync } from '../src/metrics/metrics.ts';
import { QUEUES } from '../src/queues.ts';
import { enqueueSync, syncJobSchema, type SyncJobData, type SyncJobOutput } from '../src/sync/sync-job.ts';
import { syncProduct } from '../src/sync/sync-product.ts';

// The sync-product handler, and the one place where a sync attempt's outcome becomes a job
// outcome:
//   succeeded  -> completed, the run's result as the job's output;
//   deferred   -> (primary rate limit spent) this job is completed and a new one queued for the
//                 reset, in one transaction: the queue's `exclusive` policy refuses a second job of
//                 the product while this one is active, and completing it first frees the key;
//   handed on  -> (this worker is stopping: it no longer fetches syncs, see handOnSyncs) the same,
//                 the new job due at once, for another replica or the restarted worker to resume
//                 the run. Left to pg-boss, a sync still running at the end of the grace period
//                 would be failed: every deploy would use up one of its retries, and the last one
//                 would send it to the dead-letter queue. Likewise a run reset under the job (the
//                 product's repository or tag pattern changed): the new job starts it afresh;
//   failed     -> failed: pg-boss retries it with backoff (the run resumes where it stopped), and
//                 after the last retry moves it to sync-product-dead; an error that retrying cannot
//                 fix (a repository GitHub does not know, a rejected token) goes there at once;
//   malformed job data -> sync-product-dead at once.

export type SyncWorkerOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  /** A GitHub client per attempt: its request counts are the attempt's. */
  createClient: () => GitHubClient;
  /** Syncs run at once by this process. */
  concurrency?: number;
  /** Aborted when the worker begins to stop (handOnSyncs): running syncs hand their runs on (see above). */
  stopping?: AbortSignal;
  pollingIntervalSeconds?: number;
};

type SyncJob = JobWithMetadata<unknown>;

export async function startSyncWorker(options: SyncWorkerOptions): Promise<void> {
  await options.boss.work(
    QUEUES.syncProduct,
    {
      batchSize: 1,
      localConcurrency: options.concurrency ?? 2,
      includeMetadata: true,
      perJobResults: true,
      pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
    },
    async (jobs: SyncJob[]) => Promise.all(jobs.map((job) => runSyncJob(options, job))),
  );
}

/**
 * The first step of a worker's stop: it fetches no more syncs (so that it does not fetch the jobs
 * it hands on), then `stopping` tells the running ones to hand their runs on.
 */
export async function handOnSyncs(boss: PgBoss, stopping: AbortController): Promise<void> {
  await boss.offWork(QUEUES.syncProduct, { wait: false });
  stopping.abort(new Error('the worker is stopping'));
}

export async function runSyncJob(options: SyncWorkerOptions, job: SyncJob): Promise<JobResult> {
  const { db, logger } = options;
  const started = performance.now();
  const finish = (outcome: 'completed' | 'failed' | 'deferred', result: JobResult): JobResult => {
    observeJob(QUEUES.syncProduct, outcome, (performance.now() - started) / 1000);
    return result;
  };
  // A deferral or hand-on, or a failure when pg-boss had settled the job first (deferJob).
  const handedOn = (result: JobResult) => finish(result.status === 'completed' ? 'deferred' : 'failed', result);
  const parsed = syncJobSchema.safeParse(job.data);
  if (!parsed.success) {
    const message = `malformed sync job data: ${issuesFromZod(parsed.error.issues).map((issue) => `${issue.path || '(root)'} ${issue.message}`).join('; ')}`;
    logger.error({ jobId: job.id, data: job.data }, message);
    return finish('failed', { id: job.id, status: 'deadletter', output: { error: message } satisfies SyncJobOutput });
  }
  const data = parsed.data;
  const product = await findProductByName(db, data.product);
  if (product === null) {
    logger.warn({ jobId: job.id, product: data.product }, 'sync asked for a product that is not tracked: nothing to do');
    return finish('completed', { id: job.id, status: 'completed', output: { skipped: `product ${data.product} is not tracked` } satisfies SyncJobOutput });
  }

  if (options.stopping?.aborted) {
    // Fetched as the worker began to stop: not begun, handed on as it is.
    return handedOn(await deferJob(options, job, data, {
      startAfter: new Date(),
      output: (next) => ({ skipped: `the worker stopped before the sync began; job ${next} runs it`, nextJobId: next }),
      logged: (next) => logger.info({ jobId: job.id, product: product.name, nextJobId: next }, 'worker stopping: sync handed on without starting'),
    }));
  }

  const client = options.createClient();
  let attempt;
  try {
    // The owner names this attempt, not only the job: pg-boss retries a job whose heartbeat lapsed
    // under the same id, possibly while the stalled attempt still runs, and that one's writes must
    // then fail the run's fence (as pg-boss's own fence tells attempts apart by id and retry count).
    const owner = `${job.id}:${job.retryCount}`;
    attempt = await syncProduct({
      db,
      client,
      logger,
      product,
      owner,
      signal: job.signal,
      ...(options.stopping ? { stopping: options.stopping } : {}),
      ...(data.mode ? { mode: data.mode } : {}),
    });
  } catch (error) {
    if (error instanceof SyncSupersededError) {
      const state = await readSyncState(db, product.id);
      if (state !== null && state.runOwner === null && state.lastSuccessAt === null) {
        // No job took the run over: the product's definition changed and its run was reset
        // (resetSyncForRelisting). Nothing else will sync it before the next tick, so a new job
        // starts the full listing the reset asks for.
        return handedOn(await deferJob(options, job, data, {
          startAfter: new Date(),
          output: (next) => ({ superseded: true, nextJobId: next }),
          logged: (next) => logger.info({ jobId: job.id, product: product.name, nextJobId: next }, "sync run reset by a change of the product's definition: a new job starts it afresh"),
        }));
      }
      logger.warn({ jobId: job.id, product: product.name }, 'sync run taken over by another job: stopping without writing');
      return finish('completed', { id: job.id, status: 'completed', output: { superseded: true } satisfies SyncJobOutput });
    }
    // The run could not even start or record its end (the database is away): retried.
    logger.error({ err: error, jobId: job.id, product: product.name }, 'sync attempt failed before it could record its outcome');
    return finish('failed', { id: job.id, status: 'failed', output: { error: error instanceof Error ? error.message : String(error) } satisfies SyncJobOutput });
  }
  const seconds = attempt.result.durationMs / 1000;
  const logFields = { jobId: job.id, ...attempt.result };
  if (attempt.outcome === 'handed-on') {
    // The run is not over: no sync outcome to observe.
    return handedOn(await deferJob(options, job, data, {
      startAfter: new Date(),
      output: (next) => ({ ...attempt.result, nextJobId: next, handedOn: true }),
      logged: (next) => logger.info({ ...logFields, nextJobId: next }, 'worker stopping: sync run handed on to a new job'),
    }));
  }
  observeSync(product.name, attempt.outcome, seconds);

  if (attempt.outcome === 'succeeded') {
    logger.info(logFields, 'sync finished');
    return finish('completed', { id: job.id, status: 'completed', output: attempt.result satisfies SyncJobOutput });
  }
  if (attempt.outcome === 'deferred') {
    return handedOn(await deferJob(options, job, data, {
      startAfter: attempt.resetAt,
      output: (next) => ({ ...attempt.result, nextJobId: next }),
      logged: (next) => logger.warn({ ...logFields, nextJobId: next }, 'sync deferred until the GitHub rate limit resets'),
    }));
  }
  const error = attempt.error;
  const permanent = error instanceof AppError && !error.retryable;
  const lastTry = permanent || job.retryCount >= job.retryLimit;
  logger.error(
    { ...logFields, err: error, retryCount: job.retryCount, retryLimit: job.retryLimit, deadLetter: lastTry },
    lastTry ? `sync failed for good (moved to ${QUEUES.syncProductDead}): ${attempt.result.error}` : `sync failed, pg-boss retries it: ${attempt.result.error}`,
  );
  return finish('failed', { id: job.id, status: permanent ? 'deadletter' : 'failed', output: attempt.result satisfies SyncJobOutput });
}

// pg-boss 12 types complete()'s answer as an empty interface; it holds the count of jobs it settled.
const completeResponse = z.object({ affected: z.number() });

/**
 * Completes `job` with the output `next.output` gives, and queues the product's sync again as a new
 * job starting at `next.startAfter`, in one transaction (the `exclusive` policy holds the key
 * while the job is active); `next.logged` says so. Sends nothing when pg-boss has settled the job
 * already (it fails what is still active at the end of a shutdown's grace period): its retry, if it
 * has one left, resumes the run, and a job sent besides would run the sync twice. Returns the
 * handler's result for the job (ignored by pg-boss once the job is settled).
 */
async function deferJob(
  options: SyncWorkerOptions,
  job: SyncJob,
  data: SyncJobData,
  next: { startAfter: Date; output: (nextJobId: string) => SyncJobOutput; logged: (nextJobId: string) => void },
): Promise<JobResult> {
  const { db, boss, logger } = options;
  const nextJobId = randomUUID();
  const output = next.output(nextJobId);
  const sent = await db.transaction(async (transaction) => {
    const completed = await boss.complete(QUEUES.syncProduct, { id: job.id, retryCount: job.retryCount }, output, { db: bossDatabase(transaction) });
    if (completeResponse.parse(completed).affected === 0) return false;
    const queued = await enqueueSync(boss, { product: data.product, reason: data.reason, ...(data.mode ? { mode: data.mode } : {}) }, { id: nextJobId, startAfter: next.startAfter, db: transaction });
    // Nothing else can hold the key while this job was active; if something does, it runs the sync.
    if (queued.alreadyQueued) logger.warn({ jobId: job.id, product: data.product }, 'another sync job holds the product: it will resume the run');
    return true;
  });
  if (!sent) {
    logger.warn({ jobId: job.id, product: data.product }, 'pg-boss settled the sync job before it could be handed on: its retry, if any, resumes the run');
    return { id: job.id, status: 'failed', output: { error: 'settled by pg-boss before it could be handed on' } satisfies SyncJobOutput };
  }
  next.logged(nextJobId);
  return { id: job.id, status: 'completed', output };
}
