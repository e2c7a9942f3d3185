import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Product } from '../src/db/products.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList, TAG_LISTS, type FixtureTag } from './support/fixtures.ts';
import { changeCount, comparable, defineProducts, expectedRows, expectedVersion, runSync, syncState } from './support/sync.ts';
import { releaseRows } from './support/release-rows.ts';

// A first sync of each real tag list stores exactly the releases the fixture implies (versions,
// shas, dates, flags, canonical tags), within the request budget ceil(T/100) + ceil(R/100) + 5;
// an immediate re-sync makes at most 3 requests, all answered 304, and changes nothing.

type Context = { database: TestDatabase; fake: FakeGitHub; products: Map<string, Product> };
const backfill = suite<Context>('sync backfill', {} as never);

// Releases for a third of the tags, with drafts and prereleases among them.
const seeding = (_tag: FixtureTag, index: number) => {
  if (index % 3 !== 0) return null;
  if (index % 7 === 0) return { draft: true };
  if (index % 5 === 0) return { prerelease: true };
  return {};
};

backfill.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_backfill' });
  context.fake = await startFakeGitHub();
  for (const list of TAG_LISTS) context.fake.addFixtureRepository(list, { releases: seeding });
  context.products = await defineProducts(
    context.database.db,
    TAG_LISTS.map((list) => ({ name: list.split('__')[1]!, repository: list.replace('__', '/') })),
  );
});

backfill.after(async ({ database, fake }) => {
  await fake.close();
  await database.drop();
});

for (const list of TAG_LISTS) {
  const [owner, name] = list.split('__') as [string, string];
  backfill(`${owner}/${name}: the first sync stores every release, within budget; the re-sync is only 304s`, async ({ database, fake, products }) => {
    const { db } = database;
    const product = products.get(name)!;
    const tags = readTagList(list);
    const repo = fake.repository(`${owner}/${name}`);
    const releaseCount = repo.releases().length;

    fake.resetRequests();
    const first = await runSync(db, fake, product);
    assert.is(first.outcome, 'succeeded', JSON.stringify(first.result));
    const counts = fake.counts();
    const budget = Math.ceil(tags.length / 100) + Math.ceil(releaseCount / 100) + 5;
    assert.ok(counts.total <= budget, `${counts.total} requests for a budget of ${budget}: ${JSON.stringify(counts.byEndpoint)}`);
    assert.is(first.result.requests, counts.total, 'the run counts what the fake answered');

    const expected = expectedRows(tags, repo);
    const rows = await releaseRows(db, product.id);
    assert.is(rows.length, expected.size, 'one row per tag that carries a version');
    for (const row of rows) assert.equal(comparable(row), comparable(expected.get(row.tag)), row.tag);
    const skipped = tags.filter((tag) => expectedVersion(tag.name) === null).length;
    assert.is(first.result.tags.skipped, skipped);
    assert.is(first.result.tags.added, expected.size);
    assert.is(first.result.releases.added, releaseCount);

    const state = await syncState(db, product.id);
    assert.is(state.lastOutcome, 'succeeded');
    assert.is(state.runPhase, null);
    assert.ok(state.tagsEtag !== null && state.releasesEtag !== null, 'both ETags stored');

    const changes = await changeCount(db, product.id);
    fake.resetRequests();
    const again = await runSync(db, fake, product);
    assert.is(again.outcome, 'succeeded');
    const resync = fake.counts();
    assert.ok(resync.total <= 3, `${resync.total} requests`);
    assert.equal(resync.byStatus, { '304': resync.total }, 'every request answered 304');
    assert.equal(resync.points, { core: 0, graphql: 0 });
    assert.equal(again.result.points.total, 0);
    assert.is(again.result.mode, 'incremental');
    assert.equal(await releaseRows(db, product.id), rows, 'nothing changed');
    assert.is(await changeCount(db, product.id), changes, 'no change logged');
  });
}

backfill.run();
