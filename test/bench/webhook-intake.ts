import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { syncProductDefinitions } from '../../src/db/products.ts';
import { storeDeliveries, type NewDelivery } from '../../src/db/webhook-deliveries.ts';
import { createBoss, installQueues } from '../../src/queues.ts';
import { ENQUEUE_BATCH, JOBS_PER_SWEEP } from '../../src/webhooks/enqueue-stored-deliveries.ts';
import { logged, startCliProcess, type CliProcess } from '../support/cli-process.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from '../support/database.ts';
import { startFakeGitHub } from '../support/fake-github/index.ts';
import { tagPushed } from '../support/github-events.ts';
import { TEST_TOKEN } from '../support/github.ts';
import { countWrites, enqueueAllStored, fixturePayload, signedRequest, TRACKED_REPOSITORY, trackedReleaseDelivery, WEBHOOK_SECRET, widgetProduct } from '../support/webhooks.ts';
import { cpuAccountingAvailable, cpuBetween, cpuSnapshot } from './support/process-cpu.ts';

// Webhook intake throughput: deliveries/s and p99 of the real `api` process (signature check and
// durable store of the delivery; its job is the worker's enqueuer's, timed separately), beside a bare Koa endpoint that only verifies the
// signature and answers 202 (the ceiling). Both run as separate processes on loopback and are
// loaded the same way by autocannon from this process: the same signed release payload, a fresh
// X-GitHub-Delivery per request, the same connections, BENCH_ROUNDS alternating rounds of
// BENCH_DURATION_SECONDS each after a warm-up of each (the machine is shared: a busy minute must not
// land on one side only); medians are reported, and the ratio is the median of the rounds' ratios.
// Where /proc is readable, the CPU each delivery cost is reported too: the server process, its
// PostgreSQL backends (found by application_name) and the load generator (this process).
// Beside them, the floor (support/floor-webhook-server.ts): the bare endpoint plus JSON.parse and the
// intake's own statement, nothing else; what the intake costs beyond it is the service's own code.
// BENCH_BASELINE=<directory of another checkout with the same migrations> adds that checkout's
// `api` as one more endpoint in the same rounds: before/after figures from the same run conditions.
// Then freshness (below). Standalone: `node test/bench/webhook-intake.ts [intake|freshness]`
// (PostgreSQL from TEST_DATABASE_URL, else DATABASE_URL, else 127.0.0.1:5432); it creates and drops
// its own databases.

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = 3;
const BARE_SERVER = fileURLToPath(new URL('./support/bare-webhook-server.ts', import.meta.url));
const FLOOR_SERVER = fileURLToPath(new URL('./support/floor-webhook-server.ts', import.meta.url));
const FLOOR_APPLICATION = 'release-registry-bench-floor';

/** CPU milliseconds per delivery answered, by process. */
export type CpuPerDelivery = { server: number; database: number; loadGenerator: number };
export type LoadFigures = { requestsPerSecond: number; p50Ms: number; p99Ms: number; requests: number; non2xx: number; errors: number; cpu: CpuPerDelivery | null };
export type EndpointFigures = { median: LoadFigures; rounds: LoadFigures[] };
export type IntakeFigures = {
  connections: number;
  rounds: number;
  roundSeconds: number;
  ceiling: EndpointFigures;
  intake: EndpointFigures;
  /** Median of the rounds' intake / bare ratios (each pair measured back to back). */
  ratio: number;
  /** The floor (support/floor-webhook-server.ts): the bare endpoint plus JSON.parse and the intake's statement, nothing else. */
  floor: { figures: EndpointFigures; ratio: number };
  /** The intake of BENCH_BASELINE's checkout, measured in the same rounds. */
  baseline: { directory: string; figures: EndpointFigures; ratio: number } | null;
  /** The same rows written without HTTP: what the database alone sustains. */
  databaseOnly: { deliveriesPerSecond: number; batchSize: number };
  /** The worker's enqueuer giving the deliveries the intake runs stored their jobs (it must keep up). */
  enqueuer: { deliveriesPerSecond: number; jobs: number };
  storedDeliveries: number;
  storedJobs: number;
};

