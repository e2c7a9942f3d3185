import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { holdReleaseWriteLocks } from '../src/db/product-locks.ts';
import { QUEUES } from '../src/queues.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import type { SyncRunResult } from '../src/sync/sync-progress.ts';
import { handOnSyncs, runSyncJob } from '../workers/sync-worker.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { fakeClient } from './support/github.ts';
import { releaseRows } from './support/release-rows.ts';
import { defineProducts, expectedRows, settledSyncJob, startTestSyncWorker, syncState } from './support/sync.ts';

// A worker that stops while a sync runs hands the run on: the sync writes what it has read, its job
// completes (no retry used up, as pg-boss's failing of what is still active at the end of the grace
// period would), and a new job of the product, due at once, resumes the run where it stopped on
// another worker. The stopping worker fetches no more syncs, so it does not take that job itself.

type HandedOn = SyncRunResult & { nextJobId: string; handedOn?: true };

const findJob = async (boss: PgBoss, id: string) => ((await boss.findJobs(QUEUES.syncProduct, { id })) as Array<JobWithMetadata<unknown>>)[0];
const tagPagesRead = (fake: { requests: ReadonlyArray<{ operation: string | null; status: number }> }) =>
  fake.requests.filter((request) => request.operation === 'TagPage' && request.status === 200).length;

test('a sync running when its worker stops: pages read are written, the job completes, a new job resumes the run', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const stopping = new AbortController();
  const first = await startTestSyncWorker(database, fake, { stopping: stopping.signal });
  let second: Awaited<ReturnType<typeof startTestSyncWorker>> | undefined;
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    const product = (await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
    // A slow GitHub: the worker stops while the first tag page is on its way.
    const slow = fake.addFault({ kind: 'delay', ms: 400, operation: 'TagPage', every: 1 });
    const { jobId } = await enqueueSync(first.boss, { product: 'helm', reason: 'cli' });
    await eventually(async () => slow.fired, (fired) => fired >= 1, 'the first tag page is asked for');
    await handOnSyncs(first.boss, stopping);

    const handed = await settledSyncJob(first.boss, jobId);
    assert.is(handed.state, 'completed', 'completed, not failed');
    assert.is(handed.retryCount, 0);
    const output = handed.output as HandedOn;
    assert.is(output.handedOn, true, 'handed on, not deferred for a rate limit');
    assert.is(output.deferredUntil, undefined);
    assert.match(output.error ?? '', /worker stopped/);
    const next = await findJob(first.boss, output.nextJobId);
    assert.is(next?.singletonKey, 'helm');
    assert.ok(next!.startAfter.getTime() <= Date.now(), 'due at once, for another worker');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.is((await findJob(first.boss, output.nextJobId))?.state, 'created', 'the stopping worker does not take it');
    const state = await syncState(database.db, product.id);
    assert.is(state.lastOutcome, null, 'not an outcome of the run: the product shows none yet');
    assert.is(state.deferredUntil, null);
    assert.is(state.runPhase, 'tags', 'the run stays open');
    assert.is(tagPagesRead(fake), 1, 'no page read after the stop');
    const expected = expectedRows(readTagList('helm__helm'), fake.repository('helm/helm'));
    const written = (await releaseRows(database.db, product.id)).length;
    // The first page's 100 tags, less those the product's pattern skips.
    assert.ok(written >= 90 && written <= 100 && written < expected.size, `the page read before the stop is written (${written} rows)`);

    // The stopping worker goes; another one resumes the run.
    await first.stop();
    slow.remove();
    second = await startTestSyncWorker(database, fake);
    const done = await settledSyncJob(second.boss, output.nextJobId);
    const finished = done.output as SyncRunResult;
    assert.is(finished.outcome, 'succeeded', JSON.stringify(finished));
    assert.is(finished.runId, output.runId, 'the same run, resumed');
    assert.is(tagPagesRead(fake), 3, 'the page written was not read again');
    assert.is((await releaseRows(database.db, product.id)).length, expected.size);
  } finally {
    stopping.abort();
    await first.stop();
    await second?.stop();
    await fake.close();
    await database.drop();
  }
});

test('a stop while a batch of pages is being written: that batch and the pages read since are all written', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const stopping = new AbortController();
  const first = await startTestSyncWorker(database, fake, { stopping: stopping.signal });
  let second: Awaited<ReturnType<typeof startTestSyncWorker>> | undefined;
  let releaseLock: (() => void) | undefined;
  let holding: Promise<void> | undefined;
  try {
    fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 2_500 });
    const product = (await defineProducts(database.db, [{ name: 'big', repository: 'acme/big' }])).get('big')!;
    const slow = fake.addFault({ kind: 'delay', ms: 100, operation: 'TagPage', every: 1 });
    const { jobId } = await enqueueSync(first.boss, { product: 'big', reason: 'cli' });
    // Once the listing is under way, the product's write lock is held here: the sync's first write
    // of pages (1-10) waits for it while the listing reads on.
    await eventually(async () => slow.fired, (fired) => fired >= 2, 'the listing is under way');
    const locked = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    releaseLock = release.resolve;
    holding = database.db.transaction(async (transaction) => {
      await holdReleaseWriteLocks(transaction, [product.id]);
      locked.resolve();
      await release.promise;
    });
    await locked.promise;
    await eventually(async () => slow.fired, (fired) => fired >= 12, 'pages past the first batch are read');
    await handOnSyncs(first.boss, stopping);
    // The listing stops after the page under way; then the first write may go on.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const readBeforeStop = tagPagesRead(fake);
    releaseLock();
    await holding;

    const handed = await settledSyncJob(first.boss, jobId);
    const output = handed.output as HandedOn;
    assert.is(output.handedOn, true, JSON.stringify(output));
    assert.is(tagPagesRead(fake), readBeforeStop, 'no page read after the stop');
    assert.is((await releaseRows(database.db, product.id)).length, readBeforeStop * 100, 'every page read is written, the batch in course and those read since');

    await first.stop();
    slow.remove();
    second = await startTestSyncWorker(database, fake);
    const done = await settledSyncJob(second.boss, output.nextJobId);
    assert.is((done.output as SyncRunResult).outcome, 'succeeded');
    assert.is(tagPagesRead(fake), 25, 'no page read twice');
    assert.is((await releaseRows(database.db, product.id)).length, 2_500);
  } finally {
    releaseLock?.();
    await holding?.catch(() => undefined);
    stopping.abort();
    await first.stop();
    await second?.stop();
    await fake.close();
    await database.drop();
  }
});

