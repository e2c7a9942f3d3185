// Read API benchmark (standalone): `node test/bench/read-api.ts` (or `npm run bench -- read-api`).
//
// Seeds 10,000 releases through the worker's writers into a fresh database, then serves them two
// ways, each in its own process:
//   - the API (the real Koa app with its response cache kept by LISTEN/NOTIFY), and
//   - a bare node:http + pg server running the same SQL per request (the floor an API adds to),
// and loads each with autocannon (64 connections, loopback) on GET /v1/releases/<product>/latest
// and a 100-item list page, one target at a time, in alternating rounds (BENCH_ROUNDS, default 3)
// whose medians are reported: the machine is shared, and a busy minute must not land on one side.
// It also runs the API keeping no answers (what a cache miss costs; product lookups are still
// kept), runs pgbench with the same SQL when pgbench is installed (the database's own ceiling), and
// measures freshness: from a release's commit to the API answering it.
// Prints requests/s, p50, p99 and the ratios API / bare (targets: >= 1.0x on the list page,
// >= 3x on latest). Environment: TEST_DATABASE_URL or DATABASE_URL (the server to create the
// bench database on), BENCH_DURATION_S (default 10), BENCH_RELEASES (default 10000).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sql } from 'slonik';
import { createApp } from '../../api/app.ts';
import { startLiveCache } from '../../api/live-cache.ts';
import { loadConfig } from '../../src/config.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { productReleasesQuery, type ReleaseFilters } from '../../src/db/release-reads.ts';
import { setChangeSource, upsertGithubReleases, upsertTags } from '../../src/db/releases.ts';
import { createLogger } from '../../src/logger.ts';
import { createBoss } from '../../src/queues.ts';
import { createTestDatabase } from '../support/database.ts';
import { writeBenchResult, type ReadApiResult } from './support/bench-result.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases, syntheticTags } from '../support/seed.ts';

type AutocannonResult = {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
};
type Autocannon = (options: { url: string; connections: number; duration: number; pipelining?: number }) => Promise<AutocannonResult>;
// autocannon ships no type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SELF = fileURLToPath(import.meta.url);
const PRODUCT = 'bench';
const CONNECTIONS = 64;
const LIST_LIMIT = 100;
const logger = createLogger('bench', 'silent');

const LATEST_FILTERS: ReleaseFilters = { visibility: 'public', development: false, includeDeleted: false };
const LIST_FILTERS: ReleaseFilters = { visibility: 'public' };

// ---------------------------------------------------------------------------------------------
// Server processes

/** `answers: false` keeps no answers (a cache miss every time) but still keeps product lookups. */
async function serveApi(databaseUrl: string, answers: boolean): Promise<void> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  const db = await createDatabasePool(databaseUrl, { logger, maximumPoolSize: config.DATABASE_POOL_SIZE, applicationName: 'bench-api' });
  const boss = createBoss(databaseUrl, { logger, applicationName: 'bench-api-boss', maxConnections: 1 });
  const live = startLiveCache(databaseUrl, logger, answers ? {} : { maxBytes: 0 });
  await live.listener.ready;
  const app = createApp({ config, logger, db, boss, cache: live.cache });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
}

/** Slonik writes placeholders as $slonik_N and renumbers them when it runs a query; pg wants $N. */
function plainSql(query: { sql: string; values: readonly unknown[] }): { sql: string; values: unknown[] } {
  return { sql: query.sql.replace(/\$slonik_(\d+)/g, '$$$1'), values: [...query.values] };
}