const DATABASE_ONLY_BATCH = 32;

/**
 * The database's share: deliveries written as the intake writes them (one statement per batch), by
 * one connection, without HTTP.
 */
async function databaseOnly(database: TestDatabase, payload: Buffer): Promise<number> {
  const row = (): NewDelivery => trackedReleaseDelivery(payload);
  let written = 0;
  const started = performance.now();
  const end = started + DURATION_SECONDS * 1000;
  while (performance.now() < end) {
    const rows = Array.from({ length: DATABASE_ONLY_BATCH }, row);
    await storeDeliveries(database.db, rows);
    written += rows.length;
  }
  return written / ((performance.now() - started) / 1000);
}

/** Drains what the intake runs stored, as the worker's enqueuer does, and times it. */
async function drainWithEnqueuer(database: TestDatabase): Promise<{ deliveriesPerSecond: number; jobs: number }> {
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'bench-enqueuer', maxConnections: 2 });
  await boss.start();
  try {
    const jobsBefore = (await countWrites(database.db)).jobs;
    const started = performance.now();
    const enqueued = await enqueueAllStored(database.db, boss);
    const deliveriesPerSecond = enqueued / ((performance.now() - started) / 1000);
    return { deliveriesPerSecond, jobs: (await countWrites(database.db)).jobs - jobsBefore };
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

type Target = {
  url: string;
  /** The server process and, for the intake, its PostgreSQL backends. */
  pids: () => Promise<{ server: number; database: number[] }>;
};

async function load(target: Target, body: string, headers: Record<string, string>, durationSeconds: number): Promise<LoadFigures> {
  const pidsBefore = await target.pids();
  const serverBefore = cpuSnapshot([pidsBefore.server]);
  const databaseBefore = cpuSnapshot(pidsBefore.database);
  const loadGeneratorBefore = process.cpuUsage();
  const result = await autocannon({
    url: `${target.url}/webhooks/github`,
    connections: CONNECTIONS,
    duration: durationSeconds,
    method: 'POST',
    body,
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'x-github-delivery': randomUUID() } }) }],
  });
  const loadGenerator = process.cpuUsage(loadGeneratorBefore);
  const pidsAfter = await target.pids();
  const answered = result['2xx'];
  const perDelivery = (seconds: number) => (answered === 0 ? 0 : (seconds * 1000) / answered);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpu: cpuAccountingAvailable
      ? {
          server: perDelivery(cpuBetween(serverBefore, cpuSnapshot([pidsAfter.server]))),
          database: perDelivery(cpuBetween(databaseBefore, cpuSnapshot(pidsAfter.database))),
          loadGenerator: perDelivery((loadGenerator.user + loadGenerator.system) / 1e6),
        }
      : null,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function medianFigures(rounds: readonly LoadFigures[]): LoadFigures {
  const of = (pick: (figures: LoadFigures) => number) => median(rounds.map(pick));
  const cpus = rounds.map((round) => round.cpu);
  return {
    requestsPerSecond: of((f) => f.requestsPerSecond),
    p50Ms: of((f) => f.p50Ms),
    p99Ms: of((f) => f.p99Ms),
    requests: rounds.reduce((sum, f) => sum + f.requests, 0),
    non2xx: rounds.reduce((sum, f) => sum + f.non2xx, 0),
    errors: rounds.reduce((sum, f) => sum + f.errors, 0),
    cpu: cpus.every((cpu) => cpu !== null)
      ? {
          server: median(cpus.map((cpu) => cpu!.server)),
          database: median(cpus.map((cpu) => cpu!.database)),
          loadGenerator: median(cpus.map((cpu) => cpu!.loadGenerator)),
        }
      : null,
  };
}

