#!/usr/bin/env node
import { join } from 'node:path';
import { startApi } from '../api/server.ts';
import { startWorker } from '../workers/worker.ts';
import { loadConfig, requireDatabaseUrl, type Config } from './config.ts';
import { migrate } from './db/migrate.ts';
import { createDatabasePool } from './db/pool.ts';
import { syncProductDefinitions } from './db/products.ts';
import { connectionFailureReason, isDatabaseConnectionFailure } from './db/unavailable.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { isMainModule, unsupportedNodeVersion } from './entry-point.ts';
import { AppError, ConfigError, UsageError } from './errors.ts';
import { createLogger, redactUrl, type Logger, type ProcessRole } from './logger.ts';
import { loadProductsFile, type ProductDefinition } from './products.ts';
import { installQueues } from './queues.ts';
import { parseRedriveArgs, redriveDeadLetters } from './redrive.ts';
import { runSyncCommand, SYNC_USAGE } from './sync/sync-command.ts';
import { REPLAY_USAGE, runReplayCommand } from './webhooks/replay-command.ts';

// `release-registry <command>`: the one entry point of every process (see the Procfile).

type Command = {
  summary: string;
  role: ProcessRole;
  /** Whether `run` parses `args` (and throws a UsageError on a bad one); the others take none. */
  takesArguments?: true;
  /** Resolves with the exit code (nothing: 0). */
  run: (context: { config: Config; logger: Logger; args: string[] }) => Promise<number | void>;
};

const COMMANDS: Record<string, Command> = {
  migrate: {
    summary: 'apply database migrations, install the job queues and load the products file',
    role: 'migrate',
    run: async ({ config, logger }) => {
      const products = loadProductsFile(config.PRODUCTS_FILE);
      await prepareDatabase(requireDatabaseUrl(config), logger, products);
    },
  },
  api: {
    summary: 'serve the read API and receive GitHub webhooks (PORT)',
    role: 'api',
    run: async ({ config, logger }) => {
      const api = await startApi(config, requireDatabaseUrl(config), logger);
      await untilSignal(logger, config, [api.stop]);
    },
  },
  worker: {
    summary: 'ingest webhook deliveries and run scheduled syncs of the products migrate loaded',
    role: 'worker',
    run: async ({ config, logger }) => {
      const worker = await startWorker(config, requireDatabaseUrl(config), logger);
      await untilSignal(logger, config, [worker.stop]);
    },
  },
  redrive: {
    summary: 'move the dead-letter jobs of a queue (sync-product, process-delivery) back to it; --dry-run only counts them',
    role: 'cli',
    takesArguments: true,
    run: async ({ config, logger, args }) => {
      const options = parseRedriveArgs(args);
      const report = await redriveDeadLetters(requireDatabaseUrl(config), logger, options);
      const verb = report.dryRun ? 'would move' : 'moved';
      process.stdout.write(`${verb} ${report.moved} job(s) from ${report.deadLetterQueue} back to ${report.queue}\n`);
    },
  },
  sync: {
    summary: `enqueue a sync of a product; --wait prints its outcome (${SYNC_USAGE})`,
    role: 'cli',
    takesArguments: true,
    run: ({ config, logger, args }) => runSyncCommand(config, logger, args),
  },
  replay: {
    summary: `queue stored webhook deliveries again (${REPLAY_USAGE})`,
    role: 'cli',
    takesArguments: true,
    run: ({ config, logger, args }) => runReplayCommand(config, logger, args),
  },
  start: {
    summary: 'migrate, then run the API and a worker in one process (embedded PostgreSQL without DATABASE_URL)',
    role: 'start',
    run: async ({ config, logger }) => {
      const products = loadProductsFile(config.PRODUCTS_FILE);
      const stops: Array<() => Promise<void>> = [];
      // A signal while starting (a first start's initdb and migrations take a while): stop what has
      // started (in `stops` order, the embedded server last) and exit 130; exiting also stops a
      // server still starting. From then on the signal's handler owns the exit: a step under way
      // when it came stops what it started once it returns (by then the handler may have stopped
      // the database under it, which only makes that step fail) and waits for that exit.
      let exiting: Promise<never> | undefined;
      const onSignalWhileStarting = (signal: NodeJS.Signals) => {
        logger.warn({ signal }, 'signal while starting: stopping what has started');
        const deadline = setTimeout(() => process.exit(130), config.SHUTDOWN_TIMEOUT_MS);
        deadline.unref();
        exiting = runStops([...stops], logger).then(() => process.exit(130));
      };
      const unlessSignalled = async (stop: () => Promise<void>) => {
        if (exiting === undefined) return;
        await runStops([stop], logger);
        await exiting;
      };
      process.once('SIGINT', onSignalWhileStarting);
      process.once('SIGTERM', onSignalWhileStarting);
      let databaseUrl = config.DATABASE_URL;
      if (databaseUrl === undefined) {
        const dir = join(config.DATA_DIR, 'postgres');
        logger.info({ dataDir: dir }, 'DATABASE_URL is not set: starting an embedded PostgreSQL');
        const embedded = await startEmbeddedPostgres({ dir, logger });
        stops.push(embedded.stop);
        databaseUrl = embedded.url;
        logger.info({ databaseUrl: redactUrl(databaseUrl), dataDir: embedded.dir }, 'embedded PostgreSQL running');
      }
      try {
        await prepareDatabase(databaseUrl, logger, products);
        const api = await startApi(config, databaseUrl, logger);
        await unlessSignalled(api.stop);
        stops.unshift(api.stop);
        // One process, one registry: the API's /metrics serves the worker's metrics too.
        // prepareDatabase has just copied the products file into the database.
        const worker = await startWorker(config, databaseUrl, logger, { metricsServer: false });
        await unlessSignalled(() => runTogether([api.stop, worker.stop], logger));
        // The API stops accepting while the worker drains its jobs: both within one shutdown budget.
        stops.splice(0, 1, () => runTogether([api.stop, worker.stop], logger));
        logger.info({ url: api.url, health: `${api.url}/-/healthz` }, `release-registry is running at ${api.url}`);
      } catch (error) {
        if (exiting !== undefined) await exiting;
        await runStops(stops, logger);
        throw error;
      } finally {
        process.off('SIGINT', onSignalWhileStarting);
        process.off('SIGTERM', onSignalWhileStarting);
      }
      await untilSignal(logger, config, stops);
    },
  },
};