test("a sync whose run is reset under it (the product's tag pattern changed) hands on to a new job, which lists anew", async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const worker = await startTestSyncWorker(database, fake);
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }]);
    const slow = fake.addFault({ kind: 'delay', ms: 600, operation: 'TagPage', every: 1 });
    const { jobId } = await enqueueSync(worker.boss, { product: 'helm', reason: 'cli' });
    await eventually(async () => slow.fired, (fired) => fired >= 1, 'the listing is under way');
    // As `migrate` applies a changed products file: the run is abandoned (resetSyncForRelisting).
    const threeOnly = String.raw`^v(?<version>3\.\d+\.\d+)$`;
    const product = (await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm', tagPattern: threeOnly }])).get('helm')!;
    slow.remove();

    const superseded = await settledSyncJob(worker.boss, jobId);
    const output = superseded.output as { superseded: true; nextJobId?: string };
    assert.is(output.superseded, true);
    assert.ok(output.nextJobId !== undefined, 'a new job is queued: nothing else would sync it before the next tick');
    const done = await settledSyncJob(worker.boss, output.nextJobId!);
    const result = done.output as SyncRunResult;
    assert.is(result.outcome, 'succeeded', JSON.stringify(result));
    assert.is(result.mode, 'full');
    const rows = await releaseRows(database.db, product.id);
    assert.ok(rows.length > 0);
    assert.ok(rows.every((row) => row.tag.startsWith('v3.')), 'listed under the new pattern');
  } finally {
    await worker.stop();
    await fake.close();
    await database.drop();
  }
});

test('a sync fetched as its worker begins to stop is handed on without beginning', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const worker = await startTestSyncWorker(database, fake, { work: false });
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }]);
    const { jobId } = await enqueueSync(worker.boss, { product: 'helm', reason: 'cli' });
    const [job] = (await worker.boss.fetch(QUEUES.syncProduct, { includeMetadata: true })) as Array<JobWithMetadata<unknown>>;
    assert.is(job?.id, jobId);
    const stopping = new AbortController();
    stopping.abort(new Error('the worker is stopping'));
    const result = await runSyncJob({ db: database.db, boss: worker.boss, logger: quietLogger, createClient: () => fakeClient(fake), stopping: stopping.signal }, job!);
    assert.is(result.status, 'completed');
    const handed = await findJob(worker.boss, jobId);
    assert.is(handed?.state, 'completed');
    const output = handed!.output as { skipped: string; nextJobId: string };
    assert.match(output.skipped, /stopped before the sync began/);
    assert.is((await findJob(worker.boss, output.nextJobId))?.state, 'created');
    assert.is(fake.requests.length, 0, 'GitHub was not asked');
  } finally {
    await worker.stop();
    await fake.close();
    await database.drop();
  }
});

test('a job pg-boss failed at the end of the grace period is not handed on besides', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  // Its last attempt: failed, it goes to the dead-letter queue, from where a redrive runs it again;
  // a job sent besides would run the sync twice.
  const worker = await startTestSyncWorker(database, fake, { work: false, queue: { retryLimit: 0 } });
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }]);
    const { jobId } = await enqueueSync(worker.boss, { product: 'helm', reason: 'cli' });
    const [job] = (await worker.boss.fetch(QUEUES.syncProduct, { includeMetadata: true })) as Array<JobWithMetadata<unknown>>;
    // What pg-boss's stop does with a job still active when its grace period ends.
    await worker.boss.fail(QUEUES.syncProduct, jobId, { message: 'pg-boss shut down while active' });
    const stopping = new AbortController();
    stopping.abort(new Error('the worker is stopping'));
    await runSyncJob({ db: database.db, boss: worker.boss, logger: quietLogger, createClient: () => fakeClient(fake), stopping: stopping.signal }, job!);
    const jobs = (await worker.boss.findJobs(QUEUES.syncProduct, { key: 'helm' })) as Array<JobWithMetadata<unknown>>;
    assert.equal(
      jobs.map((found) => [found.id, found.state]),
      [[jobId, 'failed']],
      'no second job',
    );
  } finally {
    await worker.stop();
    await fake.close();
    await database.drop();
  }
});

test.run();
