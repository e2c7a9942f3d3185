import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { DeliveryCommitter, type CommitOutcome } from '../api/webhooks/delivery-committer.ts';
import { listProducts, recordRepositoryIdentity, syncProductDefinitions } from '../src/db/products.ts';
import { storeDeliveries, type NewDelivery } from '../src/db/webhook-deliveries.ts';
import { enqueueStoredDeliveries, SWEEP_SIZE } from '../src/webhooks/enqueue-stored-deliveries.ts';
import { InvalidInputError } from '../src/errors.ts';
import { createBoss, installQueues } from '../src/queues.ts';
import type { PgBoss } from 'pg-boss';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { fixturePayload, TRACKED_REPOSITORY, trackedReleaseDelivery, widgetProduct } from './support/webhooks.ts';

// Group commit: deliveries that arrive while a commit is under way share the next transaction, the
// worker's enqueuer gives the stored ones their job (rows and job in one transaction), and one
// payload PostgreSQL refuses does not fail the deliveries batched with it.

const groupCommit = suite<{ database: TestDatabase; boss: PgBoss; productId: number }>('webhook group commit', {} as never);

groupCommit.before(async (context) => {
  context.database = await createTestDatabase({ label: 'group_commit' });
  await installQueues(context.database.url, quietLogger);
  context.boss = createBoss(context.database.url, { logger: quietLogger, applicationName: 'test', maxConnections: 2 });
  await context.boss.start();
  const [product] = await syncProductDefinitions(context.database.db, [widgetProduct()]);
  context.productId = product!.id;
});

groupCommit.after(async (context) => {
  await context.boss.stop({ graceful: false, close: true });
  await context.database.drop();
});

function delivery(payload: unknown = fixturePayload('release/published', { repository: TRACKED_REPOSITORY }), deliveryId = randomUUID()): NewDelivery {
  return trackedReleaseDelivery(Buffer.from(JSON.stringify(payload)), deliveryId);
}

const transactionRow = z.object({
  deliveryId: z.string(),
  deliveryXid: z.string(),
  jobId: z.string().nullable(),
  jobXid: z.string().nullable(),
  jobDeliveryIds: z.array(z.string()).nullable(),
});

/** The transaction (xmin) that wrote each delivery, its job, the transaction that wrote the job and the deliveries the job names. */
async function transactionsOf(database: TestDatabase, deliveryIds: string[]) {
  return database.db.any(sql.type(transactionRow)`
    SELECT d.delivery_id AS "deliveryId", d.xmin::text AS "deliveryXid", d.job_id::text AS "jobId", j.xmin::text AS "jobXid",
           ARRAY(SELECT jsonb_array_elements_text(j.data -> 'deliveryIds')) AS "jobDeliveryIds"
    FROM webhook_deliveries d LEFT JOIN pgboss.job j ON j.id = d.job_id
    WHERE d.delivery_id = ANY(${sql.array(deliveryIds, 'text')})`);
}

groupCommit('deliveries arriving during a commit share the next transaction; the enqueuer gives them one job', async ({ database, boss, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 2 });
  const deliveries = Array.from({ length: 20 }, () => delivery());
  // All 20 arrive in one tick: the first two start a transaction each (two may be in flight), the
  // other 18 wait and go together in one transaction once one of the first two finishes.
  const results = await Promise.all(deliveries.map((item) => committer.commit(item)));
  const queued: CommitOutcome = { stored: true, status: 'queued', productIds: [productId] };
  assert.equal(results, Array(20).fill(queued));
  const ids = deliveries.map((item) => item.deliveryId);
  const stored = await transactionsOf(database, ids);
  assert.is(stored.length, 20);
  assert.equal(
    [...Map.groupBy(stored, (row) => row.deliveryXid).values()].map((rows) => rows.length).sort((a, b) => a - b),
    [1, 1, 18],
    'three transactions for twenty deliveries',
  );
  assert.ok(
    stored.every((row) => row.jobId === null),
    'stored without a job: the worker enqueues it',
  );

  assert.is(await enqueueStoredDeliveries(database.db, boss), 20);
  assert.is(await enqueueStoredDeliveries(database.db, boss), 0, 'nothing is enqueued twice');
  const rows = await transactionsOf(database, ids);
  assert.is(new Set(rows.map((row) => row.jobId)).size, 1, 'one job for the twenty');
  for (const row of rows) assert.is(row.jobXid, row.deliveryXid, `${row.deliveryId} was given its job in the job's transaction`);
  assert.equal([...(rows[0]!.jobDeliveryIds ?? [])].sort(), [...ids].sort(), 'the job names exactly those deliveries');
});

