import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { sql } from 'slonik';
import { z } from 'zod';
import { syncProductDefinitions } from '../../src/db/products.ts';
import { installQueues } from '../../src/queues.ts';
import { logged, startCliProcess, type CliProcess } from '../support/cli-process.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../support/database.ts';
import { fixturePayload, signedRequest, TRACKED_REPOSITORY, WEBHOOK_SECRET, widgetProduct } from '../support/webhooks.ts';

// Webhook intake throughput: deliveries/s and p99 of the real `api` process (signature check and
// durable store of the delivery with its job), beside a bare Koa endpoint that only verifies the
// signature and answers 202 (the ceiling). Both run as separate processes on loopback, loaded by
// autocannon from this process with the same signed release payload and a fresh X-GitHub-Delivery
// per request. Standalone: `node test/bench/webhook-intake.ts` (PostgreSQL from TEST_DATABASE_URL,
// else DATABASE_URL, else 127.0.0.1:5432); it creates and drops its own database.

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const BARE_SERVER = fileURLToPath(new URL('./bare-webhook-server.ts', import.meta.url));

export type LoadFigures = { requestsPerSecond: number; p50Ms: number; p99Ms: number; requests: number; non2xx: number; errors: number };
export type IntakeFigures = { ceiling: LoadFigures; intake: LoadFigures; ratio: number; storedDeliveries: number; storedJobs: number };

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
    return { ceiling, intake, ratio: intake.requestsPerSecond / ceiling.requestsPerSecond, storedDeliveries, storedJobs };
  } finally {
    await database.drop();
  }
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
    `ratio intake / bare: ${figures.ratio.toFixed(2)} (target >= 0.5); stored ${figures.storedDeliveries} deliveries, ${figures.storedJobs} jobs`,
  ].join('\n');
}

if (import.meta.main) {
  const figures = await benchWebhookIntake();
  process.stdout.write(`${formatIntakeFigures(figures)}\n`);
  process.exit(0);
}
