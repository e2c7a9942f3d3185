import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { Product } from '../src/db/products.ts';
import { setChangeSource, upsertTags } from '../src/db/releases.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub, type FakeRepository } from './support/fake-github/index.ts';
import { comparable, defineProducts, expectedVersion, runSync, syncState, waitFor } from './support/sync.ts';
import { releaseRows, type ReleaseRow } from './support/release-rows.ts';

// Between syncs, tags are added, moved and deleted and releases published, edited and deleted on
// the fake GitHub; an incremental sync (the refs probe, a diff in SQL, reads by name) reflects each
// of them, and ends with the rows a fresh full sync of the same repository makes.

type Context = { database: TestDatabase; fake: FakeGitHub; repo: FakeRepository; products: Map<string, Product> };
const incremental = suite<Context>('sync incremental', {} as never);

incremental.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_incremental' });
  context.fake = await startFakeGitHub();
  context.repo = context.fake.addFixtureRepository('helm__helm', { releases: (_tag, index) => (index % 2 === 0 ? {} : null) });
  context.products = await defineProducts(context.database.db, [
    { name: 'helm', repository: 'helm/helm' },
    { name: 'helm-fresh', repository: 'helm/helm' },
  ]);
  const first = await runSync(context.database.db, context.fake, context.products.get('helm')!);
  assert.is(first.outcome, 'succeeded');
});

incremental.after(async ({ database, fake }) => {
  await fake.close();
  await database.drop();
});

