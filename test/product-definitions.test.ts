import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { beginReleaseWrite } from '../src/db/product-locks.ts';
import { listProducts, syncProductDefinitions } from '../src/db/products.ts';
import { upsertTags } from '../src/db/releases.ts';
import { DEFAULT_TAG_PATTERN } from '../src/domain/version.ts';
import type { ProductDefinition } from '../src/products.ts';
import { createTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';

// The products file is copied into the products table at every start; stored releases follow a
// definition that changed.

const definition = (overrides: Partial<ProductDefinition> = {}): ProductDefinition => ({
  name: 'app',
  repository: 'acme/app',
  tagPattern: DEFAULT_TAG_PATTERN,
  plainTagsPublic: false,
  public: true,
  ...overrides,
});
const sha = (n: number) => n.toString(16).padStart(40, '0');

test('changed definitions: visibility derived again, a new pattern or repository listed again, removed products untracked', async () => {
  const database = await createTestDatabase({ label: 'product_definitions' });
  const { db } = database;
  try {
    const [app] = await syncProductDefinitions(db, [definition()]);
    await db.transaction((trx) => upsertTags(trx, app!, [{ name: 'v1.0.0', refSha: sha(1), gitSha: sha(2), taggedAt: new Date('2024-01-01T00:00:00Z') }]));
    await db.query(sql.unsafe`
      INSERT INTO sync_state (product_id, tags_etag, last_success_at, last_outcome) VALUES (${app!.id}, 'W/"x"', now(), 'succeeded')`);
    const visibility = () =>
      db.one(sql.type(z.object({ public: z.boolean(), promotedAt: z.date().nullable() }))`
        SELECT public, promoted_at AS "promotedAt" FROM releases WHERE product_id = ${app!.id} AND tag = 'v1.0.0'`);
    const syncState = () =>
      db.one(sql.type(z.object({ etag: z.string().nullable(), success: z.date().nullable() }))`
        SELECT tags_etag AS etag, last_success_at AS success FROM sync_state WHERE product_id = ${app!.id}`);

    assert.equal(await visibility(), { public: false, promotedAt: null }, 'a plain tag is not public by default');

    await syncProductDefinitions(db, [definition({ plainTagsPublic: true })]);
    assert.equal(await visibility(), { public: true, promotedAt: new Date('2024-01-01T00:00:00Z') }, 'plainTagsPublic applies to stored rows at once');
    assert.ok((await syncState()).success instanceof Date, 'a visibility change needs no new listing');

    await syncProductDefinitions(db, [definition({ plainTagsPublic: true, description: 'reworded' })]);
    assert.ok((await syncState()).success instanceof Date, 'a description change needs no new listing');

    await syncProductDefinitions(db, [definition({ plainTagsPublic: true, tagPattern: String.raw`^release-(?<version>\d+\.\d+\.\d+)$` })]);
    assert.equal(await syncState(), { etag: null, success: null }, 'a new tag pattern makes the next sync a full listing');

    await db.query(sql.unsafe`UPDATE sync_state SET tags_etag = 'W/"y"', last_success_at = now() WHERE product_id = ${app!.id}`);
    await syncProductDefinitions(db, [definition({ plainTagsPublic: true, tagPattern: String.raw`^release-(?<version>\d+\.\d+\.\d+)$`, repository: 'acme/app-next' })]);
    assert.equal(await syncState(), { etag: null, success: null }, 'a new repository makes the next sync a full listing');

    await syncProductDefinitions(db, [definition({ name: 'other', repository: 'acme/other' })]);
    assert.equal((await listProducts(db)).map((product) => product.name), ['other']);
    assert.equal((await listProducts(db, { includeUntracked: true })).map((product) => [product.name, product.tracked]), [['app', false], ['other', true]]);
  } finally {
    await database.drop();
  }
});

test('a visibility change waits for release writes in course: a row written under the old setting is derived again', async () => {
  // A sync or webhook transaction on another replica derives `public` of the rows it inserts from
  // the setting it sees; the definitions' refresh cannot see those rows before they commit, and no
  // later write refreshes them (only changed rows are). So the refresh must wait for the writer.
  const database = await createTestDatabase({ label: 'product_definitions_lock' });
  const { db } = database;
  try {
    const [app] = await syncProductDefinitions(db, [definition()]);
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    let written!: () => void;
    const writing = new Promise<void>((resolve) => (written = resolve));
    const writer = db.transaction(async (transaction) => {
      await beginReleaseWrite(transaction, app!.id, 'webhook');
      await upsertTags(transaction, app!, [{ name: 'v2.0.0', refSha: sha(3), gitSha: sha(4), taggedAt: new Date('2024-02-01T00:00:00Z') }]);
      written();
      await committing;
    });
    await writing;
    let settled = false;
    const redefined = syncProductDefinitions(db, [definition({ plainTagsPublic: true })]).finally(() => (settled = true));
    // Either the change is done (it did not wait) or it waits for a lock: then the writer commits.
    await eventually(
      async () =>
        settled ||
        (await db.oneFirst(sql.type(z.object({ waiting: z.boolean() }))`
          SELECT count(*) > 0 AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)),
      (done) => done,
      'the definitions change is done or waits',
    );
    commit();
    await writer;
    await redefined;
    const row = await db.one(sql.type(z.object({ public: z.boolean() }))`
      SELECT public FROM releases WHERE product_id = ${app!.id} AND tag = 'v2.0.0'`);
    assert.is(row.public, true, 'the row written under the old setting is public');
  } finally {
    await database.drop();
  }
});

test.run();
