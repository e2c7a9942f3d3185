import { Writable } from 'node:stream';
import pg from 'pg';
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { createLogger } from '../src/logger.ts';
import { QUEUES } from '../src/queues.ts';
import { startSyncSchedule, type SyncScheduler } from '../src/sync/sync-schedule.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { defineProducts, startTestSyncWorker, waitFor } from './support/sync.ts';

// Every worker replica ticks on SYNC_SCHEDULE. However many tick, and however far apart their
// ticks fall, a tick enqueues one sync per product, and each job is worked once.

type Replica = { boss: PgBoss; stop: () => Promise<void>; scheduler: SyncScheduler };
type Context = { database: TestDatabase; fake: FakeGitHub; replicas: Replica[] };
const schedule = suite<Context>('sync schedule', {} as never);

schedule.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_schedule', poolSize: 8 });
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'all' });
  context.fake.addFixtureRepository('helm__helm', { releases: 'none' });
  await defineProducts(context.database.db, [
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
    { name: 'helm', repository: 'helm/helm' },
  ]);
  context.replicas = [];
  for (let index = 0; index < 2; index += 1) {
    const worker = await startTestSyncWorker(context.database, context.fake);
    const scheduler = startSyncSchedule({ db: context.database.db, boss: worker.boss, logger: quietLogger, schedule: '* * * * * *', enabled: false });
    context.replicas.push({ ...worker, scheduler });
  }
});

schedule.after(async ({ database, fake, replicas }) => {
  for (const replica of replicas) {
    await replica.scheduler.stop();
    await replica.stop();
  }
  await fake.close();
  await database.drop();
});

const jobsOf = async (boss: PgBoss) => (await boss.findJobs(QUEUES.syncProduct, { limit: 10_000 })) as Array<JobWithMetadata<{ product: string; reason: string; slot?: string }>>;

async function allSettled(boss: PgBoss) {
  return waitFor('every sync job to settle', async () => {
    const jobs = await jobsOf(boss);
    return jobs.every((job) => job.state === 'completed' || job.state === 'failed') ? jobs : undefined;
  });
}

schedule('two replicas ticking at once enqueue one sync per product; each is worked once', async ({ database, replicas }) => {
  const slot = new Date('2026-11-29T12:00:00Z');
  const [a, b] = replicas as [Replica, Replica];
  const [fromA, fromB] = await Promise.all([a.scheduler.tick(slot), b.scheduler.tick(slot)]);
  assert.equal([...fromA, ...fromB].sort(), ['helm', 'src-cli'], 'one job per product, from one replica or the other');

  const jobs = await allSettled(a.boss);
  assert.is(jobs.length, 2);
  assert.ok(jobs.every((job) => job.state === 'completed' && job.data.slot === slot.toISOString() && job.data.reason === 'schedule'));
  // Each job ran one sync run: the products' run ids are 1.
  const runs = await database.db.anyFirst(sql.type(z.object({ runId: z.number() }))`SELECT run_id AS "runId" FROM sync_state ORDER BY product_id`);
  assert.equal(runs, [1, 1]);
});

schedule('a replica ticking late, after the tick\'s syncs finished, enqueues nothing; the next tick does', async ({ replicas }) => {
  const [a, b] = replicas as [Replica, Replica];
  const slot = new Date('2026-11-29T12:00:00Z');
  assert.equal(await b.scheduler.tick(slot), [], 'the same tick, seconds later: already claimed');
  assert.equal(await a.scheduler.tick(new Date('2026-11-29T11:45:00Z')), [], 'an older tick (a replica whose clock is behind)');
  const next = new Date('2026-11-29T12:15:00Z');
  assert.equal((await b.scheduler.tick(next)).sort(), ['helm', 'src-cli']);
  const jobs = await allSettled(a.boss);
  assert.is(jobs.filter((job) => job.data.slot === next.toISOString()).length, 2);
  assert.is(jobs.length, 4);
});

