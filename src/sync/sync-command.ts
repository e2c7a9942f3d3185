import { setTimeout as sleep } from 'node:timers/promises';
import type { JobWithMetadata } from 'pg-boss';
import { z } from 'zod';
import { requireDatabaseUrl, type Config } from '../config.ts';
import { createDatabasePool } from '../db/pool.ts';
import { findProductByName } from '../db/products.ts';
import { describeArgumentIssues, parseCommandArgs } from '../cli-args.ts';
import { issuesFromZod, NotFoundError, UsageError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { PRODUCT_NAME_PATTERN } from '../products.ts';
import { createBoss, QUEUES } from '../queues.ts';
import { enqueueSync, syncJobOutputSchema, type SyncJobOutput } from './sync-job.ts';
import type { SyncRunResult } from './sync-progress.ts';

// `release-registry sync <product> [--full] [--wait] [--timeout <seconds>]`: enqueues a sync of the
// product (or finds the one already queued or running) and, with --wait, waits for that job's
// outcome and prints it. Exit codes: 0 succeeded (or queued, without --wait); 1 failed (pg-boss
// retries the job) or the wait timed out; 2 a bad command line; 75 (EX_TEMPFAIL) deferred to a
// GitHub rate-limit reset.

export const SYNC_USAGE = 'release-registry sync <product> [--full] [--wait] [--timeout <seconds>]';
export const EXIT_DEFERRED = 75;

const TIMEOUT_ISSUE = 'expected a whole number of seconds';

const argsSchema = z.object({
  product: z.string({ error: 'name the product to sync' }).regex(PRODUCT_NAME_PATTERN, 'expected a product name'),
  full: z.boolean(),
  wait: z.boolean(),
  timeoutSeconds: z.coerce.number({ error: TIMEOUT_ISSUE }).int(TIMEOUT_ISSUE).positive(TIMEOUT_ISSUE),
});

export function parseSyncArgs(args: string[]): z.infer<typeof argsSchema> {
  const parsed = parseCommandArgs(
    { args, allowPositionals: true, options: { full: { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' } } },
    SYNC_USAGE,
  );
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one product, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`, SYNC_USAGE);
  }
  const result = argsSchema.safeParse({
    product: parsed.positionals[0],
    full: parsed.values.full ?? false,
    wait: parsed.values.wait ?? false,
    timeoutSeconds: parsed.values.timeout ?? '3600',
  });
  if (!result.success) {
    const issues = issuesFromZod(result.error.issues);
    const given = { product: { value: parsed.positionals[0] }, timeoutSeconds: { flag: '--timeout', value: parsed.values.timeout } };
    throw new UsageError(describeArgumentIssues(issues, given), SYNC_USAGE, issues);
  }
  return result.data;
}

export async function runSyncCommand(config: Config, logger: Logger, args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const options = parseSyncArgs(args);
  const databaseUrl = requireDatabaseUrl(config);
  const db = await createDatabasePool(databaseUrl, { logger, maximumPoolSize: 1, applicationName: 'release-registry-cli' });
  const boss = createBoss(databaseUrl, { logger, applicationName: 'release-registry-cli-boss', maxConnections: 2 });
  try {
    const product = await findProductByName(db, options.product);
    if (product === null) throw new NotFoundError('product', `no tracked product "${options.product}" (see PRODUCTS_FILE)`);
    await boss.start();
    const job = await enqueueSync(boss, { product: product.name, reason: 'cli', ...(options.full ? { mode: 'full' as const } : {}) });
    out.write(
      job.alreadyQueued
        ? `a sync of ${product.name} is already queued or running: job ${job.jobId}\n`
        : `queued a ${options.full ? 'full' : ''}${options.full ? ' ' : ''}sync of ${product.name}: job ${job.jobId}\n`,
    );
    if (!options.wait) return 0;
    return await waitForOutcome(boss, job.jobId, options.timeoutSeconds, out);
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    await db.end();
  }
}

export async function waitForOutcome(boss: ReturnType<typeof createBoss>, firstJobId: string, timeoutSeconds: number, out: NodeJS.WritableStream): Promise<number> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let jobId = firstJobId;
  while (Date.now() < deadline) {
    const [job] = (await boss.findJobs(QUEUES.syncProduct, { id: jobId })) as Array<JobWithMetadata<unknown>>;
    if (job === undefined) {
      out.write(`job ${jobId} is gone (deleted by retention?)\n`);
      return 1;
    }
    // The output comes back from the database as JSON, and a job pg-boss failed holds what pg-boss
    // wrote, not the handler: read it through the schema rather than trusting its shape.
    const parsed = syncJobOutputSchema.safeParse(job.output);
    const output: SyncJobOutput | undefined = parsed.success ? parsed.data : undefined;
    if (job.state === 'completed') {
      // Handed on to another job (a worker stopped, or the product's run was reset): the sync goes
      // on there, so wait for that one.
      const next = output === undefined ? undefined : handedOnTo(output);
      if (next !== undefined) {
        out.write(`job ${jobId} handed the sync on to job ${next}; waiting for it\n`);
        jobId = next;
        continue;
      }
      if (output !== undefined && 'outcome' in output) {
        if (output.outcome === 'deferred') {
          out.write(`sync deferred until ${output.deferredUntil ?? '?'} (GitHub rate limit spent); job ${output.nextJobId ?? '?'} will run it\n`);
          return EXIT_DEFERRED;
        }
        out.write(`${summarize(output)}\n`);
        return 0;
      }
      if (output !== undefined && ('skipped' in output || 'superseded' in output)) {
        out.write(`sync not run: ${'skipped' in output ? output.skipped : 'taken over by another job'}\n`);
        return 1;
      }
      // The job did complete (pg-boss says so); only its report cannot be read (an older worker?).
      out.write(`sync completed (its output did not parse: ${JSON.stringify(job.output)})\n`);
      return 0;
    }
    if (job.state === 'retry' || job.state === 'failed' || job.state === 'cancelled') {
      const next = job.state === 'retry' ? `pg-boss retries it (attempt ${job.retryCount + 1} of ${job.retryLimit + 1})` : `no retries left: see ${QUEUES.syncProductDead}`;
      out.write(`sync failed: ${failureOf(output) ?? job.state}; ${next}\n`);
      return 1;
    }
    await sleep(500);
  }
  out.write(`gave up waiting for job ${jobId} after ${timeoutSeconds} s (it may still run)\n`);
  return 1;
}

function handedOnTo(output: SyncJobOutput): string | undefined {
  if ('outcome' in output) return output.handedOn ? output.nextJobId : undefined;
  if ('skipped' in output || 'superseded' in output) return output.nextJobId;
  return undefined;
}

function failureOf(output: SyncJobOutput | undefined): string | undefined {
  if (output === undefined) return undefined;
  if ('error' in output) return output.error;
  if ('message' in output) return output.message;
  return undefined;
}

function summarize(result: SyncRunResult): string {
  const { tags, releases } = result;
  return [
    `sync of ${result.product} succeeded (run ${result.runId}, ${result.mode}, releases ${result.releasesPass}) in ${result.durationMs} ms`,
    `  tags: ${tags.listed} listed, ${tags.added} added, ${tags.updated} updated, ${tags.moved} moved, ${tags.revived} revived, ${tags.tombstoned} tombstoned, ${tags.skipped} skipped`,
    `  releases: ${releases.listed} listed, ${releases.added} added, ${releases.updated} updated, ${releases.deleted} deleted`,
    `  GitHub: ${result.requests} requests (${result.notModified} answered 304), ${result.points.total} rate-limit points`,
  ].join('\n');
}
