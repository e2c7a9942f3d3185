import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { recordDeliveryFailure } from '../src/db/webhook-deliveries.ts';
import { QUEUES } from '../src/queues.ts';
import { startStrandedDeliveriesCheck } from '../workers/stranded-deliveries.ts';
import { quietLogger } from './support/database.ts';
import { startFakeIngestion } from './support/ingestion.ts';
import { storedPush, storeUnderJob } from './support/webhooks.ts';

// A job whose last attempt ended without recording anything (the worker killed during it) leaves
// its deliveries queued or processing, where `replay --failed` does not look. The worker's periodic
// check fails them, saying why; deliveries of a job still waiting or running are left alone.

const deliveryState = z.object({ status: z.string(), error: z.string().nullable() });

test('deliveries left open by a job that failed for good, or is gone, are failed with the reason; a waiting job keeps its own', async () => {
  const app = await startFakeIngestion({ label: 'stranded_deliveries', startWorker: false });
  const { db } = app.database;
  const boss = app.workerBoss;
  const check = startStrandedDeliveriesCheck({ db, boss, logger: quietLogger, schedule: '0 0 1 1 *' });
  const state = (deliveryId: string) => db.one(sql.type(deliveryState)`SELECT status, error FROM webhook_deliveries WHERE delivery_id = ${deliveryId}`);
  try {
    const store = async (jobId: string) => {
      const deliveryId = randomUUID();
      await storeUnderJob(db, [storedPush(app.repo, deliveryId, JSON.stringify({ ref: 'refs/tags/v1.0.0', repository: { id: app.repo.id, full_name: app.repo.fullName } }))], jobId);
      return deliveryId;
    };
    // A job whose last attempt failed (as pg-boss fails one whose worker died), one still waiting,
    // and one that no longer exists.
    const endedJob = (await boss.send(QUEUES.processDelivery, { deliveryIds: [] }, { retryLimit: 0 }))!;
    const [claimed] = await boss.fetch(QUEUES.processDelivery);
    assert.is(claimed?.id, endedJob);
    await boss.fail(QUEUES.processDelivery, endedJob, { message: 'worker stopped' });
    const waitingJob = (await boss.send(QUEUES.processDelivery, { deliveryIds: [] }, { startAfter: 3_600 }))!;
    const ended = await store(endedJob);
    await db.query(sql.unsafe`UPDATE webhook_deliveries SET status = 'processing' WHERE delivery_id = ${ended}`);
    const waiting = await store(waitingJob);
    const gone = await store(randomUUID());

    assert.is(await check.run(new Date()), 0, 'nothing is checked before it has been quiet for a while');
    const later = new Date(Date.now() + 11 * 60_000);
    assert.is(await check.run(later), 2);
    const endedState = await state(ended);
    assert.is(endedState.status, 'failed');
    assert.match(endedState.error ?? '', new RegExp(`${endedJob} ended failed after 1 attempt\\(s\\) without finishing it`));
    const goneState = await state(gone);
    assert.is(goneState.status, 'failed');
    assert.match(goneState.error ?? '', /is gone without finishing it/);
    assert.equal(await state(waiting), { status: 'queued', error: null }, 'its job is still to run');
    assert.is(await check.run(later), 0, 'a second run finds nothing more');

    // Past a page of live jobs with quiet deliveries (a long rate-limit deferral makes one per
    // batch), an ended job is still reached.
    const liveIds = Array.from({ length: 205 }, (_, index) => `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`);
    for (const id of liveIds) await boss.send(QUEUES.processDelivery, { deliveryIds: [] }, { id, startAfter: 3_600 });
    for (const id of liveIds) await store(id);
    const last = await store('ffffffff-ffff-4fff-bfff-ffffffffffff');
    assert.is(await check.run(later), 1);
    assert.is((await state(last)).status, 'failed', 'the job after two pages of live ones');

    // A late failure of an earlier attempt (one with retries left) does not undo the final one.
    await recordDeliveryFailure(db, [{ deliveryId: ended, jobId: endedJob }], 'an earlier attempt, late', false);
    assert.is((await state(ended)).status, 'failed');
  } finally {
    await check.stop();
    await app.close();
  }
});

test.run();
