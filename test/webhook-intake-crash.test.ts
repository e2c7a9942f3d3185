import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { syncProductDefinitions } from '../src/db/products.ts';
import { createBoss, installQueues } from '../src/queues.ts';
import { logged, startCliProcess } from './support/cli-process.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { enqueueAllStored, fixturePayload, signedRequest, TRACKED_REPOSITORY, WEBHOOK_SECRET, widgetProduct } from './support/webhooks.ts';

// The real `api` process is SIGKILLed while deliveries pour in. Whatever it answered 2xx must be
// stored; whatever it stored (answered or not) must get its job, though the API died before it
// could announce it: the worker's enqueuer finds stored deliveries without a job by itself.

const CLIENTS = 16;
const KILL_AFTER_ACCEPTED = 300;

test('an api process killed mid-load loses no delivery it answered 2xx, and the enqueuer gives each one stored its job', async () => {
  const database = await createTestDatabase({ label: 'intake_crash' });
  await installQueues(database.url, quietLogger);
  await syncProductDefinitions(database.db, [widgetProduct()]);
  const api = startCliProcess(['api'], { DATABASE_URL: database.url, PORT: '0', GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, LOG_LEVEL: 'info' });
  try {
    const listening = await api.waitForLog(logged('api listening'));
    const url = String(listening.url);

    const accepted: string[] = [];
    let failedRequests = 0;
    let killed = false;
    const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.0.0' });
    const client = async () => {
      while (!killed) {
        const request = await signedRequest({ event: 'release', payload });
        try {
          const response = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: request.headers, body: request.body });
          await response.arrayBuffer();
          if (response.status === 202) accepted.push(request.deliveryId);
          else throw new Error(`unexpected ${response.status}`);
        } catch (error) {
          if (!killed) throw error;
          failedRequests += 1;
        }
        if (!killed && accepted.length >= KILL_AFTER_ACCEPTED) {
          killed = true;
          api.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const exit = await api.exited;
    assert.is(exit.signal, 'SIGKILL');
    assert.ok(failedRequests > 0, 'requests were in flight when the process died');

    // What the worker's enqueuer does on its first sweep (and on every tick).
    const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'test-enqueuer', maxConnections: 2 });
    await boss.start();
    try {
      await enqueueAllStored(database.db, boss);
    } finally {
      await boss.stop({ graceful: false, close: true });
    }

    const rows = await database.db.any(sql.type(z.object({ deliveryId: z.string(), hasJob: z.boolean() }))`
      SELECT d.delivery_id AS "deliveryId",
             EXISTS (SELECT 1 FROM pgboss.job j WHERE j.id = d.job_id AND j.name = 'process-delivery' AND j.data -> 'deliveryIds' ? d.delivery_id) AS "hasJob"
      FROM webhook_deliveries d`);
    const stored = new Map(rows.map((row) => [row.deliveryId, row.hasJob]));
    const lost = accepted.filter((deliveryId) => !stored.has(deliveryId));
    assert.equal(lost, [], 'every delivery answered 2xx is stored');
    const withoutJob = rows.filter((row) => !row.hasJob).map((row) => row.deliveryId);
    assert.equal(withoutJob, [], 'every stored delivery has its job');
  } finally {
    await api.kill();
    await database.drop();
  }
});

test.run();
