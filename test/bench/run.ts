// `npm run bench [-- [--write] [part ...]]`: the benchmarks, one part after another, each in its own
// process and on its own fresh databases and fake GitHub, then one table of every figure beside its
// peer, measured in the same run, with each target marked met or not met.
//
//   read-api  test/bench/read-api.ts   latest and a 100-item page: the API beside a bare node:http +
//                                      pg server and pgbench of the same SQL; cache freshness
//   webhooks  test/bench/webhooks.ts   intake beside a bare Koa signature check; freshness at 20/s
//   sync      test/bench/sync.ts       first sync of 10,000 tags / 4,000 releases beside COPY; peak
//                                      worker RSS at 100,000 tags
//
// Each part also runs alone (`node test/bench/read-api.ts`, ...). `--write` puts the table, the
// machine and the command into BENCHMARKS.md (between its figures markers; the notes around them
// are kept). PostgreSQL: TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432 when it answers,
// else an embedded server under .data/bench-postgres. test/bench/github-client-memory.ts is a
// separate diagnostic of the GitHub client's memory and is not part of the table.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/embedded-postgres.ts';
import { createLogger } from '../../src/logger.ts';
import type { IntakeResult, LoadRow, ReadApiResult, SyncResult } from './support/bench-result.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');
const START_MARK = '<!-- figures:start (written by `npm run bench -- --write`) -->';
const END_MARK = '<!-- figures:end -->';

const PARTS = {
  'read-api': 'read-api.ts',
  webhooks: 'webhooks.ts',
  sync: 'sync.ts',
} as const;
type Part = keyof typeof PARTS;

const { values: options, positionals } = parseArgs({ allowPositionals: true, options: { write: { type: 'boolean', default: false } } });
const unknown = positionals.filter((name) => !(name in PARTS));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark part(s): ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}\n`);
  process.exit(2);
}
const parts = (positionals.length === 0 ? Object.keys(PARTS) : positionals) as Part[];
if (options.write && parts.length !== Object.keys(PARTS).length) {
  process.stderr.write('--write needs every part (run `npm run bench -- --write` without part names)\n');
  process.exit(2);
}

type Results = { 'read-api'?: ReadApiResult; webhooks?: IntakeResult; sync?: SyncResult };

async function serverUrl(): Promise<{ url: string; embedded?: EmbeddedServer }> {
  const given = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (given !== undefined) return { url: given };
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if ((await postgresVersion(local)) !== null) return { url: local };
  const embedded = await startEmbeddedPostgres({ dir: join(ROOT, '.data', 'bench-postgres'), logger: createLogger('bench', 'warn') });
  return { url: embedded.url, embedded };
}

async function postgresVersion(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function runPart(part: Part, env: NodeJS.ProcessEnv): Promise<{ result: unknown; ok: boolean; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rr-bench-result-'));
  const file = join(dir, 'result.json');
  const started = performance.now();
  process.stdout.write(`\n== ${part} (test/bench/${PARTS[part]})\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(DIR, PARTS[part])], { cwd: ROOT, env: { ...env, BENCH_RESULT_FILE: file }, stdio: 'inherit' });
    child.on('close', (code) => {
      const result: unknown = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
      rmSync(dir, { recursive: true, force: true });
      resolve({ result, ok: code === 0 && result !== undefined, seconds: (performance.now() - started) / 1000 });
    });
  });
}

// -------------------------------------------------------------------------------------------
// The table

type Row = { area: string; figure: string; registry: string; peer: string; ratio: string; target: string; met: 'met' | 'not met' | '' };

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const load = (row: { rps: number; p50: number; p99: number }) => `${n(row.rps)}/s (p50 ${ms(row.p50)}, p99 ${ms(row.p99)} ms)`;
const verdict = (ok: boolean): Row['met'] => (ok ? 'met' : 'not met');

