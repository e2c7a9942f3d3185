import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QUEUES } from '../src/queues.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import type { SyncRunResult } from '../src/sync/sync-progress.ts';
import { createTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { releaseRows } from './support/release-rows.ts';
import { defineProducts, expectedRows, settledSyncJob, startTestSyncWorker, syncState } from './support/sync.ts';

// A worker that stops while a sync runs hands the run on: the sync writes what it has read, its job
// completes (no retry used up, as pg-boss's failing of what is still active at the end of the grace
// period would), and a new job of the product, starting once the stopping worker is gone, resumes
// the run where it stopped.

const HAND_BACK_DELAY_MS = 1_500;

const findJob = async (boss: PgBoss, id: string) => ((await boss.findJobs(QUEUES.syncProduct, { id })) as Array<JobWithMetadata<unknown>>)[0];

test('a sync running when its worker stops: pages read are written, the job completes, a new job resumes the run', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const stopping = new AbortController();
  const first = await startTestSyncWorker(database, fake, { stopping: stopping.signal, handBackDelayMs: HAND_BACK_DELAY_MS });
  let second: Awaited<ReturnType<typeof startTestSyncWorker>> | undefined;
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    const product = (await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
    // A slow GitHub: the worker stops while the first tag page is on its way.
    const slow = fake.addFault({ kind: 'delay', ms: 400, operation: 'TagPage', every: 1 });
    const { jobId } = await enqueueSync(first.boss, { product: 'helm', reason: 'cli' });
    await eventually(async () => slow.fired, (fired) => fired >= 1, 'the first tag page is asked for');
    const abortedAt = Date.now();
    stopping.abort(new Error('the worker is stopping'));

    const handed = await settledSyncJob(first.boss, jobId);
    assert.is(handed.state, 'completed', 'completed, not failed');
    assert.is(handed.retryCount, 0);
    const output = handed.output as SyncRunResult & { nextJobId: string };
    assert.is(output.outcome, 'deferred');
    assert.match(output.error ?? '', /worker stopped/);
    const next = await findJob(first.boss, output.nextJobId);
    assert.is(next?.state, 'created');
    assert.is(next?.singletonKey, 'helm');
    assert.ok(next!.startAfter.getTime() >= abortedAt + HAND_BACK_DELAY_MS, 'it starts once the stopping worker is gone');
    const state = await syncState(database.db, product.id);
    assert.is(state.lastOutcome, 'deferred');
    assert.is(state.runPhase, 'tags', 'the run stays open');
    assert.is(fake.requests.filter((request) => request.operation === 'TagPage' && request.status === 200).length, 1, 'no page read after the stop');
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
    assert.is(fake.requests.filter((request) => request.operation === 'TagPage' && request.status === 200).length, 3, 'the page written was not read again');
    assert.is((await releaseRows(database.db, product.id)).length, expected.size);
  } finally {
    stopping.abort();
    await first.stop();
    await second?.stop();
    await fake.close();
    await database.drop();
  }
});

test('a sync fetched by a stopping worker is handed on without beginning', async () => {
  const database = await createTestDatabase({ label: 'sync_hand_back' });
  const fake = await startFakeGitHub();
  const stopping = new AbortController();
  stopping.abort(new Error('the worker is stopping'));
  const worker = await startTestSyncWorker(database, fake, { stopping: stopping.signal, handBackDelayMs: 60_000 });
  try {
    fake.addFixtureRepository('helm__helm', { releases: 'all' });
    await defineProducts(database.db, [{ name: 'helm', repository: 'helm/helm' }]);
    const { jobId } = await enqueueSync(worker.boss, { product: 'helm', reason: 'cli' });
    const handed = await settledSyncJob(worker.boss, jobId);
    assert.is(handed.state, 'completed');
    const skipped = (handed.output as { skipped: string }).skipped;
    assert.match(skipped, /stopped before the sync began/);
    const nextJobId = /job (\S+) runs it/.exec(skipped)?.[1];
    const next = await findJob(worker.boss, nextJobId ?? '');
    assert.is(next?.state, 'created');
    assert.ok(next!.startAfter.getTime() > Date.now() + 30_000, 'not before the stopping worker is gone');
    assert.is(fake.requests.length, 0, 'GitHub was not asked');
  } finally {
    await worker.stop();
    await fake.close();
    await database.drop();
  }
});

test.run();
