import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { bossDatabase } from '../../src/db/boss-database.ts';
import { syncProductDefinitions } from '../../src/db/products.ts';
import { insertDeliveries, type NewDelivery } from '../../src/db/webhook-deliveries.ts';
import { createBoss, installQueues, QUEUES } from '../../src/queues.ts';
import { logged, startCliProcess, type CliProcess } from '../support/cli-process.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../support/database.ts';
import { startFakeGitHub } from '../support/fake-github/index.ts';
import { tagPushed } from '../support/github-events.ts';
import { TEST_TOKEN } from '../support/github.ts';
import { fixturePayload, signedRequest, TRACKED_REPOSITORY, WEBHOOK_SECRET, widgetProduct } from '../support/webhooks.ts';

// Webhook intake throughput: deliveries/s and p99 of the real `api` process (signature check and
// durable store of the delivery with its job), beside a bare Koa endpoint that only verifies the
// signature and answers 202 (the ceiling). Both run as separate processes on loopback, loaded by
// autocannon from this process with the same signed release payload and a fresh X-GitHub-Delivery
// per request. Then freshness (below). Standalone: `node test/bench/webhook-intake.ts [intake|freshness]`
// (PostgreSQL from TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432); it creates and drops
// its own databases.

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const BARE_SERVER = fileURLToPath(new URL('./support/bare-webhook-server.ts', import.meta.url));

export type LoadFigures = { requestsPerSecond: number; p50Ms: number; p99Ms: number; requests: number; non2xx: number; errors: number };
export type IntakeFigures = {
  ceiling: LoadFigures;
  intake: LoadFigures;
  ratio: number;
  /** The same rows and jobs written without HTTP: what the database alone sustains. */
  databaseOnly: { deliveriesPerSecond: number; batchSize: number };
  storedDeliveries: number;
  storedJobs: number;
};

const DATABASE_ONLY_BATCH = 32;

/**
 * The database's share: deliveries and their jobs written as the intake writes them (one
 * transaction per batch, insertDeliveries + pg-boss insert), by one connection, without HTTP.
 */
async function databaseOnly(database: TestDatabase, payloadJson: string): Promise<number> {
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'bench-database-only', maxConnections: 2 });
  await boss.start();
  try {
    const row = (): NewDelivery => {
      const deliveryId = randomUUID();
      return {
        deliveryId,
        event: 'release',
        action: 'published',
        repositoryId: TRACKED_REPOSITORY.id,
        repositoryFullName: TRACKED_REPOSITORY.fullName,
        hookId: 1,
        productIds: [1],
        payloadJson,
        headers: { 'x-github-event': 'release', 'x-github-delivery': deliveryId },
        status: 'queued',
        ignoredReason: null,
        jobId: randomUUID(),
        receivedAt: new Date(),
      };
    };
    let written = 0;
    const started = performance.now();
    const end = started + DURATION_SECONDS * 1000;
    while (performance.now() < end) {
      const rows = Array.from({ length: DATABASE_ONLY_BATCH }, row);
      await database.db.transaction(async (transaction) => {
        await insertDeliveries(transaction, rows);
        await boss.insert(QUEUES.processDelivery, rows.map((item) => ({ id: item.jobId!, data: { deliveryId: item.deliveryId } })), { db: bossDatabase(transaction) });
      });
      written += rows.length;
    }
    return written / ((performance.now() - started) / 1000);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

async function load(url: string, body: string, headers: Record<string, string>, durationSeconds: number): Promise<LoadFigures> {
  const result = await autocannon({
    url: `${url}/webhooks/github`,
    connections: CONNECTIONS,
    duration: durationSeconds,
    method: 'POST',
    body,
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'x-github-delivery': randomUUID() } }) }],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function measure(url: string, body: string, headers: Record<string, string>): Promise<LoadFigures> {
  await load(url, body, headers, WARMUP_SECONDS);
  return load(url, body, headers, DURATION_SECONDS);
}

function startBareServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BARE_SERVER], { env: { ...process.env, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
    child.stdout.once('data', (chunk: Buffer) => {
      const { port } = JSON.parse(chunk.toString('utf8').split('\n')[0]!) as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

async function startApiProcess(database: TestDatabase): Promise<{ url: string; api: CliProcess }> {
  const api = startCliProcess(['api'], { DATABASE_URL: database.url, PORT: '0', GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, LOG_LEVEL: 'info' });
  const listening = await api.waitForLog(logged('api listening'));
  return { url: String(listening.url).replace('localhost', '127.0.0.1'), api };
}

const count = z.object({ count: z.number() });

export async function benchWebhookIntake(): Promise<IntakeFigures> {
  const database = await createTestDatabase({ label: 'bench_intake', poolSize: 2 });
  try {
    await installQueues(database.url, quietLogger);
    await syncProductDefinitions(database.db, [widgetProduct()]);
    const signed = await signedRequest({ event: 'release', payload: fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.2.3' }) });
    const { 'x-github-delivery': _id, ...headers } = signed.headers;

    const bare = await startBareServer();
    let ceiling: LoadFigures;
    try {
      ceiling = await measure(bare.url, signed.body, headers);
    } finally {
      await bare.stop();
    }

    const { url, api } = await startApiProcess(database);
    let intake: LoadFigures;
    try {
      intake = await measure(url, signed.body, headers);
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
    }
    const storedDeliveries = await database.db.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM webhook_deliveries`);
    const storedJobs = await database.db.oneFirst(sql.type(count)`SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'process-delivery'`);
    const payloadJson = JSON.stringify(JSON.parse(signed.body));
    const databaseOnlyRate = await databaseOnly(database, payloadJson);
    return {
      ceiling,
      intake,
      ratio: intake.requestsPerSecond / ceiling.requestsPerSecond,
      databaseOnly: { deliveriesPerSecond: databaseOnlyRate, batchSize: DATABASE_ONLY_BATCH },
      storedDeliveries,
      storedJobs,
    };
  } finally {
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// Freshness: from the intake's 2xx to the release row being committed, at a steady 20 deliveries/s.
// The real `api` and `worker` processes run against the fake GitHub (in this process); each step
// pushes a new tag on the fake and sends GitHub's push delivery. A release becomes visible when its
// transaction commits, which the releases_change_log trigger announces with NOTIFY release_changes
// (the hook the read API's cache listens to); this process LISTENs, and a tag's freshness is the time
// from its delivery's 2xx to the notification that made it visible, on one clock.

const FRESHNESS_RATE = Number(process.env.BENCH_FRESHNESS_RATE ?? 20);
const FRESHNESS_SECONDS = Number(process.env.BENCH_FRESHNESS_SECONDS ?? 10);

export type FreshnessFigures = { deliveries: number; ratePerSecond: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };

export async function benchFreshness(): Promise<FreshnessFigures> {
  const database = await createTestDatabase({ label: 'bench_freshness', poolSize: 2 });
  const fake = await startFakeGitHub({ token: TEST_TOKEN });
  const repository = fake.addRepository({ owner: 'acme', name: 'widget' });
  const productsFile = join(mkdtempSync(join(tmpdir(), 'rr-bench-')), 'products.json');
  writeFileSync(productsFile, JSON.stringify({ products: [{ name: 'widget', repository: 'acme/widget' }] }));
  const env = { DATABASE_URL: database.url, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, GITHUB_API_URL: fake.url, GITHUB_TOKEN: TEST_TOKEN, PRODUCTS_FILE: productsFile, LOG_LEVEL: 'info' };
  await installQueues(database.url, quietLogger);
  await syncProductDefinitions(database.db, [widgetProduct()]);
  const api = startCliProcess(['api'], { ...env, PORT: '0' });
  const worker = startCliProcess(['worker'], { ...env, METRICS_PORT: '0' });
  const listener = new pg.Client({ connectionString: database.url });
  try {
    const url = String((await api.waitForLog(logged('api listening'))).url).replace('localhost', '127.0.0.1');
    await worker.waitForLog(logged('worker started'));
    await listener.connect();

    const answeredAt = new Map<string, number>();
    const visibleAt = new Map<string, number>();
    let checking = Promise.resolve();
    listener.on('notification', () => {
      const at = performance.now();
      checking = checking.then(async () => {
        const { rows } = await listener.query<{ tag: string }>(`SELECT tag FROM releases`);
        for (const { tag } of rows) if (!visibleAt.has(tag)) visibleAt.set(tag, at);
      });
    });
    await listener.query('LISTEN release_changes');

    // Warm-up (connections opened, code compiled), not measured: a steady state is what is asked.
    for (let index = 0; index < 10; index += 1) {
      const name = `v0.0.${index}`;
      const [, push] = tagPushed({ id: repository.id, fullName: repository.fullName }, name, repository.addTag({ name }).sha);
      const request = await signedRequest(push!);
      await (await fetch(`${url}/webhooks/github`, { method: 'POST', headers: request.headers, body: request.body })).arrayBuffer();
    }
    for (const deadline = performance.now() + 30_000; visibleAt.size < 10 && performance.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));

    const total = FRESHNESS_RATE * FRESHNESS_SECONDS;
    const started = performance.now();
    const sends: Array<Promise<void>> = [];
    for (let index = 0; index < total; index += 1) {
      const due = started + (index * 1000) / FRESHNESS_RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const name = `v1.${Math.floor(index / 100)}.${index % 100}`;
      const ref = repository.addTag({ name });
      const [, push] = tagPushed({ id: repository.id, fullName: repository.fullName }, name, ref.sha);
      sends.push(
        (async () => {
          const request = await signedRequest(push!);
          const response = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: request.headers, body: request.body });
          await response.arrayBuffer();
          if (response.status !== 202) throw new Error(`the intake answered ${response.status}`);
          answeredAt.set(name, performance.now());
        })(),
      );
    }
    await Promise.all(sends);
    const deadline = performance.now() + 30_000;
    const measured = () => [...answeredAt.keys()].filter((name) => visibleAt.has(name)).length;
    while (measured() < total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await checking;
    if (measured() < total) throw new Error(`${total - measured()} of ${total} releases never became visible`);
    const lags = [...answeredAt].map(([name, at]) => Math.max(0, visibleAt.get(name)! - at)).sort((a, b) => a - b);
    const quantile = (q: number) => lags[Math.min(lags.length - 1, Math.ceil(q * lags.length) - 1)]!;
    return { deliveries: total, ratePerSecond: FRESHNESS_RATE, p50Ms: quantile(0.5), p90Ms: quantile(0.9), p99Ms: quantile(0.99), maxMs: lags.at(-1)! };
  } finally {
    await listener.end().catch(() => undefined);
    api.signal('SIGTERM');
    worker.signal('SIGTERM');
    await Promise.all([api.exited, worker.exited]);
    await fake.close();
    await database.drop();
  }
}

export function formatFreshnessFigures(figures: FreshnessFigures): string {
  return [
    `webhook freshness, 2xx to release row committed, ${figures.deliveries} deliveries at ${figures.ratePerSecond}/s (real api and worker, fake GitHub)`,
    `| p50 ms | p90 ms | p99 ms | max ms |`,
    `|--------|--------|--------|--------|`,
    `| ${figures.p50Ms.toFixed(1).padStart(6)} | ${figures.p90Ms.toFixed(1).padStart(6)} | ${figures.p99Ms.toFixed(1).padStart(6)} | ${figures.maxMs.toFixed(1).padStart(6)} |`,
    `targets: p50 <= 100 ms, p99 <= 500 ms`,
  ].join('\n');
}

export function formatIntakeFigures(figures: IntakeFigures): string {
  const row = (name: string, f: LoadFigures) =>
    `| ${name.padEnd(44)} | ${f.requestsPerSecond.toFixed(0).padStart(10)} | ${String(f.p50Ms).padStart(7)} | ${String(f.p99Ms).padStart(7)} | ${String(f.non2xx + f.errors).padStart(6)} |`;
  return [
    `webhook intake, ${CONNECTIONS} connections, ${DURATION_SECONDS} s, ${cpus().length} CPUs`,
    `| ${'endpoint'.padEnd(44)} | deliveries/s | p50 ms | p99 ms | errors |`,
    `|${'-'.repeat(46)}|-------------|--------|--------|--------|`,
    row('bare Koa: verify signature, answer 202', figures.ceiling),
    row('intake: verify, store delivery + job, 202', figures.intake),
    `| ${`database only: same writes, ${figures.databaseOnly.batchSize}/tx, no HTTP`.padEnd(44)} | ${figures.databaseOnly.deliveriesPerSecond.toFixed(0).padStart(10)} |         |         |        |`,
    `ratio intake / bare: ${figures.ratio.toFixed(2)} (target >= 0.5); intake / database only: ${(figures.intake.requestsPerSecond / figures.databaseOnly.deliveriesPerSecond).toFixed(2)}`,
    `the intake runs (warm-up included) stored ${figures.storedDeliveries} deliveries with ${figures.storedJobs} jobs`,
  ].join('\n');
}

if (import.meta.main) {
  const only = process.argv[2];
  if (only !== 'freshness') process.stdout.write(`${formatIntakeFigures(await benchWebhookIntake())}\n\n`);
  if (only !== 'intake') process.stdout.write(`${formatFreshnessFigures(await benchFreshness())}\n`);
  process.exit(0);
}
