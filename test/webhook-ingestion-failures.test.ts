import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { bossDatabase } from '../src/db/boss-database.ts';
import { QUEUES } from '../src/queues.ts';
import { deliveryJobData } from '../src/webhooks/delivery-job.ts';
import { tagPushed } from './support/github-events.ts';
import { startFakeIngestion, type FakeIngestion } from './support/ingestion.ts';
import { postDelivery, storedPush, storeUnderJob, widgetProduct } from './support/webhooks.ts';
import { syncProductDefinitions } from '../src/db/products.ts';

// What happens to a delivery whose processing fails, with the fake GitHub failing as GitHub does:
// retried, then failed with its error; failed at once when retrying cannot help; deferred to the
// reset when the rate limit is spent. The client retries a 5xx three times itself (four requests
// per attempt); then the job fails and pg-boss retries it.

type Context = { app: FakeIngestion };
const failures = suite<Context>('webhook ingestion failures', {} as never);

failures.before(async (context) => {
  // Retries come due at once and are picked up within half a second, so the test does not wait
  // out production's backoff.
  context.app = await startFakeIngestion({
    label: 'ingestion_failures',
    products: [widgetProduct(), widgetProduct({ name: 'ghost', repository: 'acme/ghost' })],
    worker: { pollingIntervalSeconds: 0.5 },
  });
  await context.app.workerBoss.updateQueue(QUEUES.processDelivery, { retryLimit: 2, retryDelay: 0, retryBackoff: false });
});

failures.after(async (context) => {
  await context.app.close();
});

const deliveryState = z.object({ status: z.string(), attempts: z.number(), error: z.string().nullable(), jobId: z.string().nullable() });

async function state(app: FakeIngestion, deliveryId: string) {
  return app.database.db.one(sql.type(deliveryState)`
    SELECT status, attempts, error, job_id AS "jobId" FROM webhook_deliveries WHERE delivery_id = ${deliveryId}`);
}

async function pushTag(app: FakeIngestion, name: string, repo = app.repo): Promise<string> {
  const ref = repo === app.repo ? app.repository.addTag({ name }) : { sha: 'a'.repeat(40) };
  const [, push] = tagPushed(repo, name, ref.sha);
  const answer = await postDelivery(app.server.url, push!);
  assert.is(answer.status, 202, JSON.stringify(answer.body));
  return answer.deliveryId;
}

failures('a passing GitHub outage is retried and the delivery processed', async ({ app }) => {
  // Two job attempts' worth of 502s (four requests each), then GitHub answers.
  const outage = app.fake.addFault({ kind: 'status', status: 502, operation: 'TagStates', times: 8 });
  const deliveryId = await pushTag(app, 'v1.0.0');
  await app.settled([deliveryId]);
  outage.remove();
  const after = await state(app, deliveryId);
  assert.is(after.status, 'processed');
  assert.is(after.attempts, 3, 'two failed attempts, then one that worked');
  assert.is(after.error, null);
  assert.is(outage.fired, 8);
});

