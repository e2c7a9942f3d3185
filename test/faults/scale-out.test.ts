import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { QUEUES } from '../../src/queues.ts';
import { assertAcceptedProcessed, assertNoJobLeft, jobCounts, waitUntilSettled } from './support/delivery-checks.ts';
import { sendDeliveries } from './support/delivery-sender.ts';
import { processOutput, startFaultStack, type ApiProcess, type WorkerProcess } from './support/fault-stack.ts';
import { deliveriesForChanges } from '../support/github-changes.ts';
import { assertMatchesFullSync } from './support/ground-truth.ts';

// Scenario 6. Two API and three worker processes on one database take scenario 1's load (2,000
// deliveries, spread over both APIs) while every worker ticks the sync schedule (every 5 s here).
// The replicas end in the same state a full sync writes, each scheduled tick enqueued one sync per
// product however many replicas ticked, and no job (delivery or sync) was processed twice.

const PRODUCTS = [
  { name: 'widget', repository: 'acme/widget' },
  { name: 'big', repository: 'acme/big' },
  { name: 'helm', repository: 'helm/helm' },
];

const slotJobs = z.object({ product: z.string(), slot: z.string(), jobs: z.number(), retries: z.number() });
const retried = z.object({ name: z.string(), retried: z.number() });
const claims = z.object({ claimedTwice: z.number(), processed: z.number() });

test('2 APIs and 3 workers: 2,000 deliveries and scheduled ticks, one sync per product per tick, no job twice, the state of a full sync', async () => {
  const stack = await startFaultStack({ label: 'faults_scale_out', products: PRODUCTS, env: { SYNC_SCHEDULE: '*/5 * * * * *' } });
  try {
    const { fake, db } = stack;
    const widget = fake.addRepository({ owner: 'acme', name: 'widget' });
    fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 2_000, releases: 300 });
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    const deliveries = deliveriesForChanges(widget, 2_000, { seed: 66 });

    const apis: ApiProcess[] = [await stack.startApi(), await stack.startApi()];
    const workers: WorkerProcess[] = [];
    for (let index = 0; index < 3; index += 1) workers.push(await stack.startWorker());
    const sender = sendDeliveries(deliveries, { urls: () => apis.map((api) => api.url), concurrency: 16 });
    const report = await sender.done;
    assert.equal(report.unexpected, []);
    assert.is(report.accepted.size, deliveries.length);
    assert.equal([...report.failedAttempts.keys()], [], 'no attempt failed: nothing was killed');
    await waitUntilSettled(stack, [...report.accepted.keys()]);

    // Two ticks whose syncs all finished, then the workers stop (a later tick finds nothing to change).
    const scheduled = async () =>
      db.any(sql.type(slotJobs)`
        SELECT data ->> 'product' AS product, data ->> 'slot' AS slot, count(*)::int AS jobs, max(retry_count)::int AS retries
        FROM pgboss.job WHERE name = ${QUEUES.syncProduct} AND data ->> 'reason' = 'schedule'
        GROUP BY 1, 2 ORDER BY 2, 1`);
    for (const deadline = Date.now() + 60_000; ; ) {
      const counts = await jobCounts(db);
      const slots = new Set((await scheduled()).map((row) => row.slot));
      const running = Object.entries(counts).some(([key, count]) => key.startsWith(QUEUES.syncProduct) && !key.endsWith('completed') && count > 0);
      if (slots.size >= 2 && !running) break;
      if (Date.now() > deadline) throw new Error(`two scheduled ticks never finished: ${JSON.stringify(counts)}, slots ${[...slots].join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    for (const worker of workers) worker.process.signal('SIGTERM');
    for (const worker of workers) assert.is((await worker.process.exitWithin(10_000))?.code, 0, worker.process.output());

    const rows = await scheduled();
    const slots = [...new Set(rows.map((row) => row.slot))];
    process.stdout.write(`# ${slots.length} scheduled ticks: ${JSON.stringify(rows.map((row) => `${row.slot.slice(11, 19)} ${row.product}`))}; jobs ${JSON.stringify(await jobCounts(db))}\n`);
    assert.ok(slots.length >= 2, 'at least two ticks enqueued syncs');
    assert.equal(rows.filter((row) => row.jobs !== 1), [], 'one sync per product per tick, however many workers ticked');
    for (const product of PRODUCTS) assert.ok(rows.some((row) => row.product === product.name), `${product.name} was synced on schedule`);

    const retriedJobs = await db.any(sql.type(retried)`
      SELECT name, count(*)::int AS retried FROM pgboss.job
      WHERE name = ANY(${sql.array(Object.values(QUEUES), 'text')}) AND retry_count > 0 GROUP BY name`);
    assert.equal(retriedJobs, [], 'no job was run a second time');
    const deliveryClaims = await db.one(sql.type(claims)`
      SELECT count(*) FILTER (WHERE attempts > 1)::int AS "claimedTwice", count(*) FILTER (WHERE status = 'processed')::int AS processed FROM webhook_deliveries`);
    assert.is(deliveryClaims.claimedTwice, 0, 'no delivery was claimed by two workers or twice by one');
    assert.ok(deliveryClaims.processed > 1_000);

    await assertAcceptedProcessed(db, report.accepted);
    await assertNoJobLeft(db);
    for (const product of PRODUCTS) await assertMatchesFullSync(db, fake, product);
  } catch (error) {
    process.stdout.write(processOutput(stack, 2_000));
    throw error;
  } finally {
    await stack.close();
  }
});

test.run();
