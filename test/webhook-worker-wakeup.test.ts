import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tagPushed } from './support/github-events.ts';
import { startFakeIngestion } from './support/ingestion.ts';
import { postDelivery, readDelivery } from './support/webhooks.ts';

// The worker is woken through the database, not by polling: the intake's NOTIFY after its commit
// wakes the enqueuer, and the job's NOTIFY (committed with the job) the handler. With both polling
// five minutes apart, deliveries are still processed as soon as they arrive.

test('a worker polling every 5 minutes processes each delivery when it is committed', async () => {
  const app = await startFakeIngestion({ label: 'wakeup', worker: { pollingIntervalSeconds: 300 } });
  try {
    // The worker polled once at start and found nothing; every delivery below arrives while it sleeps.
    for (const name of ['v1.0.0', 'v1.0.1', 'v1.0.2']) {
      const ref = app.repository.addTag({ name });
      const [, push] = tagPushed(app.repo, name, ref.sha);
      const answer = await postDelivery(app.server.url, push!);
      // Far below the 300 s poll: only a notification can have woken the worker in time.
      await app.settled([answer.deliveryId], 30_000);
      assert.is((await readDelivery(app.database.db, answer.deliveryId))?.status, 'processed');
    }
  } finally {
    await app.close();
  }
});

test.run();
