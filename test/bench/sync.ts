// The first sync of a large repository, end to end: the fake GitHub in its own process, a fresh
// database, a real worker process (`node src/cli.ts worker`) working a `sync-product` job. Reports
// wall time, requests, the worker's peak RSS (VmHWM), and the write throughput beside a plain COPY of
// the same rows into the same table (the database's limit for it). Then the peak RSS of a worker
// syncing 100,000 tags. Standalone:
//
//   node test/bench/sync.ts [--tags 10000] [--releases 4000] [--huge 100000] [--node-flags "--max-semi-space-size=8"]
//
// Needs TEST_DATABASE_URL (or DATABASE_URL) pointing at a PostgreSQL server where it may create and
// drop a database.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { JobWithMetadata } from 'pg-boss';
import copyStreams from 'pg-copy-streams';
import { sql } from 'slonik';
import { z } from 'zod';
import { listProducts } from '../../src/db/products.ts';
import { createBoss, installQueues, QUEUES } from '../../src/queues.ts';
import { enqueueSync } from '../../src/sync/sync-job.ts';
import type { SyncRunResult } from '../../src/sync/sync-progress.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../support/database.ts';
import { startCliProcess } from '../support/cli-process.ts';

const { values } = parseArgs({
  options: {
    tags: { type: 'string', default: '10000' },
    releases: { type: 'string', default: '4000' },
    huge: { type: 'string', default: '100000' },
    'node-flags': { type: 'string', default: '' },
  },
});
const TAGS = Number(values.tags);
const RELEASES = Number(values.releases);
const HUGE = Number(values.huge);
const nodeFlags = values['node-flags'].split(/\s+/).filter((flag) => flag !== '');

