import { readFileSync } from 'node:fs';
import type { PgBoss } from 'pg-boss';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../api/app.ts';
import { startApi, type RunningApi } from '../api/server.ts';
import { loadConfig } from '../src/config.ts';
import {
  observeIngestLag,
  observeJob,
  observeSync,
  recordDeliveryProcessing,
  recordGitHubRequest,
  recordWebhookDelivery,
  setGitHubRateLimit,
  WEBHOOK_DELIVERY_OUTCOMES,
} from '../src/metrics/metrics.ts';
import { syncProductDefinitions } from '../src/db/products.ts';
import { storeDeliveries } from '../src/db/webhook-deliveries.ts';
import { createBoss, installQueues, QUEUES } from '../src/queues.ts';
import { enqueueStoredDeliveries } from '../src/webhooks/enqueue-stored-deliveries.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { serve, type TestServer } from './support/http.ts';
import { histogramCount, parseExposition, samples, value, type Exposition } from './support/metrics.ts';
import { ROOT } from './support/processes.ts';
import { fixturePayload, TRACKED_REPOSITORY, trackedReleaseDelivery, widgetProduct } from './support/webhooks.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';

type Context = { database: TestDatabase; boss: PgBoss; api: RunningApi; server: TestServer; guarded: TestServer };
const exposition = suite<Context>('metrics exposition', {} as never);

exposition.before(async (context) => {
  context.database = await createTestDatabase({ label: 'metrics' });
  await installQueues(context.database.url, quietLogger);
  // The API as its process runs it (pools, pg-boss, collectors), on an ephemeral port.
  context.api = await startApi(loadConfig({ DATABASE_URL: context.database.url, PORT: '0' }), context.database.url, quietLogger);
  context.server = { url: context.api.url, server: context.api.server, close: context.api.stop };
  // A second pg-boss plays the worker: it enqueues and runs pg-boss's monitor pass.
  context.boss = createBoss(context.database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 2 });
  await context.boss.start();
  const config = loadConfig({ DATABASE_URL: context.database.url, METRICS_TOKEN });
  context.guarded = await serve(createApp({ config, logger: quietLogger, db: context.database.db, boss: context.boss }));
});

