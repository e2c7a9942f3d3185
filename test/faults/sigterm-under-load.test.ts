import pg from 'pg';
import type { JobWithMetadata } from 'pg-boss';
import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { QUEUES } from '../../src/queues.ts';
import type { SyncRunResult } from '../../src/sync/sync-progress.ts';
import { logged } from '../support/cli-process.ts';
import { BUILT_CLI, runCli } from '../support/processes.ts';
import { assertAcceptedProcessed, assertNoJobLeft, jobCounts, waitUntilSettled } from './support/delivery-checks.ts';
import { sendDeliveries } from './support/delivery-sender.ts';
import { processOutput, startFaultStack } from './support/fault-stack.ts';
import { deliveriesForChanges } from '../support/github-changes.ts';
import { assertMatchesFullSync } from './support/ground-truth.ts';
import { settledSyncJob } from '../support/sync.ts';
import { startReadLoad } from './support/read-load.ts';

// Scenario 4. SIGTERM under load, with the real handlers.
// The API: reads and webhook deliveries pour in; some reads are provably in flight (held by a lock
// on the releases table, seen waiting in pg_stat_activity) when the signal comes. It stops
// accepting, answers those in flight, exits 0 within 10 s; every delivery it answered 2xx is stored.
// The worker: a first sync (slowed by GitHub) and deliveries are running when the signal comes.
// Within 10 s it exits 0, having finished or handed back every job: none is left `active` to wait
// for its expiry; the sync is handed on to a new job (not failed), which a new worker runs,
// resuming the run where it stopped.

const WIDGET = { name: 'widget', repository: 'acme/widget' };
const BIG = { name: 'big', repository: 'acme/big' };

