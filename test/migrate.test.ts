import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { migrate, readMigrations } from '../src/db/migrate.ts';
import { MigrationError } from '../src/errors.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { runCli } from './support/processes.ts';

async function schemaShape(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, column_name`,
    );
    const indexes = await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
    const triggers = await client.query(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname`);
    const migrations = await client.query(`SELECT name, checksum FROM schema_migrations ORDER BY name`);
    return JSON.stringify({ columns: columns.rows, indexes: indexes.rows, triggers: triggers.rows, migrations: migrations.rows });
  } finally {
    await client.end();
  }
}

async function count(url: string, query: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(query)).rows[0].count);
  } finally {
    await client.end();
  }
}

test('migrating a fresh database applies every file once; migrating again changes nothing', async () => {
  const database = await createTestDatabase({ label: 'migrate', migrated: false });
  try {
    const first = await migrate(database.url, quietLogger);
    assert.equal(first.applied, readMigrations().map((migration) => migration.name));
    const shape = await schemaShape(database.url);
    assert.match(shape, /"table_name":"releases"/);
    assert.match(shape, /releases_change_log/);
    const second = await migrate(database.url, quietLogger);
    assert.equal(second.applied, []);
    assert.is(second.alreadyApplied, readMigrations().length);
    assert.is(await schemaShape(database.url), shape, 'the second run must not change the schema');
  } finally {
    await database.drop();
  }
});

test('two CLI processes migrating at once both succeed and apply each file once', async () => {
  const database = await createTestDatabase({ label: 'migrate_concurrent', migrated: false });
  try {
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    const [a, b] = await Promise.all([runCli(['migrate'], env), runCli(['migrate'], env)]);
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    assert.is(await count(database.url, 'SELECT count(*) FROM schema_migrations'), readMigrations().length);
    assert.is(await count(database.url, `SELECT count(*) FROM pgboss.queue WHERE name = 'sync-product'`), 1, 'queues are installed');
    assert.ok((await count(database.url, 'SELECT count(*) FROM products')) > 0, 'the products file is loaded');
    const again = await runCli(['migrate'], env);
    assert.is(again.code, 0, again.stderr);
  } finally {
    await database.drop();
  }
});

test('an applied migration that was edited afterwards is refused by name', async () => {
  const database = await createTestDatabase({ label: 'migrate_edited' });
  try {
    const edited = readMigrations().map((migration, index) => (index === 0 ? { ...migration, checksum: 'different' } : migration));
    try {
      await migrate(database.url, quietLogger, edited);
      assert.unreachable('expected a MigrationError');
    } catch (error) {
      assert.instance(error, MigrationError);
      assert.is((error as MigrationError).migration, readMigrations()[0]!.name);
      assert.match((error as Error).message, /changed after it was applied/);
    }
  } finally {
    await database.drop();
  }
});

test('a failing migration is rolled back whole and not recorded', async () => {
  const database = await createTestDatabase({ label: 'migrate_failing' });
  try {
    const dir = mkdtempSync(join(tmpdir(), 'rr-migrations-'));
    writeFileSync(join(dir, '9998_half.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    const broken = [...readMigrations(), ...readMigrations(dir)];
    try {
      await migrate(database.url, quietLogger, broken);
      assert.unreachable('expected a MigrationError');
    } catch (error) {
      assert.instance(error, MigrationError);
      assert.is((error as MigrationError).migration, '9998_half');
    }
    assert.is(await count(database.url, `SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'`), 0);
    assert.is(await count(database.url, `SELECT count(*) FROM schema_migrations WHERE name = '9998_half'`), 0);
  } finally {
    await database.drop();
  }
});

test('a migration waits a bounded time for a lock a long transaction holds, tries again, and gives up with the lock named', async () => {
  const database = await createTestDatabase({ label: 'migrate_locked' });
  const holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'rr-migrations-'));
    writeFileSync(join(dir, '9997_add_column.sql'), 'ALTER TABLE releases ADD COLUMN locked_test int;\n');
    const withAlter = [...readMigrations(), ...readMigrations(dir)];
    const waits = { timeoutMs: 150, attempts: 3, retryDelayMs: 50 };

    // A long read holds the table: the migration gives up within its attempts, and writes nothing.
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM releases');
    const started = performance.now();
    try {
      await migrate(database.url, quietLogger, withAlter, waits);
      assert.unreachable('expected a MigrationError');
    } catch (error) {
      assert.instance(error, MigrationError);
      assert.is((error as MigrationError).migration, '9997_add_column');
      assert.match(String((error as Error).cause), /lock timeout/);
    }
    assert.ok(performance.now() - started < 3_000, 'bounded');
    assert.is(await count(database.url, `SELECT count(*) FROM schema_migrations WHERE name = '9997_add_column'`), 0);

    // The read ends while the migration waits between tries: the next try applies it.
    const applying = migrate(database.url, quietLogger, withAlter, { timeoutMs: 150, attempts: 10, retryDelayMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.query('COMMIT');
    assert.equal((await applying).applied, ['9997_add_column']);
  } finally {
    await holder.end();
    await database.drop();
  }
});

test.run();
