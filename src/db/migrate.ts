import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MigrationError } from '../errors.ts';
import { sqlStateOf } from './unavailable.ts';
import type { Logger } from '../logger.ts';
import { PROJECT_ROOT } from '../paths.ts';

// Plain numbered .sql files, applied in order, each in its own transaction and recorded with a
// checksum. A session-level advisory lock makes concurrent runs (two replicas starting at once)
// wait for each other instead of racing; the second finds nothing left to do.

export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'migrations');

// Any constant works as long as nothing else in the database uses it; this one spells "rr-migr".
const MIGRATION_LOCK_KEY = 0x72722d6d69677200n;

export type MigrationFile = { name: string; sql: string; checksum: string };

export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return { name: file.replace(/\.sql$/, ''), sql: text, checksum: createHash('sha256').update(text).digest('hex') };
    });
}

/** How long one statement of a migration waits for a lock, how many times it is tried, and the pause between tries (growing). */
export type LockWaits = { timeoutMs: number; attempts: number; retryDelayMs: number };
const LOCK_WAITS: LockWaits = { timeoutMs: 5_000, attempts: 6, retryDelayMs: 2_000 };
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

export type MigrationReport = { applied: string[]; alreadyApplied: number };

/**
 * Applies pending migrations. Runs on its own node-postgres client rather than the Slonik pool:
 * migration files are scripts of many statements (functions, triggers), which only the simple
 * query protocol accepts and which Slonik's driver refuses by design.
 */
export async function migrate(databaseUrl: string, logger: Logger, migrations = readMigrations(), lockWaits = LOCK_WAITS): Promise<MigrationReport> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'release-registry-migrate', connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const applied = new Map(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations')).rows.map((row) => [
        row.name,
        row.checksum,
      ]),
    );
    const report: MigrationReport = { applied: [], alreadyApplied: 0 };
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(migration.name, {
            cause: new Error('the file changed after it was applied; add a new migration instead of editing an applied one'),
          });
        }
        report.alreadyApplied += 1;
        continue;
      }
      const started = performance.now();
      for (let attempt = 1; ; attempt += 1) {
        try {
          await client.query('BEGIN');
          // A lock the migration needs (ALTER TABLE takes the table's) waits behind any long
          // transaction on the table, and every query of the running API then queues behind the
          // migration: wait a few seconds at most, and try again later rather than stall them.
          await client.query(`SET LOCAL lock_timeout = '${Math.round(lockWaits.timeoutMs)}ms'`);
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [migration.name, migration.checksum]);
          await client.query('COMMIT');
          break;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          if (sqlStateOf(error) === LOCK_NOT_AVAILABLE && attempt < lockWaits.attempts) {
            logger.warn({ migration: migration.name, attempt, of: lockWaits.attempts }, 'migration waited too long for a lock (a long transaction holds the table): trying again');
            await sleep(attempt * lockWaits.retryDelayMs);
            continue;
          }
          throw new MigrationError(migration.name, { cause: error });
        }
      }
      logger.info({ migration: migration.name, durationMs: Math.round(performance.now() - started) }, 'migration applied');
      report.applied.push(migration.name);
    }
    return report;
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end();
  }
}
