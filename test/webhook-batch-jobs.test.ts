import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { bossDatabase } from '../src/db/boss-database.ts';
import { GitHubUnavailableError } from '../src/errors.ts';
import { QUEUES } from '../src/queues.ts';
import { deliveryJobData } from '../src/webhooks/delivery-job.ts';
import { tagPushed, type Repo } from './support/github-events.ts';
import type { FakeRepository } from './support/fake-github/index.ts';
import { startFakeIngestion, type FakeIngestion } from './support/ingestion.ts';
import { releaseRows } from './support/release-rows.ts';
import { runCli } from './support/processes.ts';
import { storedPush, storeUnderJob, widgetProduct } from './support/webhooks.ts';
import { quietLogger } from './support/database.ts';
import { fakeClient } from './support/github.ts';
import { githubTagStateReader } from '../src/webhooks/tag-states.ts';
import { createDeliveryProcessor, type DeliveryJob } from '../workers/process-deliveries.ts';

// The intake stores a transaction's deliveries under one process-delivery job. Each delivery of a
// job still gets its own outcome: one that fails does not fail the others, a retry of the job
// works only what is not finished, the last attempt fails only what is left, and a job moved back
// from the dead-letter queue (`redrive`) works only the deliveries its first run failed.

type Context = {
  app: FakeIngestion;
  gadget: Repo;
  repositories: Map<string, FakeRepository>;
  /** `gadget`: how many of acme/gadget's next reads fail; `widgetRead`: which read of acme/widget fails (1 = the next). */
  failing: { gadget: number; widgetRead: number };
  /** How many tags each read of acme/widget asked for. */
  widgetReads: number[];
  productIds: Map<string, number>;
};
const batches = suite<Context>('webhook batch jobs', {} as never);

batches.before(async (context) => {
  context.failing = { gadget: 0, widgetRead: 0 };
  context.widgetReads = [];
  const { failing, widgetReads } = context;
  context.app = await startFakeIngestion({
    label: 'batch_jobs',
    products: [widgetProduct(), widgetProduct({ name: 'gadget', repository: 'acme/gadget' })],
    worker: { pollingIntervalSeconds: 0.5 },
    // GitHub away for acme/gadget only, while `failing.gadget` says so (the fake's faults cannot
    // tell repositories apart: one GraphQL endpoint serves them all).
    wrapReader: (reader) => async (repository, tags) => {
      if (repository.repo === 'gadget' && failing.gadget > 0) {
        failing.gadget -= 1;
        throw new GitHubUnavailableError('GitHub answered 502 (acme/gadget)', 502);
      }
      if (repository.repo === 'widget') {
        widgetReads.push(tags.length);
        if (failing.widgetRead > 0 && --failing.widgetRead === 0) throw new GitHubUnavailableError('GitHub answered 502 (acme/widget)', 502);
      }
      return reader(repository, tags);
    },
  });
  const gadget = context.app.fake.addRepository({ owner: 'acme', name: 'gadget' });
  context.gadget = { id: gadget.id, fullName: gadget.fullName };
  context.repositories = new Map([
    ['widget', context.app.repository],
    ['gadget', gadget],
  ]);
  const products = await context.app.database.db.any(sql.type(z.object({ id: z.number(), name: z.string() }))`SELECT id, name FROM products`);
  context.productIds = new Map(products.map((product) => [product.name, product.id]));
  // Retries come due at once, so the test does not wait out production's backoff.
  await context.app.workerBoss.updateQueue(QUEUES.processDelivery, { retryLimit: 2, retryDelay: 0, retryBackoff: false });
});

batches.after(async (context) => {
  await context.app.close();
});

type Pushed = { product: string; repo: Repo; tag: string; payload?: unknown };

/** Stores deliveries in one transaction under one job, as the intake stores a batch. */
async function storeBatch(context: Context, pushes: readonly Pushed[]): Promise<{ jobId: string; deliveryIds: string[] }> {
  const jobId = randomUUID();
  const receivedFrom = Date.now();
  const rows = pushes.map(({ product, repo, tag, payload }, index) => {
    const sha = context.repositories.get(product)!.addTag({ name: tag }).sha;
    const [, push] = tagPushed(repo, tag, sha);
    // Received one millisecond apart, in the order given.
    return { ...storedPush(repo, randomUUID(), JSON.stringify(payload ?? push!.payload)), receivedAt: new Date(receivedFrom + index) };
  });
  await context.app.database.db.transaction(async (transaction) => {
    const stored = await storeUnderJob(transaction, rows, jobId);
    assert.ok([...stored.values()].every((outcome) => outcome.status === 'queued'));
    await context.app.workerBoss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData(rows.map((row) => row.deliveryId)) }], { db: bossDatabase(transaction) });
  });
  return { jobId, deliveryIds: rows.map((row) => row.deliveryId) };
}

