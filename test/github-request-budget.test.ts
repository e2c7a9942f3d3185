import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GitHubClient } from '../src/github/client.ts';
import { fetchReleasePages } from '../src/github/release-pages.ts';
import type { RepositoryRef } from '../src/github/repository-ref.ts';
import { fetchTagRefs } from '../src/github/tag-refs.ts';
import { fetchTagStates } from '../src/github/tag-states.ts';
import { tagPages } from '../src/github/tag-pages.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList, TAG_LISTS } from './support/fixtures.ts';
import { fakeClient, repoRef } from './support/github.ts';

// The requests a sync will make with these adapters, counted at the fake GitHub. Issue 3's budget:
// a first sync of T tags and R releases makes at most ceil(T/100) + ceil(R/100) + 5 requests; a
// re-sync of an unchanged repository at most 3, all 304.

const budget = suite<{ fake: FakeGitHub }>('request budget', {} as never);

budget.before(async (context) => {
  context.fake = await startFakeGitHub();
  for (const list of TAG_LISTS) context.fake.addFixtureRepository(list, { releases: (_tag, index) => (index % 3 === 0 ? {} : null) });
  // The bench's shape (10,000 tags, 4,000 releases) scaled down to keep the suite quick.
  context.fake.addSyntheticRepository({ owner: 'acme', name: 'big', tags: 3_000, releases: 1_200 });
});

budget.after(async ({ fake }) => {
  await fake.close();
});

type Listing = { tags: number; releases: number; tagsEtag: string | null; releasesEtag: string | null };

/** What a first sync reads: the probe (for its ETag), every tag page, every release page. */
async function firstSync(client: GitHubClient, repository: RepositoryRef): Promise<Listing> {
  const probe = await fetchTagRefs(client, repository);
  let tags = 0;
  for await (const page of tagPages(client, repository)) tags += page.tags.length;
  const listing = await fetchReleasePages(client, repository);
  if (listing.notModified) throw new Error('a first listing cannot be unmodified');
  // Past GitHub's 1,000-release REST cap the listing overlaps by a page: count releases once.
  const releases = new Set<number>();
  for await (const page of listing.pages) for (const release of page.releases) releases.add(release.id);
  return { tags, releases: releases.size, tagsEtag: probe.etag, releasesEtag: listing.etag };
}

for (const name of [...TAG_LISTS.map((list) => list.replace('__', '/')), 'acme/big']) {
  budget(`${name}: a first sync fits ceil(T/100) + ceil(R/100) + 5; an unchanged re-sync is 2 requests, both 304`, async ({ fake }) => {
    const repository = repoRef(name);
    const repo = fake.repository(name);
    const client = fakeClient(fake);
    fake.resetRequests();
    const listing = await firstSync(client, repository);
    assert.is(listing.tags, repo.tagCount);
    assert.is(listing.releases, repo.releases().length);
    const limit = Math.ceil(listing.tags / 100) + Math.ceil(listing.releases / 100) + 5;
    const counts = fake.counts();
    assert.ok(counts.total <= limit, `${counts.total} requests for a budget of ${limit}`);
    // Up to 1,000 releases: their REST pages. Past them: ten pages, the refused eleventh, and the
    // rest over GraphQL with a page of overlap.
    const releaseRequests = listing.releases <= 1_000 ? Math.max(1, Math.ceil(listing.releases / 100)) : 11 + Math.ceil((listing.releases - 1_000 + 100) / 100);
    assert.is(counts.total, Math.ceil(listing.tags / 100) + releaseRequests + 1);
    assert.is(client.stats().requests, counts.total, "the client's count is the fake's");

    fake.resetRequests();
    client.resetStats();
    const refs = await fetchTagRefs(client, repository, { etag: listing.tagsEtag });
    const releases = await fetchReleasePages(client, repository, { etag: listing.releasesEtag });
    assert.is(refs.notModified, true);
    assert.is(releases.notModified, true);
    assert.equal(fake.counts().byStatus, { '304': 2 });
    assert.equal(fake.counts().points, { core: 0, graphql: 0 });
    assert.equal(client.stats().points, { core: 0, graphql: 0, total: 0 });
  });
}

budget('after a tag is added: the probe sees it, one GraphQL query reads it, releases stay 304', async ({ fake }) => {
  const repository = repoRef('helm/helm');
  const client = fakeClient(fake);
  const listing = await firstSync(client, repository);
  const known = new Map(readTagList('helm__helm').map((tag) => [tag.name, tag.object_sha]));
  fake.repository('helm/helm').addTag({ name: 'v9.0.0' });
  fake.repository('helm/helm').moveTag('v3.21.4');

  fake.resetRequests();
  const refs = await fetchTagRefs(client, repository, { etag: listing.tagsEtag });
  if (refs.notModified) throw new Error('expected a change');
  const changed = refs.refs.filter((ref) => known.get(ref.name) !== ref.sha).map((ref) => ref.name);
  assert.equal(changed.sort(), ['v3.21.4', 'v9.0.0']);
  const states = await fetchTagStates(client, repository, changed);
  assert.ok(states.states.every((state) => state.tag !== null));
  const releases = await fetchReleasePages(client, repository, { etag: listing.releasesEtag });
  assert.is(releases.notModified, true);
  assert.equal(fake.counts().byEndpoint, { 'matching-refs': 1, graphql: 1, releases: 1 });
  assert.equal(fake.counts().points, { core: 1, graphql: 1 });
});

budget.run();
