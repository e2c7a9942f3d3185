import type { Job } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startWorker } from '../workers/worker.ts';
import { loadConfig } from '../src/config.ts';
import { installQueues } from '../src/queues.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { QUIET_GITHUB } from './support/processes.ts';

// A stopping worker lets running jobs finish within the grace period and hands back the ones that do
// not (pg-boss fails them for a retry): no job is left `active` to wait for its expiry.

const SHUTDOWN_QUEUE = 'shutdown-test';

test('stop(): a job that finishes in time completes; one that does not is handed back for a retry', async () => {
  const database = await createTestDatabase({ label: 'worker_shutdown' });
  await installQueues(database.url, quietLogger);
  // SHUTDOWN_TIMEOUT_MS 3 s: the worker gives jobs 1 s, the rest closes the pools.
  const config = loadConfig({ DATABASE_URL: database.url, SHUTDOWN_TIMEOUT_MS: '3000', ...QUIET_GITHUB });
  const worker = await startWorker(config, database.url, quietLogger, { metricsServer: false });
  try {
    const started = new Set<string>();
    const handler = async ([job]: Job<{ ms: number }>[]) => {
      started.add(job!.id);
      // Like a real handler, it stops when pg-boss aborts it (after handing the job back).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, job!.data.ms);
        job!.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    };
    // A queue of its own: the worker already works process-delivery and sync-product.
    await worker.boss.createQueue(SHUTDOWN_QUEUE, { retryLimit: 2 });
    const options = { batchSize: 1, pollingIntervalSeconds: 0.5 };
    await worker.boss.work(SHUTDOWN_QUEUE, options, handler);
    await worker.boss.work(SHUTDOWN_QUEUE, options, handler);
    const quick = (await worker.boss.send(SHUTDOWN_QUEUE, { ms: 300 }))!;
    const slow = (await worker.boss.send(SHUTDOWN_QUEUE, { ms: 60_000 }))!;
    for (let attempt = 0; started.size < 2; attempt += 1) {
      if (attempt > 200) throw new Error('the jobs never started');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    await worker.stop();

    const { PgBoss } = await import('pg-boss');
    const reader = new PgBoss({ connectionString: database.url, supervise: false, schedule: false, migrate: false, createSchema: false, max: 1 });
    await reader.start();
    try {
      const [quickJob] = await reader.findJobs(SHUTDOWN_QUEUE, { id: quick });
      const [slowJob] = await reader.findJobs(SHUTDOWN_QUEUE, { id: slow });
      assert.is(quickJob?.state, 'completed', 'finished within the grace period');
      assert.is(slowJob?.state, 'retry', 'handed back, to run again');
      assert.match(JSON.stringify(slowJob?.output), /shut down while active/);
    } finally {
      await reader.stop({ graceful: false, close: true });
    }
  } finally {
    await worker.stop();
    await database.drop();
  }
});

test.run();
