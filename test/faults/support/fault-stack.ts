import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgBoss } from 'pg-boss';
import { createDatabasePool, type Database } from '../../../src/db/pool.ts';
import { freePort } from '../../../src/embedded-postgres.ts';
import { logged, startCliProcess, type CliProcess } from '../../support/cli-process.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../../support/database.ts';
import { startFakeGitHub, type FakeGitHub } from '../../support/fake-github/index.ts';
import { TEST_TOKEN } from '../../support/github.ts';
import { BUILT_CLI, ROOT, runCli } from '../../support/processes.ts';
import { WEBHOOK_SECRET } from '../../support/webhooks.ts';

// What every fault scenario stands on: a fresh database prepared by the real release command
// (`node dist/src/cli.js migrate`), the fake GitHub in this process (so the scenario changes its
// state and injects faults), and the built `api` and `worker` processes started as the Procfile
// starts them, as many and as often as the scenario wants.

export const ADMIN_TOKEN = 'fault-suite-admin-token-0123456789';

/** The Procfile's worker: `MALLOC_ARENA_MAX=2 node --max-semi-space-size=8 --optimize-for-size`. */
const WORKER_NODE_ARGS = ['--max-semi-space-size=8', '--optimize-for-size'];

export type ProductSpec = { name: string; repository: string; plainTagsPublic?: boolean };

export type ApiProcess = { process: CliProcess; url: string; port: number };
export type WorkerProcess = { process: CliProcess; metricsUrl: string };

export type FaultStack = {
  databaseUrl: string;
  /** A pool on the scenario's database, for the checks. */
  db: Database;
  fake: FakeGitHub;
  /** A pg-boss of the test's own (findJobs, supervise), on the same database. */
  boss: PgBoss;
  env: Record<string, string>;
  /** Starts an API; `port` pins it (a restarted API comes back where the load balancer sends). */
  startApi: (options?: { port?: number; env?: Record<string, string> }) => Promise<ApiProcess>;
  startWorker: (options?: { env?: Record<string, string> }) => Promise<WorkerProcess>;
  /** Every process started so far, for failure messages. */
  processes: CliProcess[];
  close: () => Promise<void>;
};

let built = process.env.FAULTS_CLI_BUILT === '1';

/** test/run.ts --suite faults builds once; a file run alone builds for itself. */
export function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

export async function startFaultStack(options: {
  label: string;
  products: ProductSpec[];
  /** A database on another server (a cluster the scenario starts); default: a fresh test database. */
  databaseUrl?: string;
  env?: Record<string, string>;
}): Promise<FaultStack> {
  ensureBuilt();
  let testDatabase: TestDatabase | undefined;
  let databaseUrl = options.databaseUrl;
  if (databaseUrl === undefined) {
    testDatabase = await createTestDatabase({ label: options.label, migrated: false });
    databaseUrl = testDatabase.url;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rr-faults-'));
  const productsFile = join(dir, 'products.json');
  writeFileSync(productsFile, JSON.stringify({ products: options.products }));
  const fake = await startFakeGitHub({ token: TEST_TOKEN });
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    GITHUB_API_URL: fake.url,
    GITHUB_TOKEN: TEST_TOKEN,
    GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    PRODUCTS_FILE: productsFile,
    API_TOKENS: ADMIN_TOKEN,
    SYNC_SCHEDULE: '0 0 1 1 *',
    LOG_LEVEL: 'info',
    ...options.env,
  };

  const migrated = await runCli(['migrate'], env, 60_000, BUILT_CLI);
  if (migrated.code !== 0) {
    await fake.close();
    await testDatabase?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`release-registry migrate failed (${migrated.code}):\n${migrated.stdout}\n${migrated.stderr}`);
  }

  const db = testDatabase?.db ?? (await createDatabasePool(databaseUrl, { logger: quietLogger, maximumPoolSize: 4, applicationName: 'release-registry-test' }));
  // Its supervise() (called by scenarios to hand on a killed worker's jobs sooner) claims a queue's
  // monitoring pass only when the last one is older than monitorIntervalSeconds.
  const boss = new PgBoss({ connectionString: databaseUrl, max: 2, supervise: false, schedule: false, migrate: false, createSchema: false, monitorIntervalSeconds: 1 });
  boss.on('error', () => undefined);
  await boss.start();

  const processes: CliProcess[] = [];
  const startApi = async (apiOptions: { port?: number; env?: Record<string, string> } = {}): Promise<ApiProcess> => {
    const port = apiOptions.port ?? (await freePort());
    const api = startCliProcess(['api'], { ...env, PORT: String(port), ...apiOptions.env }, { cli: BUILT_CLI });
    processes.push(api);
    await api.waitForLog(logged('api listening'), 30_000);
    return { process: api, url: `http://127.0.0.1:${port}`, port };
  };
  const startWorker = async (workerOptions: { env?: Record<string, string> } = {}): Promise<WorkerProcess> => {
    const worker = startCliProcess(['worker'], { ...env, METRICS_PORT: '0', MALLOC_ARENA_MAX: '2', ...workerOptions.env }, { cli: BUILT_CLI, nodeArgs: WORKER_NODE_ARGS });
    processes.push(worker);
    const metrics = await worker.waitForLog(logged('worker metrics server listening'), 30_000);
    await worker.waitForLog(logged('worker started'), 30_000);
    return { process: worker, metricsUrl: String(metrics.url) };
  };

  return {
    databaseUrl,
    db,
    fake,
    boss,
    env,
    startApi,
    startWorker,
    processes,
    close: async () => {
      await Promise.all(processes.map((child) => child.kill()));
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      await fake.close();
      if (testDatabase !== undefined) await testDatabase.drop();
      else await db.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The output of every process, for a failure message. */
export function processOutput(stack: FaultStack, lastChars = 4_000): string {
  return stack.processes.map((child, index) => `--- process ${index} (${child.child.spawnargs.slice(-1)[0]}):\n${child.output().slice(-lastChars)}`).join('\n');
}
