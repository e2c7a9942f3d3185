import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listProducts } from '../src/db/products.ts';
import { readSyncState } from '../src/db/sync-state.ts';
import { createBoss, installQueues, QUEUES } from '../src/queues.ts';
import { enqueueSync } from '../src/sync/sync-job.ts';
import type { SyncRunResult } from '../src/sync/sync-progress.ts';
import { TAG_PAGES_PER_WRITE } from '../src/sync/sync-product.ts';
import { startCliProcess, type CliProcess } from './support/cli-process.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { TEST_TOKEN } from './support/github.ts';
import { comparable, defineProducts, runSync, settledSyncJob, waitFor } from './support/sync.ts';
import { releaseRows } from './support/release-rows.ts';

// A real worker process (`node src/cli.ts worker`) is SIGKILLed in the middle of a first sync. The
// job's heartbeat stops, pg-boss hands it to a second worker, which resumes the run from the last
// saved page (not from the start) and ends with exactly the rows an uninterrupted sync makes.

test('a worker killed mid-sync: another resumes the run and ends with the same rows', async () => {
  const database = await createTestDatabase({ label: 'sync_worker_kill' });
  const fake = await startFakeGitHub({ token: TEST_TOKEN });
  const repo = fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 3_000, releases: 300 });
  // As `migrate` would load them from the products file (a worker does not).
  await defineProducts(database.db, [{ name: 'big', repository: 'acme/big' }]);
  const env = {
    DATABASE_URL: database.url,
    GITHUB_API_URL: fake.url,
    GITHUB_TOKEN: TEST_TOKEN,
    SYNC_SCHEDULE: '0 0 1 1 *',
    METRICS_PORT: '0',
    SHUTDOWN_TIMEOUT_MS: '3000',
  };
  await installQueues(database.url, quietLogger);
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 2 });
  await boss.start();
  // A dead worker is noticed when its job misses a heartbeat: 10 s here (pg-boss's minimum; 30 s in
  // production), and the job is retried at once.
  await boss.updateQueue(QUEUES.syncProduct, { heartbeatSeconds: 10, retryDelay: 0, retryBackoff: false });
  const workers: CliProcess[] = [];
  try {
    // A slow GitHub (each tag page 150 ms late) leaves time to kill the worker mid-listing, also
    // on a loaded machine.
    fake.addFault({ kind: 'delay', ms: 150, endpoint: 'graphql', every: 1 });
    const first = startCliProcess(['worker'], env);
    workers.push(first);
    await first.waitForLog((line) => line.msg === 'worker started');
    const productId = (await listProducts(database.db))[0]!.id;
    const { jobId } = await enqueueSync(boss, { product: 'big', reason: 'cli' });

    // Wait until some pages are saved, then kill the worker without warning.
    const saved = await waitFor('pages saved by the first worker', async () => {
      const state = await readSyncState(database.db, productId);
      return state?.runPhase === 'tags' && state.runCursor !== null && state.runProgress.tagStep === 'list' ? state : undefined;
    });
    first.signal('SIGKILL');
    await first.exited;
    const tagPagesBeforeKill = fake.requests.filter((request) => request.operation === 'TagPage').length;
    assert.ok(tagPagesBeforeKill < 30, 'killed before the listing ended');
    const written = (await releaseRows(database.db, productId)).length;
    assert.ok(written > 0 && written < 3_000, `${written} rows written before the kill`);

    fake.resetRequests();
    const second = startCliProcess(['worker'], env);
    workers.push(second);
    // The supervision pass that fails jobs with a stale heartbeat runs every 15 s in workers; run it now.
    const done = await settledSyncJob(boss, jobId, { boundMs: 120_000, supervise: true });
    const result = done.output as SyncRunResult;
    assert.is(done.state, 'completed', JSON.stringify(done.output));
    assert.is(result.outcome, 'succeeded');
    assert.is(done.retryCount, 1, 'the same job, retried after the missed heartbeat');
    assert.is(result.runId, saved.runId, 'the same run');
    assert.is(result.attempts, 2);
    // Resumed from the saved cursor: the pages written before the kill were not read again (at
    // most the pages fetched but not yet written, TAG_PAGES_PER_WRITE of them, are).
    const tagPagesAfter = fake.requests.filter((request) => request.operation === 'TagPage').length;
    const savedPages = Math.floor(written / 100);
    assert.ok(tagPagesAfter <= 30 - savedPages + TAG_PAGES_PER_WRITE, `${tagPagesAfter} pages read after the restart, ${savedPages} were saved`);

    // The same rows as an uninterrupted sync of the same repository.
    fake.clearFaults();
    const [reference] = [...(await defineProducts(database.db, [{ name: 'big', repository: 'acme/big' }, { name: 'big-reference', repository: 'acme/big' }])).values()].filter(
      (product) => product.name === 'big-reference',
    );
    assert.is((await runSync(database.db, fake, reference!)).outcome, 'succeeded');
    const resumed = await releaseRows(database.db, productId);
    const uninterrupted = await releaseRows(database.db, reference!.id);
    assert.is(resumed.length, repo.tagCount);
    assert.equal(
      resumed.map((row) => ({ ...comparable(row), releaseName: row.releaseName })),
      uninterrupted.map((row) => ({ ...comparable(row), releaseName: row.releaseName })),
    );
  } finally {
    for (const worker of workers) await worker.kill();
    await boss.stop({ graceful: false, close: true });
    await fake.close();
    await database.drop();
  }
});

test.run();
