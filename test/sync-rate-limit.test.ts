import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Product } from '../src/db/products.ts';
import { findProductView } from '../src/db/product-reads.ts';
import { QUEUES } from '../src/queues.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import type { SyncRunResult } from '../src/sync/sync-progress.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { defineProducts, expectedRows, settledSyncJob, startTestSyncWorker, syncState } from './support/sync.ts';
import { releaseRows } from './support/release-rows.ts';

// GitHub's primary rate limit runs out in the middle of a first sync: the job is not failed and
// does not spin. It ends as `deferred`, the pages already read stay written, and a new job of the
// product waits for the reset (the `exclusive` queue refuses a second job of a product while one
// is active, so the handler completes its own job and queues the next in one transaction). At the
// reset that job resumes the run where it stopped and finishes it.

type Context = { database: TestDatabase; fake: FakeGitHub; product: Product; boss: PgBoss; stop: () => Promise<void> };
const rateLimit = suite<Context>('sync rate limit', {} as never);

rateLimit.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_rate_limit' });
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('helm__helm', { releases: 'all' });
  context.product = (await defineProducts(context.database.db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
  const worker = await startTestSyncWorker(context.database, context.fake);
  context.boss = worker.boss;
  context.stop = worker.stop;
});

rateLimit.after(async ({ database, fake, stop }) => {
  await stop();
  await fake.close();
  await database.drop();
});

const job = async (boss: PgBoss, id: string) => {
  assert.ok(typeof id === 'string' && id !== '', 'a job id');
  return ((await boss.findJobs(QUEUES.syncProduct, { id })) as Array<JobWithMetadata<unknown>>)[0];
};

rateLimit('a spent primary limit defers the job to the reset, keeps the pages read, and the deferred job finishes the run', async ({ database, fake, product, boss }) => {
  const { db } = database;
  // Two GraphQL points left: two of helm's three tag pages, then the limit is spent for a few
  // seconds (enough that a loaded machine still checks the waiting before the reset).
  const resetAt = new Date(Math.ceil((Date.now() + 12_000) / 1000) * 1000);
  fake.setRateLimit('graphql', { remaining: 2, resetAt });
  fake.resetRequests();

  const { jobId } = await enqueueSync(boss, { product: 'helm', reason: 'cli' });
  const first = await settledSyncJob(boss, jobId);
  assert.is(first.state, 'completed', 'deferred, not failed');
  const output = first.output as SyncRunResult & { nextJobId: string };
  assert.is(output.outcome, 'deferred');
  assert.is(output.deferredUntil, resetAt.toISOString());

  const next = await job(boss, output.nextJobId);
  assert.ok(next !== undefined, 'a job waits for the reset');
  assert.is(next.state, 'created');
  assert.is(next.startAfter.getTime(), resetAt.getTime(), 'it starts at the reset');
  assert.is(next.singletonKey, 'helm');
  assert.equal(next.data, { product: 'helm', reason: 'cli' });

  const state = await syncState(db, product.id);
  assert.is(state.lastOutcome, 'deferred');
  assert.is(state.deferredUntil?.getTime(), resetAt.getTime());
  assert.is(state.runPhase, 'tags', 'the run stays open, to be resumed');
  // What the read API answers about it (GET /v1/products/helm): the deferral and, with a token, why.
  const view = await findProductView(db, 'helm', 'all');
  assert.is(view?.last_sync?.outcome, 'deferred');
  assert.is(view?.last_sync?.deferred_until, resetAt.toISOString());
  assert.match(view?.last_sync?.error ?? '', /rate limit/i);
  assert.is((await findProductView(db, 'helm', 'public'))?.last_sync?.error, null, 'the error is shown with a token only');
  assert.ok((await releaseRows(db, product.id)).length >= 190, 'the two pages read before the limit are written');

  // Asking again while the deferred job waits: the exclusive queue answers with that job.
  const again = await enqueueSync(boss, { product: 'helm', reason: 'admin' });
  assert.equal(again, { jobId: output.nextJobId, alreadyQueued: true, mode: null });
  // No busy loop: the client saw the bucket reach 0 in the second answer's headers and asked no
  // more; nothing is asked until the reset.
  assert.is(fake.counts({ resource: 'graphql' }).total, 2, 'two tag pages, no refused query');
  const seen = fake.counts().total;
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.ok(Date.now() < resetAt.getTime(), 'still before the reset (the test machine was not too slow)');
  assert.is(fake.counts().total, seen, 'nothing asked while waiting for the reset');

  const done = await settledSyncJob(boss, output.nextJobId);
  assert.ok(done.startedOn.getTime() >= resetAt.getTime(), 'it ran after the reset');
  const finished = done.output as SyncRunResult;
  assert.is(finished.outcome, 'succeeded', JSON.stringify(finished));
  assert.is(finished.runId, output.runId, 'the same run, resumed');
  assert.is(finished.attempts, 2);
  // Three tag pages in all: the two read before the limit were not read again.
  assert.is(fake.requests.filter((request) => request.operation === 'TagPage' && request.points > 0).length, 3);
  const expected = expectedRows(readTagList('helm__helm'), fake.repository('helm/helm'));
  assert.is((await releaseRows(db, product.id)).length, expected.size);
  assert.is((await syncState(db, product.id)).lastOutcome, 'succeeded');
});

rateLimit.run();