/** node:http + pg, the same SQL per request, JSON.stringify of the rows: nothing else. */
async function serveBare(databaseUrl: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, application_name: 'bench-bare' });
  const productId = Number(process.env.BENCH_PRODUCT_ID);
  const latest = plainSql(productReleasesQuery(productId, LATEST_FILTERS, { limit: 1 }));
  const list = plainSql(productReleasesQuery(productId, LIST_FILTERS, { limit: LIST_LIMIT + 1 }));
  const server = createServer((request, response) => {
    const isLatest = request.url === `/v1/releases/${PRODUCT}/latest`;
    const query = isLatest ? latest : list;
    pool.query(query.sql, query.values).then(
      (result) => {
        const body = isLatest ? result.rows[0] : result.rows.slice(0, LIST_LIMIT);
        response.writeHead(body === undefined ? 404 : 200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(body ?? { error: 'not found' }));
      },
      () => {
        response.writeHead(500);
        response.end();
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
}

type Served = { url: string; child: ChildProcess };

function startServer(mode: 'api' | 'api-nocache' | 'bare', databaseUrl: string, productId: number): Promise<Served> {
  const child = spawn(process.execPath, [SELF, '--serve', mode, databaseUrl], {
    env: { ...process.env, BENCH_PRODUCT_ID: String(productId) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port !== undefined) resolve({ url: `http://127.0.0.1:${port}`, child });
    });
    child.on('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function stopServer(served: Served): Promise<void> {
  const exited = new Promise((resolve) => served.child.once('exit', resolve));
  served.child.kill('SIGTERM');
  await exited;
}

// ---------------------------------------------------------------------------------------------
// Measurements

type Measured = { label: string; rps: number; p50: number; p99: number; errors: number };

async function run(url: string, durationS: number): Promise<Omit<Measured, 'label'>> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: durationS });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Loads each target in turn, `rounds` times (A B C A B C …), and reports each target's median
 * round: the machine is shared, and alternating keeps a slow minute from landing on one target.
 */
async function compare(targets: Array<{ label: string; url: string }>, durationS: number, rounds: number): Promise<Measured[]> {
  for (const target of targets) {
    const check = await fetch(target.url);
    if (check.status !== 200) throw new Error(`${target.label}: ${target.url} answered ${check.status}`);
    await check.arrayBuffer();
    await run(target.url, Math.min(2, durationS)); // warm-up: JIT, pools, caches
  }
  const samples = new Map<string, Array<Omit<Measured, 'label'>>>(targets.map((target) => [target.label, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const target of targets) samples.get(target.label)!.push(await run(target.url, durationS / rounds));
  }
  return targets.map((target) => {
    const runs = samples.get(target.label)!;
    return {
      label: target.label,
      rps: median(runs.map((sample) => sample.rps)),
      p50: median(runs.map((sample) => sample.p50)),
      p99: median(runs.map((sample) => sample.p99)),
      errors: runs.reduce((sum, sample) => sum + sample.errors, 0),
    };
  });
}

function literalSql(query: { sql: string; values: readonly unknown[] }): string {
  return query.sql.replace(/\$slonik_(\d+)/g, (_, index: string) => {
    const value = query.values[Number(index) - 1];
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
    throw new Error(`cannot inline ${typeof value}`);
  });
}

type PgbenchResult = { label: string; tps: number; latencyMs: number } | { label: string; skipped: string };

function pgbench(label: string, databaseUrl: string, query: { sql: string; values: readonly unknown[] }, durationS: number): PgbenchResult {
  if (spawnSync('pgbench', ['--version']).status !== 0) return { label, skipped: 'pgbench is not installed' };
  const dir = mkdtempSync(join(tmpdir(), 'rr-bench-'));
  try {
    const script = join(dir, 'query.sql');
    writeFileSync(script, `${literalSql(query).replace(/\s+/g, ' ').trim()};\n`);
    const url = new URL(databaseUrl);
    const result = spawnSync(
      'pgbench',
      // Simple protocol: pgbench reads `:name` as a variable even inside string literals (the
      // timestamp format has HH24:MI:SS), which the extended protocol turns into parameters.
      ['-n', '-M', 'simple', '-c', '10', '-j', '2', '-T', String(durationS), '-f', script, '-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), url.pathname.slice(1)],
      { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } },
    );
    const tps = /tps = ([\d.]+)/.exec(result.stdout)?.[1];
    const latency = /latency average = ([\d.]+) ms/.exec(result.stdout)?.[1];
    if (tps === undefined) return { label, skipped: `pgbench failed: ${result.stderr.split('\n')[0]}` };
    return { label, tps: Number(tps), latencyMs: Number(latency) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const durationS = Number(process.env.BENCH_DURATION_S ?? 10);
  const releases = Number(process.env.BENCH_RELEASES ?? 10_000);
  const database = await createTestDatabase({ label: 'bench_read_api', poolSize: 4 });
  const servers: Served[] = [];
  try {
    process.stdout.write(`seeding ${releases} releases…\n`);
    const products = await defineProducts(database.db, [productDefinition(PRODUCT)]);
    const product = products.get(PRODUCT)!;
    const tags = syntheticTags(releases);
    await seedReleases(
      database.db,
      product,
      tags,
      tags.filter((_, index) => index % 3 !== 0).map((tag, index) => githubRelease(index + 1, tag.name)),
    );
    await database.db.query(sql.unsafe`ANALYZE`);

    const latestPath = `/v1/releases/${PRODUCT}/latest`;
    const listPath = `/v1/releases/${PRODUCT}?limit=${LIST_LIMIT}`;
    const [api, bare, uncached] = [
      await startServer('api', database.url, product.id),
      await startServer('bare', database.url, product.id),
      await startServer('api-nocache', database.url, product.id),
    ];
    servers.push(api!, bare!, uncached!);
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    const results = [
      ...(await compare(
        [
          { label: 'api latest', url: `${api!.url}${latestPath}` },
          { label: 'bare latest', url: `${bare!.url}${latestPath}` },
        ],
        durationS,
        rounds,
      )),
      ...(await compare(
        [
          { label: `api list(${LIST_LIMIT})`, url: `${api!.url}${listPath}` },
          { label: `bare list(${LIST_LIMIT})`, url: `${bare!.url}${listPath}` },
          { label: `api-miss list(${LIST_LIMIT})`, url: `${uncached!.url}${listPath}` },
        ],
        durationS,
        rounds,
      )),
    ];

    // Freshness: a release commits; how long until the (caching) API answers it as latest?
    const freshness: number[] = [];
    for (let round = 0; round < 25; round += 1) {
      const name = `v900.${round}.0`;
      await database.db.transaction(async (transaction) => {
        await setChangeSource(transaction, 'test');
        await upsertTags(transaction, product, [{ name, refSha: 'f'.repeat(40), gitSha: 'e'.repeat(40), taggedAt: new Date() }]);
        await upsertGithubReleases(transaction, product.id, [githubRelease(1_000_000 + round, name)]);
      });
      const committed = performance.now();
      for (;;) {
        const answer = (await (await fetch(`${api!.url}${latestPath}`)).json()) as { version: string };
        if (answer.version === name) break;
        if (performance.now() - committed > 10_000) throw new Error('the new release never showed');
      }
      freshness.push(performance.now() - committed);
    }

    const latestQuery = productReleasesQuery(product.id, LATEST_FILTERS, { limit: 1 });
    const listQuery = productReleasesQuery(product.id, LIST_FILTERS, { limit: LIST_LIMIT + 1 });
    const pgbenchResults = [pgbench('pgbench latest SQL', database.url, latestQuery, durationS), pgbench(`pgbench list(${LIST_LIMIT}) SQL`, database.url, listQuery, durationS)];

    const byLabel = new Map(results.map((result) => [result.label, result]));
    const ratio = (a: string, b: string) => byLabel.get(a)!.rps / byLabel.get(b)!.rps;
    const lines = [
      '',
      `read API benchmark: ${releases} releases, ${CONNECTIONS} connections, ${durationS} s per target in ${rounds} alternating rounds (medians), loopback`,
      '',
      'target                   requests/s      p50 ms    p99 ms   errors',
      ...results.map(
        (result) =>
          `${result.label.padEnd(24)} ${result.rps.toFixed(0).padStart(10)} ${result.p50.toFixed(1).padStart(11)} ${result.p99.toFixed(1).padStart(9)} ${String(result.errors).padStart(8)}`,
      ),
      '',
      `ratio latest         API / bare: ${ratio('api latest', 'bare latest').toFixed(2)}x (target >= 3x)`,
      `ratio list(${LIST_LIMIT})      API / bare: ${ratio(`api list(${LIST_LIMIT})`, `bare list(${LIST_LIMIT})`).toFixed(2)}x (target >= 1.0x)`,
      `ratio list, cache miss API / bare: ${ratio(`api-miss list(${LIST_LIMIT})`, `bare list(${LIST_LIMIT})`).toFixed(2)}x (what a cache miss costs)`,
      '',
      `freshness (commit -> API answers it, ${freshness.length} releases): p50 ${percentile(freshness, 50).toFixed(1)} ms, p99 ${percentile(freshness, 99).toFixed(1)} ms, max ${Math.max(...freshness).toFixed(1)} ms`,
      '',
      ...pgbenchResults.map((result) =>
        'skipped' in result
          ? `${result.label}: ${result.skipped}`
          : `${result.label.padEnd(24)} ${result.tps.toFixed(0).padStart(10)} tps, latency avg ${result.latencyMs.toFixed(2)} ms (10 clients, the database's ceiling for this SQL)`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const result: ReadApiResult = {
      releases,
      connections: CONNECTIONS,
      durationS,
      rounds,
      results,
      freshnessMs: { p50: percentile(freshness, 50), p99: percentile(freshness, 99), max: Math.max(...freshness), samples: freshness.length },
      pgbench: pgbenchResults,
    };
    writeBenchResult(result);
  } finally {
    for (const served of servers) await stopServer(served);
    await database.drop();
  }
}

const serveIndex = process.argv.indexOf('--serve');
if (serveIndex >= 0) {
  const mode = process.argv[serveIndex + 1];
  const url = process.argv[serveIndex + 2]!;
  process.on('SIGTERM', () => process.exit(0));
  if (mode === 'bare') await serveBare(url);
  else await serveApi(url, mode === 'api');
} else {
  await main();
  process.exit(0);
}