schedule('node-cron on both replicas, every second: one job per product per tick, none worked twice', async ({ database, replicas }) => {
  const [a] = replicas as [Replica, Replica];
  const before = new Set((await jobsOf(a.boss)).map((job) => job.id));
  const schedulers = replicas.map((replica) => startSyncSchedule({ db: database.db, boss: replica.boss, logger: quietLogger, schedule: '* * * * * *' }));
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  for (const scheduler of schedulers) await scheduler.stop();
  const jobs = (await allSettled(a.boss)).filter((job) => !before.has(job.id));
  assert.ok(jobs.length >= 2, `${jobs.length} jobs from about three ticks`);
  const perTick = new Map<string, string[]>();
  for (const job of jobs) perTick.set(`${job.data.slot}`, [...(perTick.get(`${job.data.slot}`) ?? []), job.data.product]);
  for (const [slot, products] of perTick) assert.is(new Set(products).size, products.length, `tick ${slot}: ${products.join(', ')}`);
  assert.ok(jobs.every((job) => job.state === 'completed' && job.retryCount === 0), 'each worked once, none retried');
  // The runs of the products grew by exactly the number of their jobs.
  const runs = await database.db.any(sql.type(z.object({ name: z.string(), runId: z.number() }))`
    SELECT p.name, s.run_id AS "runId" FROM sync_state s JOIN products p ON p.id = s.product_id ORDER BY p.name`);
  for (const run of runs) assert.is(run.runId, 2 + jobs.filter((job) => job.data.product === run.name).length, run.name);
});

schedule('a tick a day ahead of the database clock (a replica whose clock is wrong) claims nothing and is logged; the correct ticks still enqueue', async ({ database, replicas }) => {
  const [a, b] = replicas as [Replica, Replica];
  const lines: string[] = [];
  const logger = createLogger('test', 'warn', new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }));
  const skewed = startSyncSchedule({ db: database.db, boss: a.boss, logger, schedule: '* * * * * *', enabled: false });
  // A whole second of the database clock past every slot claimed so far: the slot a correct replica ticks now.
  const now = await waitFor(
    'the database clock to pass the last claimed slot',
    async () =>
      (await database.db.maybeOneFirst(sql.type(z.object({ now: z.date() }))`
        SELECT date_trunc('second', now()) AS now FROM sync_state HAVING max(scheduled_slot) < date_trunc('second', now())`)) ?? undefined,
  );
  const ahead = new Date(now.getTime() + 86_400_000);

  assert.equal(await skewed.tick(ahead), [], 'a slot a day ahead is refused');
  const warnings = lines.map((line) => JSON.parse(line) as { slot?: string; aheadMs?: number; msg: string });
  assert.is(warnings.length, 1, lines.join(''));
  assert.is(warnings[0]!.slot, ahead.toISOString());
  assert.ok(warnings[0]!.aheadMs! > 86_000_000 && warnings[0]!.aheadMs! <= 86_400_000, `the skew is named: ${warnings[0]!.aheadMs} ms`);

  assert.equal((await b.scheduler.tick(now)).sort(), ['helm', 'src-cli'], 'the tick of a correct clock is not taken');
  await allSettled(a.boss);
  const next = new Date(now.getTime() + 1_000);
  await waitFor('the next second', async () => (Date.now() >= next.getTime() ? true : undefined));
  assert.equal((await a.scheduler.tick(next)).sort(), ['helm', 'src-cli'], 'nor the one after it');
  await allSettled(a.boss);
});

schedule('stop waits for a tick in progress', async ({ database, replicas }) => {
  const [a] = replicas as [Replica, Replica];
  // The tick's claim waits on these rows until this transaction ends.
  const locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
  let stopped = false;
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT product_id FROM sync_state FOR UPDATE');
    const scheduler = startSyncSchedule({ db: database.db, boss: a.boss, logger: quietLogger, schedule: '* * * * * *' });
    await waitFor('a tick to wait on the locked rows', async () =>
      (await database.db.oneFirst(sql.type(z.object({ waiting: z.boolean() }))`
        SELECT count(*) > 0 AS waiting FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%scheduled_slot%'`)) || undefined,
    );
    void scheduler.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.not.ok(stopped, 'stop returned while the tick still ran');
  } finally {
    await locker.query('COMMIT');
    await locker.end();
  }
  await waitFor('stop to return once the tick finished', async () => stopped || undefined);
  await allSettled(a.boss);
});

schedule('stop waits for a tick in progress no longer than the time it is given', async ({ database, replicas }) => {
  const [a] = replicas as [Replica, Replica];
  const locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('SELECT product_id FROM sync_state FOR UPDATE');
    const scheduler = startSyncSchedule({ db: database.db, boss: a.boss, logger: quietLogger, schedule: '* * * * * *', stopWaitMs: 300 });
    await waitFor('a tick to wait on the locked rows', async () =>
      (await database.db.oneFirst(sql.type(z.object({ waiting: z.boolean() }))`
        SELECT count(*) > 0 AS waiting FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%scheduled_slot%'`)) || undefined,
    );
    const stopped = await Promise.race([scheduler.stop().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3_000))]);
    assert.is(stopped, 'stopped', 'a short shutdown budget is not spent waiting for a tick');
  } finally {
    await locker.query('COMMIT');
    await locker.end();
  }
  await allSettled(a.boss);
});

schedule.run();
