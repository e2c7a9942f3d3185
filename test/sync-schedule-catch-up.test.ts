import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { createBoss, installQueues, QUEUES } from '../src/queues.ts';
import { startSyncSchedule } from '../src/sync/sync-schedule.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { defineProducts } from './support/sync.ts';

// node-cron skips a tick more than its tolerance late and never runs past ones, so a tick due while
// every worker was down would wait a whole further period. A starting worker ticks the schedule's
// last slot before now: it enqueues that tick's syncs unless some replica claimed the slot already.

type Context = { database: TestDatabase; boss: PgBoss };
const catchUp = suite<Context>('sync schedule catch-up', {} as never);

// Yearly: it never fires during the test, and its last slot is the start of this year (local time).
const YEARLY = '0 0 1 1 *';
const lastYearlySlot = () => new Date(new Date().getFullYear(), 0, 1);

catchUp.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_schedule_catch_up' });
  await defineProducts(context.database.db, [
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
    { name: 'helm', repository: 'helm/helm' },
  ]);
  // Both last synced before the slot (the last test: a product synced since, or never).
  await context.database.db.query(sql.unsafe`
    INSERT INTO sync_state (product_id, last_success_at, last_outcome)
    SELECT id, ${lastYearlySlot().toISOString()}::timestamptz - interval '1 day', 'succeeded' FROM products`);
  await installQueues(context.database.url, quietLogger);
  context.boss = createBoss(context.database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 4, supervise: false });
  await context.boss.start();
});

catchUp.after(async ({ database, boss }) => {
  await boss.stop({ graceful: false, close: true });
  await database.drop();
});

const jobsOf = async (boss: PgBoss) => (await boss.findJobs(QUEUES.syncProduct, { limit: 100 })) as Array<JobWithMetadata<{ product: string; reason: string; slot?: string }>>;

async function startReplica({ database, boss }: Context): Promise<string[]> {
  const scheduler = startSyncSchedule({ db: database.db, boss, logger: quietLogger, schedule: YEARLY });
  try {
    return await scheduler.caughtUp;
  } finally {
    await scheduler.stop();
  }
}

catchUp('the last slot claimed already (a replica ticked it): a starting worker enqueues nothing', async (context) => {
  await context.database.db.query(sql.unsafe`UPDATE sync_state SET scheduled_slot = ${lastYearlySlot().toISOString()}::timestamptz`);
  const enqueued = await startReplica(context);
  assert.equal(await jobsOf(context.boss), []);
  assert.equal(enqueued, []);
});

catchUp('the last slot missed (no worker ran then): a starting worker enqueues its syncs, once however many start', async (context) => {
  const { db } = context.database;
  await db.query(sql.unsafe`UPDATE sync_state SET scheduled_slot = ${lastYearlySlot().toISOString()}::timestamptz - interval '1 year'`);
  const [first, second] = await Promise.all([startReplica(context), startReplica(context)]);
  const jobs = await jobsOf(context.boss);
  assert.equal(
    jobs.map((job) => [job.data.product, job.data.reason, job.data.slot]).sort(),
    [
      ['helm', 'schedule', lastYearlySlot().toISOString()],
      ['src-cli', 'schedule', lastYearlySlot().toISOString()],
    ],
  );
  assert.equal([...first, ...second].sort(), ['helm', 'src-cli']);
  const slots = await db.anyFirst(sql.type(z.object({ slot: z.date() }))`SELECT scheduled_slot AS slot FROM sync_state`);
  assert.ok(slots.every((slot) => slot.getTime() === lastYearlySlot().getTime()), 'the slot is claimed');

  assert.equal(await startReplica(context), [], 'a later start finds it claimed');
  assert.is((await jobsOf(context.boss)).length, 2);
});

catchUp('a product synced since the missed slot, or never synced, is not made up (a first sync is SYNC_ON_START\'s)', async (context) => {
  const { db } = context.database;
  const products = await defineProducts(db, [
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
    { name: 'helm', repository: 'helm/helm' },
    { name: 'newcomer', repository: 'acme/newcomer' },
  ]);
  await db.query(sql.unsafe`UPDATE sync_state SET scheduled_slot = ${lastYearlySlot().toISOString()}::timestamptz - interval '1 year'`);
  await db.query(sql.unsafe`UPDATE sync_state SET last_success_at = now() WHERE product_id = ${products.get('helm')!.id}`);
  await context.boss.deleteAllJobs(QUEUES.syncProduct);
  assert.equal(await startReplica(context), ['src-cli']);
});

catchUp.run();
