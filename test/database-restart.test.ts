import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { migrate } from '../src/db/migrate.ts';
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from '../src/embedded-postgres.ts';
import { installQueues } from '../src/queues.ts';
import { quietLogger } from './support/database.ts';
import { assertStillRunning, assertUnavailable, msUntilServing, startServices } from './support/outage.ts';

// A real PostgreSQL restart, on a server this test starts itself (embedded, in a temporary
// directory; never the machine's shared server): the server terminates every session ("terminating
// connection due to administrator command"), refuses connections while down, and comes back on the
// same port. The real API and worker answer 503 meanwhile and serve again within 5 s, unrestarted.

test('PostgreSQL restart: 503s while it is down; both processes serve again within 5 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'release-registry-restart-'));
  const port = await freePort();
  let server: EmbeddedServer | undefined = await startEmbeddedPostgres({ dir, port, logger: quietLogger });
  const url = server.url.replace(/\/postgres$/, '/registry');
  let services: Awaited<ReturnType<typeof startServices>> | undefined;
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE registry');
    await admin.end();
    await migrate(url, quietLogger);
    await installQueues(url, quietLogger);
    services = await startServices(url);
    await msUntilServing(services, performance.now());

    await server.stop();
    server = undefined;
    await assertUnavailable(services);

    server = await startEmbeddedPostgres({ dir, port, logger: quietLogger });
    const restarted = performance.now();
    const ms = await msUntilServing(services, restarted);
    process.stdout.write(`# serving again ${Math.round(ms)} ms after PostgreSQL was back\n`);
    assert.ok(ms < 5_000, `serving again within 5 s (took ${Math.round(ms)} ms)`);
    assertStillRunning(services);
  } finally {
    await services?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