async function prepareDatabase(databaseUrl: string, logger: Logger, products: readonly ProductDefinition[]): Promise<void> {
  const report = await migrate(databaseUrl, logger);
  const db = await createDatabasePool(databaseUrl, { logger, maximumPoolSize: 2, applicationName: 'release-registry-migrate' });
  try {
    logger.info({ applied: report.applied, alreadyApplied: report.alreadyApplied }, 'database schema is current');
    await installQueues(databaseUrl, logger);
    const tracked = await syncProductDefinitions(db, products);
    logger.info({ products: tracked.map((product) => product.name) }, 'products file loaded');
  } finally {
    await db.end();
  }
}

/** Waits for SIGINT or SIGTERM, then runs `stops` in order within SHUTDOWN_TIMEOUT_MS. */
function untilSignal(logger: Logger, config: Config, stops: Array<() => Promise<void>>): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      received = true;
      logger.info({ signal }, 'shutting down');
      const deadline = setTimeout(() => {
        logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
        process.exit(1);
      }, config.SHUTDOWN_TIMEOUT_MS);
      deadline.unref();
      void runStops(stops, logger).then(() => {
        clearTimeout(deadline);
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function runStops(stops: Array<() => Promise<void>>, logger: Logger): Promise<void> {
  for (const stop of stops) {
    try {
      await stop();
    } catch (error) {
      logger.error({ err: error }, 'error while stopping');
    }
  }
}

async function runTogether(stops: Array<() => Promise<void>>, logger: Logger): Promise<void> {
  const results = await Promise.allSettled(stops.map((stop) => stop()));
  for (const result of results) if (result.status === 'rejected') logger.error({ err: result.reason }, 'error while stopping');
}

/** `host:port (url)`, the password masked; `start` without DATABASE_URL runs its own server. */
function describeDatabase(databaseUrl: string | undefined): string {
  if (databaseUrl === undefined) return 'the embedded PostgreSQL';
  try {
    const { hostname, port } = new URL(databaseUrl);
    return `${hostname || 'localhost'}:${port || '5432'} (${redactUrl(databaseUrl)})`;
  } catch {
    return redactUrl(databaseUrl);
  }
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`);
  return `usage: release-registry <command>\n\ncommands:\n${lines.join('\n')}\n\nConfiguration comes from the environment; see README.md.`;
}

export async function main(argv: string[]): Promise<number> {
  const unsupported = unsupportedNodeVersion(process.versions.node);
  if (unsupported !== null) {
    process.stderr.write(`${unsupported}\n`);
    return 1;
  }
  const [name = 'start', ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`release-registry: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (command.takesArguments === undefined && args.length > 0) {
    process.stderr.write(`release-registry ${name}: takes no arguments (got ${args.join(' ')})\nusage: release-registry ${name}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`release-registry: configuration error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const logger = createLogger(command.role, config.LOG_LEVEL);
  try {
    return (await command.run({ config, logger, args })) ?? 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`release-registry: configuration error: ${error.message}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`release-registry ${name}: ${error.message}\nusage: ${error.usage}\n`);
      return 2;
    }
    // Not a bug: the operator's DATABASE_URL or server. Once running, the processes ride out an
    // outage by themselves; at start there is nothing to serve, so say what to fix and exit.
    const expected = isDatabaseConnectionFailure(error)
      ? `cannot reach the database at ${describeDatabase(config.DATABASE_URL)}: ${connectionFailureReason(error)}`
      : error instanceof AppError
        ? error.message
        : undefined;
    if (expected !== undefined) {
      // A one-shot command's stdout carries its results: the stderr line is its whole report there.
      if (command.role === 'cli') logger.debug({ err: error }, expected);
      else logger.error({ err: error }, expected);
      process.stderr.write(`release-registry ${name}: ${expected}\n`);
      return 1;
    }
    logger.fatal({ err: error }, 'unexpected error');
    return 1;
  }
}

// Run only when executed, not when imported by tests.
if (isMainModule(import.meta)) {
  // Exit explicitly: a finished command must not be kept alive by a library's idle timer.
  process.exit(await main(process.argv.slice(2)));
}