function readRows(result: ReadApiResult): Row[] {
  const by = (label: string) => result.results.find((row) => row.label === label) as LoadRow;
  const list = `list(100)`;
  const [apiLatest, bareLatest, apiList, bareList, missList] = [by('api latest'), by('bare latest'), by(`api ${list}`), by(`bare ${list}`), by(`api-miss ${list}`)];
  const pgbench = (label: string) => {
    const entry = result.pgbench.find((item) => item.label.startsWith(label));
    return entry?.tps === undefined ? `pgbench: ${entry?.skipped ?? 'not run'}` : `pgbench ${n(entry.tps)} tps (10 clients)`;
  };
  const latestRatio = apiLatest.rps / bareLatest.rps;
  const listRatio = apiList.rps / bareList.rps;
  return [
    { area: 'read API', figure: 'GET latest, 64 connections', registry: load(apiLatest), peer: `bare node:http + pg ${load(bareLatest)}; ${pgbench('pgbench latest')}`, ratio: `${latestRatio.toFixed(2)}x`, target: '>= 3x bare', met: verdict(latestRatio >= 3) },
    { area: 'read API', figure: 'GET 100-item page, 64 connections', registry: load(apiList), peer: `bare node:http + pg ${load(bareList)}; ${pgbench(`pgbench ${list}`)}`, ratio: `${listRatio.toFixed(2)}x`, target: '>= 1.0x bare', met: verdict(listRatio >= 1) },
    { area: 'read API', figure: '100-item page, cache miss every time', registry: load(missList), peer: `bare ${n(bareList.rps)}/s`, ratio: `${(missList.rps / bareList.rps).toFixed(2)}x`, target: '', met: '' },
    { area: 'read API', figure: `freshness: commit to the API answering it (${result.freshnessMs.samples} releases)`, registry: `p50 ${ms(result.freshnessMs.p50)}, p99 ${ms(result.freshnessMs.p99)}, max ${ms(result.freshnessMs.max)} ms`, peer: '', ratio: '', target: '<= 1,000 ms', met: verdict(result.freshnessMs.max <= 1_000) },
  ];
}

function webhookRows(result: IntakeResult): Row[] {
  const ratio = result.ratio;
  return [
    { area: 'webhooks', figure: `intake: verify, store delivery, 202 (${result.connections} connections)`, registry: load(result.intake), peer: `bare Koa signature check ${load(result.bare)}; floor (bare + JSON.parse + the same INSERT, nothing else) ${load(result.floor)}, ${result.floor.ratio.toFixed(2)}x bare; database alone ${n(result.databaseOnlyRps)}/s; the worker's enqueuer ${n(result.enqueuerRps)}/s${result.cpuBoundRps === null ? '' : `; all CPUs at the intake's CPU per delivery: at most ${n(result.cpuBoundRps)}/s (${(result.cpuBoundRps / result.bare.rps).toFixed(2)}x bare)`}`, ratio: `${ratio.toFixed(2)}x`, target: '>= 0.5x bare', met: verdict(ratio >= 0.5) },
    { area: 'webhooks', figure: `freshness p50: 2xx to release committed, ${result.freshness.rate}/s`, registry: `${ms(result.freshness.p50)} ms`, peer: '', ratio: '', target: '<= 100 ms', met: verdict(result.freshness.p50 <= 100) },
    { area: 'webhooks', figure: `freshness p99 (${result.freshness.deliveries} deliveries; max ${ms(result.freshness.max)} ms)`, registry: `${ms(result.freshness.p99)} ms`, peer: '', ratio: '', target: '<= 500 ms', met: verdict(result.freshness.p99 <= 500) },
  ];
}

function syncRows(result: SyncResult): Row[] {
  const first = result.first;
  const ratio = first.upsertRowsPerSecond / first.copyRowsPerSecond;
  const rows: Row[] = [
    { area: 'sync', figure: `first sync, ${n(result.tags)} tags / ${n(result.releases)} releases: wall time, requests`, registry: `${(first.wallMs / 1000).toFixed(1)} s, ${first.requests} requests`, peer: `budget ${first.budget} requests`, ratio: '', target: '<= budget', met: verdict(first.requests <= first.budget) },
    { area: 'sync', figure: 'upserted rows/s while listing tags', registry: `${n(first.upsertRowsPerSecond)} rows/s (end to end ${n(first.endToEndRowsPerSecond)})`, peer: `COPY ${n(first.copyRowsPerSecond)} rows/s`, ratio: `${ratio.toFixed(2)}x`, target: '>= 0.3x COPY', met: verdict(ratio >= 0.3) },
    { area: 'sync', figure: `peak worker RSS, ${n(result.tags)} tags`, registry: `${first.peakRssMB} MB`, peer: '', ratio: '', target: '', met: '' },
  ];
  if (result.huge !== undefined) {
    rows.push({ area: 'sync', figure: `peak worker RSS, ${n(result.huge.tags)} tags (${(result.huge.wallMs / 1000).toFixed(0)} s, ${result.huge.requests} requests)`, registry: `${result.huge.peakRssMB} MB`, peer: '', ratio: '', target: '<= 200 MB', met: verdict(result.huge.peakRssMB <= 200) });
  }
  return rows;
}

function markdownTable(rows: Row[]): string {
  const header: Row = { area: 'area', figure: 'figure', registry: 'release-registry', peer: 'peer, same run', ratio: 'ratio', target: 'target', met: '' };
  const line = (row: Row) => `| ${row.area} | ${row.figure} | ${row.registry} | ${row.peer} | ${row.ratio} | ${row.target} | ${row.met || (row === header ? 'met?' : '')} |`;
  return [line(header), '|---|---|---|---|---|---|---|', ...rows.map(line)].join('\n');
}

function machine(postgres: string | null): string {
  const cpu = cpus();
  const pgbench = spawnSync('pgbench', ['--version'], { encoding: 'utf8' });
  const autocannon = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string };
  return [
    `- CPU: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${process.platform} ${process.arch}`,
    `- Node.js ${process.version}; PostgreSQL ${postgres ?? 'unknown'}; ${pgbench.status === 0 ? pgbench.stdout.trim() : 'pgbench not installed'}; autocannon ${autocannon.version}`,
    '- load generator, servers, workers, the fake GitHub and PostgreSQL share the machine (loopback)',
  ].join('\n');
}

