import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { logged, startCliProcess } from './support/cli-process.ts';
import { createTestDatabase } from './support/database.ts';
import { embeddedDataDir, embeddedServerStopped, removeEmbeddedDataDir } from './support/embedded-data-dir.ts';
import { parseExposition, value } from './support/metrics.ts';

// `release-registry start` (migrate, then the API and a worker in one process) serves one registry
// on the API's /metrics, and on SIGTERM stops both together within SHUTDOWN_TIMEOUT_MS.

test('start: both roles report ready; SIGTERM stops API and worker, exit 0 within 10 s', async () => {
  const database = await createTestDatabase({ label: 'start_shutdown', migrated: false });
  const service = startCliProcess(['start'], { DATABASE_URL: database.url, PORT: '0', METRICS_PORT: '0' });
  try {
    const running = await service.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('release-registry is running at'));
    const url = String(running.url);
    const ready = await fetch(`${url}/-/readyz`, { signal: AbortSignal.timeout(5_000) });
    assert.is(ready.status, 200);
    const metrics = parseExposition(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text());
    assert.ok((value(metrics, 'release_registry_start_to_ready_seconds', { role: 'api' }) ?? 0) > 0);
    assert.ok((value(metrics, 'release_registry_start_to_ready_seconds', { role: 'worker' }) ?? 0) > 0);
    for (const pool of ['api', 'api-boss', 'worker', 'worker-boss']) {
      assert.ok(value(metrics, 'release_registry_db_pool_max_connections', { pool }) !== undefined, pool);
    }
    assert.not.ok(service.lines.some(logged('worker metrics server listening')), 'no second metrics port in one process');

    service.signal('SIGTERM');
    const exit = await service.exitWithin(10_000);
    assert.ok(exit !== null, `exited within 10 s\n${service.output()}`);
    assert.is(exit!.code, 0, service.output());
    assert.ok(service.lines.some(logged('api stopped')));
    assert.ok(service.lines.some(logged('worker stopped')));
  } finally {
    await service.kill();
    await database.drop();
  }
});

for (const [when, after] of [
  ['migrating', 'embedded PostgreSQL running'],
  ['starting the API', 'products file loaded'],
] as const) {
  test(`start on the embedded PostgreSQL: a Ctrl-C while ${when} stops the embedded server too, exit 130`, () => ctrlCWhileStarting(after));
}

async function ctrlCWhileStarting(afterLog: string): Promise<void> {
  const dataDir = embeddedDataDir();
  const service = startCliProcess(['start'], { DATA_DIR: dataDir, PORT: '0', METRICS_PORT: '0', DATABASE_URL: undefined });
  try {
    await service.waitForLog(logged(afterLog), 120_000);
    // The next step of the start is under way.
    service.signal('SIGINT');
    const exit = await service.exitWithin(15_000);
    assert.ok(exit !== null, `exited within 15 s\n${service.output()}`);
    assert.is(exit!.code, 130, service.output());
    const stopped = await embeddedServerStopped(dataDir);
    assert.ok(stopped);
  } finally {
    await service.kill();
    await removeEmbeddedDataDir(dataDir);
  }
}

test.run();
