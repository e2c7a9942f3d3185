import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { syncProductDefinitions, type Product } from '../src/db/products.ts';
import { finishRun, lockSyncState, readSyncState, resumeRun, saveRunProgress, startRun } from '../src/db/sync-state.ts';
import { addToRefListing } from '../src/db/sync-ref-listing.ts';
import { SyncSupersededError } from '../src/errors.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { rejection } from './support/github.ts';
import { eventually } from './support/eventually.ts';
import { productDefinition } from './support/seed.ts';
import { defineProducts } from './support/sync.ts';

// A sync run stages a refs listing outside its write transactions (a batch per statement, so that
// memory does not grow with the tags). Those statements are fenced on the run's owner like every
// other write of the run: a job whose claim lapsed, and whose run another job took over, must not
// add its refs to the listing of the run that replaced it.

type Context = { database: TestDatabase; product: Product };
const fencing = suite<Context>('sync run fencing', {} as never);

fencing.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_run_fencing' });
  context.product = (await defineProducts(context.database.db, [{ name: 'widget', repository: 'acme/widget' }])).get('widget')!;
});

fencing.after(async ({ database }) => {
  await database.drop();
});

const refs = (from: number, count: number) => Array.from({ length: count }, (_, index) => ({ name: `v1.0.${from + index}`, sha: `${from + index}`.padStart(40, '0') }));

async function listed(context: Context): Promise<number> {
  return context.database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM sync_ref_listing WHERE product_id = ${context.product.id}`);
}

fencing('refs staged by a run that was taken over are refused and nothing of them is written', async (context) => {
  const { db } = context.database;
  const productId = context.product.id;
  await db.transaction(async (transaction) => {
    await lockSyncState(transaction, productId);
    await startRun(transaction, productId, { owner: 'first', mode: 'incremental', progress: {} });
  });
  await addToRefListing(db, productId, 'first', refs(0, 3));
  assert.is(await listed(context), 3);

  await resumeRun(db, productId, 'second');
  const error = await rejection(addToRefListing(db, productId, 'first', refs(3, 3)));
  assert.instance(error, SyncSupersededError);
  assert.is(await listed(context), 3, "the first owner's late refs are not in the listing");

  await addToRefListing(db, productId, 'second', refs(3, 3));
  assert.is(await listed(context), 6, 'the owner stages as before');
});

fencing('a takeover committing while a batch waits: the batch sees the new owner and writes nothing', async (context) => {
  const { db } = context.database;
  const productId = context.product.id;
  await db.query(sql.unsafe`DELETE FROM sync_ref_listing`);
  await resumeRun(db, productId, 'third');
  // The takeover's UPDATE holds the row until its commit; the old owner's statement, sent
  // meanwhile (from outside the transaction), waits for it.
  let takenOver!: () => void;
  const committed = new Promise<void>((resolve) => (takenOver = resolve));
  let updated!: () => void;
  const holding = new Promise<void>((resolve) => (updated = resolve));
  const takeover = db.transaction(async (transaction) => {
    await resumeRun(transaction, productId, 'fourth');
    updated();
    await committed;
  });
  await holding;
  const staging = addToRefListing(db, productId, 'third', refs(0, 3)).then(
    () => 'written',
    (error: unknown) => error,
  );
  await waitUntilBlocked(context);
  takenOver();
  await takeover;
  const outcome = await staging;
  assert.instance(outcome, SyncSupersededError);
  assert.is(await listed(context), 0);
});

fencing('a new tag pattern abandons the run in course: its owner can neither stage, save nor finish it', async (context) => {
  const { db } = context.database;
  const productId = context.product.id;
  await db.query(sql.unsafe`DELETE FROM sync_ref_listing`);
  await db.query(sql.unsafe`UPDATE sync_state SET tags_etag = 'W/"old"', last_success_at = now() WHERE product_id = ${productId}`);
  await db.transaction(async (transaction) => {
    await lockSyncState(transaction, productId);
    await startRun(transaction, productId, { owner: 'running', mode: 'incremental', progress: { staged: true } });
  });
  await addToRefListing(db, productId, 'running', refs(0, 3));

  await syncProductDefinitions(db, [productDefinition('widget', { repository: 'acme/widget', tagPattern: String.raw`^release-(?<version>\d+\.\d+\.\d+)$` })]);
  const state = (await readSyncState(db, productId))!;
  assert.equal(
    { phase: state.runPhase, mode: state.runMode, owner: state.runOwner, progress: state.runProgress, etag: state.tagsEtag, success: state.lastSuccessAt },
    { phase: null, mode: null, owner: null, progress: {}, etag: null, success: null },
  );
  assert.is(await listed(context), 0, 'the listing staged under the old pattern is gone');

  assert.instance(await rejection(addToRefListing(db, productId, 'running', refs(3, 3))), SyncSupersededError);
  assert.instance(await rejection(saveRunProgress(db, productId, 'running', { phase: 'tags', cursor: null, progress: {}, tagsEtag: 'W/"old"' })), SyncSupersededError);
  assert.instance(await rejection(finishRun(db, productId, 'running', {})), SyncSupersededError);
  assert.equal((await readSyncState(db, productId))!.lastSuccessAt, null, 'the next sync is still a full one');
});

/** Until a statement of the test's database waits for a lock. */
async function waitUntilBlocked(context: Context): Promise<void> {
  await eventually(
    () =>
      context.database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
        SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`),
    (waiting) => waiting > 0,
    'the staging statement waits for the takeover',
  );
}

fencing.run();
