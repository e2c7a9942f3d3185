import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installQueues } from '../src/queues.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { assertStillRunning, assertUnavailable, msUntilServing, startServices } from './support/outage.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';

// The real API and worker processes reach PostgreSQL through a proxy the test cuts: every open
// connection drops and new ones are refused, as when the network or the server goes away. While it
// is cut both answer 503 without hanging; within 5 s after it is back both serve again, without a
// restart.

test('database unreachable: 503s without hanging; both processes serve again within 5 s', async () => {
  const database = await createTestDatabase({ label: 'outage' });
  await installQueues(database.url, quietLogger);
  const target = new URL(database.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const services = await startServices(proxy.via(database.url));
  try {
    await msUntilServing(services, performance.now());

    proxy.cut();
    await assertUnavailable(services);
    // Still down a few seconds later (pools and pg-boss retrying meanwhile).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await assertUnavailable(services);

    const restored = performance.now();
    proxy.restore();
    const ms = await msUntilServing(services, restored);
    process.stdout.write(`# serving again ${Math.round(ms)} ms after the database came back\n`);
    assert.ok(ms < 5_000, `serving again within 5 s (took ${Math.round(ms)} ms)`);
    assertStillRunning(services);
  } finally {
    await services.stop();
    await proxy.close();
    await database.drop();
  }
});

test.run();