groupCommit('one sweep gives a backlog jobs of at most 100 deliveries, oldest first, all in one transaction', async ({ database, boss }) => {
  const from = Date.now() - 60_000;
  // Received one millisecond apart, 760 of them: more than one sweep's 500.
  const backlog = Array.from({ length: 760 }, (_, index) => ({ ...delivery(), receivedAt: new Date(from + index) }));
  await storeDeliveries(database.db, backlog);
  const ids = backlog.map((item) => item.deliveryId);

  assert.is(await enqueueStoredDeliveries(database.db, boss), SWEEP_SIZE);
  let rows = await transactionsOf(database, ids);
  const given = rows.filter((row) => row.jobId !== null);
  assert.is(given.length, 500);
  assert.is(new Set(given.map((row) => row.jobXid)).size, 1, 'the five jobs and their rows in one transaction');
  const jobOf = new Map(rows.map((row) => [row.deliveryId, row.jobId]));
  // The oldest 500, in order of receipt: the first hundred share the first job, and so on.
  const jobsInOrder = ids.slice(0, 500).map((id) => jobOf.get(id));
  assert.is(new Set(jobsInOrder).size, 5);
  for (let job = 0; job < 5; job += 1) {
    const part = jobsInOrder.slice(job * 100, job * 100 + 100);
    assert.is(new Set(part).size, 1, `deliveries ${job * 100} to ${job * 100 + 99} share a job`);
    const named = given.find((row) => row.jobId === part[0])!.jobDeliveryIds ?? [];
    assert.equal([...named].sort(), [...ids.slice(job * 100, job * 100 + 100)].sort(), 'the job names exactly those');
  }
  assert.ok(ids.slice(500).every((id) => jobOf.get(id) === null), 'the newer ones wait for the next sweep');

  assert.is(await enqueueStoredDeliveries(database.db, boss), 260);
  rows = await transactionsOf(database, ids.slice(500));
  const sizes = [...Map.groupBy(rows, (row) => row.jobId).values()].map((part) => part.length).sort((a, b) => b - a);
  assert.equal(sizes, [100, 100, 60], 'a partial sweep: jobs of 100 and the rest');
  assert.is(await enqueueStoredDeliveries(database.db, boss), 0);
});

