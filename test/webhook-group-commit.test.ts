import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { DeliveryCommitter, type CommitOutcome, type IncomingDelivery } from '../api/webhooks/delivery-committer.ts';
import { syncProductDefinitions } from '../src/db/products.ts';
import { InvalidInputError } from '../src/errors.ts';
import { createBoss, installQueues } from '../src/queues.ts';
import type { PgBoss } from 'pg-boss';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { fixturePayload, TRACKED_REPOSITORY, widgetProduct } from './support/webhooks.ts';

// Group commit: deliveries that arrive while a commit is under way share the next transaction, each
// delivery commits in the same transaction as its job, and one payload PostgreSQL refuses does not
// fail the deliveries batched with it.

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

function delivery(payload: unknown = fixturePayload('release/published', { repository: TRACKED_REPOSITORY }), deliveryId = randomUUID()): IncomingDelivery {
  return {
    deliveryId,
    event: 'release',
    action: 'published',
    repositoryId: TRACKED_REPOSITORY.id,
    repositoryFullName: TRACKED_REPOSITORY.fullName,
    hookId: 1,
    payloadJson: JSON.stringify(payload),
    headers: { 'x-github-event': 'release', 'x-github-delivery': deliveryId },
    receivedAt: new Date(),
    disposition: { kind: 'match', repository: TRACKED_REPOSITORY },
  };
}

const transactionRow = z.object({ deliveryId: z.string(), deliveryXid: z.string(), jobXid: z.string().nullable() });

/** The transaction (xmin) that wrote each delivery and the one that wrote its job. */
async function transactionsOf(database: TestDatabase, deliveryIds: string[]) {
  return database.db.any(sql.type(transactionRow)`
    SELECT d.delivery_id AS "deliveryId", d.xmin::text AS "deliveryXid", j.xmin::text AS "jobXid"
    FROM webhook_deliveries d LEFT JOIN pgboss.job j ON j.id = d.job_id
    WHERE d.delivery_id = ANY(${sql.array(deliveryIds, 'text')})`);
}

groupCommit('deliveries arriving during a commit share the next transaction, each with its job', async ({ database, boss, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, boss, logger: quietLogger, maxInFlight: 2 });
  const deliveries = Array.from({ length: 20 }, () => delivery());
  // All 20 arrive in one tick: the first two start a transaction each (two may be in flight), the
  // other 18 wait and go together in one transaction once one of the first two finishes.
  const results = await Promise.all(deliveries.map((item) => committer.commit(item)));
  const queued: CommitOutcome = { stored: true, status: 'queued', productIds: [productId] };
  assert.equal(results, Array(20).fill(queued));
  const rows = await transactionsOf(
    database,
    deliveries.map((item) => item.deliveryId),
  );
  assert.is(rows.length, 20);
  for (const row of rows) assert.is(row.jobXid, row.deliveryXid, `the job of ${row.deliveryId} committed with it`);
  assert.is(new Set(rows.map((row) => row.deliveryXid)).size, 3, 'three transactions for twenty deliveries');
});

groupCommit('the same delivery id twice in one batch is stored once and answered duplicate the second time', async ({ database, boss, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, boss, logger: quietLogger, maxInFlight: 1 });
  const first = delivery();
  const results = await Promise.all([committer.commit(delivery()), committer.commit(first), committer.commit({ ...first })]);
  const queued: CommitOutcome = { stored: true, status: 'queued', productIds: [productId] };
  assert.equal(results, [queued, queued, { stored: false }]);
  const rows = await transactionsOf(database, [first.deliveryId]);
  assert.is(rows.length, 1);
  assert.ok(rows[0]?.jobXid, 'one job, the first one');
  const jobs = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'process-delivery' AND data ->> 'deliveryId' = ${first.deliveryId}`);
  assert.is(jobs, 1);
  assert.equal(await committer.commit({ ...first }), { stored: false });
});

groupCommit('a batch is matched to products with one lookup per repository', async ({ database, boss, productId }) => {
  const committer = new DeliveryCommitter({ db: database.db, boss, logger: quietLogger, maxInFlight: 1 });
  const other = { id: 9_999, fullName: 'someone/else' };
  const results = await Promise.all([
    committer.commit(delivery()),
    committer.commit(delivery()),
    committer.commit({ ...delivery(), disposition: { kind: 'match', repository: other } }),
    committer.commit({ ...delivery(), disposition: { kind: 'ignored', reason: 'ping' } }),
  ]);
  assert.equal(results, [
    { stored: true, status: 'queued', productIds: [productId] },
    { stored: true, status: 'queued', productIds: [productId] },
    { stored: true, status: 'ignored', reason: 'repository someone/else (id 9999) is not a tracked product' },
    { stored: true, status: 'ignored', reason: 'ping' },
  ]);
});

groupCommit('a payload with what jsonb refuses (a \\u0000 escape, a lone surrogate) is stored as sent, in the same batch', async ({ database, boss }) => {
  const committer = new DeliveryCommitter({ db: database.db, boss, logger: quietLogger, maxInFlight: 1 });
  const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY });
  (payload.release as Record<string, unknown>).body = 'nul \u0000 here, lone \ud800 surrogate';
  const unusual = delivery(payload);
  const others = Array.from({ length: 5 }, () => delivery());
  const results = await Promise.all([committer.commit(delivery()), committer.commit(others[0]!), committer.commit(unusual), ...others.slice(1).map((item) => committer.commit(item))]);
  assert.ok(results.every((result) => result.stored));
  const rows = await transactionsOf(database, [unusual.deliveryId, ...others.map((item) => item.deliveryId)]);
  assert.is(rows.length, 6);
  assert.is(new Set(rows.map((row) => row.deliveryXid)).size, 1, 'one transaction for the six that waited');
  for (const row of rows) assert.is(row.jobXid, row.deliveryXid);
  const stored = await database.db.oneFirst(sql.type(z.object({ payload: z.string() }))`
    SELECT payload FROM webhook_deliveries WHERE delivery_id = ${unusual.deliveryId}`);
  assert.is(stored, unusual.payloadJson, 'byte for byte');
});

groupCommit('when the database refuses a batch for another reason, every caller of the batch gets the error and nothing is stored', async ({ database, boss }) => {
  const committer = new DeliveryCommitter({ db: database.db, boss, logger: quietLogger, maxInFlight: 1 });
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
