// The first sync of a large repository, end to end: the fake GitHub in its own process, a fresh
// database, a real worker process (`node src/cli.ts worker`) working a `sync-product` job. Reports
// wall time, requests, the worker's peak RSS (VmHWM), and the write throughput beside a plain COPY of
// the same rows into the same table (the database's limit for it). Then the peak RSS of a worker
// syncing 100,000 tags. Standalone:
//
//   node test/bench/sync.ts [--tags 10000] [--releases 4000] [--huge 100000]
//                           [--node-flags="--max-semi-space-size=8 --optimize-for-size"] [--malloc-arena-max=2]
//
// The worker runs as in production (Procfile, npm run worker): those node flags and
// MALLOC_ARENA_MAX=2; `--node-flags= --malloc-arena-max=` measures it without them.
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
import { beginReleaseWrite } from '../../src/db/product-locks.ts';
import { listProducts, syncProductDefinitions, type Product } from '../../src/db/products.ts';
import { loadProductsFile } from '../../src/products.ts';
import { upsertTags, type TagFact } from '../../src/db/releases.ts';
import { createGitHubClient } from '../../src/github/client.ts';
import { tagPages } from '../../src/github/tag-pages.ts';
import { TAG_PAGES_PER_WRITE } from '../../src/sync/sync-product.ts';
import { createBoss, installQueues, QUEUES } from '../../src/queues.ts';
import { enqueueSync } from '../../src/sync/sync-job.ts';
import type { SyncRunResult } from '../../src/sync/sync-progress.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../support/database.ts';
import { writeBenchResult, type SyncResult } from './support/bench-result.ts';

const { values } = parseArgs({
  options: {
    tags: { type: 'string', default: '10000' },
    releases: { type: 'string', default: '4000' },
    huge: { type: 'string', default: '100000' },
    'node-flags': { type: 'string', default: '--max-semi-space-size=8 --optimize-for-size' },
    'malloc-arena-max': { type: 'string', default: '2' },
  },
});
const TAGS = Number(values.tags);
const RELEASES = Number(values.releases);
const HUGE = Number(values.huge);
const nodeFlags = values['node-flags'].split(/\s+/).filter((flag) => flag !== '');
const mallocArenaMax = values['malloc-arena-max'];

