import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { startSyncs } from '../workers/start-syncs.ts';
import { loadConfig } from '../src/config.ts';
import { createBoss, installQueues, QUEUES } from '../src/queues.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { TEST_TOKEN } from './support/github.ts';
import { defineProducts, waitFor } from './support/sync.ts';

// A starting worker syncs the products that were never synced, instead of leaving them empty until
// the next SYNC_SCHEDULE tick; products that already have data wait for the schedule.

test('a starting worker enqueues a first sync of never-synced products only', async () => {
  const database = await createTestDatabase({ label: 'sync_on_start', poolSize: 6 });
  const fake = await startFakeGitHub({ token: TEST_TOKEN });
  fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'all' });
  fake.addFixtureRepository('helm__helm', { releases: 'none' });
  const products = await defineProducts(database.db, [
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
    { name: 'helm', repository: 'helm/helm' },
  ]);
  // helm counts as synced already: it must wait for the schedule.
  await database.db.query(sql.unsafe`
    INSERT INTO sync_state (product_id, last_success_at, last_outcome) VALUES (${products.get('helm')!.id}, now(), 'succeeded')`);
  await installQueues(database.url, quietLogger);
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 4, supervise: true });
  await boss.start();
  const config = loadConfig({
    DATABASE_URL: database.url,
    GITHUB_API_URL: fake.url,
    GITHUB_TOKEN: TEST_TOKEN,
    SYNC_SCHEDULE: '0 0 1 1 *',
    SYNC_ON_START: 'true',
  });
  const syncs = await startSyncs({ config, db: database.db, boss, logger: quietLogger });
  try {
    const jobs = await boss.findJobs(QUEUES.syncProduct, { limit: 100 });
    assert.equal(
      jobs.map((job) => [(job.data as { product: string }).product, (job.data as { reason: string }).reason]),
      [['src-cli', 'startup']],
    );
    const synced = await waitFor('src-cli to be synced', async () => {
      const count = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
        SELECT count(*)::int AS count FROM releases WHERE product_id = ${products.get('src-cli')!.id}`);
      const state = await database.db.maybeOneFirst(sql.type(z.object({ at: z.date().nullable() }))`
        SELECT last_success_at AS at FROM sync_state WHERE product_id = ${products.get('src-cli')!.id}`);
      return count > 0 && state ? count : undefined;
    });
    assert.ok(synced > 100, 'src-cli backfilled without waiting for a tick');

    // A second replica starting now finds nothing left to sync first.
    const second = await startSyncs({ config, db: database.db, boss, logger: quietLogger });
    await second.stop();
    assert.is((await boss.findJobs(QUEUES.syncProduct, { limit: 100 })).length, 1, 'no further first syncs');
  } finally {
    await syncs.stop();
    await boss.stop({ graceful: false, close: true });
    await fake.close();
    await database.drop();
  }
});

test('SYNC_ON_START is parsed as a boolean, on by default', () => {
  assert.is(loadConfig({ SYNC_ON_START: 'false' }).SYNC_ON_START, false);
  assert.is(loadConfig({}).SYNC_ON_START, true);
  assert.throws(() => loadConfig({ SYNC_ON_START: 'maybe' }), /SYNC_ON_START: expected true or false/);
});

test.run();
