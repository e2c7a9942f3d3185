import type { JobWithMetadata } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QUEUES } from '../../src/queues.ts';
import type { SyncRunResult } from '../../src/sync/sync-progress.ts';
import { BUILT_CLI, runCli } from '../support/processes.ts';
import { assertNoJobLeft } from './support/delivery-checks.ts';
import { processOutput, startFaultStack } from './support/fault-stack.ts';
import { assertMatchesFullSync } from './support/ground-truth.ts';
import { settledSyncJob } from '../support/sync.ts';

// Scenario 3. A first sync of a 3,000-tag, 600-release repository by the real worker process while
// GitHub answers every 7th request with a 502, then refuses one tag page with a secondary rate
// limit, then has its primary (GraphQL) limit spent a few pages later. The sync retries the 502s,
// waits out the secondary limit, defers to the primary limit's reset (exit 75 for `sync --wait`),
// asks nothing while the limit is spent, resumes at the reset where it stopped, spends no more
// points than a fault-free first sync may, and ends with exactly the rows of a full sync.

const PRODUCT = { name: 'big', repository: 'acme/big' };
const TAGS = 3_000;
const RELEASES = 600;

type SyncJob = JobWithMetadata<unknown> & { output: SyncRunResult & { nextJobId?: string } };

test('5xx every 7th request, a secondary limit, then a spent primary limit: deferred to the reset, within budget, nothing lost', async () => {
  const stack = await startFaultStack({ label: 'faults_github', products: [PRODUCT] });
  try {
    const { fake } = stack;
    fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: TAGS, releases: RELEASES });
    const worker = await stack.startWorker();
    const serverErrors = fake.addFault({ kind: 'status', status: 502, every: 7 });
    const secondary = fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 1, operation: 'TagPage', every: 6, times: 1 });
    fake.resetRequests();

    const cli = runCli(['sync', 'big', '--wait'], stack.env, 120_000, BUILT_CLI);
    // Once the secondary limit was met, the primary one has three points left until a reset 8 s on.
    for (const deadline = Date.now() + 60_000; secondary.fired === 0; ) {
      if (Date.now() > deadline) throw new Error('the secondary limit never fired');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const resetAt = new Date(Math.ceil((Date.now() + 8_000) / 1000) * 1000);
    fake.setRateLimit('graphql', { remaining: 3, resetAt });
    const spentFrom = fake.requests.length;

    const deferred = await cli;
    const beforeReset = fake.requests.slice(spentFrom);
    assert.is(deferred.code, 75, `sync --wait exits 75 when deferred\n${deferred.stdout}\n${deferred.stderr}`);
    const chain = await syncJobs(stack.boss);
    const first = chain[0]!;
    assert.is(first.state, 'completed', 'deferred, not failed');
    assert.is(first.output.outcome, 'deferred');
    assert.is(first.output.deferredUntil, resetAt.toISOString(), 'deferred to the reset GitHub announced');
    const refusedWhileSpent = beforeReset.filter((request) => request.fault === null && request.points === 0 && request.status !== 304 && request.endpoint !== 'rate-limit');
    assert.equal(refusedWhileSpent, [], 'no request was refused for a spent limit: the client stopped at remaining 0');

    const done = await settledSyncJob<SyncJob>(stack.boss, first.output.nextJobId!, { boundMs: 90_000 });
    assert.is(done.state, 'completed', JSON.stringify(done.output));
    assert.is(done.output.outcome, 'succeeded', JSON.stringify(done.output));
    assert.is(done.output.runId, first.output.runId, 'the same run, resumed');
    assert.ok(done.startedOn.getTime() >= resetAt.getTime(), 'the deferred job started at the reset, not before');
    const spentBeforeReset = beforeReset.filter((request) => request.resource === 'graphql').reduce((sum, request) => sum + request.points, 0);
    assert.ok(spentBeforeReset <= 3, `${spentBeforeReset} GraphQL points spent of the 3 left before the reset`);

    const counts = fake.counts();
    const budget = Math.ceil(TAGS / 100) + Math.ceil(RELEASES / 100) + 5;
    process.stdout.write(
      `# ${fake.requests.length} requests: ${serverErrors.fired} answered 502, ${secondary.fired} secondary limit; points ${counts.points.core} core + ${counts.points.graphql} graphql (budget ${budget})\n`,
    );
    assert.ok(serverErrors.fired >= 3, 'the 502s fired');
    assert.ok(counts.points.core + counts.points.graphql <= budget, `spent ${counts.points.core + counts.points.graphql} points, within a first sync's budget of ${budget}`);
    assert.is(worker.process.child.exitCode, null);
    await assertNoJobLeft(stack.db);
    await assertMatchesFullSync(stack.db, fake, PRODUCT);
  } catch (error) {
    process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await stack.close();
  }
});

async function syncJobs(boss: import('pg-boss').PgBoss): Promise<SyncJob[]> {
  const jobs = (await boss.findJobs(QUEUES.syncProduct, {})) as SyncJob[];
  return jobs.sort((a, b) => a.createdOn.getTime() - b.createdOn.getTime());
}

test.run();