const serve = fileURLToPath(new URL('../support/fake-github/serve.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
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

async function syncInWorker(database: TestDatabase, product: string) {
  // Started as the Procfile starts it: node flags on the command line (NODE_OPTIONS refuses some).
  const worker = spawn(process.execPath, [...nodeFlags, CLI, 'worker'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      GITHUB_API_URL: githubUrl,
      GITHUB_TOKEN: 'bench-token',
      SYNC_SCHEDULE: '0 0 1 1 *',
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      ...(mallocArenaMax !== '' ? { MALLOC_ARENA_MAX: mallocArenaMax } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: worker.stdout! });
    lines.on('line', (text) => {
      if (text.includes('"worker started"')) resolve();
    });
    worker.once('exit', () => reject(new Error('the worker exited before it started')));
  });
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-bench-boss', maxConnections: 2 });
  await boss.start();
  try {
    const atStart = memoryOf(worker.pid!);
    const started = performance.now();
    const { jobId } = await enqueueSync(boss, { product, reason: 'cli' });
    let job: JobWithMetadata<unknown> | undefined;
    await waitUntil(async () => {
      [job] = (await boss.findJobs(QUEUES.syncProduct, { id: jobId })) as Array<JobWithMetadata<unknown>>;
      return job?.state === 'completed' || job?.state === 'failed';
    });
    const wallMs = performance.now() - started;
    const memory = memoryOf(worker.pid!);
    if (job!.state !== 'completed') throw new Error(`sync failed: ${JSON.stringify(job!.output)}`);
    return { result: job!.output as SyncRunResult, wallMs, startRssMB: mb(atStart.rssKb), peakRssMB: mb(memory.peakKb) };
  } finally {
    await boss.stop({ graceful: false, close: true });
    worker.kill('SIGTERM');
    await exited;
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

/** The bench repository's tags, read once, then written as the sync writes them; the time of the writes. */
async function replayWrites(database: TestDatabase, product: Product): Promise<{ rows: number; ms: number }> {
  const client = createGitHubClient({ baseUrl: githubUrl, token: 'bench-token', logger: quietLogger });
  const tags: TagFact[] = [];
  for await (const page of tagPages(client, { owner: 'acme', repo: 'bench' })) tags.push(...page.tags);
  const started = performance.now();
  for (let start = 0; start < tags.length; start += TAG_PAGES_PER_WRITE * 100) {
    await database.db.transaction(async (transaction) => {
      await beginReleaseWrite(transaction, product.id, 'sync');
      await upsertTags(transaction, product, tags.slice(start, start + TAG_PAGES_PER_WRITE * 100), { syncRunId: 1 });
    });
  }
  return { rows: tags.length, ms: performance.now() - started };
}

const dir = mkdtempSync(join(tmpdir(), 'rr-bench-'));
const productsFile = join(dir, 'products.json');
writeFileSync(
  productsFile,
  JSON.stringify({
    products: [
      { name: 'bench', repository: 'acme/bench' },
      { name: 'huge', repository: 'acme/huge' },
      { name: 'replay', repository: 'acme/bench' },
      { name: 'copy1', repository: 'acme/copy' },
      { name: 'copy2', repository: 'acme/copy' },
      { name: 'copy3', repository: 'acme/copy' },
    ],
  }),
);

const database = await createTestDatabase({ label: 'bench_sync' });
try {
  await installQueues(database.url, quietLogger);
  // As the release step (`migrate`) loads them: workers read the products, never the file.
  await syncProductDefinitions(database.db, loadProductsFile(productsFile));
  report({ bench: 'sync', node: process.version, nodeFlags, mallocArenaMax: mallocArenaMax || null, tags: TAGS, releases: RELEASES });

  const first = await syncInWorker(database, 'bench');
  const products = new Map((await listProducts(database.db, { includeUntracked: true })).map((product) => [product.name, product]));
  const tagRows = first.result.tags.added;
  // The database's limit: COPY of the same rows into the same table (triggers and indexes
  // included), three times into three products; the median counts.
  const copies = [];
  for (const name of ['copy1', 'copy2', 'copy3']) copies.push(await copyBaseline(database, products.get('bench')!.id, products.get(name)!.id));
  const copy = copies.sort((a, b) => a.ms - b.ms)[1]!;
  const copyRowsPerSecond = copy.rows / (copy.ms / 1000);
  // The sync's write path alone: the same tags, written as the sync writes them (the product's
  // lock, the change source, one upsertTags of 1,000 rows per transaction), without the listing's
  // GitHub requests and parsing sharing the event loop.
  const replay = await replayWrites(database, products.get('replay')!);
  const syncRowsPerSecond = tagRows / (first.result.tagListingWriteMs / 1000);
  const replayRowsPerSecond = replay.rows / (replay.ms / 1000);
  const endToEndRowsPerSecond = (first.result.tags.added + first.result.releases.added) / (first.wallMs / 1000);
  const changeRows = await database.db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM release_changes`);
  const ratio = (value: number) => Math.round((value / copyRowsPerSecond) * 100) / 100;
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
    copy: { rows: copy.rows, msEach: copies.map((each) => Math.round(each.ms)), rowsPerSecond: Math.round(copyRowsPerSecond) },
    syncTagWriteRowsPerSecond: Math.round(syncRowsPerSecond),
    replayedWriteRowsPerSecond: Math.round(replayRowsPerSecond),
    endToEndRowsPerSecond: Math.round(endToEndRowsPerSecond),
    ratioSyncWritesVsCopy: ratio(syncRowsPerSecond),
    ratioReplayedWritesVsCopy: ratio(replayRowsPerSecond),
    ratioEndToEndVsCopy: ratio(endToEndRowsPerSecond),
  });

  const result: SyncResult = {
    tags: TAGS,
    releases: RELEASES,
    first: {
      wallMs: Math.round(first.wallMs),
      requests: first.result.requests,
      budget: Math.ceil(TAGS / 100) + Math.ceil(RELEASES / 100) + 5,
      peakRssMB: first.peakRssMB,
      upsertRowsPerSecond: Math.round(syncRowsPerSecond),
      endToEndRowsPerSecond: Math.round(endToEndRowsPerSecond),
      copyRowsPerSecond: Math.round(copyRowsPerSecond),
    },
  };
  if (HUGE > 0) {
    const huge = await syncInWorker(database, 'huge');
    result.huge = { tags: HUGE, wallMs: Math.round(huge.wallMs), requests: huge.result.requests, peakRssMB: huge.peakRssMB };
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
  writeBenchResult(result);
} finally {
  await database.drop();
  fakeProcess.kill('SIGTERM');
}
