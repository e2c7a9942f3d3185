import { request as httpRequest } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { installQueues } from '../src/queues.ts';
import { logged, startCliProcess, type CliProcess } from './support/cli-process.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { parseExposition, value } from './support/metrics.ts';

// The real worker process (`node src/cli.ts worker`) serves its metrics, health and version on
// METRICS_PORT, guards /metrics with METRICS_TOKEN, and stops cleanly on SIGTERM.

const METRICS_TOKEN = 'worker-metrics-token-0123';

const server = suite<{ database: TestDatabase; worker: CliProcess; url: string }>('worker metrics server', {} as never);

server.before(async (context) => {
  context.database = await createTestDatabase({ label: 'worker_metrics' });
  await installQueues(context.database.url, quietLogger);
  context.worker = startCliProcess(['worker'], { DATABASE_URL: context.database.url, METRICS_PORT: '0', METRICS_TOKEN, GIT_SHA: '0123456789abcdef' });
  const listening = await context.worker.waitForLog(logged('worker metrics server listening'));
  context.url = String(listening.url);
  await context.worker.waitForLog(logged('worker started'));
});

server.after(async (context) => {
  await context.worker.kill();
  await context.database.drop();
});

const get = (url: string, init: RequestInit = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });

server('GET /-/healthz: database reachable and pg-boss running', async ({ url }) => {
  const response = await get(`${url}/-/healthz`);
  assert.is(response.status, 200);
  assert.is(response.headers.get('cache-control'), 'no-store');
  const body = (await response.json()) as Record<string, unknown>;
  assert.is(body.status, 'ok');
  assert.is(body.database, 'ok');
  assert.is(body.jobs, 'running');
});

server('GET /metrics needs the token, then serves the worker registry', async ({ url }) => {
  const refused = await get(`${url}/metrics`);
  assert.is(refused.status, 401);
  assert.is(refused.headers.get('www-authenticate'), 'Bearer realm="metrics"', "the API's /metrics challenge");
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthorized');
  const response = await get(`${url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.is(response.status, 200);
  const metrics = parseExposition(await response.text());
  assert.ok((value(metrics, 'release_registry_start_to_ready_seconds', { role: 'worker' }) ?? 0) > 0);
  assert.is(value(metrics, 'release_registry_build_info', { git_sha: '0123456789abcdef' }), 1);
  assert.ok(value(metrics, 'release_registry_db_pool_max_connections', { pool: 'worker' }) === 10);
  assert.ok(value(metrics, 'release_registry_db_pool_max_connections', { pool: 'worker-boss' }) === 6, 'WORKER_CONCURRENCY + 2');
  assert.is(value(metrics, 'release_registry_jobs', { queue: 'sync-product', state: 'active' }), 0);
  assert.ok(metrics.has('process_resident_memory_bytes'));
  assert.ok(!metrics.has('release_registry_http_requests_in_flight') || value(metrics, 'release_registry_http_requests_in_flight') === 0);
});

server('GET /-/version, and JSON errors for unknown paths and methods', async ({ url }) => {
  const version = await get(`${url}/-/version`);
  assert.is(version.status, 200);
  assert.is(((await version.json()) as { gitSha: string }).gitSha, '0123456789abcdef');
  const missing = await get(`${url}/nope`);
  assert.is(missing.status, 404);
  assert.equal(await missing.json(), { error: { code: 'not_found', message: 'no route for GET /nope' } });
  const wrong = await get(`${url}/-/healthz`, { method: 'POST' });
  assert.is(wrong.status, 405);
  assert.is(wrong.headers.get('allow'), 'GET, HEAD');
  // A request target no URL parser accepts (fetch would normalize it, so node:http sends it as is).
  const odd = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest(`${url}/`, { path: '//' }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
  assert.is(odd.status, 404, odd.body);
  assert.equal(JSON.parse(odd.body), { error: { code: 'not_found', message: 'no route for GET //' } });
});

server('SIGTERM stops the worker within SHUTDOWN_TIMEOUT_MS with exit code 0', async ({ worker, url }) => {
  const sent = performance.now();
  worker.signal('SIGTERM');
  const exit = await worker.exitWithin(10_000);
  assert.ok(exit !== null, 'exited within 10 s');
  assert.is(exit!.code, 0, worker.output());
  assert.ok(exit!.at > sent);
  assert.ok(worker.lines.some(logged('worker stopped')));
  const closed = await get(`${url}/-/healthz`).then(
    () => false,
    () => true,
  );
  assert.ok(closed, 'the metrics server is closed');
  process.stdout.write(`# worker stopped ${Math.round(exit!.at - sent)} ms after SIGTERM\n`);
});

server.run();
