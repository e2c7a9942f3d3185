import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { bossDatabase } from '../db/boss-database.ts';
import type { Queryable } from '../db/pool.ts';
import { PRODUCT_NAME_PATTERN } from '../products.ts';
import { QUEUES } from '../queues.ts';

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

export type EnqueuedSync = { jobId: string; alreadyQueued: boolean };

/**
 * Sends a sync job, or finds the job that the `exclusive` policy let it collide with (send()
 * answers null): the queued one, else the running one. The blocking job can finish between the
 * refusal and the lookup, hence the few tries.
 */
export async function enqueueSync(boss: PgBoss, data: SyncJobData, options: { id?: string; startAfter?: Date; db?: Queryable } = {}): Promise<EnqueuedSync> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const id = await boss.send(QUEUES.syncProduct, data, {
      singletonKey: data.product,
      ...(options.id ? { id: options.id } : {}),
      ...(options.startAfter ? { startAfter: options.startAfter } : {}),
      ...(options.db ? { db: bossDatabase(options.db) } : {}),
    });
    if (id !== null) return { jobId: id, alreadyQueued: false };
    if (options.db) return { jobId: '', alreadyQueued: true };
    const blocking = await boss.findJobs(QUEUES.syncProduct, { key: data.product, limit: 1000 });
    const open = blocking.filter((job) => ['created', 'retry', 'active'].includes(job.state)).at(-1);
    if (open !== undefined) return { jobId: open.id, alreadyQueued: true };
  }
  throw new Error(`could not enqueue a sync of ${data.product} nor find the job that blocks it`);
}
