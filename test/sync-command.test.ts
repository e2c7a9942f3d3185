import type { PgBoss } from 'pg-boss';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { runCli } from './support/processes.ts';
import { defineProducts, settledSyncJob, startTestSyncWorker } from './support/sync.ts';

// `release-registry sync <product> [--wait] [--full]` from a real CLI process, with a worker
// working the queue: it enqueues, waits, prints the outcome, and its exit code says how it went.

type Context = { database: TestDatabase; fake: FakeGitHub; boss: PgBoss; stop: () => Promise<void> };
const command = suite<Context>('sync command', {} as never);

command.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_command' });
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('helm__helm', { releases: 'all' });
  await defineProducts(context.database.db, [{ name: 'helm', repository: 'helm/helm' }]);
  const worker = await startTestSyncWorker(context.database, context.fake, { queue: { retryLimit: 0 } });
  context.boss = worker.boss;
  context.stop = worker.stop;
});

command.after(async ({ database, fake, stop }) => {
  await stop();
  await fake.close();
  await database.drop();
});

const sync = (context: Context, ...args: string[]) => runCli(['sync', ...args], { DATABASE_URL: context.database.url, LOG_LEVEL: 'silent' });

command('--wait: queues the sync, waits, prints what it did, exits 0', async (context) => {
  const result = await sync(context, 'helm', '--wait');
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /queued a sync of helm: job [0-9a-f-]{36}/);
  assert.match(result.stdout, /sync of helm succeeded \(run 1, full, releases full\)/);
  assert.match(result.stdout, /tags: 261 listed, 258 added/);
  assert.match(result.stdout, /GitHub: \d+ requests/);
});

command('without --wait: queues and exits at once', async (context) => {
  const result = await sync(context, 'helm');
  assert.is(result.code, 0, result.stderr);
  const jobId = /job ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
  assert.ok(jobId !== undefined, result.stdout);
  // Let it finish, so that the next tests queue syncs of their own.
  assert.is((await settledSyncJob(context.boss, jobId)).state, 'completed');
});

command('bad arguments exit 2, unknown products 1: a clear message, nothing queued', async (context) => {
  const none = await sync(context);
  assert.is(none.code, 2);
  assert.match(none.stderr, /usage: release-registry sync <product>/);
  const unknown = await sync(context, 'nope', '--wait');
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /no tracked product "nope"/);
  const flag = await sync(context, 'helm', '--fast');
  assert.is(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--fast'/);
});

command('a failing sync: exit 1 with the error', async (context) => {
  const fault = context.fake.addFault({ kind: 'malformed', mode: 'wrong-shape', endpoint: 'graphql', every: 1 });
  const result = await sync(context, 'helm', '--full', '--wait');
  fault.remove();
  assert.is(result.code, 1, result.stdout);
  assert.match(result.stdout, /sync failed: malformed GitHub response from graphql TagPage/);
  assert.match(result.stdout, /no retries left: see sync-product-dead/);
});

command('a spent rate limit: the sync is deferred, exit 75', async (context) => {
  context.fake.setRateLimit('graphql', { remaining: 0, resetAt: new Date(Date.now() + 3_600_000) });
  const result = await sync(context, 'helm', '--full', '--wait');
  assert.is(result.code, 75, result.stdout + result.stderr);
  assert.match(result.stdout, /sync deferred until \d{4}-\d\d-\d\dT[\d:.]+Z \(GitHub rate limit spent\); job [0-9a-f-]{36} will run it/);
});

command.run();
