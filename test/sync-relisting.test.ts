import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Product } from '../src/db/products.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub, type FakeRepository } from './support/fake-github/index.ts';
import { defineProducts, runSync, syncState } from './support/sync.ts';
import { releaseRows } from './support/release-rows.ts';

// A product whose tag pattern (or repository) changes is listed again in full, even when it was in
// the middle of a run: the run, and the listing it staged under the old pattern, are abandoned, so
// the next sync cannot resume them and store their ETag as if the new pattern had been listed.

type Context = { database: TestDatabase; fake: FakeGitHub; repo: FakeRepository; product: Product };
const relisting = suite<Context>('sync relisting', {} as never);

const THREE_ONLY = String.raw`^v(?<version>3\.\d+\.\d+)$`;

relisting.before(async (context) => {
  context.database = await createTestDatabase({ label: 'sync_relisting' });
  context.fake = await startFakeGitHub();
  context.repo = context.fake.addFixtureRepository('helm__helm', { releases: 'none' });
  context.product = (await defineProducts(context.database.db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
});

relisting.after(async ({ database, fake }) => {
  await fake.close();
  await database.drop();
});

relisting('a new tag pattern over a run that stopped with a staged listing: the next sync is a full one under the new pattern', async ({ database, fake, repo, product }) => {
  const { db } = database;
  assert.is((await runSync(db, fake, product)).outcome, 'succeeded');

  // An incremental run stages the refs listing (under the old pattern), then fails reading the new tag.
  repo.addTag({ name: 'v9.0.0' });
  const outage = fake.addFault({ kind: 'status', status: 502, endpoint: 'graphql', every: 1 });
  const failed = await runSync(db, fake, product);
  outage.remove();
  assert.is(failed.outcome, 'failed', JSON.stringify(failed.result));
  assert.is(failed.result.mode, 'incremental');
  assert.is((await syncState(db, product.id)).runProgress.tagStep, 'read', 'the run stopped with its listing staged');

  const renamed = (await defineProducts(db, [{ name: 'helm', repository: 'helm/helm', tagPattern: THREE_ONLY }])).get('helm')!;
  const full = await runSync(db, fake, renamed);
  assert.is(full.outcome, 'succeeded', JSON.stringify(full.result));
  assert.equal({ mode: full.result.mode, attempts: full.result.attempts }, { mode: 'full', attempts: 1 }, 'a new run, not the old one resumed');

  const live = (await releaseRows(db, product.id)).filter((row) => !row.deleted);
  const strays = live.filter((row) => !/^v3\.\d+\.\d+$/.test(row.tag));
  assert.equal(strays.map((row) => row.tag), [], 'every row the new pattern does not match is tombstoned');
  assert.ok(live.length > 0);
  assert.ok(!live.some((row) => row.tag === 'v9.0.0'));

  const next = await runSync(db, fake, renamed);
  assert.is(next.outcome, 'succeeded', JSON.stringify(next.result));
  assert.is(next.result.mode, 'incremental', 'once listed in full, the product syncs incrementally again');
  assert.is((await releaseRows(db, product.id)).filter((row) => !row.deleted).length, live.length);
});

relisting.run();