const deliveryState = z.object({ deliveryId: z.string(), status: z.string(), attempts: z.number(), error: z.string().nullable() });

async function states(app: FakeIngestion, deliveryIds: readonly string[]) {
  const rows = await app.database.db.any(sql.type(deliveryState)`
    SELECT delivery_id AS "deliveryId", status, attempts, error FROM webhook_deliveries
    WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')})`);
  return deliveryIds.map((deliveryId) => rows.find((row) => row.deliveryId === deliveryId)!);
}

const jobRow = z.object({ state: z.string(), retryCount: z.number(), output: z.unknown() });

async function job(app: FakeIngestion, jobId: string) {
  return app.database.db.maybeOne(sql.type(jobRow)`
    SELECT state::text, retry_count AS "retryCount", output FROM pgboss.job WHERE name = ${QUEUES.processDelivery} AND id = ${jobId}::uuid`);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function hasRelease(app: FakeIngestion, product: string, tag: string): Promise<boolean> {
  return (await releaseRows(app.database.db, product)).some((row) => row.tag === tag && !row.deleted);
}

batches('a delivery failing inside a batch does not fail the others; the retry works only that one', async (context) => {
  const { app } = context;
  context.failing.gadget = 1;
  const batch = await storeBatch(context, [
    { product: 'widget', repo: app.repo, tag: 'v1.0.0' },
    { product: 'gadget', repo: context.gadget, tag: 'v1.0.0' },
    { product: 'widget', repo: app.repo, tag: 'v1.0.1' },
  ]);
  await app.settled(batch.deliveryIds);
  const [first, gadget, second] = await states(app, batch.deliveryIds);
  assert.equal([first?.status, gadget?.status, second?.status], ['processed', 'processed', 'processed']);
  assert.is(first?.attempts, 1, 'worked once: the retry left it alone');
  assert.is(second?.attempts, 1);
  assert.is(gadget?.attempts, 2, 'failed once, then worked by the retry');
  assert.is(context.failing.gadget, 0);
  await until(async () => (await job(app, batch.jobId))?.state === 'completed', 'the job completes');
  assert.is((await job(app, batch.jobId))?.retryCount, 1, 'one retry of the job');
  assert.ok(await hasRelease(app, 'widget', 'v1.0.1'));
});

batches('the last attempt fails only what is left; redrive moves the job back and it works only those', async (context) => {
  const { app } = context;
  context.failing.gadget = Number.POSITIVE_INFINITY;
  const batch = await storeBatch(context, [
    { product: 'gadget', repo: context.gadget, tag: 'v2.0.0' },
    { product: 'widget', repo: app.repo, tag: 'v2.0.0' },
  ]);
  await app.settled(batch.deliveryIds);
  const [gadget, widget] = await states(app, batch.deliveryIds);
  assert.is(widget?.status, 'processed');
  assert.is(widget?.attempts, 1);
  assert.is(gadget?.status, 'failed');
  assert.is(gadget?.attempts, 3, 'the first attempt and two retries');
  assert.match(gadget?.error ?? '', /502/);
  await until(async () => (await job(app, batch.jobId))?.state === 'failed', 'the job has failed');
  const failedJob = await job(app, batch.jobId);
  assert.match(JSON.stringify(failedJob?.output), new RegExp(gadget!.deliveryId), 'its output names the delivery that failed');
  const dead = () =>
    app.database.db.anyFirst(sql.type(z.object({ id: z.string() }))`
      SELECT id::text FROM pgboss.job WHERE name = ${QUEUES.processDeliveryDead} AND data -> 'deliveryIds' ? ${gadget!.deliveryId}`);
  await until(async () => (await dead()).length === 1, 'the job waits in the dead-letter queue');

  context.failing.gadget = 0;
  const redrive = await runCli(['redrive', QUEUES.processDelivery], { DATABASE_URL: app.database.url, LOG_LEVEL: 'silent' });
  assert.is(redrive.code, 0, redrive.stderr);
  assert.match(redrive.stdout, /^moved 1 job/);
  await until(async () => (await states(app, [gadget!.deliveryId]))[0]?.status === 'processed', 'the redriven job processes the failed delivery');
  const [gadgetAfter, widgetAfter] = await states(app, batch.deliveryIds);
  assert.is(gadgetAfter?.attempts, 4);
  assert.is(gadgetAfter?.error, null);
  assert.is(widgetAfter?.attempts, 1, 'what the first run processed is not worked again');
  assert.ok(await hasRelease(app, 'gadget', 'v2.0.0'));
});

batches("a burst for one product is worked one GraphQL query's worth of tags per hold of its lock; a failed read fails only its own deliveries", async (context) => {
  const { app } = context;
  // 250 tags, so three holds (100, 100, 50); the second hold's read fails once.
  const pushes = Array.from({ length: 250 }, (_, index) => ({ product: 'widget', repo: app.repo, tag: `v9.${Math.floor(index / 100)}.${index % 100}` }));
  const batch = await storeBatch(context, pushes);
  context.widgetReads.length = 0;
  context.failing.widgetRead = 2;
  await app.settled(batch.deliveryIds, 60_000);
  assert.equal(context.widgetReads, [100, 100, 50, 100], 'the retry reads only the hold that failed');
  const after = await states(app, batch.deliveryIds);
  assert.ok(after.every((delivery) => delivery?.status === 'processed'));
  const attempts = after.map((delivery) => delivery!.attempts);
  // Received in order, so the failed hold held the deliveries of v9.1.*.
  assert.equal(attempts.slice(0, 100), Array(100).fill(1));
  assert.equal(attempts.slice(100, 200), Array(100).fill(2), 'only the failed hold was worked again');
  assert.equal(attempts.slice(200), Array(50).fill(1));
  const rows = await releaseRows(app.database.db, 'widget');
  for (const { tag } of pushes) assert.ok(rows.some((row) => row.tag === tag && !row.deleted), tag);
});

batches('a delivery that can never be processed dead-letters its job at once; the rest of the batch is processed', async (context) => {
  const { app } = context;
  const batch = await storeBatch(context, [
    { product: 'widget', repo: app.repo, tag: 'v3.0.0' },
    { product: 'widget', repo: app.repo, tag: 'v3.0.1', payload: { ref: 'refs/tags/v3.0.1' } },
  ]);
  await app.settled(batch.deliveryIds);
  const [good, broken] = await states(app, batch.deliveryIds);
  assert.is(good?.status, 'processed');
  assert.is(broken?.status, 'failed');
  assert.is(broken?.attempts, 1, 'not retried');
  assert.match(broken?.error ?? '', /the stored payload cannot be processed/);
  await until(async () => (await job(app, batch.jobId))?.state === 'failed', 'the job has failed');
  assert.is((await job(app, batch.jobId))?.retryCount, 0, 'dead-lettered without retries');
});

batches('a delivery that names another job (replayed or deferred meanwhile) is left to that job', async (context) => {
  const { app } = context;
  // Stored under a job that is not enqueued yet; another job names it too.
  const owned = await storeBatchWithoutJob(context, { product: 'widget', repo: app.repo, tag: 'v4.0.0' });
  const stranger = randomUUID();
  await app.workerBoss.insert(QUEUES.processDelivery, [{ id: stranger, data: deliveryJobData([owned.deliveryId]) }]);
  await until(async () => (await job(app, stranger))?.state === 'completed', 'the other job completes');
  const [untouched] = await states(app, [owned.deliveryId]);
  assert.is(untouched?.status, 'queued');
  assert.is(untouched?.attempts, 0, 'the other job did not work it');
  assert.equal((await job(app, stranger))?.output, { processed: 0, ignored: 0, deferred: 0, failed: 0 });
  await app.workerBoss.insert(QUEUES.processDelivery, [{ id: owned.jobId, data: deliveryJobData([owned.deliveryId]) }]);
  await app.settled([owned.deliveryId]);
  assert.is((await states(app, [owned.deliveryId]))[0]?.attempts, 1, 'its own job worked it');
});

batches('two jobs of one batch naming the same delivery: the one it names works it, the other leaves it', async (context) => {
  const { app } = context;
  const owned = await storeBatchWithoutJob(context, { product: 'widget', repo: app.repo, tag: 'v4.1.0' });
  const processor = createDeliveryProcessor({
    db: app.database.db,
    boss: app.workerBoss,
    logger: quietLogger,
    readTagStates: githubTagStateReader(fakeClient(app.fake)),
  });
  const job = (id: string) => ({ id, data: deliveryJobData([owned.deliveryId]), retryCount: 0, retryLimit: 2, sourceRootId: null }) as unknown as DeliveryJob;
  const stranger = randomUUID();
  // The stranger first: the delivery must still go to its own job, not to the first that names it.
  const results = await processor([job(stranger), job(owned.jobId)]);
  assert.equal(results, [
    { id: stranger, status: 'completed', output: { processed: 0, ignored: 0, deferred: 0, failed: 0 } },
    { id: owned.jobId, status: 'completed', output: { processed: 1, ignored: 0, deferred: 0, failed: 0 } },
  ]);
  const [after] = await states(app, [owned.deliveryId]);
  assert.is(after?.status, 'processed');
  assert.is(after?.attempts, 1);
  assert.ok(await hasRelease(app, 'widget', 'v4.1.0'));
});

batches('a job enqueued before batching ({ deliveryId }) is still worked', async (context) => {
  const { app } = context;
  const owned = await storeBatchWithoutJob(context, { product: 'widget', repo: app.repo, tag: 'v5.0.0' });
  await app.workerBoss.insert(QUEUES.processDelivery, [{ id: owned.jobId, data: { deliveryId: owned.deliveryId } }]);
  await app.settled([owned.deliveryId]);
  assert.is((await states(app, [owned.deliveryId]))[0]?.status, 'processed');
  assert.ok(await hasRelease(app, 'widget', 'v5.0.0'));
});

batches('a job pg-boss aborts stops before its next product; the rest is queued for its retry', async (context) => {
  const { app } = context;
  const jobId = randomUUID();
  const receivedFrom = Date.now();
  const pushes = [
    { product: 'widget', repo: app.repo, tag: 'v6.0.0' },
    { product: 'gadget', repo: context.gadget, tag: 'v6.0.0' },
  ];
  const rows = pushes.map(({ product, repo, tag }, index) => {
    const sha = context.repositories.get(product)!.addTag({ name: tag }).sha;
    const [, push] = tagPushed(repo, tag, sha);
    return { ...storedPush(repo, randomUUID(), JSON.stringify(push!.payload)), receivedAt: new Date(receivedFrom + index) };
  });
  await storeUnderJob(app.database.db, rows, jobId);
  const [widgetDelivery, gadgetDelivery] = rows.map((row) => row.deliveryId) as [string, string];
  // pg-boss aborts the signal when the job's expiry passes or its claim is lost: here, during the first product.
  const aborted = new AbortController();
  const read: string[] = [];
  const reader = githubTagStateReader(fakeClient(app.fake));
  const processor = createDeliveryProcessor({
    db: app.database.db,
    boss: app.workerBoss,
    logger: quietLogger,
    readTagStates: async (repository, tags) => {
      read.push(repository.repo);
      aborted.abort();
      return reader(repository, tags);
    },
  });
  const job = { id: jobId, data: deliveryJobData([widgetDelivery, gadgetDelivery]), retryCount: 0, retryLimit: 2, sourceRootId: null, signal: aborted.signal } as unknown as DeliveryJob;
  const [result] = await processor([job]);
  assert.equal(read, ['widget'], 'GitHub is not asked for the next product');
  assert.is(result?.status, 'failed', 'failed, for pg-boss to retry');
  assert.equal((result?.output as { processed: number; failed: number }).processed, 1);
  assert.equal((result?.output as { processed: number; failed: number }).failed, 1);
  const [widget, gadget] = await states(app, [widgetDelivery, gadgetDelivery]);
  assert.is(widget?.status, 'processed', 'the product worked before the abort');
  assert.is(gadget?.status, 'queued', 'left for the retry to claim');
  assert.ok(await hasRelease(app, 'widget', 'v6.0.0'));
  assert.not.ok(await hasRelease(app, 'gadget', 'v6.0.0'));
});

/** One delivery stored under a job id that is not enqueued. */
async function storeBatchWithoutJob(context: Context, push: Pushed): Promise<{ jobId: string; deliveryId: string }> {
  const jobId = randomUUID();
  const deliveryId = randomUUID();
  const sha = context.repositories.get(push.product)!.addTag({ name: push.tag }).sha;
  const [, payload] = tagPushed(push.repo, push.tag, sha);
  const stored = await storeUnderJob(
    context.app.database.db,
    [storedPush(push.repo, deliveryId, JSON.stringify(payload!.payload))],
    jobId,
  );
  assert.equal(stored.get(deliveryId), { status: 'queued', productIds: [context.productIds.get(push.product)!] });
  return { jobId, deliveryId };
}

batches.run();