/** SIGTERM, resolved at the exit (which is no longer a start-up failure). */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    child.removeAllListeners('exit');
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/** The bare endpoint, or with `databaseUrl` the floor. */
function startBareServer(databaseUrl?: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  // BENCH_BARE_NODE_ARGS: Node.js flags for the bare server and the floor, e.g. `--cpu-prof --cpu-prof-dir=<dir>` to profile each side.
  const nodeArgs = (process.env.BENCH_BARE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const script = databaseUrl === undefined ? BARE_SERVER : FLOOR_SERVER;
  const env = { ...process.env, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, ...(databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl }) };
  const child = spawn(process.execPath, [...nodeArgs, script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${basename(script)} exited with ${code}`)));
    child.stdout.once('data', (chunk: Buffer) => {
      const { port } = JSON.parse(chunk.toString('utf8').split('\n')[0]!) as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: child.pid!,
        stop: () => stopChild(child),
      });
    });
  });
}

async function startApiProcess(database: TestDatabase): Promise<{ url: string; api: CliProcess }> {
  // BENCH_API_NODE_ARGS: Node.js flags for the measured api, e.g. `--cpu-prof --cpu-prof-dir=/tmp/profiles`.
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const api = startCliProcess(['api'], { DATABASE_URL: database.url, PORT: '0', GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, LOG_LEVEL: 'info' }, { nodeArgs });
  const listening = await api.waitForLog(logged('api listening'));
  return { url: String(listening.url).replace('localhost', '127.0.0.1'), api };
}

const BASELINE_APPLICATION = 'release-registry-baseline';

/** Another checkout's `api` on the same database, its pool under an application name of its own. */
function startBaselineApi(directory: string, database: TestDatabase): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const url = new URL(database.url);
  url.searchParams.set('application_name', BASELINE_APPLICATION);
  const child = spawn(process.execPath, [join(directory, 'src', 'cli.ts'), 'api'], {
    cwd: directory,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url.toString(), PORT: '0', GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the baseline api exited with ${code}`)));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const line of output.split('\n')) {
        const listening = /"msg":"api listening"/.test(line) ? (JSON.parse(line) as { url: string }) : null;
        if (listening === null) continue;
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({
          url: listening.url.replace('localhost', '127.0.0.1'),
          pid: child.pid!,
          stop: () => stopChild(child),
        });
        return;
      }
    });
  });
}

