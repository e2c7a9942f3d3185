import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';

// DATA_DIR for tests of `start` on the embedded PostgreSQL: a fresh directory, the server running
// in it, and a clean-up that leaves no server behind whatever the test's outcome.

export function embeddedDataDir(): string {
  const dataDir = mkdtempSync(join(tmpdir(), 'rr-embedded-'));
  // As root the server runs as the postgres user, which must reach the data directory inside.
  chmodSync(dataDir, 0o755);
  return dataDir;
}

/** The pid of the postmaster running in `dataDir` (from its postmaster.pid), if any. */
export function postmasterPid(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  return existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the server in `dataDir` is gone within 15 s. */
export function embeddedServerStopped(dataDir: string): Promise<boolean> {
  return eventually(
    async () => {
      const pid = postmasterPid(dataDir);
      return pid === undefined || !isAlive(pid);
    },
    (gone) => gone,
    'the embedded server stopped',
    15_000,
  );
}

/** Stops a server left in `dataDir` and removes the directory. */
export async function removeEmbeddedDataDir(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid !== undefined && isAlive(pid)) {
    process.kill(pid, 'SIGINT');
    await eventually(async () => isAlive(pid), (alive) => !alive, 'the leftover server stopped', 15_000).catch(() => undefined);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
