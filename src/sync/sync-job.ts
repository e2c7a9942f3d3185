import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { bossDatabase } from '../db/boss-database.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Queryable } from '../db/pool.ts';
import { PRODUCT_NAME_PATTERN } from '../products.ts';
import { QUEUES } from '../queues.ts';
import { syncRunResultSchema } from './sync-progress.ts';

// The data contract of a `sync-product` job, shared by its senders (scheduler, CLI, the API's admin
// call) and the worker, which parses it. The singletonKey is the product name: the queue's
// `exclusive` policy keeps at most one sync of a product queued or running.

export const SYNC_REASONS = ['schedule', 'startup', 'cli', 'admin'] as const;

export const syncJobSchema = z.object({
  product: z.string().regex(PRODUCT_NAME_PATTERN, 'expected a product name'),
  reason: z.enum(SYNC_REASONS),
  mode: z.enum(['full', 'incremental']).optional(),
  /** Scheduled jobs: the scheduler tick (node-cron's nominal time) that enqueued the job. */
  slot: z.iso.datetime().optional(),
});
export type SyncJobData = z.infer<typeof syncJobSchema>;

/** `mode`: the mode of the job that runs (the one sent, or the one already queued or running). */
export type EnqueuedSync = { jobId: string; alreadyQueued: boolean; mode: SyncJobData['mode'] | null };

const FIND_PAGE = 1_000;

/**
 * Sends a sync job, or finds the job that the `exclusive` policy let it collide with (send()
 * answers null): the queued one, else the running one. The blocking job can finish between the
 * refusal and the lookup, hence the few tries; should none succeed, the queue is too busy to say,
 * and the caller is told to come back (503 through the API).
 */
export async function enqueueSync(boss: PgBoss, data: SyncJobData, options: { id?: string; startAfter?: Date; db?: Queryable } = {}): Promise<EnqueuedSync> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const id = await boss.send(QUEUES.syncProduct, data, {
      singletonKey: data.product,
      ...(options.id ? { id: options.id } : {}),
      ...(options.startAfter ? { startAfter: options.startAfter } : {}),
      ...(options.db ? { db: bossDatabase(options.db) } : {}),
    });
    if (id !== null) return { jobId: id, alreadyQueued: false, mode: data.mode ?? null };
    if (options.db) return { jobId: '', alreadyQueued: true, mode: null };
    const blocking = await findOpenSync(boss, data.product);
    if (blocking !== null) return { ...blocking, alreadyQueued: true };
  }
  throw new ServiceUnavailableError(`could not enqueue a sync of ${data.product} nor find the job that blocks it; try again`);
}

/**
 * The product's queued sync, else its running one. findJobs lists a key's jobs oldest first, the
 * finished ones of the last days included, and filters only on "queued": the running one is
 * looked for page by page (the exclusive policy allows one, so the first found is it).
 */
async function findOpenSync(boss: PgBoss, product: string): Promise<{ jobId: string; mode: SyncJobData['mode'] | null } | null> {
  const open = (job: { id: string; data: unknown }) => ({ jobId: job.id, mode: syncJobSchema.safeParse(job.data).data?.mode ?? null });
  const [queued] = await boss.findJobs(QUEUES.syncProduct, { key: product, queued: true, limit: 1 });
  if (queued !== undefined) return open(queued);
  let after: string | undefined;
  for (;;) {
    const page = await boss.findJobs(QUEUES.syncProduct, { key: product, limit: FIND_PAGE, ...(after ? { after } : {}) });
    const active = page.find((job) => job.state === 'active');
    if (active !== undefined) return open(active);
    if (page.length < FIND_PAGE) return null;
    after = page.at(-1)!.id;
  }
}

/**
 * What a sync-product job's output holds once it has ended: written by the handler (workers/sync-worker.ts), read back from the
 * database by whoever waits for the job (`release-registry sync --wait`). A run's result first: the
 * other shapes are what is left when there was no run.
 */
export const syncJobOutputSchema = z.union([
  // succeeded, failed, or deferred to the job `nextJobId`; `handedOn`: not deferred for a rate
  // limit but handed on because the worker stopped (or its run was reset), the run going on in
  // `nextJobId` at once
  syncRunResultSchema.extend({ nextJobId: z.string().optional(), handedOn: z.literal(true).optional() }),
  z.object({ skipped: z.string(), nextJobId: z.string().optional() }),
  z.object({ superseded: z.literal(true), nextJobId: z.string().optional() }),
  // malformed job data, or a run that could not start
  z.object({ error: z.string() }),
  // what pg-boss records for a handler that threw or a job it failed at shutdown (a serialized Error)
  z.object({ message: z.string() }),
]);
export type SyncJobOutput = z.infer<typeof syncJobOutputSchema>;