test('API: SIGTERM under load stops accepting, answers the requests in flight, exits 0 within 10 s', async () => {
  const stack = await startFaultStack({ label: 'faults_sigterm_api', products: [WIDGET] });
  const locker = new pg.Client({ connectionString: stack.databaseUrl });
  // Statistics views are read once per transaction: the lock holder cannot watch the waiters.
  const observer = new pg.Client({ connectionString: stack.databaseUrl });
  let reads: ReturnType<typeof startReadLoad> | undefined;
  try {
    const repository = stack.fake.addRepository({ owner: 'acme', name: 'widget' });
    const deliveries = deliveriesForChanges(repository, 800, { seed: 64 });
    let api = await stack.startApi();
    const port = api.port;
    await stack.startWorker();
    const sender = sendDeliveries(deliveries, { urls: () => [api.url], concurrency: 4 });
    await sender.acceptedAtLeast(200);

    // Reads of list pages with varied limits (each a cache miss at first) are held by the lock.
    let limit = 0;
    reads = startReadLoad({ urls: () => [api.url], paths: Array.from({ length: 200 }, () => `/v1/releases/widget?limit=${(limit = (limit % 999) + 1)}`), concurrency: 8 });
    await locker.connect();
    await observer.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE releases IN ACCESS EXCLUSIVE MODE');
    const held = await waitForHeldRequests(observer, 4);

    const signalledAt = performance.now();
    api.process.signal('SIGTERM');
    await api.process.waitForLog(logged('shutting down'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await locker.query('COMMIT');
    const exit = await api.process.exitWithin(10_000);
    assert.ok(exit !== null, `the API exited within 10 s of SIGTERM\n${api.process.output()}`);
    assert.is(exit!.code, 0);
    process.stdout.write(`# ${held} requests held in flight at SIGTERM; the API exited ${Math.round(exit!.at - signalledAt)} ms after it\n`);
    assert.ok(api.process.lines.some(logged('api stopped')));
    assert.not.ok(api.process.lines.some((line) => line.level === 'error' || line.level === 'fatal'), api.process.output());

    const samples = await reads.stop();
    const inFlight = samples.filter((sample) => sample.at < signalledAt && sample.at + sample.ms > signalledAt);
    assert.ok(inFlight.length >= held, `${inFlight.length} reads were in flight across the signal`);
    const cut = inFlight.filter((sample) => sample.status !== 200);
    assert.equal(cut, [], 'every read in flight at SIGTERM was answered 200, none cut');
    const afterSignal = samples.filter((sample) => sample.at > signalledAt + 100);
    assert.ok(afterSignal.length > 0, 'the load went on after the signal');
    assert.ok(afterSignal.every((sample) => sample.status === 0), 'no new request was served after the signal');
    assert.equal(samples.filter((sample) => sample.status >= 500), [], 'no 5xx');

    // The next API takes over (a rolling restart); every delivery answered 2xx by either is kept.
    api = await stack.startApi({ port });
    const report = await sender.done;
    assert.equal(report.unexpected, []);
    await waitUntilSettled(stack, [...report.accepted.keys()]);
    await assertAcceptedProcessed(stack.db, report.accepted);
    await assertNoJobLeft(stack.db);
    await assertMatchesFullSync(stack.db, stack.fake, WIDGET);
  } catch (error) {
    process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await reads?.stop();
    await locker.end().catch(() => undefined);
    await observer.end().catch(() => undefined);
    await stack.close();
  }
});

const activeCount = z.object({ count: z.number() });

test('worker: SIGTERM during a sync and deliveries exits 0 within 10 s, no job left active; the next worker resumes', async () => {
  const stack = await startFaultStack({ label: 'faults_sigterm_worker', products: [WIDGET, BIG] });
  try {
    const { fake, boss } = stack;
    const repository = fake.addRepository({ owner: 'acme', name: 'widget' });
    fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 5_000, releases: 300 });
    // A slow GitHub (each tag page 300 ms late): the sync cannot finish within the shutdown's grace.
    fake.addFault({ kind: 'delay', ms: 300, operation: 'TagPage', every: 1 });
    const api = await stack.startApi();
    const worker = await stack.startWorker();

    const enqueued = await runCli(['sync', 'big'], stack.env, 60_000, BUILT_CLI);
    assert.is(enqueued.code, 0, enqueued.stderr);
    const sender = sendDeliveries(deliveriesForChanges(repository, 600, { seed: 65 }), { urls: () => [api.url], concurrency: 4 });
    await sender.acceptedAtLeast(150);
    await waitForSyncWrites(stack);

    const signalledAt = performance.now();
    worker.process.signal('SIGTERM');
    const exit = await worker.process.exitWithin(10_000);
    assert.ok(exit !== null, `the worker exited within 10 s of SIGTERM\n${worker.process.output()}`);
    assert.is(exit!.code, 0, worker.process.output());
    assert.ok(worker.process.lines.some(logged('worker stopped')));
    const counts = await jobCounts(stack.db);
    process.stdout.write(`# the worker exited ${Math.round(exit!.at - signalledAt)} ms after SIGTERM; jobs then: ${JSON.stringify(counts)}\n`);
    const active = await stack.db.oneFirst(sql.type(activeCount)`
      SELECT count(*)::int AS count FROM pgboss.job WHERE state = 'active' AND name = ANY(${sql.array(Object.values(QUEUES), 'text')})`);
    assert.is(active, 0, 'no job is left active');
    const [sync] = (await boss.findJobs(QUEUES.syncProduct, {})) as Array<JobWithMetadata<unknown>>;
    // Handed on, not failed: no retry used up; a new job resumes the run once the worker is gone.
    assert.is(sync?.state, 'completed', 'the unfinished sync was handed on, not failed');
    const handedOn = sync!.output as SyncRunResult & { nextJobId: string; handedOn?: true };
    assert.is(handedOn.handedOn, true);
    assert.match(handedOn.error ?? '', /worker stopped/);
    const [next] = (await boss.findJobs(QUEUES.syncProduct, { id: handedOn.nextJobId })) as Array<JobWithMetadata<unknown>>;
    assert.is(next?.state, 'created', 'a new job of the product waits');

    await stack.startWorker();
    const report = await sender.done;
    assert.equal(report.unexpected, []);
    const done = await settledSyncJob(boss, handedOn.nextJobId, { boundMs: 90_000 });
    const result = done.output as SyncRunResult;
    assert.is(result.outcome, 'succeeded', JSON.stringify(result));
    assert.is(result.attempts, 2, 'the same run, resumed by the next worker');
    await waitUntilSettled(stack, [...report.accepted.keys()]);
    await assertAcceptedProcessed(stack.db, report.accepted);
    await assertNoJobLeft(stack.db);
    fake.clearFaults();
    await assertMatchesFullSync(stack.db, fake, WIDGET);
    await assertMatchesFullSync(stack.db, fake, BIG);
  } catch (error) {
    process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await stack.close();
  }
});

/** Waits until at least `count` API sessions wait for the lock on releases; returns how many. */
async function waitForHeldRequests(observer: pg.Client, count: number): Promise<number> {
  for (let attempt = 0; ; attempt += 1) {
    const { rows } = await observer.query<{ held: number }>(
      `SELECT count(*)::int AS held FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'release-registry-api'
         AND wait_event_type = 'Lock' AND query ILIKE '%releases%'`,
    );
    if (rows[0]!.held >= count) return rows[0]!.held;
    if (attempt > 1_000) throw new Error(`only ${rows[0]!.held} requests ever waited for the lock`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const syncProgress = z.object({ phase: z.string().nullable(), rows: z.number() });

async function waitForSyncWrites(stack: { db: import('../../src/db/pool.ts').Database }): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; ) {
    const state = await stack.db.maybeOne(sql.type(syncProgress)`
      SELECT s.run_phase AS phase, (SELECT count(*)::int FROM releases r WHERE r.product_id = p.id) AS rows
      FROM products p LEFT JOIN sync_state s ON s.product_id = p.id WHERE p.name = 'big'`);
    if (state?.phase === 'tags' && state.rows > 0) return;
    if (Date.now() > deadline) throw new Error(`the sync never wrote: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test.run();
