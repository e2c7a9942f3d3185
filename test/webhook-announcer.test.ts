import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DeliveryAnnouncer } from '../api/webhooks/delivery-announcer.ts';
import { STORED_DELIVERIES_CHANNEL } from '../src/db/webhook-deliveries.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';

// The intake's wake-up for the worker's enqueuer: sent at once when idle, coalesced under load.

test('announcements are sent at once when idle and coalesced under load', async () => {
  const database = await createTestDatabase({ label: 'announcer', migrated: false });
  const listener = new pg.Client({ connectionString: database.url });
  try {
    await listener.connect();
    const received: number[] = [];
    listener.on('notification', (message) => {
      if (message.channel === STORED_DELIVERIES_CHANNEL) received.push(performance.now());
    });
    await listener.query(`LISTEN ${STORED_DELIVERIES_CHANNEL}`);
    const announcer = new DeliveryAnnouncer(database.db, quietLogger, 400);
    const settle = async () => {
      // Until nothing has arrived for longer than the coalescing interval (400 ms here).
      for (let seen = -1; seen !== received.length; ) {
        seen = received.length;
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    };

    const lone = performance.now();
    announcer.announce();
    await settle();
    assert.is(received.length, 1, 'one commit, one announcement');
    assert.ok(received[0]! - lone < 300, 'sent at once, not after the interval');

    received.length = 0;
    for (let commit = 0; commit < 200; commit += 1) announcer.announce();
    await settle();
    assert.is(received.length, 2, 'a burst of commits: the first announced at once, the rest by one more');

    received.length = 0;
    for (let round = 0; round < 5; round += 1) {
      announcer.announce();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await settle();
    assert.ok(received.length >= 1 && received.length < 5, `commits 50 ms apart share announcements (${received.length} for 5)`);
  } finally {
    await listener.end();
    await database.drop();
  }
});

test.run();
