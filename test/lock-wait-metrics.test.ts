import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDatabasePool } from '../src/db/pool.ts';
import { collectDatabaseMetrics } from '../src/metrics/database-collectors.ts';
import { registry } from '../src/metrics/registry.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { parseExposition, value, type Exposition } from './support/metrics.ts';

// Lock waits of our sessions are sampled from pg_locks at scrape: a session blocked behind another's
// lock shows up under its application_name with the age of its wait, and disappears once it gets it.

const scrape = async (): Promise<Exposition> => parseExposition(await registry.metrics());

async function until(condition: (metrics: Exposition) => boolean, what: string): Promise<Exposition> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const metrics = await scrape();
    if (condition(metrics)) return metrics;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never saw: ${what}`);
}

test('a write blocked on a lock shows as a waiting session with a growing wait, then clears', async () => {
  const database = await createTestDatabase({ label: 'lock_waits' });
  const holder = await createDatabasePool(database.url, { logger: quietLogger, maximumPoolSize: 1, applicationName: 'release-registry-lock-holder' });
  const writer = await createDatabasePool(database.url, { logger: quietLogger, maximumPoolSize: 1, applicationName: 'release-registry-lock-writer' });
  const stopCollecting = collectDatabaseMetrics(database.db);
  const release = Promise.withResolvers<void>();
  try {
    const locked = Promise.withResolvers<void>();
    const holding = holder.transaction(async (transaction) => {
      await transaction.query(sql.unsafe`LOCK TABLE products IN ACCESS EXCLUSIVE MODE`);
      locked.resolve();
      await release.promise;
    });
    await locked.promise;
    const write = writer.query(sql.unsafe`UPDATE products SET description = 'blocked' WHERE false`);

    const waiting = (application: string) => (metrics: Exposition) => value(metrics, 'release_registry_db_lock_waiting_sessions', { application }) ?? 0;
    const longest = (metrics: Exposition) => value(metrics, 'release_registry_db_lock_wait_longest_seconds', { application: 'release-registry-lock-writer' }) ?? 0;
    let metrics = await until((m) => waiting('release-registry-lock-writer')(m) === 1, 'the writer waiting');
    const firstAge = longest(metrics);
    metrics = await until((m) => longest(m) > firstAge + 0.5, 'the wait growing');
    assert.is(waiting('release-registry-lock-holder')(metrics), 0, 'the holder waits for nothing');
    assert.is(value(metrics, 'release_registry_metrics_collector_up', { collector: 'database_activity' }), 1);

    release.resolve();
    await holding;
    await write;
    metrics = await until((m) => waiting('release-registry-lock-writer')(m) === 0, 'the wait cleared');
    assert.is(longest(metrics), 0);
  } finally {
    release.resolve();
    stopCollecting();
    await holder.end();
    await writer.end();
    await database.drop();
  }
});

test.run();
