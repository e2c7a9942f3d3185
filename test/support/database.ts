import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { createDatabasePool, type Database } from '../../src/db/pool.ts';
import { createLogger, type Logger } from '../../src/logger.ts';

// Each test file gets its own database on the test server (created here, migrated, dropped at the
// end), so files run in parallel without seeing each other's rows. The runner (test/run.ts) sets
// TEST_DATABASE_URL to the server's maintenance database.

export type TestDatabase = {
  /** URL of the fresh database. */
  url: string;
  name: string;
  /** A Slonik pool on it. */
  db: Database;
  drop: () => Promise<void>;
};

export function serverUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export const quietLogger: Logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** A fresh, migrated database. `migrated: false` leaves it empty (for migration tests). */
export async function createTestDatabase(options: { label?: string; migrated?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const name = `rr_test_${(options.label ?? 'db').replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl(), name);
  if (options.migrated ?? true) await migrate(url, quietLogger);
  const db = await createDatabasePool(url, { logger: quietLogger, maximumPoolSize: options.poolSize ?? 5, applicationName: 'release-registry-test' });
  let dropped = false;
  return {
    url,
    name,
    db,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await db.end();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
