import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded-postgres.ts';
import { quietLogger } from '../support/database.ts';
import { assertAcceptedProcessed, assertNoJobLeft, waitUntilSettled } from './support/delivery-checks.ts';
import { sendDeliveries } from './support/delivery-sender.ts';
import { processOutput, startFaultStack, type FaultStack } from './support/fault-stack.ts';
import { deliveriesForChanges } from '../support/github-changes.ts';
import { assertMatchesFullSync } from './support/ground-truth.ts';
import { get, HANG_MS, startReadLoad, type ReadSample } from './support/read-load.ts';

// Scenario 2. PostgreSQL restarts while the API takes reads and webhook deliveries and the worker
// processes them. The cluster is one this test starts (embedded, in a temporary directory; never
// the machine's shared server), stopped with PostgreSQL's fast shutdown, which ends every session.
// While it is down the API answers 503 at once (no request hangs) and is not ready; within 5 s
// after it is back the API and the worker serve again, never restarted; and nothing answered 2xx
// is lost: the releases end equal to a full sync.

const PRODUCT = { name: 'widget', repository: 'acme/widget' };
const DOWN_MS = 3_000;

test('PostgreSQL restarted under load: fast 503s and not ready while down, serving within 5 s of its return, nothing lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rr-faults-pg-'));
  const port = await freePort();
  let server: EmbeddedServer | undefined = await startEmbeddedPostgres({ dir, port, logger: quietLogger });
  let stack: FaultStack | undefined;
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE registry');
    await admin.end();
    stack = await startFaultStack({ label: 'faults_pg_restart', products: [PRODUCT], databaseUrl: server.url.replace(/\/postgres$/, '/registry') });
    const repository = stack.fake.addRepository({ owner: 'acme', name: 'widget' });
    const deliveries = deliveriesForChanges(repository, 600, { seed: 62 });
    const api = await stack.startApi();
    const worker = await stack.startWorker();

    const reads = startReadLoad({
      urls: () => [api.url],
      paths: ['/v1/releases/widget', '/v1/releases/widget/latest', '/v1/products', '/v1/releases/widget?limit=5', '/-/readyz'],
      concurrency: 6,
      pauseMs: 5,
    });
    // A steady trickle of deliveries (4 clients), so some arrive while the server is down.
    const sender = sendDeliveries(deliveries, { urls: () => [api.url], concurrency: 4 });
    await sender.acceptedAtLeast(150);

    const stoppedAt = performance.now();
    await server.stop();
    server = undefined;
    const downSince = performance.now();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    const readiness = await get(`${api.url}/-/readyz`);
    const workerHealth = await get(`${worker.metricsUrl}/-/healthz`);
    assert.is(readiness.status, 503, 'the API is not ready while the database is down');
    assert.is(workerHealth.status, 503, 'the worker is not healthy while the database is down');

    server = await startEmbeddedPostgres({ dir, port, logger: quietLogger });
    const backAt = performance.now();
    const servingMs = await untilServing([`${api.url}/-/readyz`, `${api.url}/v1/releases/widget`, `${worker.metricsUrl}/-/healthz`], backAt);
    process.stdout.write(`# API and worker serving again ${Math.round(servingMs)} ms after PostgreSQL was back\n`);
    assert.ok(servingMs < 5_000, `serving again within 5 s (took ${Math.round(servingMs)} ms)`);

    const report = await sender.done;
    process.stdout.write(`# all ${report.accepted.size} deliveries accepted ${Math.round(performance.now() - backAt)} ms after PostgreSQL was back\n`);
    const samples = await reads.stop();
    const whileDown = samples.filter((sample) => sample.at >= downSince && sample.at + sample.ms < backAt);
    describeOutage(samples, stoppedAt, backAt);
    assert.ok(whileDown.length > 20, `requests were made while the database was down (${whileDown.length})`);
    const hung = samples.filter((sample) => sample.status === 0 || sample.ms >= HANG_MS);
    assert.equal(hung, [], 'no request hung or went unanswered');
    const wrong = whileDown.filter((sample) => sample.status !== 503 && !(sample.status === 200 && sample.path !== '/-/readyz'));
    assert.equal(wrong, [], 'while down: 503 (a read may still be served from the in-memory cache)');
    assert.ok(whileDown.filter((sample) => sample.status === 503).length > whileDown.length / 2, 'most requests while down are 503s');
    const serverErrors = samples.filter((sample) => sample.status >= 500 && sample.status !== 503);
    assert.equal(serverErrors, [], 'no 5xx but 503');
    assert.equal(report.unexpected, [], 'deliveries got no answer but 2xx and 503');
    assert.ok((report.failedAttempts.get('503') ?? 0) > 0, 'deliveries sent while the database was down were answered 503');

    assert.is(api.process.child.exitCode, null, 'the API was not restarted');
    assert.is(worker.process.child.exitCode, null, 'the worker was not restarted');
    await waitUntilSettled(stack, [...report.accepted.keys()]);
    process.stdout.write(`# all processed ${Math.round(performance.now() - backAt)} ms after PostgreSQL was back\n`);
    await assertAcceptedProcessed(stack.db, report.accepted);
    await assertNoJobLeft(stack.db);
    await assertMatchesFullSync(stack.db, stack.fake, PRODUCT);
  } catch (error) {
    if (stack !== undefined) process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await stack?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

/** Polls until every URL answers 200; how long that took after `since`. */
async function untilServing(urls: string[], since: number, boundMs = 30_000): Promise<number> {
  const pending = new Set(urls);
  while (pending.size > 0) {
    if (performance.now() - since > boundMs) throw new Error(`still not serving after ${boundMs} ms: ${[...pending].join(', ')}`);
    for (const url of [...pending]) if ((await get(url)).status === 200) pending.delete(url);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - since;
}

function describeOutage(samples: ReadSample[], stoppedAt: number, backAt: number): void {
  const during = samples.filter((sample) => sample.at >= stoppedAt && sample.at < backAt);
  const byStatus: Record<string, number> = {};
  for (const sample of during) byStatus[sample.status] = (byStatus[sample.status] ?? 0) + 1;
  const slowest = Math.max(0, ...during.map((sample) => sample.ms));
  process.stdout.write(`# ${samples.length} reads, ${during.length} while PostgreSQL was stopping or down: ${JSON.stringify(byStatus)}, slowest ${Math.round(slowest)} ms\n`);
}
