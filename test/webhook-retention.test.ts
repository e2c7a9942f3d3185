import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { storeDeliveries } from '../src/db/webhook-deliveries.ts';
import { deliveriesDeleted } from '../src/metrics/metrics.ts';
import { startDeliveryRetention } from '../workers/delivery-retention.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { defineProducts } from './support/sync.ts';
import { TRACKED_REPOSITORY, trackedReleaseDelivery } from './support/webhooks.ts';

// Processed and ignored deliveries older than WEBHOOK_RETENTION_DAYS are deleted by the worker;
// failed and unfinished ones are kept whatever their age, for a worker or an operator.

const retention = suite<{ database: TestDatabase }>('webhook retention', {} as never);

retention.before(async (context) => {
  context.database = await createTestDatabase({ label: 'webhook_retention' });
  await defineProducts(context.database.db, [{ name: 'widget', repository: TRACKED_REPOSITORY.fullName }]);
});

retention.after(async ({ database }) => {
  await database.drop();
});

const DAY = 86_400_000;
const now = new Date('2026-06-30T12:00:00Z');

/** Stores a delivery received `daysAgo` before `now`, then gives it `status`. */
async function stored(database: TestDatabase, daysAgo: number, status: string): Promise<string> {
  const delivery = { ...trackedReleaseDelivery(Buffer.from('{"action":"published"}')), receivedAt: new Date(now.getTime() - daysAgo * DAY) };
  await storeDeliveries(database.db, [delivery]);
  await database.db.query(sql.unsafe`UPDATE webhook_deliveries SET status = ${status} WHERE delivery_id = ${delivery.deliveryId}`);
  return delivery.deliveryId;
}

async function remaining(database: TestDatabase, deliveryIds: readonly string[]): Promise<string[]> {
  const rows = await database.db.anyFirst(sql.type(z.object({ deliveryId: z.string() }))`
    SELECT delivery_id AS "deliveryId" FROM webhook_deliveries WHERE delivery_id = ANY(${sql.array([...deliveryIds], 'text')})`);
  return deliveryIds.filter((deliveryId) => rows.includes(deliveryId));
}

const deletedSoFar = async () => (await deliveriesDeleted.get()).values[0]?.value ?? 0;

retention('finished deliveries past retention are deleted; failed and unfinished ones are kept whatever their age', async ({ database }) => {
  const old = {
    processed: await stored(database, 31, 'processed'),
    ignored: await stored(database, 45, 'ignored'),
    failed: await stored(database, 400, 'failed'),
    queued: await stored(database, 40, 'queued'),
    processing: await stored(database, 40, 'processing'),
  };
  const recent = { processed: await stored(database, 29, 'processed'), ignored: await stored(database, 1, 'ignored') };
  const all = [...Object.values(old), ...Object.values(recent)];
  const before = await deletedSoFar();

  const kept = startDeliveryRetention({ db: database.db, logger: quietLogger, retentionDays: 0 });
  assert.is(await kept.run(now), 0, 'WEBHOOK_RETENTION_DAYS=0 keeps every delivery');
  await kept.stop();
  assert.equal(await remaining(database, all), all);

  const task = startDeliveryRetention({ db: database.db, logger: quietLogger, retentionDays: 30 });
  try {
    assert.is(await task.run(now), 2);
    assert.equal(await remaining(database, all), [old.failed, old.queued, old.processing, recent.processed, recent.ignored]);
    assert.is((await deletedSoFar()) - before, 2, 'counted in release_registry_webhook_deliveries_deleted_total');
    assert.is(await task.run(now), 0, 'nothing more to delete');
  } finally {
    await task.stop();
  }
});

retention('a backlog larger than one statement is deleted in batches by one run', async ({ database }) => {
  // 2,500 finished deliveries a year old, written directly: three statements' worth.
  await database.db.query(sql.unsafe`
    INSERT INTO webhook_deliveries (delivery_id, event, payload, status, received_at)
    SELECT 'old-' || n, 'release', '{}', 'processed', ${new Date(now.getTime() - 365 * DAY).toISOString()}::timestamptz
    FROM generate_series(1, 2500) AS n`);
  const task = startDeliveryRetention({ db: database.db, logger: quietLogger, retentionDays: 30 });
  try {
    assert.is(await task.run(now), 2_500);
    const left = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
      SELECT count(*)::int AS count FROM webhook_deliveries WHERE delivery_id LIKE 'old-%'`);
    assert.is(left, 0);
  } finally {
    await task.stop();
  }
});

retention('the worker runs it on its schedule', async ({ database }) => {
  const deliveryId = randomUUID();
  await storeDeliveries(database.db, [{ ...trackedReleaseDelivery(Buffer.from('{}'), deliveryId), receivedAt: new Date(Date.now() - 90 * DAY) }]);
  await database.db.query(sql.unsafe`UPDATE webhook_deliveries SET status = 'ignored' WHERE delivery_id = ${deliveryId}`);
  // Every second, rather than hourly, so that the test sees a run.
  const task = startDeliveryRetention({ db: database.db, logger: quietLogger, retentionDays: 30, schedule: '* * * * * *' });
  try {
    await eventually(() => remaining(database, [deliveryId]), (left) => left.length === 0, 'a scheduled run deletes the delivery', 20_000);
  } finally {
    await task.stop();
  }
});

retention.run();
