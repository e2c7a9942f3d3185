import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Product } from '../src/db/products.ts';
import { QUEUES } from '../src/queues.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { defineProducts, expectedRows, runSync, settledSyncJob, startTestSyncWorker, syncState, waitFor } from './support/sync.ts';
import { releaseRows } from './support/release-rows.ts';

// What a sync does when GitHub misbehaves: 5xx answers are retried by the client and the run
// succeeds; a malformed answer fails the job with a clear error, pg-boss retries it, and after the
// last retry it waits in sync-product-dead; an error retrying cannot fix goes there at once; a
// listing with an unparseable item is incomplete and tombstones nothing.

type Context = { database: TestDatabase; fake: FakeGitHub; products: Map<string, Product>; boss: PgBoss; stop: () => Promise<void> };
const failures = suite<Context>('sync failures', {} as never);

failures.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_failures' });
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'all' });
  context.fake.addFixtureRepository('helm__helm', { releases: 'none' });
  context.products = await defineProducts(context.database.db, [
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
    { name: 'helm', repository: 'helm/helm' },
    { name: 'missing', repository: 'acme/missing' },
  ]);
  // Two attempts, retried at once, so that the test sees the last one.
  const worker = await startTestSyncWorker(context.database, context.fake, { queue: { retryLimit: 1, retryDelay: 0, retryBackoff: false } });
  context.boss = worker.boss;
  context.stop = worker.stop;
});

failures.after(async ({ database, fake, stop }) => {
  await stop();
  await fake.close();
  await database.drop();
});

const settled = (boss: PgBoss, id: string) => settledSyncJob(boss, id);

const deadLetters = async (boss: PgBoss, product: string) =>
  ((await boss.findJobs(QUEUES.syncProductDead, { queued: true })) as Array<JobWithMetadata<{ product: string }>>).filter((job) => job.data.product === product);

failures('5xx answers, a dropped connection and a secondary rate limit are retried by the client: the run succeeds', async ({ database, fake, products }) => {
  fake.addFault({ kind: 'status', status: 502, endpoint: 'graphql', times: 2 });
  fake.addFault({ kind: 'disconnect', endpoint: 'releases', times: 1 });
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 1, endpoint: 'matching-refs', times: 1 });
  const attempt = await runSync(database.db, fake, products.get('src-cli')!);
  assert.is(attempt.outcome, 'succeeded', JSON.stringify(attempt.result));
  const expected = expectedRows(readTagList('sourcegraph__src-cli'), fake.repository('sourcegraph/src-cli'));
  assert.is((await releaseRows(database.db, products.get('src-cli')!.id)).length, expected.size);
  assert.equal(
    fake.requests.filter((request) => request.fault !== null).map((request) => request.fault),
    ['secondary-rate-limit', 'status', 'status', 'disconnect'],
    'each fault met once, then retried',
  );
  fake.clearFaults();
});

failures('a malformed answer fails the job with a clear error; retried, then dead-lettered where an operator sees it', async ({ database, fake, products, boss }) => {
  const fault = fake.addFault({ kind: 'malformed', mode: 'wrong-shape', endpoint: 'graphql', every: 1 });
  const { jobId } = await enqueueSync(boss, { product: 'helm', reason: 'cli' });
  const job = await settled(boss, jobId);
  fault.remove();
  assert.is(job.state, 'failed');
  assert.is(job.retryCount, 1, 'retried once (the queue allows one retry here)');
  assert.is(fault.fired, 2, 'one malformed answer per attempt');
  const output = job.output as { error?: string; outcome?: string };
  assert.is(output.outcome, 'failed');
  assert.match(output.error ?? '', /malformed GitHub response from graphql TagPage/);

  const state = await syncState(database.db, products.get('helm')!.id);
  assert.is(state.lastOutcome, 'failed');
  assert.match(state.lastError ?? '', /malformed GitHub response/);
  const dead = await waitFor('the dead letter', async () => {
    const jobs = await deadLetters(boss, 'helm');
    return jobs.length > 0 ? jobs : undefined;
  });
  assert.is(dead.length, 1);
  assert.is(dead[0]!.sourceId, jobId);
});

failures('a repository GitHub does not know: dead-lettered at once, no retries', async ({ boss }) => {
  const { jobId } = await enqueueSync(boss, { product: 'missing', reason: 'cli' });
  const job = await settled(boss, jobId);
  assert.is(job.state, 'failed');
  assert.is(job.retryCount, 0);
  assert.match((job.output as { error?: string }).error ?? '', /GitHub has nothing at/);
  assert.is((await deadLetters(boss, 'missing')).length, 1);
});

failures('a job with malformed data is dead-lettered with the reason', async ({ boss }) => {
  const id = await boss.send(QUEUES.syncProduct, { product: 'Not A Name', reason: 'cli' }, { singletonKey: 'bad' });
  const job = await settled(boss, id!);
  assert.is(job.state, 'failed');
  assert.match((job.output as { error?: string }).error ?? '', /malformed sync job data: product/);
});

failures('a listing with an unparseable ref is incomplete: it tombstones nothing and stores no ETag', async ({ database, fake, products }) => {
  const { db } = database;
  const product = products.get('src-cli')!;
  const repo = fake.repository('sourcegraph/src-cli');
  repo.deleteTag('7.6.0');
  repo.addTag({ name: '7.7.0' });
  // The fake breaks the first ref of the streamed answer.
  fake.addFault({ kind: 'malformed', mode: 'bad-item', endpoint: 'matching-refs' });
  const partial = await runSync(db, fake, product);
  assert.is(partial.outcome, 'succeeded', JSON.stringify(partial.result));
  assert.ok(partial.result.tags.dropped > 0, 'the drop is counted');
  const rows = await releaseRows(db, product.id);
  assert.is(rows.find((row) => row.tag === '7.6.0')?.deleted, false, 'not tombstoned by an incomplete listing');
  assert.is(rows.find((row) => row.tag === '7.7.0')?.deleted, false, 'a new tag is still read');
  assert.is((await syncState(db, product.id)).tagsEtag, null);

  const complete = await runSync(db, fake, product);
  assert.is(complete.outcome, 'succeeded');
  assert.is((await releaseRows(db, product.id)).find((row) => row.tag === '7.6.0')?.deleted, true, 'the next complete listing tombstones it');
  assert.ok((await syncState(db, product.id)).tagsEtag !== null);
});

failures.run();