failures('a delivery that keeps failing is failed with its error after the last retry, its job dead-lettered', async ({ app }) => {
  const outage = app.fake.addFault({ kind: 'status', status: 503, operation: 'TagStates', every: 1 });
  const deliveryId = await pushTag(app, 'v1.1.0');
  await app.settled([deliveryId]);
  outage.remove();
  const after = await state(app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 3, 'the first attempt and two retries');
  assert.match(after.error ?? '', /503/);
  const deadline = Date.now() + 20_000;
  const dead = () =>
    app.database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM pgboss.job WHERE name = ${QUEUES.processDeliveryDead} AND data -> 'deliveryIds' ? ${deliveryId}`);
  while ((await dead()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(await dead(), 1, 'its job waits in process-delivery-dead for `redrive process-delivery`');
});

failures('a repository GitHub does not know fails the delivery at once (retrying cannot help)', async ({ app }) => {
  const deliveryId = await pushTag(app, 'v1.0.0', { id: 424_242, fullName: 'acme/ghost' });
  await app.settled([deliveryId]);
  const after = await state(app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 1);
  assert.match(after.error ?? '', /Could not resolve to a Repository/);
});

failures('a stored payload that can never be processed is failed at once', async ({ app }) => {
  const [product] = (await syncProductDefinitions(app.database.db, [widgetProduct(), widgetProduct({ name: 'ghost', repository: 'acme/ghost' })])).filter(
    (candidate) => candidate.name === 'widget',
  );
  const deliveryId = randomUUID();
  const jobId = randomUUID();
  await app.database.db.transaction(async (transaction) => {
    const stored = await storeUnderJob(
      transaction,
      [storedPush(app.repo, deliveryId, JSON.stringify({ ref: 'refs/tags/v9.9.9' }))],
      jobId,
    );
    assert.equal(stored.get(deliveryId), { status: 'queued', productIds: [product!.id] });
    await app.workerBoss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData([deliveryId]) }], { db: bossDatabase(transaction) });
  });
  await app.settled([deliveryId]);
  const after = await state(app, deliveryId);
  assert.is(after.status, 'failed');
  assert.is(after.attempts, 1);
  assert.match(after.error ?? '', /the stored payload cannot be processed/);
});

failures('a stored payload that is not JSON fails alone; the deliveries claimed with it are processed', async ({ app }) => {
  const good = { deliveryId: randomUUID(), tag: 'v9.8.0' };
  const bad = randomUUID();
  const jobId = randomUUID();
  const sha = app.repository.addTag({ name: good.tag }).sha;
  const [, push] = tagPushed(app.repo, good.tag, sha);
  await app.database.db.transaction(async (transaction) => {
    const stored = await storeUnderJob(transaction, [storedPush(app.repo, good.deliveryId, JSON.stringify(push!.payload)), storedPush(app.repo, bad, '{}')], jobId);
    assert.ok([...stored.values()].every((outcome) => outcome.status === 'queued'));
    // The intake stores only JSON; a row written around it (or damaged since) is not.
    await transaction.query(sql.unsafe`UPDATE webhook_deliveries SET payload = '{"ref": "refs/tags/v9' WHERE delivery_id = ${bad}`);
    await app.workerBoss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData([good.deliveryId, bad]) }], { db: bossDatabase(transaction) });
  });
  await app.settled([good.deliveryId, bad]);
  const processed = await state(app, good.deliveryId);
  assert.is(processed.status, 'processed');
  assert.is(processed.error, null);
  const failed = await state(app, bad);
  assert.is(failed.status, 'failed');
  assert.is(failed.attempts, 1, 'failed at once: retrying cannot help');
  assert.match(failed.error ?? '', /the stored payload cannot be processed/);
});

failures('a job whose data names no delivery is dead-lettered, not retried', async ({ app }) => {
  const jobId = (await app.workerBoss.send(QUEUES.processDelivery, { something: 'else' }))!;
  const deadline = Date.now() + 20_000;
  const stateOf = () =>
    app.database.db.oneFirst(sql.type(z.object({ state: z.string() }))`SELECT state::text FROM pgboss.job WHERE id = ${jobId}::uuid`);
  while ((await stateOf()) !== 'failed' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(await stateOf(), 'failed');
  const job = await app.database.db.one(sql.type(z.object({ retryCount: z.number(), output: z.unknown() }))`
    SELECT retry_count AS "retryCount", output FROM pgboss.job WHERE id = ${jobId}::uuid`);
  assert.is(job.retryCount, 0);
  assert.match(JSON.stringify(job.output), /names no delivery/);
});

failures('a secondary rate limit met under the product lock defers the delivery to retry-after rather than waiting with the lock held', async ({ app }) => {
  // Outside a lock the client would wait retry-after (1 ms with the tests' unit) and ask again.
  const limit = app.fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 1, operation: 'TagStates', times: 1 });
  const before = Date.now();
  const deliveryId = await pushTag(app, 'v1.2.0');
  const deadline = Date.now() + 20_000;
  let after = await state(app, deliveryId);
  while (after.error === null && after.status !== 'processed' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await state(app, deliveryId);
  }
  assert.is(limit.fired, 1);
  assert.is(after.status, 'queued', 'deferred, not processed after a wait');
  assert.match(after.error ?? '', /rate limit spent until/);
  const job = await app.database.db.one(sql.type(z.object({ startAfter: z.date() }))`
    SELECT start_after AS "startAfter" FROM pgboss.job WHERE id = ${after.jobId!}::uuid`);
  assert.ok(job.startAfter.getTime() >= before + 1_000, 'starts once retry-after has passed');
  // Until then the worker's client sends GitHub nothing at all; then the deferred job processes it.
  await app.settled([deliveryId]);
  assert.is((await state(app, deliveryId)).status, 'processed');
});

// Last: the client remembers a spent bucket until its reset.
failures('a spent rate limit defers the deliveries it met to the reset under one new job, without failing them', async ({ app }) => {
  const resetAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
  app.fake.setRateLimit('graphql', { remaining: 0, resetAt });
  // Two deliveries the intake stored in one transaction, so under one job.
  const firstJob = randomUUID();
  const deliveryIds = [randomUUID(), randomUUID()];
  await app.database.db.transaction(async (transaction) => {
    const pushes = ['v1.3.0', 'v1.3.1'].map((name, index) => {
      const [, push] = tagPushed(app.repo, name, app.repository.addTag({ name }).sha);
      return storedPush(app.repo, deliveryIds[index]!, JSON.stringify(push!.payload));
    });
    await storeUnderJob(transaction, pushes, firstJob);
    await app.workerBoss.insert(QUEUES.processDelivery, [{ id: firstJob, data: deliveryJobData(deliveryIds) }], { db: bossDatabase(transaction) });
  });
  const deadline = Date.now() + 20_000;
  let after = await Promise.all(deliveryIds.map((deliveryId) => state(app, deliveryId)));
  while (after.some((row) => row.jobId === firstJob) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await Promise.all(deliveryIds.map((deliveryId) => state(app, deliveryId)));
  }
  for (const row of after) {
    assert.is(row.status, 'queued');
    assert.match(row.error ?? '', /rate limit spent until/);
    assert.is.not(row.jobId, firstJob);
  }
  assert.is(after[0]!.jobId, after[1]!.jobId, 'one job for the deliveries one reset deferred');
  const job = await app.database.db.one(sql.type(z.object({ startAfter: z.date(), state: z.string(), data: z.unknown() }))`
    SELECT start_after AS "startAfter", state::text, data FROM pgboss.job WHERE id = ${after[0]!.jobId!}::uuid`);
  assert.is(job.state, 'created');
  assert.is(job.startAfter.getTime(), resetAt.getTime(), 'starts at the reset');
  assert.equal([...(job.data as { deliveryIds: string[] }).deliveryIds].sort(), [...deliveryIds].sort());
  const old = await app.database.db.one(sql.type(z.object({ state: z.string(), output: z.unknown() }))`
    SELECT state::text, output FROM pgboss.job WHERE id = ${firstJob}::uuid`);
  assert.is(old.state, 'completed');
  assert.equal(old.output, { processed: 0, ignored: 0, deferred: 2, failed: 0, deferredUntil: resetAt.toISOString() });
});

failures.run();
