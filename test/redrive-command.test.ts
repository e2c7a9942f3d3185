import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBoss, installQueues, QUEUES } from '../src/queues.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { runCli } from './support/processes.ts';

// `release-registry redrive <queue>` moves the jobs that exhausted their retries out of the
// dead-letter queue and back into their queue; `--dry-run` only counts them.

test('redrive: dead-lettered sync jobs go back to sync-product; --dry-run moves nothing', async () => {
  const database = await createTestDatabase({ label: 'redrive' });
  await installQueues(database.url, quietLogger);
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 2 });
  await boss.start();
  try {
    // A job on its last attempt fails: pg-boss dead-letters it.
    await boss.send(QUEUES.syncProduct, { product: 'src-cli' }, { retryLimit: 0 });
    const [job] = await boss.fetch<{ product: string }>(QUEUES.syncProduct);
    assert.ok(job, 'fetched the job');
    await boss.fail(QUEUES.syncProduct, job!.id, { message: 'GitHub said no' });
    const dead = await boss.findJobs<{ product: string }>(QUEUES.syncProductDead, { queued: true });
    assert.is(dead.length, 1, 'the job is in the dead-letter queue');

    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'silent' };
    const preview = await runCli(['redrive', QUEUES.syncProduct, '--dry-run'], env);
    assert.is(preview.code, 0, preview.stderr);
    assert.is(preview.stdout, `would move 1 job(s) from ${QUEUES.syncProductDead} back to ${QUEUES.syncProduct}\n`);
    assert.is((await boss.findJobs(QUEUES.syncProductDead, { queued: true })).length, 1, 'a dry run moves nothing');

    const run = await runCli(['redrive', QUEUES.syncProduct], env);
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stdout, `moved 1 job(s) from ${QUEUES.syncProductDead} back to ${QUEUES.syncProduct}\n`);
    assert.is((await boss.findJobs(QUEUES.syncProductDead, { queued: true })).length, 0);
    const requeued = await boss.findJobs<{ product: string }>(QUEUES.syncProduct, { queued: true });
    assert.equal(
      requeued.map((item) => item.data),
      [{ product: 'src-cli' }],
    );

    const again = await runCli(['redrive', QUEUES.syncProduct], env);
    assert.is(again.stdout, `moved 0 job(s) from ${QUEUES.syncProductDead} back to ${QUEUES.syncProduct}\n`, 'running it twice moves nothing more');
  } finally {
    await boss.stop({ graceful: false, close: true });
    await database.drop();
  }
});

test('redrive: an unknown queue is a usage error', async () => {
  const result = await runCli(['redrive', 'no-such-queue'], { DATABASE_URL: 'postgres://127.0.0.1:1/none', LOG_LEVEL: 'silent' });
  assert.is(result.code, 2);
  assert.match(result.stderr, /usage: release-registry redrive <sync-product\|process-delivery> \[--dry-run\]/);
});

test.run();
