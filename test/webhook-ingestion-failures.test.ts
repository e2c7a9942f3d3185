import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { bossDatabase } from '../src/db/boss-database.ts';
import { insertDeliveries } from '../src/db/webhook-deliveries.ts';
import { GitHubRateLimitedError, GitHubUnavailableError, NotFoundError } from '../src/errors.ts';
import { QUEUES } from '../src/queues.ts';
import type { TagStateReader } from '../src/webhooks/tag-states.ts';
import { tagPushed } from './support/github-events.ts';
import { startIngestion, type Ingestion } from './support/ingestion.ts';
import { MemoryRepository } from './support/memory-github.ts';
import { postDelivery, readDelivery, TRACKED_REPOSITORY } from './support/webhooks.ts';

// What happens to a delivery whose processing fails: retried, then failed with its error and
// dead-lettered; dead-lettered at once when retrying cannot help; deferred to the reset when
// GitHub's rate limit is spent.

type Context = { app: Ingestion; github: MemoryRepository; fault: { next: (() => Error) | null; times: number } };
const failures = suite<Context>('webhook ingestion failures', {} as never);

failures.before(async (context) => {
  context.github = new MemoryRepository(TRACKED_REPOSITORY.id, TRACKED_REPOSITORY.fullName);
  context.fault = { next: null, times: 0 };
  const reader: TagStateReader = async (repository, names) => {
    if (context.fault.next !== null && context.fault.times > 0) {
      context.fault.times -= 1;
      throw context.fault.next();
    }
    return context.github.reader(repository, names);
  };
  // Retries come due at once and are picked up within half a second, so the test does not wait
  // out production's backoff.
  context.app = await startIngestion({ label: 'ingestion_failures', readTagStates: reader, worker: { pollingIntervalSeconds: 0.5 } });
  await context.app.workerBoss.updateQueue(QUEUES.processDelivery, { retryLimit: 2, retryDelay: 0, retryBackoff: false });
});

failures.after(async (context) => {
  await context.app.close();
});

failures.before.each((context) => {
  context.fault.next = null;
  context.fault.times = 0;
});

const deliveryState = z.object({ status: z.string(), attempts: z.number(), error: z.string().nullable(), jobId: z.string().nullable() });

async function state(app: Ingestion, deliveryId: string) {
  return app.database.db.one(sql.type(deliveryState)`
    SELECT status, attempts, error, job_id AS "jobId" FROM webhook_deliveries WHERE delivery_id = ${deliveryId}`);
}

async function pushTag(context: Context, name: string): Promise<string> {
  const fact = context.github.addTag({ name });
  const [push] = tagPushed(TRACKED_REPOSITORY, name, fact.gitSha!).slice(1);
  const answer = await postDelivery(context.app.server.url, push!);
  assert.is(answer.status, 202);
  return answer.deliveryId;
}

async function deadLetterJobs(app: Ingestion, deliveryId: string): Promise<number> {
  return app.database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM pgboss.job WHERE name = ${QUEUES.processDeliveryDead} AND data ->> 'deliveryId' = ${deliveryId}`);
}

failures('a passing GitHub outage is retried and the delivery processed', async (context) => {
  context.fault.next = () => new GitHubUnavailableError('GitHub answered 502', 502);
  context.fault.times = 2;
  const deliveryId = await pushTag(context, 'v1.0.0');
  await context.app.settled([deliveryId]);
  const after = await state(context.app, deliveryId);
  assert.is(after.status, 'processed');
  assert.is(after.attempts, 3, 'two failed attempts, then one that worked');
  assert.is(after.error, null);
  assert.is(context.fault.times, 0);
});

failures('a delivery that keeps failing is failed with its error after the last retry, and dead-lettered', async (context) => {
  context.fault.next = () => new GitHubUnavailableError('GitHub answered 503', 503);
  context.fault.times = 1_000;
  const deliveryId = await pushTag(context, 'v1.1.0');
  await context.app.settled([deliveryId]);
  const after = await state(context.app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 3, 'the first attempt and two retries');
  assert.is(after.error, 'GitHub answered 503');
  const deadline = Date.now() + 20_000;
  while ((await deadLetterJobs(context.app, deliveryId)) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(await deadLetterJobs(context.app, deliveryId), 1, 'its job is in process-delivery-dead');
});

failures('an error retrying cannot fix dead-letters the delivery at once', async (context) => {
  context.fault.next = () => new NotFoundError('repository', 'GitHub has no repository acme/widget');
  context.fault.times = 1_000;
  const deliveryId = await pushTag(context, 'v1.2.0');
  await context.app.settled([deliveryId]);
  const after = await state(context.app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 1);
  assert.is(after.error, 'GitHub has no repository acme/widget');
});

failures('a spent rate limit defers the delivery to the reset under a new job, without failing it', async (context) => {
  const resetAt = new Date(Date.now() + 3_600_000);
  context.fault.next = () => new GitHubRateLimitedError(resetAt);
  context.fault.times = 1;
  const deliveryId = await pushTag(context, 'v1.3.0');
  const firstJob = (await readDelivery(context.app.database.db, deliveryId))!.jobId;
  const deadline = Date.now() + 20_000;
  let after = await state(context.app, deliveryId);
  while (after.jobId === firstJob && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await state(context.app, deliveryId);
  }
  assert.is(after.status, 'queued');
  assert.match(after.error ?? '', /rate limit spent until/);
  assert.is.not(after.jobId, firstJob);
  const job = await context.app.database.db.one(sql.type(z.object({ startAfter: z.date(), state: z.string() }))`
    SELECT start_after AS "startAfter", state::text FROM pgboss.job WHERE id = ${after.jobId!}::uuid`);
  assert.is(job.state, 'created');
  assert.ok(Math.abs(job.startAfter.getTime() - resetAt.getTime()) < 1_000, 'starts at the reset');
  const old = await context.app.database.db.oneFirst(sql.type(z.object({ state: z.string() }))`
    SELECT state::text FROM pgboss.job WHERE id = ${firstJob!}::uuid`);
  assert.is(old, 'completed');
});

failures('a stored payload that can never be processed is dead-lettered at once', async (context) => {
  const deliveryId = randomUUID();
  const jobId = randomUUID();
  await context.app.database.db.transaction(async (transaction) => {
    await insertDeliveries(transaction, [
      {
        deliveryId,
        event: 'push',
        action: null,
        repositoryId: TRACKED_REPOSITORY.id,
        repositoryFullName: TRACKED_REPOSITORY.fullName,
        hookId: null,
        productIds: [1],
        payloadJson: JSON.stringify({ ref: 'refs/tags/v9.9.9' }),
        headers: {},
        status: 'queued',
        ignoredReason: null,
        jobId,
        receivedAt: new Date(),
      },
    ]);
    await context.app.workerBoss.insert(QUEUES.processDelivery, [{ id: jobId, data: { deliveryId } }], { db: bossDatabase(transaction) });
  });
  await context.app.settled([deliveryId]);
  const after = await state(context.app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 1);
  assert.match(after.error ?? '', /the stored payload cannot be processed/);
});

failures.run();