groupCommit('the same delivery id twice in one batch is stored once and answered duplicate the second time', async ({ database, boss, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 1 });
  const first = delivery();
  const results = await Promise.all([committer.commit(delivery()), committer.commit(first), committer.commit({ ...first })]);
  const queued: CommitOutcome = { stored: true, status: 'queued', productIds: [productId] };
  assert.equal(results, [queued, queued, { stored: false }]);
  await enqueueStoredDeliveries(database.db, boss);
  const rows = await transactionsOf(database, [first.deliveryId]);
  assert.is(rows.length, 1);
  assert.ok(rows[0]?.jobXid, 'one job, the first one');
  const jobs = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'process-delivery' AND data -> 'deliveryIds' ? ${first.deliveryId}`);
  assert.is(jobs, 1);
  assert.equal(await committer.commit({ ...first }), { stored: false });
});

groupCommit('deliveries are matched to products by the statement that stores them', async ({ database, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 1 });
  const results = await Promise.all([
    committer.commit(delivery()),
    committer.commit(delivery()),
    committer.commit({ ...delivery(), repositoryId: 9_999, repositoryFullName: 'someone/else' }),
    committer.commit({ ...delivery(), ignoredReason: 'ping' }),
  ]);
  assert.equal(results, [
    { stored: true, status: 'queued', productIds: [productId] },
    { stored: true, status: 'queued', productIds: [productId] },
    { stored: true, status: 'ignored', reason: 'repository someone/else (id 9999) is not a tracked product' },
    { stored: true, status: 'ignored', reason: 'ping' },
  ]);
});

groupCommit('the match: GitHub id first, then the configured or last known name', async ({ database }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 1 });
  const db = database.db;
  await syncProductDefinitions(db, [
    widgetProduct(),
    widgetProduct({ name: 'widget-docs', repository: 'Acme/Widget' }),
    widgetProduct({ name: 'gizmo', repository: 'acme/gizmo' }),
    widgetProduct({ name: 'old', repository: 'acme/old' }),
  ]);
  const products = new Map((await listProducts(db, { includeUntracked: true })).map((product) => [product.name, product.id]));
  // gizmo's repository was renamed: GitHub's id and the new name are known.
  await recordRepositoryIdentity(db, [products.get('gizmo')!], { id: 8_001, fullName: 'acme/gizmo-next' });
  await syncProductDefinitions(db, [widgetProduct(), widgetProduct({ name: 'widget-docs', repository: 'Acme/Widget' }), widgetProduct({ name: 'gizmo', repository: 'acme/gizmo' })]);
  const repositories = [
    { id: TRACKED_REPOSITORY.id, fullName: 'ACME/widget' },
    { id: 8_001, fullName: 'someone/gizmo-transferred' },
    { id: 8_002, fullName: 'acme/gizmo' },
    { id: 8_003, fullName: 'acme/gizmo-next' },
    { id: 8_004, fullName: 'acme/old' },
    { id: 8_005, fullName: 'acme/none' },
  ];
  const results = await Promise.all(
    repositories.map((repository) => committer.commit({ ...delivery(), repositoryId: repository.id, repositoryFullName: repository.fullName })),
  );
  const expected = [[products.get('widget')!, products.get('widget-docs')!], [products.get('gizmo')!], [], [], [], []];
  for (const [index, repository] of repositories.entries()) {
    const result = results[index]!;
    assert.ok(result.stored);
    assert.equal(result.status === 'queued' ? result.productIds : [], expected[index], repository.fullName);
  }
  assert.equal(
    results.map((result) => (result.stored && result.status === 'queued' ? result.productIds.length : 0)),
    [2, 1, 0, 0, 0, 0],
    'both products of acme/widget (any case); gizmo by its id only; nothing for an untracked product',
  );
  await syncProductDefinitions(db, [widgetProduct()]);
});

groupCommit('a payload with what jsonb refuses (a \\u0000 escape, a lone surrogate) is stored as sent, in the same batch', async ({ database }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 1 });
  const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY });
  (payload.release as Record<string, unknown>).body = 'nul \u0000 here, lone \ud800 surrogate';
  const unusual = delivery(payload);
  const others = Array.from({ length: 5 }, () => delivery());
  const results = await Promise.all([committer.commit(delivery()), committer.commit(others[0]!), committer.commit(unusual), ...others.slice(1).map((item) => committer.commit(item))]);
  assert.ok(results.every((result) => result.stored));
  const rows = await transactionsOf(database, [unusual.deliveryId, ...others.map((item) => item.deliveryId)]);
  assert.is(rows.length, 6);
  assert.is(new Set(rows.map((row) => row.deliveryXid)).size, 1, 'one transaction for the six that waited');
  const stored = await database.db.oneFirst(sql.type(z.object({ payload: z.string() }))`
    SELECT payload FROM webhook_deliveries WHERE delivery_id = ${unusual.deliveryId}`);
  assert.is(stored, unusual.payload.toString('utf8'), 'byte for byte');
});

groupCommit('when the database refuses a batch for another reason, every caller of the batch gets the error and nothing is stored', async ({ database }) => {
  const committer = new DeliveryCommitter({ db: database.db, logger: quietLogger, maxInFlight: 1 });
  const broken = delivery();
  // A delivery id no btree index row can hold (incompressible, over 2.7 kB) fails the whole
  // statement with program_limit_exceeded, which is not the payload's fault.
  const tooLong = { ...delivery(), deliveryId: randomBytes(6000).toString('hex') };
  const outcomes = await Promise.allSettled([committer.commit(delivery()), committer.commit(broken), committer.commit(tooLong)]);
  assert.is(outcomes[0]?.status, 'fulfilled');
  for (const outcome of outcomes.slice(1)) {
    assert.is(outcome.status, 'rejected');
    const reason = (outcome as PromiseRejectedResult).reason as Error;
    assert.match(String(reason.cause ?? reason), /index row requires \d+ bytes/, String(reason));
    assert.not.instance(reason, InvalidInputError);
  }
  assert.is((await transactionsOf(database, [broken.deliveryId])).length, 0, 'the batch rolled back as a whole');
});

groupCommit.run();