exposition.after(async (context) => {
  await context.api.stop();
  await context.guarded.close();
  await context.boss.stop({ graceful: false, close: true });
  await context.database.drop();
});

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Exposition> {
  const response = await fetch(`${server.url}/metrics`, { headers });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

/** The metric names docs/operations.md documents (its "Metrics" section). */
function documentedMetrics(): string[] {
  const doc = readFileSync(`${ROOT}/docs/operations.md`, 'utf8');
  const section = doc.slice(doc.indexOf('\n## Metrics'), doc.indexOf('\n## ', doc.indexOf('\n## Metrics') + 1));
  return [...new Set([...section.matchAll(/^\| `(release_registry_[a-z_]+)`/gm)].map((match) => match[1]!))];
}

exposition('after some requests and reports, /metrics parses and holds every documented series', async ({ server, boss }) => {
  await fetch(`${server.url}/-/healthz`);
  await fetch(`${server.url}/-/version`);
  await fetch(`${server.url}/no/such/route`);
  recordWebhookDelivery('accepted');
  recordDeliveryProcessing('processed');
  observeIngestLag(0.042);
  observeSync('src-cli', 'succeeded', 1.5);
  setGitHubRateLimit('core', 4_990, 5_000, new Date('2026-11-29T18:00:00Z'));
  recordGitHubRequest('rest', 304);
  observeJob(QUEUES.syncProduct, 'completed', 0.3);
  await boss.send(QUEUES.syncProductDead, { product: 'src-cli' });
  await boss.supervise();

  const metrics = await scrape(server);
  const documented = documentedMetrics();
  assert.ok(documented.length >= 25, `docs/operations.md documents the metrics (found ${documented.length})`);
  for (const name of documented) {
    assert.ok(samples(metrics, name).length > 0, `${name} is documented and exported`);
  }
  const undocumented = [...metrics.keys()].filter((name) => name.startsWith('release_registry_') && !documented.includes(name));
  assert.equal(undocumented, [], 'every exported release_registry_ metric is documented');
  // Node's default process metrics, for the container CPU and memory alerts.
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    assert.ok(metrics.has(name), name);
  }

  assert.is(metrics.get('release_registry_http_request_duration_seconds')?.type, 'histogram');
  assert.is(histogramCount(metrics, 'release_registry_http_request_duration_seconds', { route: '/-/healthz', method: 'GET', status: '200' }), 1);
  assert.is(histogramCount(metrics, 'release_registry_http_request_duration_seconds', { route: 'unmatched', status: '404' }), 1);
  assert.is(value(metrics, 'release_registry_http_requests_in_flight'), 1, 'the scrape itself is in flight');
  for (const outcome of WEBHOOK_DELIVERY_OUTCOMES) {
    assert.is(value(metrics, 'release_registry_webhook_deliveries_total', { outcome }), outcome === 'accepted' ? 1 : 0, outcome);
  }
  assert.is(histogramCount(metrics, 'release_registry_ingest_lag_seconds'), 1);
  assert.is(histogramCount(metrics, 'release_registry_sync_duration_seconds', { product: 'src-cli', result: 'succeeded' }), 1);
  assert.ok((value(metrics, 'release_registry_sync_last_success_timestamp_seconds', { product: 'src-cli' }) ?? 0) > 1.7e9);
  assert.is(value(metrics, 'release_registry_github_rate_limit_remaining', { resource: 'core' }), 4_990);
  assert.is(value(metrics, 'release_registry_github_rate_limit_reset_timestamp_seconds', { resource: 'core' }), Date.parse('2026-11-29T18:00:00Z') / 1000);
  assert.is(value(metrics, 'release_registry_github_requests_total', { api: 'rest', status: '304' }), 1);
  // The dead-letter queue holds the job sent to it, as pg-boss's monitor pass counted it.
  assert.is(value(metrics, 'release_registry_jobs', { queue: QUEUES.syncProductDead, state: 'ready' }), 1);
  assert.is(value(metrics, 'release_registry_jobs', { queue: QUEUES.processDelivery, state: 'active' }), 0);
  assert.is(value(metrics, 'release_registry_metrics_collector_up', { collector: 'jobs' }), 1);
  assert.is(value(metrics, 'release_registry_metrics_collector_up', { collector: 'database_activity' }), 1);
  assert.is(value(metrics, 'release_registry_metrics_collector_up', { collector: 'webhook_backlog' }), 1);
  assert.is(value(metrics, 'release_registry_webhook_deliveries_awaiting_job'), 0);
  assert.is(value(metrics, 'release_registry_webhook_oldest_awaiting_job_seconds'), 0);
  assert.ok((value(metrics, 'release_registry_db_server_max_connections') ?? 0) > 0);
  assert.ok((value(metrics, 'release_registry_db_server_connections', { application: 'release-registry-api' }) ?? 0) >= 1);
  assert.is(value(metrics, 'release_registry_db_pool_max_connections', { pool: 'api' }), 10, 'DATABASE_POOL_SIZE');
  assert.is(value(metrics, 'release_registry_db_pool_max_connections', { pool: 'api-boss' }), 4);
  assert.ok(histogramCount(metrics, 'release_registry_db_query_duration_seconds', { pool: 'api' }) >= 1);
  const version = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;
  assert.is(samples(metrics, 'release_registry_build_info', { version }).length, 1);
  assert.ok((value(metrics, 'release_registry_start_to_ready_seconds', { role: 'api' }) ?? 0) > 0);
});

exposition('with METRICS_TOKEN set, /metrics answers 401 without the token and 200 with it', async ({ guarded }) => {
  for (const headers of [{}, { Authorization: 'Bearer wrong-token-0123456789' }, { Authorization: METRICS_TOKEN }]) {
    const refused = await fetch(`${guarded.url}/metrics`, { headers });
    assert.is(refused.status, 401, JSON.stringify(headers));
    assert.is(refused.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'unauthorized');
  }
  const metrics = await scrape(guarded, { Authorization: `Bearer ${METRICS_TOKEN}` });
  assert.ok(metrics.has('release_registry_http_request_duration_seconds'));
  assert.is((await fetch(`${guarded.url}/-/healthz`)).status, 200, 'only /metrics needs the token');
});

exposition('stored deliveries waiting for a job show as a backlog with the age of the oldest, and clear once enqueued', async ({ server, database, boss }) => {
  await syncProductDefinitions(database.db, [widgetProduct()]);
  const received = new Date(Date.now() - 30_000);
  const payload = Buffer.from(JSON.stringify(fixturePayload('release/published', { repository: TRACKED_REPOSITORY })));
  await storeDeliveries(database.db, [{ ...trackedReleaseDelivery(payload), receivedAt: received }, trackedReleaseDelivery(payload)]);
  // Samples are reused for a second.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const waiting = await scrape(server);
  assert.is(value(waiting, 'release_registry_webhook_deliveries_awaiting_job'), 2);
  assert.ok((value(waiting, 'release_registry_webhook_oldest_awaiting_job_seconds') ?? 0) >= 30);

  assert.is(await enqueueStoredDeliveries(database.db, boss), 2);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const cleared = await scrape(server);
  assert.is(value(cleared, 'release_registry_webhook_deliveries_awaiting_job'), 0);
  assert.is(value(cleared, 'release_registry_webhook_oldest_awaiting_job_seconds'), 0);
});

exposition.run();
