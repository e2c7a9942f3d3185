import { get as httpGet, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { installQueues } from '../src/queues.ts';
import { logged, startCliProcess } from './support/cli-process.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { parseExposition, value } from './support/metrics.ts';

// SIGTERM on the real API process (`node src/cli.ts api`): it stops accepting at once, finishes the
// request in flight (answered with `Connection: close`), and exits 0 within SHUTDOWN_TIMEOUT_MS.
//
// The request in flight is a scrape of /metrics held up by a lock: the job counts it reads come from
// pg-boss's queue table, which the test locks before the scrape and releases only after the signal,
// so the request is provably running across the SIGTERM.

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

test('SIGTERM: stop accepting, finish the in-flight request, exit 0 within 10 s', async () => {
  const database = await createTestDatabase({ label: 'api_shutdown' });
  await installQueues(database.url, quietLogger);
  const api = startCliProcess(['api'], { DATABASE_URL: database.url, PORT: '0' });
  const locker = new pg.Client({ connectionString: database.url });
  const observer = new pg.Client({ connectionString: database.url });
  try {
    const url = new URL(String((await api.waitForLog(logged('api listening'))).url));
    const port = Number(url.port);
    await locker.connect();
    await observer.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE pgboss.queue IN ACCESS EXCLUSIVE MODE');

    const response = new Promise<{ message: IncomingMessage; body: string; at: number }>((resolve, reject) => {
      const request = httpGet({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (message) => {
        let body = '';
        message.setEncoding('utf8');
        message.on('data', (chunk: string) => (body += chunk));
        message.on('end', () => resolve({ message, body, at: performance.now() }));
      });
      request.on('error', reject);
    });
    // The scrape is in flight once the API's pg-boss session waits for the lock.
    for (let attempt = 0; ; attempt += 1) {
      const { rowCount } = await observer.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'release-registry-api-boss' AND wait_event_type = 'Lock'`,
      );
      if (rowCount) break;
      if (attempt > 200) throw new Error('the scrape never waited for the lock');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const signalled = performance.now();
    api.signal('SIGTERM');
    await api.waitForLog(logged('shutting down'));
    assert.ok(await refusesConnections(port), 'new connections are refused while the in-flight request runs');
    await locker.query('COMMIT');

    const { message, body, at } = await response;
    assert.is(message.statusCode, 200, 'the in-flight request is answered, not cut');
    assert.ok(at > signalled);
    assert.is(message.headers.connection, 'close');
    const metrics = parseExposition(body);
    assert.is(value(metrics, 'release_registry_metrics_collector_up', { collector: 'jobs' }), 1, 'it read the job counts after the lock was released');
    assert.is(value(metrics, 'release_registry_http_requests_in_flight'), 1);

    const exit = await api.exitWithin(10_000);
    assert.ok(exit !== null, `exited within 10 s\n${api.output()}`);
    assert.is(exit!.code, 0, api.output());
    assert.ok(api.lines.some(logged('api stopped')));
    assert.not.ok(api.lines.some((line) => line.level === 'error' || line.level === 'fatal'), api.output());
  } finally {
    await api.kill();
    await locker.end().catch(() => undefined);
    await observer.end().catch(() => undefined);
    await database.drop();
  }
});

test.run();
