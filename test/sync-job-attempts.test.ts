import { randomUUID } from 'node:crypto';
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSyncJob } from '../workers/sync-worker.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { fakeClient } from './support/github.ts';
import { defineProducts, syncState } from './support/sync.ts';

// pg-boss retries a job whose heartbeat lapsed under the same job id, and the stalled attempt may
// still be running when the retry starts. The retry takes the run over, so the stalled attempt's
// next write must be refused (the run's fence), not interleave with the retry's.

const attempt = (id: string, retryCount: number) =>
  ({ id, name: 'sync-product', data: { product: 'src-cli', reason: 'cli' }, retryCount, retryLimit: 3, signal: new AbortController().signal }) as unknown as JobWithMetadata<unknown>;

test("a stalled attempt of a job whose retry took its run over writes nothing more: the retry's run is the one that finishes", async () => {
  const database = await createTestDatabase({ label: 'sync_job_attempts' });
  const fake = await startFakeGitHub();
  try {
    fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'all' });
    const product = (await defineProducts(database.db, [{ name: 'src-cli', repository: 'sourcegraph/src-cli' }])).get('src-cli')!;
    // The deferral path alone uses pg-boss; no attempt here is deferred.
    const options = { db: database.db, boss: undefined as unknown as PgBoss, logger: quietLogger, createClient: () => fakeClient(fake) };
    const jobId = randomUUID();

    // The first attempt starts its run, then stalls in its first GitHub request.
    const stall = fake.addFault({ kind: 'delay', ms: 1_500 });
    const first = runSyncJob(options, attempt(jobId, 0));
    await eventually(async () => stall.fired, (fired) => fired === 1, 'the first attempt is waiting for GitHub');
    // The retry takes the run over and is itself slow, so that the stalled attempt wakes first.
    const slowRetry = fake.addFault({ kind: 'delay', ms: 3_000 });
    const retry = runSyncJob(options, attempt(jobId, 1));
    await eventually(async () => slowRetry.fired, (fired) => fired === 1, 'the retry is waiting for GitHub');

    const stalled = await first;
    assert.equal(stalled.output, { superseded: true }, 'the stalled attempt stops at its first write');
    const finished = await retry;
    assert.is(finished.status, 'completed');
    const state = await syncState(database.db, product.id);
    assert.is(state.lastOutcome, 'succeeded');
  } finally {
    await fake.close();
    await database.drop();
  }
});

test.run();