const serve = fileURLToPath(new URL('../support/fake-github/serve.ts', import.meta.url));
const fakeProcess = spawn(process.execPath, [serve, '--synthetic', `acme/bench:${TAGS}:${RELEASES}`, '--synthetic', `acme/huge:${HUGE}:${RELEASES}`], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const line = await new Promise<string>((resolve) => createInterface({ input: fakeProcess.stdout! }).once('line', resolve));
const { url: githubUrl } = JSON.parse(line) as { url: string };

const report = (record: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(record)}\n`);
const mb = (kilobytes: number) => Math.round(kilobytes / 1024);

/** VmHWM (peak resident set) and VmRSS of a process, in kB, from /proc. */
function memoryOf(pid: number): { peakKb: number; rssKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakKb: field('VmHWM'), rssKb: field('VmRSS') };
}

async function syncInWorker(database: TestDatabase, productsFile: string, product: string) {
  const worker = startCliProcess(['worker'], {
    DATABASE_URL: database.url,
    GITHUB_API_URL: githubUrl,
    GITHUB_TOKEN: 'bench-token',
    PRODUCTS_FILE: productsFile,
    SYNC_SCHEDULE: '0 0 1 1 *',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    ...(nodeFlags.length > 0 ? { NODE_OPTIONS: nodeFlags.join(' ') } : {}),
  });
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-bench-boss', maxConnections: 2 });
  await boss.start();
  try {
    // The worker logs at warn: wait for its metrics port instead of its "started" line.
    await waitUntil(async () => (await boss.getQueue(QUEUES.syncProduct)) !== null && worker.child.pid !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const atStart = memoryOf(worker.child.pid!);
    const started = performance.now();
    const { jobId } = await enqueueSync(boss, { product, reason: 'cli' });
    let job: JobWithMetadata<unknown> | undefined;
    await waitUntil(async () => {
      [job] = (await boss.findJobs(QUEUES.syncProduct, { id: jobId })) as Array<JobWithMetadata<unknown>>;
      return job?.state === 'completed' || job?.state === 'failed';
    });
    const wallMs = performance.now() - started;
    const memory = memoryOf(worker.child.pid!);
    if (job!.state !== 'completed') throw new Error(`sync failed: ${JSON.stringify(job!.output)}\n${worker.output()}`);
    return { result: job!.output as SyncRunResult, wallMs, startRssMB: mb(atStart.rssKb), peakRssMB: mb(memory.peakKb) };
  } finally {
    await boss.stop({ graceful: false, close: true });
    worker.signal('SIGTERM');
    await worker.exitWithin(10_000);
    await worker.kill();
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 1_800_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** COPY of the synced product's rows into the same table under another product: the database's limit. */
async function copyBaseline(database: TestDatabase, fromProduct: number, toProduct: number): Promise<{ rows: number; ms: number }> {
  const columns = 'tag, version, major, minor, patch, prerelease, build, prerelease_key, ref_sha, git_sha, tagged_at, public, is_development, promoted_at, is_canonical';
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    let text = '';
    const out = client.query(copyStreams.to(`COPY (SELECT ${toProduct} AS product_id, ${columns} FROM releases WHERE product_id = ${fromProduct}) TO STDOUT`));
    for await (const chunk of out) text += chunk.toString('utf8');
    const rows = text.split('\n').filter((row) => row !== '').length;
    const started = performance.now();
    await client.query('BEGIN');
    const input = client.query(copyStreams.from(`COPY releases (product_id, ${columns}) FROM STDIN`));
    await pipeline(async function* () {
      yield Buffer.from(text, 'utf8');
    }, input);
    await client.query('COMMIT');
    return { rows, ms: performance.now() - started };
  } finally {
    await client.end();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'rr-bench-'));
const productsFile = join(dir, 'products.json');
writeFileSync(
  productsFile,
  JSON.stringify({
    products: [
      { name: 'bench', repository: 'acme/bench' },
      { name: 'huge', repository: 'acme/huge' },
      { name: 'copy', repository: 'acme/copy' },
    ],
  }),
);

const database = await createTestDatabase({ label: 'bench_sync' });
try {
  await installQueues(database.url, quietLogger);
  report({ bench: 'sync', node: process.version, nodeFlags, tags: TAGS, releases: RELEASES });

  const first = await syncInWorker(database, productsFile, 'bench');
  const products = new Map((await listProducts(database.db)).map((product) => [product.name, product.id]));
  const tagRows = first.result.tags.added;
  const copy = await copyBaseline(database, products.get('bench')!, products.get('copy')!);
  const writeRowsPerSecond = tagRows / (first.result.tagListingWriteMs / 1000);
  const endToEndRowsPerSecond = (first.result.tags.added + first.result.releases.added) / (first.wallMs / 1000);
  const copyRowsPerSecond = copy.rows / (copy.ms / 1000);
  const changeRows = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM release_changes`);
  report({
    phase: `first sync, ${TAGS} tags and ${RELEASES} releases`,
    wallMs: Math.round(first.wallMs),
    requests: first.result.requests,
    budget: Math.ceil(TAGS / 100) + Math.ceil(RELEASES / 100) + 5,
    points: first.result.points,
    rows: { tags: first.result.tags.added, releases: first.result.releases.added, changeLog: changeRows },
    workerStartRssMB: first.startRssMB,
    workerPeakRssMB: first.peakRssMB,
    tagListingWriteMs: first.result.tagListingWriteMs,
    allWritesMs: first.result.writeMs,
    tagWriteRowsPerSecond: Math.round(writeRowsPerSecond),
    endToEndRowsPerSecond: Math.round(endToEndRowsPerSecond),
    copy: { rows: copy.rows, ms: Math.round(copy.ms), rowsPerSecond: Math.round(copyRowsPerSecond) },
    writeVsCopyRatio: Math.round((writeRowsPerSecond / copyRowsPerSecond) * 100) / 100,
    endToEndVsCopyRatio: Math.round((endToEndRowsPerSecond / copyRowsPerSecond) * 100) / 100,
  });

  if (HUGE > 0) {
    const huge = await syncInWorker(database, productsFile, 'huge');
    report({
      phase: `first sync, ${HUGE} tags and ${RELEASES} releases`,
      wallMs: Math.round(huge.wallMs),
      requests: huge.result.requests,
      workerStartRssMB: huge.startRssMB,
      workerPeakRssMB: huge.peakRssMB,
      tagListingWriteMs: huge.result.tagListingWriteMs,
      tagWriteRowsPerSecond: Math.round(huge.result.tags.added / (huge.result.tagListingWriteMs / 1000)),
    });
  }
} finally {
  await database.drop();
  fakeProcess.kill('SIGTERM');
}