const changeRow = z.object({ tag: z.string(), kind: z.string(), source: z.string().nullable() });
async function changesSince(database: TestDatabase, productId: number, afterId: number) {
  return database.db.any(sql.type(changeRow)`
    SELECT r.tag, c.kind, c.source FROM release_changes c JOIN releases r ON r.id = c.release_id
    WHERE c.product_id = ${productId} AND c.id > ${afterId} ORDER BY r.tag COLLATE "C", c.id`);
}
async function lastChangeId(database: TestDatabase): Promise<number> {
  return database.db.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT coalesce(max(id), 0)::int AS id FROM release_changes`);
}
const byTag = (rows: readonly ReleaseRow[], tag: string) => rows.find((row) => row.tag === tag);
/** The first change of each tag since a point (later ones in the run refine the same release). */
const firstKinds = (changes: ReadonlyArray<{ tag: string; kind: string }>) => {
  const kinds: Record<string, string> = {};
  for (const change of changes) kinds[change.tag] ??= change.kind;
  return kinds;
};

incremental('a tag added, moved and deleted, a release created, edited and deleted: each reflected, in few requests', async ({ database, fake, repo, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  const before = await lastChangeId(database);
  repo.addTag({ name: 'v9.0.0', taggerDate: '2026-09-01T10:00:00+02:00' });
  repo.addTag({ name: 'nightly', annotated: false });
  repo.moveTag('v3.21.4', { commitDate: '2026-09-02T00:00:00Z' });
  repo.deleteTag('v3.21.3');
  const newest = repo.releases()[0]!;
  const second = repo.releases()[1]!;
  repo.editRelease(newest.id, { name: 'Helm, renamed' });
  repo.deleteRelease(second.id);
  const draft = repo.createRelease({ tagName: 'v9.0.0', draft: true });

  fake.resetRequests();
  const attempt = await runSync(db, fake, product);
  assert.is(attempt.outcome, 'succeeded', JSON.stringify(attempt.result));
  const rows = await releaseRows(db, product.id);

  const added = byTag(rows, 'v9.0.0')!;
  const truth = repo.expectedTag('v9.0.0')!;
  assert.equal({ refSha: added.refSha, gitSha: added.gitSha, taggedAt: added.taggedAt?.getTime() }, { refSha: truth.refSha, gitSha: truth.gitSha, taggedAt: truth.taggedAt!.getTime() });
  assert.is(added.public, false, 'a draft release does not make it public');
  assert.is(added.githubReleaseId, draft.id);
  const moved = byTag(rows, 'v3.21.4')!;
  assert.equal({ refSha: moved.refSha, gitSha: moved.gitSha }, { refSha: repo.expectedTag('v3.21.4')!.refSha, gitSha: repo.expectedTag('v3.21.4')!.gitSha });
  assert.is(byTag(rows, 'v3.21.3')!.deleted, true, 'a deleted tag is tombstoned, not removed');
  assert.is(byTag(rows, 'nightly'), undefined, 'a tag without a version is skipped');
  assert.is(byTag(rows, newest.tagName)!.releaseName, 'Helm, renamed');
  const orphan = byTag(rows, second.tagName)!;
  assert.equal({ githubReleaseId: orphan.githubReleaseId, public: orphan.public }, { githubReleaseId: null, public: false }, 'its deleted release no longer makes it public');

  assert.equal(
    { added: attempt.result.tags.added, moved: attempt.result.tags.moved, tombstoned: attempt.result.tags.tombstoned, read: attempt.result.tags.read },
    { added: 1, moved: 1, tombstoned: 1, read: 2 },
  );
  assert.equal({ added: attempt.result.releases.added, deleted: attempt.result.releases.deleted }, { added: 1, deleted: 1 });
  // matching-refs, one TagStates query for the two tags, the first release page, one query to confirm the deletion.
  assert.equal(fake.counts().byEndpoint, { 'matching-refs': 1, graphql: 2, releases: 1 });

  const changes = await changesSince(database, product.id, before);
  const kinds = firstKinds(changes);
  assert.equal(
    { 'v9.0.0': kinds['v9.0.0'], 'v3.21.4': kinds['v3.21.4'], 'v3.21.3': kinds['v3.21.3'] },
    { 'v9.0.0': 'created', 'v3.21.4': 'moved', 'v3.21.3': 'deleted' },
  );
  assert.ok(changes.every((change) => change.source === 'sync'), 'every change is logged as written by the sync');
});

incremental('a draft published and a deleted tag back: promoted and revived', async ({ database, fake, repo, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  const draft = repo.releasesOfTag('v9.0.0')[0]!;
  repo.publishRelease(draft.id, new Date('2026-09-03T00:00:00Z'));
  repo.addTag({ name: 'v3.21.3', annotated: false });
  const before = await lastChangeId(database);
  const attempt = await runSync(db, fake, product);
  assert.is(attempt.outcome, 'succeeded');
  const rows = await releaseRows(db, product.id);
  const published = byTag(rows, 'v9.0.0')!;
  assert.equal({ public: published.public, promotedAt: published.promotedAt?.toISOString() }, { public: true, promotedAt: '2026-09-03T00:00:00.000Z' });
  const revived = byTag(rows, 'v3.21.3')!;
  assert.equal({ deleted: revived.deleted, refSha: revived.refSha }, { deleted: false, refSha: repo.expectedTag('v3.21.3')!.refSha });
  assert.is(attempt.result.tags.revived, 1);
  const kinds = firstKinds(await changesSince(database, product.id, before));
  assert.equal({ published: kinds['v9.0.0'], revived: kinds['v3.21.3'] }, { published: 'promoted', revived: 'revived' });
});

incremental('an edit of an older release: unseen by the incremental probe, caught by the periodic full release pass', async ({ database, fake, repo, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  const old = repo.releases().filter((release) => expectedVersion(release.tagName) !== null).at(-1)!;
  repo.editRelease(old.id, { name: 'An old release, renamed' });
  const quiet = await runSync(db, fake, product);
  assert.is(quiet.result.releasesPass, 'incremental');
  assert.is(quiet.result.notModified, 2, 'both probes answer 304: the first release page did not change');
  assert.is.not(byTag(await releaseRows(db, product.id), old.tagName)!.releaseName, 'An old release, renamed');

  // The last full pass is more than a day old: the next run lists every release.
  await db.query(sql.unsafe`UPDATE sync_state SET releases_full_at = now() - interval '25 hours' WHERE product_id = ${product.id}`);
  const periodic = await runSync(db, fake, product);
  assert.is(periodic.result.releasesPass, 'full');
  assert.is(periodic.result.releases.pages, Math.ceil(repo.releases().length / 100));
  assert.is(byTag(await releaseRows(db, product.id), old.tagName)!.releaseName, 'An old release, renamed');
  const state = await syncState(db, product.id);
  assert.ok(state.releasesFullAt !== null && state.now.getTime() - state.releasesFullAt.getTime() < 3_600_000, 'the full pass is recorded');
});

incremental('after all of it, the rows are those of a fresh full sync (plus the tombstones)', async ({ database, fake, products }) => {
  const { db } = database;
  const fresh = await runSync(db, fake, products.get('helm-fresh')!);
  assert.is(fresh.outcome, 'succeeded');
  const synced = (await releaseRows(db, products.get('helm')!.id)).filter((row) => !row.deleted);
  const reference = await releaseRows(db, products.get('helm-fresh')!.id);
  assert.is(synced.length, reference.length);
  for (const row of reference) assert.equal({ ...comparable(byTag(synced, row.tag)), releaseName: byTag(synced, row.tag)?.releaseName }, { ...comparable(row), releaseName: row.releaseName }, row.tag);
});

incremental('a run resumed after a deferral keeps the time of its staged listing: a tag written since (by a webhook) is not tombstoned', async ({ database, fake, repo, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  // The listing is staged, then reading the listed tags by name meets a spent GraphQL limit.
  repo.addTag({ name: 'v9.1.0' });
  fake.setRateLimit('graphql', { remaining: 0, resetAt: new Date(Date.now() + 3_600_000) });
  const deferred = await runSync(db, fake, product);
  fake.setRateLimit('graphql', { limit: 5000, remaining: 5000 });
  assert.is(deferred.outcome, 'deferred', JSON.stringify(deferred.result));

  // Meanwhile a tag is pushed and a webhook writes it: the staged listing does not name it.
  await new Promise((resolve) => setTimeout(resolve, 50));
  repo.addTag({ name: 'v9.2.0' });
  const pushed = repo.expectedTag('v9.2.0')!;
  await db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'webhook');
    await upsertTags(transaction, product, [{ name: 'v9.2.0', refSha: pushed.refSha, gitSha: pushed.gitSha, taggedAt: pushed.taggedAt }]);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));

  const resumed = await runSync(db, fake, product);
  assert.is(resumed.outcome, 'succeeded', JSON.stringify(resumed.result));
  const rows = await releaseRows(db, product.id);
  assert.is(byTag(rows, 'v9.1.0')?.deleted, false, 'the listed tag is written');
  assert.is(byTag(rows, 'v9.2.0')?.deleted, false, 'the tag written after the listing is left alone');
});

incremental('a full run spares a row a webhook wrote after the run began listing (here while its recheck probe was answered)', async ({ database, fake, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  // The second refs request of a full run is the recheck probe (answered 304: nothing changed).
  // While it is on its way, a webhook writes a tag the listing cannot name.
  const probe = fake.addFault({ kind: 'delay', ms: 400, endpoint: 'matching-refs', every: 2, times: 1 });
  const run = runSync(db, fake, product, { mode: 'full' });
  await waitFor('the recheck probe to be on its way', async () => (probe.fired === 1 ? true : undefined));
  await db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'webhook');
    await upsertTags(transaction, product, [{ name: 'v9.3.0', refSha: 'c'.repeat(40), gitSha: 'c'.repeat(40), taggedAt: new Date() }]);
  });
  const attempt = await run;
  assert.is(attempt.outcome, 'succeeded', JSON.stringify(attempt.result));
  assert.is(attempt.result.tags.tombstoned, 0, JSON.stringify(attempt.result.tags));
  assert.is(byTag(await releaseRows(db, product.id), 'v9.3.0')?.deleted, false, 'left for the next run to judge');
});

incremental('an unfinished run whose saved progress this version cannot read is started over, not resumed into a TypeError', async ({ database, fake, products }) => {
  const { db } = database;
  const product = products.get('helm')!;
  await db.query(sql.unsafe`
    UPDATE sync_state SET run_phase = 'tags', run_mode = 'incremental', run_progress = '{"counts": "from another version"}'
    WHERE product_id = ${product.id}`);
  const before = await syncState(db, product.id);
  const attempt = await runSync(db, fake, product);
  assert.is(attempt.outcome, 'succeeded', JSON.stringify(attempt.result));
  assert.is(attempt.result.attempts, 1, 'a new run');
  assert.is(attempt.result.runId, before.runId + 1);
});

incremental.run();
