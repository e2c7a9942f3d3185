import { get as httpGet, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi } from '../api/server.ts';
import { loadConfig } from '../src/config.ts';
import { installQueues } from '../src/queues.ts';
import { logged, startCliProcess } from './support/cli-process.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { defineProducts, productDefinition } from './support/seed.ts';

// SIGTERM on the real API process (`node src/cli.ts api`): it stops accepting at once, finishes the
// request in flight (answered with `Connection: close`), and exits 0 within SHUTDOWN_TIMEOUT_MS.
//
// The request in flight is a release list held up by a lock on the releases table, which the test
// takes before the request and releases only after the signal, so the request is provably running
// across the SIGTERM. Only the API's own query reads that table, so seeing a session of the API wait
// for that lock proves the request is being served (a lock on pg-boss's tables would also catch
// pg-boss's own housekeeping queries and could be mistaken for the request).

/**
 * True when a new request on a new connection is turned away (refused or reset); false when it is
 * answered, or accepted and left hanging.
 */
function refusesNewRequests(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/-/healthz', agent: false, timeout: 5_000 }, (message) => {
      message.resume();
      resolve(false);
    });
    let timedOut = false;
    request.once('timeout', () => {
      timedOut = true;
      request.destroy(new Error('timeout'));
    });
    request.once('error', () => resolve(!timedOut));
  });
}

test('SIGTERM: stop accepting, finish the in-flight request, exit 0 within 10 s', async () => {
  const database = await createTestDatabase({ label: 'api_shutdown' });
  await installQueues(database.url, quietLogger);
  await defineProducts(database.db, [productDefinition('app')]);
  const api = startCliProcess(['api'], { DATABASE_URL: database.url, PORT: '0' });
  const locker = new pg.Client({ connectionString: database.url });
  const observer = new pg.Client({ connectionString: database.url });
  try {
    const url = new URL(String((await api.waitForLog(logged('api listening'))).url));
    const port = Number(url.port);
    await locker.connect();
    await observer.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE releases IN ACCESS EXCLUSIVE MODE');

    const response = new Promise<{ message: IncomingMessage; body: string; at: number }>((resolve, reject) => {
      const request = httpGet({ host: '127.0.0.1', port, path: '/v1/releases/app', agent: false }, (message) => {
        let body = '';
        message.setEncoding('utf8');
        message.on('data', (chunk: string) => (body += chunk));
        message.on('end', () => resolve({ message, body, at: performance.now() }));
      });
      request.on('error', reject);
    });
    // Observed at once so that a failure surfaces as this test's failure, not an unhandled rejection.
    const answered = response.then(
      (value) => ({ ok: true as const, value }),
      (error: Error) => ({ ok: false as const, error }),
    );
    // The request is in flight once a session of the API waits for the lock on releases.
    for (let attempt = 0; ; attempt += 1) {
      const { rowCount } = await observer.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'release-registry-api'
           AND wait_event_type = 'Lock' AND query ILIKE '%releases%'`,
      );
      if (rowCount) break;
      if (attempt > 1000) throw new Error('the request never waited for the lock');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const signalled = performance.now();
    api.signal('SIGTERM');
    await api.waitForLog(logged('shutting down'));
    assert.ok(await refusesNewRequests(port), 'new requests are not served while the in-flight request runs');
    await locker.query('COMMIT');

    const outcome = await answered;
    if (!outcome.ok) throw new Error(`the in-flight request was cut: ${outcome.error.message}\n${api.output()}`);
    const { message, body, at } = outcome.value;
    assert.is(message.statusCode, 200, 'the in-flight request is answered, not cut');
    assert.ok(at > signalled);
    assert.is(message.headers.connection, 'close');
    assert.equal(JSON.parse(body), [], 'it read the releases after the lock was released');

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

test('a request sent on an idle keep-alive connection just before the stop is answered, not reset', async () => {
  const database = await createTestDatabase({ label: 'api_shutdown_keepalive' });
  await installQueues(database.url, quietLogger);
  const api = await startApi(loadConfig({ DATABASE_URL: database.url, PORT: '0' }), database.url, quietLogger);
  const socket = connect({ host: '127.0.0.1', port: api.port });
  try {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const request = 'GET /-/version HTTP/1.1\r\nHost: localhost\r\n\r\n';
    socket.write(request);
    await eventually(async () => received, (text) => text.includes('"version"'), 'the first answer');
    // The connection is idle now. The second request is on its way (written to the socket) when the
    // stop begins, in the same tick: the server has not read it yet.
    received = '';
    socket.write(request);
    const stopped = api.stop();
    // A loop held up past the grace (a busy or descheduled process) must still read it first.
    for (const until = performance.now() + 120; performance.now() < until; );
    await ended;
    await stopped;
    assert.match(received, /^HTTP\/1\.1 200 /, `answered, not reset (got ${JSON.stringify(received.slice(0, 80))})`);
    assert.match(received, /\r\nconnection: close\r\n/i, 'and told the connection closes');
  } finally {
    socket.destroy();
    await api.stop();
    await database.drop();
  }
});

test.run();
