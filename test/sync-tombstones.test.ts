import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setChangeSource, tombstoneTags, upsertTags } from '../src/db/releases.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { releaseRows } from './support/release-rows.ts';
import { defineProducts, runSync } from './support/sync.ts';

// A sync tombstones the tags its listing no longer names, but spares the ones found present on
// GitHub after the listing was asked for (a webhook brought them back meanwhile). "Found present"
// is releases.present_at, set by every write of a tag from GitHub's facts; not updated_at, which the
// canonical and release-field refreshes also move.

type Context = { database: TestDatabase; fake: FakeGitHub };
const tombstones = suite<Context>('sync tombstones', {} as never);

tombstones.before.each(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_tombstones' });
  context.fake = await startFakeGitHub();
});

tombstones.after.each(async ({ database, fake }) => {
  await fake.close();
  await database.drop();
});

const rowOf = async (context: Context, productId: number, tag: string) => (await releaseRows(context.database.db, productId)).find((row) => row.tag === tag);

tombstones('a version spelled anew between two syncs: the old spelling is tombstoned though the new one took its canonical flag during the run', async (context) => {
  const { db } = context.database;
  const repository = context.fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'none' });
  const product = (await defineProducts(db, [{ name: 'src-cli', repository: 'sourcegraph/src-cli' }])).get('src-cli')!;
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  assert.equal(await rowOf(context, product.id, '5.0.0').then((row) => [row?.deleted, row?.isCanonical]), [false, true], 'the fixture has 5.0.0, canonical');

  repository.addTag({ name: 'v5.0.0' });
  repository.deleteTag('5.0.0');
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  const old = await rowOf(context, product.id, '5.0.0');
  const renamed = await rowOf(context, product.id, 'v5.0.0');
  assert.equal([renamed?.deleted, renamed?.isCanonical], [false, true], 'v5.0.0 is live and canonical');
  assert.is(old?.deleted, true, 'GitHub no longer has 5.0.0');
});

tombstones("a tag deleted while a full listing pages on is tombstoned, though the run itself wrote it", async (context) => {
  const { db } = context.database;
  const repository = context.fake.addFixtureRepository('helm__helm', { releases: 'none' });
  const product = (await defineProducts(db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
  const victim = 'v2.0.0';
  // The third page is slow; the tag, listed on an earlier page, is deleted while it is read. The
  // run writes it with the pages, then sees the refs changed and compares a new refs listing.
  const slowPage = context.fake.addFault({ kind: 'delay', ms: 800, operation: 'TagPage', every: 3, times: 1 });
  const sync = runSync(db, context.fake, product, { mode: 'full' });
  await eventually(async () => slowPage.fired, (fired) => fired === 1, 'the third page is being read');
  repository.deleteTag(victim);
  assert.is((await sync).outcome, 'succeeded');
  const row = await rowOf(context, product.id, victim);
  assert.ok(row, `${victim} was listed before it was deleted`);
  assert.is(row.deleted, true, `GitHub no longer has ${victim}`);
});

tombstones('a tag a webhook finds present after the listing was asked for is spared', async (context) => {
  const { db } = context.database;
  const repository = context.fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'none' });
  const product = (await defineProducts(db, [{ name: 'src-cli', repository: 'sourcegraph/src-cli' }])).get('src-cli')!;
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  // The refs listing is slow; a tag is pushed after it was taken, and written (as a webhook would)
  // before the run's tombstone step.
  repository.deleteTag('5.0.0');
  const slowListing = context.fake.addFault({ kind: 'delay', ms: 800, endpoint: 'matching-refs', times: 1 });
  const sync = runSync(db, context.fake, product);
  await eventually(async () => slowListing.fired, (fired) => fired === 1, 'the refs listing is being read');
  const pushed = repository.addTag({ name: 'v9.9.9' });
  await db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'webhook');
    await upsertTags(transaction, product, [{ name: 'v9.9.9', refSha: pushed.sha, gitSha: pushed.sha, taggedAt: null }]);
  });
  assert.is((await sync).outcome, 'succeeded');
  assert.is((await rowOf(context, product.id, 'v9.9.9'))?.deleted, false, 'found present after the listing: spared');
  assert.is((await rowOf(context, product.id, '5.0.0'))?.deleted, true, 'absent from the listing: tombstoned');
});

tombstones("a tag deleted before its page was read and pushed again at the same commit before the recheck (refs unchanged: 304) is spared", async (context) => {
  const { db } = context.database;
  const repository = context.fake.addFixtureRepository('helm__helm', { releases: 'none' });
  const product = (await defineProducts(db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  const victim = 'v2.0.0';
  const fact = repository.expectedTag(victim)!;
  // The pages do not list the tag (it is deleted then); it is back, at the same commit, before the
  // recheck, so the refs are as they were and GitHub's content-hashed ETag answers 304. (The fake's
  // ETag counts changes, so the deletion is shown to the pages alone.)
  const listed = repository.tagNames.bind(repository);
  repository.tagNames = () => listed().filter((name) => name !== victim);
  context.fake.resetRequests();
  const slowPage = context.fake.addFault({ kind: 'delay', ms: 800, operation: 'TagPage', every: 3, times: 1 });
  const sync = runSync(db, context.fake, product, { mode: 'full' });
  await eventually(async () => slowPage.fired, (fired) => fired === 1, 'the third page is being read');
  repository.tagNames = listed;
  // The delete and create webhooks are worked meanwhile: the create's read finds it present.
  await db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'webhook');
    await tombstoneTags(transaction, product.id, [victim]);
  });
  await db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'webhook');
    await upsertTags(transaction, product, [{ name: victim, refSha: fact.refSha, gitSha: fact.gitSha, taggedAt: fact.taggedAt }]);
  });
  assert.is((await sync).outcome, 'succeeded');
  assert.is(context.fake.counts({ endpoint: 'matching-refs' }).byStatus['304'], 1, 'the recheck found the refs unchanged');
  assert.is((await rowOf(context, product.id, victim))?.deleted, false, `GitHub has ${victim}: found present after the pages were read`);
});

tombstones('a repository GitHub calls empty (409) syncs to no tags, and such an answer for one that has tags tombstones none of them', async (context) => {
  const { db } = context.database;
  const empty = context.fake.addRepository({ owner: 'acme', name: 'brand-new' });
  empty.noCommits = true;
  const products = await defineProducts(db, [
    { name: 'brand-new', repository: 'acme/brand-new' },
    { name: 'src-cli', repository: 'sourcegraph/src-cli' },
  ]);
  const repository = context.fake.addFixtureRepository('sourcegraph__src-cli', { releases: 'none' });
  assert.is((await runSync(db, context.fake, products.get('brand-new')!)).outcome, 'succeeded');
  assert.equal(await releaseRows(db, products.get('brand-new')!.id), []);

  const product = products.get('src-cli')!;
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  const live = (await releaseRows(db, product.id)).filter((row) => !row.deleted).length;
  assert.ok(live > 10);
  repository.noCommits = true;
  repository.addTag({ name: 'v99.0.0' });
  assert.is((await runSync(db, context.fake, product)).outcome, 'succeeded');
  assert.is((await releaseRows(db, product.id)).filter((row) => !row.deleted).length, live, 'nothing tombstoned on its word');
});

tombstones.run();