export async function benchWebhookIntake(): Promise<IntakeFigures> {
  const database = await createTestDatabase({ label: 'bench_intake', poolSize: 2 });
  try {
    await installQueues(database.url, quietLogger);
    await syncProductDefinitions(database.db, [widgetProduct()]);
    const signed = await signedRequest({ event: 'release', payload: fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.2.3' }) });
    const { 'x-github-delivery': _id, ...headers } = signed.headers;

    const baselineDirectory = process.env.BENCH_BASELINE;
    const bare = await startBareServer();
    const floorUrl = new URL(database.url);
    floorUrl.searchParams.set('application_name', FLOOR_APPLICATION);
    const floor = await startBareServer(floorUrl.toString());
    const { url, api } = await startApiProcess(database);
    const baseline = baselineDirectory === undefined ? null : await startBaselineApi(baselineDirectory, database);
    const ceilingRounds: LoadFigures[] = [];
    const intakeRounds: LoadFigures[] = [];
    const floorRounds: LoadFigures[] = [];
    const baselineRounds: LoadFigures[] = [];
    const backends = async (applicationName: string) => [
      ...(await database.db.anyFirst(sql.type(z.object({ pid: z.number() }))`
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE ${applicationName}`)),
    ];
    try {
      const bareTarget: Target = { url: bare.url, pids: async () => ({ server: bare.pid, database: [] }) };
      const intakeTarget: Target = { url, pids: async () => ({ server: api.child.pid!, database: await backends('release-registry-api%') }) };
      const floorTarget: Target = { url: floor.url, pids: async () => ({ server: floor.pid, database: await backends(FLOOR_APPLICATION) }) };
      const baselineTarget: Target | null =
        baseline === null ? null : { url: baseline.url, pids: async () => ({ server: baseline.pid, database: await backends(BASELINE_APPLICATION) }) };
      await load(bareTarget, signed.body, headers, WARMUP_SECONDS);
      await load(intakeTarget, signed.body, headers, WARMUP_SECONDS);
      await load(floorTarget, signed.body, headers, WARMUP_SECONDS);
      if (baselineTarget !== null) await load(baselineTarget, signed.body, headers, WARMUP_SECONDS);
      const targets: Array<[Target, LoadFigures[]]> = [
        [bareTarget, ceilingRounds],
        [intakeTarget, intakeRounds],
        [floorTarget, floorRounds],
        ...(baselineTarget === null ? [] : [[baselineTarget, baselineRounds] as [Target, LoadFigures[]]]),
      ];
      for (let round = 0; round < ROUNDS; round += 1) {
        // Every other round in reverse, so that no endpoint always runs right after the same one.
        for (const [target, rounds] of round % 2 === 0 ? targets : [...targets].reverse()) {
          rounds.push(await load(target, signed.body, headers, DURATION_SECONDS));
        }
      }
    } finally {
      await bare.stop();
      await floor.stop();
      await baseline?.stop();
      api.child.kill('SIGTERM');
      await api.exited;
    }
    const storedDeliveries = (await countWrites(database.db)).deliveries;
    const enqueuer = await drainWithEnqueuer(database);
    const storedJobs = (await countWrites(database.db)).jobs;
    const databaseOnlyRate = await databaseOnly(database, Buffer.from(signed.body, 'utf8'));
    return {
      connections: CONNECTIONS,
      rounds: ROUNDS,
      roundSeconds: DURATION_SECONDS,
      ceiling: { median: medianFigures(ceilingRounds), rounds: ceilingRounds },
      intake: { median: medianFigures(intakeRounds), rounds: intakeRounds },
      ratio: median(intakeRounds.map((round, index) => round.requestsPerSecond / ceilingRounds[index]!.requestsPerSecond)),
      floor: {
        figures: { median: medianFigures(floorRounds), rounds: floorRounds },
        ratio: median(floorRounds.map((round, index) => round.requestsPerSecond / ceilingRounds[index]!.requestsPerSecond)),
      },
      baseline:
        baselineDirectory === undefined
          ? null
          : {
              directory: baselineDirectory,
              figures: { median: medianFigures(baselineRounds), rounds: baselineRounds },
              ratio: median(baselineRounds.map((round, index) => round.requestsPerSecond / ceilingRounds[index]!.requestsPerSecond)),
            },
      databaseOnly: { deliveriesPerSecond: databaseOnlyRate, batchSize: DATABASE_ONLY_BATCH },
      enqueuer,
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
  const env = { DATABASE_URL: database.url, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET, GITHUB_API_URL: fake.url, GITHUB_TOKEN: TEST_TOKEN, LOG_LEVEL: 'info' };
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

/**
 * What the whole machine could answer if every CPU were busy at the intake's measured cost per
 * delivery (its server, its PostgreSQL backends and the load generator, which share the CPUs):
 * an upper bound for the intake on this machine, whatever the pipelining. Null where /proc is not
 * readable.
 */
export function cpuBoundDeliveriesPerSecond(figures: LoadFigures): number | null {
  if (figures.cpu === null) return null;
  const perDeliveryMs = figures.cpu.server + figures.cpu.database + figures.cpu.loadGenerator;
  return perDeliveryMs > 0 ? (cpus().length * 1000) / perDeliveryMs : null;
}

export function formatIntakeFigures(figures: IntakeFigures): string {
  const cpu = (f: LoadFigures) =>
    f.cpu === null ? '' : ` ${f.cpu.server.toFixed(3).padStart(6)} | ${f.cpu.database.toFixed(3).padStart(6)} | ${f.cpu.loadGenerator.toFixed(3).padStart(6)} |`;
  const cpuHeader = figures.intake.median.cpu === null ? '' : ' server | postgres | loadgen |';
  const cpuRule = figures.intake.median.cpu === null ? '' : '--------|----------|---------|';
  const row = (name: string, f: LoadFigures) =>
    `| ${name.padEnd(44)} | ${f.requestsPerSecond.toFixed(0).padStart(10)} | ${String(f.p50Ms).padStart(6)} | ${String(f.p99Ms).padStart(6)} | ${String(f.non2xx + f.errors).padStart(6)} |${cpu(f)}`;
  const cpuBound = cpuBoundDeliveriesPerSecond(figures.intake.median);
  const perRound = figures.intake.rounds
    .map((round, index) => `${figures.ceiling.rounds[index]!.requestsPerSecond.toFixed(0)} / ${round.requestsPerSecond.toFixed(0)}`)
    .join(', ');
  return [
    `webhook intake, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_SECONDS} s (medians), ${cpus().length} CPUs`,
    `| ${'endpoint'.padEnd(44)} | deliveries/s | p50 ms | p99 ms | errors |${cpuHeader}`,
    `|${'-'.repeat(46)}|-------------|--------|--------|--------|${cpuRule}`,
    row('bare Koa: verify signature, answer 202', figures.ceiling.median),
    row('intake: verify, store delivery, 202', figures.intake.median),
    row('floor: bare + JSON.parse + the same INSERT', figures.floor.figures.median),
    ...(figures.baseline === null ? [] : [row(`baseline intake (${basename(figures.baseline.directory)})`, figures.baseline.figures.median)]),
    `| ${`database only: same writes, ${figures.databaseOnly.batchSize}/tx, no HTTP`.padEnd(44)} | ${figures.databaseOnly.deliveriesPerSecond.toFixed(0).padStart(10)} |        |        |        |`,
    `| ${`worker's enqueuer: ${ENQUEUE_BATCH}/job, ${JOBS_PER_SWEEP} jobs/txn`.padEnd(44)} | ${figures.enqueuer.deliveriesPerSecond.toFixed(0).padStart(10)} |        |        |        |`,
    ...(figures.intake.median.cpu === null ? [] : ['CPU columns: milliseconds of CPU per delivery answered (server process, its PostgreSQL backends, autocannon)']),
    ...(cpuBound === null
      ? []
      : [
          `all ${cpus().length} CPUs at the intake's CPU per delivery (server + postgres + loadgen) would answer at most ${cpuBound.toFixed(0)}/s: ${(cpuBound / figures.ceiling.median.requestsPerSecond).toFixed(2)} of the bare endpoint's rate`,
        ]),
    `rounds, bare / intake deliveries/s: ${perRound}`,
    `ratio intake / bare: ${figures.ratio.toFixed(2)} (target >= 0.5); intake / database only: ${(figures.intake.median.requestsPerSecond / figures.databaseOnly.deliveriesPerSecond).toFixed(2)}`,
    `ratio floor / bare: ${figures.floor.ratio.toFixed(2)}, rounds ${figures.floor.figures.rounds.map((round) => round.requestsPerSecond.toFixed(0)).join(', ')}: these rows stored before answering, without the service's router, middleware, metrics, zod or Slonik`,
    ...(figures.baseline === null
      ? []
      : [
          `baseline ${figures.baseline.directory}: ratio ${figures.baseline.ratio.toFixed(2)}; rounds ${figures.baseline.figures.rounds.map((round) => round.requestsPerSecond.toFixed(0)).join(', ')}`,
        ]),
    `the intake and floor runs (warm-up included${figures.baseline === null ? '' : ', the baseline\'s too'}) stored ${figures.storedDeliveries} deliveries; the enqueuer gave them ${figures.enqueuer.jobs} jobs (${figures.storedJobs} in all)`,
  ].join('\n');
}

if (import.meta.main) {
  const only = process.argv[2];
  if (only !== 'freshness') process.stdout.write(`${formatIntakeFigures(await benchWebhookIntake())}\n\n`);
  if (only !== 'intake') process.stdout.write(`${formatFreshnessFigures(await benchFreshness())}\n`);
  process.exit(0);
}