async function main(): Promise<number> {
  const server = await serverUrl();
  const postgres = await postgresVersion(server.url);
  const env = { ...process.env, TEST_DATABASE_URL: server.url, NO_COLOR: '1' };
  const results: Results = {};
  const failed: string[] = [];
  const seconds: Record<string, number> = {};
  try {
    for (const part of parts) {
      const outcome = await runPart(part, env);
      seconds[part] = Math.round(outcome.seconds);
      if (!outcome.ok) failed.push(part);
      else (results as Record<string, unknown>)[part] = outcome.result;
    }
  } finally {
    await server.embedded?.stop();
  }

  const rows = [
    ...(results['read-api'] ? readRows(results['read-api']) : []),
    ...(results.webhooks ? webhookRows(results.webhooks) : []),
    ...(results.sync ? syncRows(results.sync) : []),
  ];
  const table = markdownTable(rows);
  const targets = rows.filter((row) => row.met !== '');
  const summary = `${targets.filter((row) => row.met === 'met').length} of ${targets.length} targets met${failed.length > 0 ? `; parts that failed: ${failed.join(', ')}` : ''}`;
  process.stdout.write(`\n== results (${Object.entries(seconds).map(([part, s]) => `${part} ${s} s`).join(', ')})\n\n${table}\n\n${summary}\n`);

  if (options.write) {
    if (failed.length > 0) {
      process.stderr.write('not writing BENCHMARKS.md: a part failed\n');
      return 1;
    }
    const settings = [
      `- read API: ${results['read-api']!.releases.toLocaleString('en-US')} releases, ${results['read-api']!.connections} connections, ${results['read-api']!.durationS} s per target in ${results['read-api']!.rounds} alternating rounds (medians), 2 s warm-up each`,
      `- webhooks: ${results.webhooks!.connections} connections, ${results.webhooks!.rounds} alternating rounds of ${results.webhooks!.durationS} s (medians; the ratio is the median of the rounds'), 3 s warm-up each; freshness at ${results.webhooks!.freshness.rate} deliveries/s`,
      `- sync: the worker started as the Procfile starts it (\`--max-semi-space-size=8 --optimize-for-size\`, \`MALLOC_ARENA_MAX=2\`); COPY is the median of three`,
    ].join('\n');
    const block = [
      START_MARK,
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --write\` (${Object.values(seconds).reduce((a, b) => a + b, 0)} s).`,
      '',
      machine(postgres),
      '',
      table,
      '',
      `${summary}.`,
      '',
      settings,
      END_MARK,
    ].join('\n');
    const current = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : `# Benchmarks\n\n${START_MARK}\n${END_MARK}\n`;
    const start = current.indexOf(START_MARK);
    const end = current.indexOf(END_MARK);
    if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no figures markers (${START_MARK} … ${END_MARK})`);
    writeFileSync(BENCHMARKS_FILE, `${current.slice(0, start)}${block}${current.slice(end + END_MARK.length)}`);
    process.stdout.write(`wrote ${BENCHMARKS_FILE}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

process.exit(await main());
