import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestDatabase } from './support/database.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { fakeClient } from './support/github.ts';
import { releaseRows } from './support/release-rows.ts';
import { defineProducts, runSync } from './support/sync.ts';

// An incremental sync pages through the releases, newest first, only until a page holds a release
// an earlier sync run listed unchanged. A run's own earlier attempt (failed on a later page, retried
// from page 1) must not stop it: page 1 is unchanged then, but what is older is not known yet.

test('an incremental run retried after failing on page 2 reads on past the page its failed attempt wrote', async () => {
  const database = await createTestDatabase({ label: 'sync_release_pages' });
  const fake = await startFakeGitHub();
  try {
    const { db } = database;
    const repository = fake.addFixtureRepository('helm__helm', { releases: 'none' });
    const product = (await defineProducts(db, [{ name: 'helm', repository: 'helm/helm' }])).get('helm')!;
    assert.is((await runSync(db, fake, product)).outcome, 'succeeded');

    // 150 new releases: two pages of the listing.
    const tags = (await releaseRows(db, product.id)).slice(0, 150).map((row) => row.tag);
    const base = Date.now() - 3_600_000;
    tags.forEach((tagName, index) => repository.createRelease({ tagName, createdAt: new Date(base + index * 1_000) }));

    // Page 2 fails, with no retry in the client: the attempt fails after writing page 1.
    const failPage2 = fake.addFault({ kind: 'status', status: 502, endpoint: 'releases', every: 2, times: 1 });
    const failed = await runSync(db, fake, product, { client: fakeClient(fake, { retries: 0 }), owner: randomUUID() });
    assert.is(failed.outcome, 'failed');
    assert.is(failPage2.fired, 1);
    const afterFailure = (await releaseRows(db, product.id)).filter((row) => row.githubReleaseId !== null).length;
    assert.is(afterFailure, 100, 'the failed attempt wrote page 1');

    const retried = await runSync(db, fake, product, { owner: randomUUID() });
    assert.is(retried.outcome, 'succeeded');
    const stored = (await releaseRows(db, product.id)).filter((row) => row.githubReleaseId !== null).length;
    assert.is(stored, 150, 'every new release is stored');
  } finally {
    await fake.close();
    await database.drop();
  }
});

test("a repository with more releases than GitHub's REST listing reaches (1,000) has every one stored, also when the run fails past the cap and is retried", async () => {
  const database = await createTestDatabase({ label: 'sync_release_cap' });
  const fake = await startFakeGitHub();
  try {
    const { db } = database;
    fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 1_300, releases: 1_200 });
    const product = (await defineProducts(db, [{ name: 'big', repository: 'acme/big' }])).get('big')!;
    // The second query past the cap fails, with no retry in the client: the attempt fails there.
    const fault = fake.addFault({ kind: 'status', status: 502, operation: 'OldestReleases', every: 2, times: 1 });
    const failed = await runSync(db, fake, product, { client: fakeClient(fake, { retries: 0 }), owner: randomUUID() });
    assert.is(failed.outcome, 'failed');
    assert.is(fault.fired, 1);
    const retried = await runSync(db, fake, product, { owner: randomUUID() });
    assert.is(retried.outcome, 'succeeded');
    const withRelease = new Set((await releaseRows(db, product.id)).flatMap((row) => (row.githubReleaseId === null ? [] : [row.githubReleaseId])));
    assert.is(withRelease.size, 1_200, 'every release, the 200 oldest from past the cap');
    assert.is(fake.counts({ endpoint: 'releases' }).byStatus['422'], 2, 'each attempt met the cap once');

    // An incremental pass that pages through 1,000 changed releases meets the cap and stops there:
    // it does not jump to the oldest releases, nor take every release it did not reach for deleted.
    const repo = fake.repository('acme/big');
    for (const release of repo.releases().slice(0, 1_050)) repo.editRelease(release.id, { name: `Edited ${release.id}` });
    fake.resetRequests();
    const incremental = await runSync(db, fake, product, { owner: randomUUID() });
    assert.is(incremental.outcome, 'succeeded');
    assert.is(fake.counts({ operation: 'OldestReleases' }).total, 0, 'no GraphQL listing past the cap');
    assert.is(fake.counts({ endpoint: 'releases' }).byStatus['422'], 1);
    const after = await releaseRows(db, product.id);
    assert.is(new Set(after.flatMap((row) => (row.githubReleaseId === null ? [] : [row.githubReleaseId]))).size, 1_200, 'no release taken for deleted');
    assert.is(after.filter((row) => row.releaseName?.startsWith('Edited ')).length, 1_000, 'the 1,000 newest edits are in');
  } finally {
    await fake.close();
    await database.drop();
  }
});

test.run();
