// Runs the test files, each in its own Node.js process, against a real PostgreSQL server, and ends
// with one line `N passed, N failed` (tests, summed over files). Usage:
//
//   node test/run.ts [--suite unit|faults] [--concurrency N] [filter ...]
//
// The fault suite (test/faults/) runs the built CLI, as the Procfile does: the runner compiles it
// first (`npm run build`), and its files run one at a time by default (each starts several API,
// worker and database processes; two at once on a 2-core machine only make both slower).
// The server is TEST_DATABASE_URL, else DATABASE_URL, else an embedded PostgreSQL this runner starts
// under .data/test-postgres (so a fresh clone needs no server). Each file creates and drops its own
// databases on it (test/support/database.ts).

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/embedded-postgres.ts';
import { createLogger } from '../src/logger.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 300_000);
// After uvu printed its summary, a file that does not exit has leaked a handle: report and stop it.
const EXIT_GRACE_MS = 15_000;

const { values: options, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    suite: { type: 'string', default: 'unit' },
    concurrency: { type: 'string' },
  },
});

type FileResult = { file: string; passed: number; failed: number; skipped: number; output: string; durationMs: number };

function findTestFiles(): string[] {
  const base = options.suite === 'faults' ? join(ROOT, 'test', 'faults') : join(ROOT, 'test');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        if (options.suite !== 'faults' && ['faults', 'bench', 'support', 'fixtures'].includes(entry)) continue;
        walk(path);
      } else if (entry.endsWith('.test.ts')) {
        files.push(path);
      }
    }
  };
  walk(base);
  return files.filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter))).sort();
}

function runFile(file: string, env: NodeJS.ProcessEnv): Promise<FileResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let summarized = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!summarized && /Duration:\s/.test(output)) {
        summarized = true;
        graceTimer = setTimeout(() => {
          output += `\n[runner] ${relative(ROOT, file)} did not exit ${EXIT_GRACE_MS} ms after its summary (a leaked handle); stopped it.\n`;
          child.kill('SIGKILL');
        }, EXIT_GRACE_MS);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timeout = setTimeout(() => {
      output += `\n[runner] ${relative(ROOT, file)} timed out after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      clearTimeout(graceTimer);
      const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
      const total = lastNumber(clean, /Total:\s+(\d+)/g);
      const passed = lastNumber(clean, /Passed:\s+(\d+)/g);
      const skipped = lastNumber(clean, /Skipped:\s+(\d+)/g) ?? 0;
      let failed = total !== undefined && passed !== undefined ? total - passed - skipped : 0;
      const leakedAfterSummary = summarized && signal === 'SIGKILL' && failed === 0;
      // A crash, a timeout or a non-zero exit without a counted failure is one failure of the file.
      if ((total === undefined || (code !== 0 && !leakedAfterSummary)) && failed === 0) failed = 1;
      resolve({ file, passed: passed ?? 0, failed, skipped, output: clean, durationMs: performance.now() - started });
    });
  });
}

function lastNumber(text: string, pattern: RegExp): number | undefined {
  let value: number | undefined;
  for (const match of text.matchAll(pattern)) value = Number(match[1]);
  return value;
}

async function serverIsUp(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function main(): Promise<number> {
  const files = findTestFiles();
  if (files.length === 0) {
    process.stdout.write(`no test files matched\n0 passed, 1 failed\n`);
    return 1;
  }
  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (serverUrl === undefined) {
    embedded = await startEmbeddedPostgres({ dir: join(ROOT, '.data', 'test-postgres'), logger: createLogger('test', 'warn') });
    serverUrl = embedded.url;
    process.stdout.write(`using an embedded PostgreSQL on port ${embedded.port} (set TEST_DATABASE_URL to use another server)\n`);
  } else if (!(await serverIsUp(serverUrl))) {
    process.stdout.write(`cannot reach the test PostgreSQL server at ${new URL(serverUrl).host}\n0 passed, 1 failed\n`);
    return 1;
  }

  const env: NodeJS.ProcessEnv = { ...process.env, TEST_DATABASE_URL: serverUrl, NO_COLOR: '1', FORCE_COLOR: '0', NODE_ENV: 'test' };
  if (options.suite === 'faults') {
    const build = await buildCli();
    if (!build.ok) {
      process.stdout.write(`FAIL npm run build\n${indent(build.output)}\n0 passed, 1 failed\n`);
      await embedded?.stop();
      return 1;
    }
    env.FAULTS_CLI_BUILT = '1';
  }
  const defaultConcurrency = options.suite === 'faults' ? '1' : '3';
  const concurrency = Math.max(1, Number(options.concurrency ?? process.env.TEST_CONCURRENCY ?? defaultConcurrency) || 1);
  const queue = [...files];
  const results: FileResult[] = [];
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const result = await runFile(file, env);
      results.push(result);
      const status = result.failed > 0 ? 'FAIL' : 'ok  ';
      process.stdout.write(
        `${status} ${relative(ROOT, file)}  (${result.passed} passed, ${result.failed} failed, ${Math.round(result.durationMs)} ms)\n`,
      );
      if (result.failed > 0 || process.env.TEST_VERBOSE) process.stdout.write(indent(result.output));
    }
  });
  await Promise.all(workers);
  await embedded?.stop();

  const passed = results.reduce((sum, result) => sum + result.passed, 0);
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

/** `npm run build`: tsc into dist/, which the fault suite's processes run. */
function buildCli(): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('close', (code) => resolve({ ok: code === 0, output }));
  });
}

function indent(text: string): string {
  return `${text
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}\n`;
}

process.exit(await main());
