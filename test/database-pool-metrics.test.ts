import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { createDatabasePool, type Database } from '../src/db/pool.ts';
import { DatabaseUnavailableError } from '../src/errors.ts';
import { registry } from '../src/metrics/registry.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { histogramCount, parseExposition, value, type Exposition } from './support/metrics.ts';

// A pool's gauges follow its use, and a caller that finds every connection busy waits at most the
// acquire timeout, then fails with DatabaseUnavailableError (a 503 in the API) instead of hanging.

const POOL = 'pool-metrics-test';
const pools = suite<{ database: TestDatabase; pool: Database }>('database pool metrics', {} as never);

pools.before(async (context) => {
  context.database = await createTestDatabase({ label: 'pool_metrics' });
  context.pool = await createDatabasePool(context.database.url, {
    logger: quietLogger,
    maximumPoolSize: 2,
    applicationName: `release-registry-${POOL}`,
    acquireTimeoutMs: 300,
  });
});

pools.after(async (context) => {
  await context.pool.end();
  await context.database.drop();
});

const scrape = async (): Promise<Exposition> => parseExposition(await registry.metrics());
const gauge = (metrics: Exposition, state: string) => value(metrics, 'release_registry_db_pool_connections', { pool: POOL, state });

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not reached');
}

pools('in-use, idle and waiting follow the pool; a caller over capacity times out with DatabaseUnavailableError', async ({ pool }) => {
  await pool.oneFirst(sql.type(z.object({ one: z.number() }))`SELECT 1 AS one`);
  // Slonik returns a connection to the pool just after the query's promise settles.
  await until(async () => gauge(await scrape(), 'idle') === 1);
  let metrics = await scrape();
  assert.is(value(metrics, 'release_registry_db_pool_max_connections', { pool: POOL }), 2);
  assert.is(gauge(metrics, 'in_use'), 0);
  assert.is(gauge(metrics, 'idle'), 1);

  // Two transactions hold both connections until released.
  const release = Promise.withResolvers<void>();
  const holding: Array<Promise<void>> = [];
  const held: Array<Promise<void>> = [];
  for (let i = 0; i < 2; i += 1) {
    const acquired = Promise.withResolvers<void>();
    held.push(acquired.promise);
    holding.push(
      pool.transaction(async (transaction) => {
        await transaction.query(sql.unsafe`SELECT 1`);
        acquired.resolve();
        await release.promise;
      }),
    );
  }
  await Promise.all(held);
  const third = pool.oneFirst(sql.type(z.object({ one: z.number() }))`SELECT 1 AS one`);
  third.catch(() => undefined);
  metrics = await scrape();
  assert.is(gauge(metrics, 'in_use'), 2);
  assert.is(gauge(metrics, 'idle'), 0);
  assert.is(value(metrics, 'release_registry_db_pool_waiting', { pool: POOL }), 1);
  const timeoutsBefore = value(metrics, 'release_registry_db_pool_acquire_timeouts_total', { pool: POOL });
  assert.is(timeoutsBefore, 0);

  try {
    await third;
    assert.unreachable('a caller over capacity must not wait forever');
  } catch (error) {
    assert.instance(error, DatabaseUnavailableError);
    assert.match((error as Error).message, /no connection of the pool-metrics-test database pool became free within 300 ms/);
  }
  metrics = await scrape();
  assert.is(value(metrics, 'release_registry_db_pool_acquire_timeouts_total', { pool: POOL }), 1);
  assert.is(value(metrics, 'release_registry_db_pool_waiting', { pool: POOL }), 0);

  release.resolve();
  await Promise.all(holding);
  await until(async () => gauge(await scrape(), 'idle') === 2);
  metrics = await scrape();
  assert.is(gauge(metrics, 'in_use'), 0);
  assert.ok(histogramCount(metrics, 'release_registry_db_pool_acquire_seconds', { pool: POOL }) >= 3);
  assert.ok(histogramCount(metrics, 'release_registry_db_query_duration_seconds', { pool: POOL }) >= 3);
});

pools('query failures are counted by kind', async ({ pool }) => {
  const before = await scrape();
  const count = (metrics: Exposition, kind: string) => value(metrics, 'release_registry_db_query_errors_total', { pool: POOL, kind }) ?? -1;
  await pool
    .transaction(async (transaction) => {
      await transaction.query(sql.unsafe`SET LOCAL statement_timeout = 20`);
      await transaction.query(sql.unsafe`SELECT pg_sleep(1)`);
    })
    .catch(() => undefined);
  // One session holds a lock; a second one wants it and gives up after its lock_timeout.
  const locked = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  const holder = pool.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`SELECT pg_advisory_xact_lock(42)`);
    locked.resolve();
    await release.promise;
  });
  await locked.promise;
  await pool
    .transaction(async (transaction) => {
      await transaction.query(sql.unsafe`SET LOCAL lock_timeout = 20`);
      await transaction.query(sql.unsafe`SELECT pg_advisory_xact_lock(42)`);
    })
    .catch(() => undefined);
  release.resolve();
  await holder;
  await pool.query(sql.unsafe`SELECT no_such_column FROM products`).catch(() => undefined);
  const after = await scrape();
  assert.is(count(after, 'statement_timeout') - count(before, 'statement_timeout'), 1);
  assert.is(count(after, 'lock_timeout') - count(before, 'lock_timeout'), 1);
  assert.is(count(after, 'other') - count(before, 'other'), 1);
  assert.is(count(after, 'unavailable') - count(before, 'unavailable'), 0);
});

pools.run();
