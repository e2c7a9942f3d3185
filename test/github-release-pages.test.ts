import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GitHubMalformedResponseError } from '../src/errors.ts';
import { nextPageUrl } from '../src/github/link-header.ts';
import { fetchReleasePages, type ReleasePage } from '../src/github/release-pages.ts';
import { fetchTagStates } from '../src/github/tag-states.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { fakeClient, rejection, repoRef } from './support/github.ts';

const releases = suite<{ fake: FakeGitHub }>('REST release pages', {} as never);

releases.before(async (context) => {
  context.fake = await startFakeGitHub();
  // kubectl's 1348 real tags, each with a release: every 10th a draft, every 7th a prerelease.
  context.fake.addFixtureRepository('kubernetes__kubectl', {
    releases: (_tag, index) => ({ draft: index % 10 === 3, prerelease: index % 7 === 0 }),
  });
});

releases.after(async ({ fake }) => {
  await fake.close();
});

async function allPages(listing: Awaited<ReturnType<typeof fetchReleasePages>>): Promise<ReleasePage[]> {
  if (listing.notModified) throw new Error('expected a listing');
  const pages: ReleasePage[] = [];
  for await (const page of listing.pages) pages.push(page);
  return pages;
}

releases('every release: the first 1,000 newest first over REST (100 per page, Link rel="next"), the rest oldest first over GraphQL past the 422', async ({ fake }) => {
  const client = fakeClient(fake);
  fake.resetRequests();
  const pages = await allPages(await fetchReleasePages(client, repoRef('kubernetes/kubectl')));
  const tags = readTagList('kubernetes__kubectl');
  assert.ok(tags.length > 1_000, 'more releases than GitHub lists over REST');
  const tailPages = Math.ceil((tags.length - 1_000 + 100) / 100);
  assert.is(pages.length, 10 + tailPages);
  assert.equal(pages.map((page) => page.page), pages.map((_, index) => index + 1));
  assert.equal(pages.map((page) => page.hasNextPage), pages.map((_, index) => index < pages.length - 1));
  const all = pages.flatMap((page) => page.releases);
  assert.is(new Set(all.map((release) => release.id)).size, tags.length, 'every release, the overlap listed twice');
  const rest = pages.slice(0, 10).flatMap((page) => page.releases.map((release) => release.createdAt!.getTime()));
  assert.equal(rest, [...rest].sort((a, b) => b - a), 'REST: newest first');
  const tail = pages.slice(10).flatMap((page) => page.releases.map((release) => release.createdAt!.getTime()));
  assert.equal(tail, [...tail].sort((a, b) => a - b), 'GraphQL: oldest first');
  assert.equal(fake.counts().byEndpoint, { releases: 11, graphql: tailPages }, 'ten pages, the refused eleventh, then GraphQL');
  assert.equal(fake.counts().byStatus['422'], 1);

  const repo = fake.repository('kubernetes/kubectl');
  const draft = all.find((release) => release.draft)!;
  assert.is(draft.publishedAt, null, 'a draft is not published');
  assert.match(draft.htmlUrl!, /\/releases\/tag\/untagged-/);
  const stored = repo.release(draft.id)!;
  assert.is(draft.tagName, stored.tagName);
  const prerelease = all.find((release) => release.prerelease && !release.draft)!;
  assert.equal(prerelease.publishedAt, repo.release(prerelease.id)!.publishedAt);
  const unique = [...new Map(all.map((release) => [release.id, release])).values()];
  assert.is(unique.filter((release) => release.draft).length, tags.filter((_, index) => index % 10 === 3).length);
});

releases('the first page asked with its ETag answers 304: not modified, zero points', async ({ fake }) => {
  const client = fakeClient(fake);
  const first = await fetchReleasePages(client, repoRef('kubernetes/kubectl'));
  assert.is(first.notModified, false);
  if (first.notModified) return;
  assert.match(first.etag ?? '', /^W\/"[0-9a-f]+"$/, "GitHub's weak ETag");
  await first.pages.return(undefined);

  fake.resetRequests();
  client.resetStats();
  const again = await fetchReleasePages(client, repoRef('kubernetes/kubectl'), { etag: first.etag });
  assert.equal(again, { notModified: true, etag: first.etag! });
  assert.equal(fake.counts(), { total: 1, notModified: 1, points: { core: 0, graphql: 0 }, byEndpoint: { releases: 1 }, byStatus: { '304': 1 } });
  const stats = client.stats();
  assert.is(stats.requests, 1);
  assert.is(stats.notModified, 1);
  assert.is(stats.points.total, 0);
});

releases('a new release changes the first page: the stored ETag no longer matches', async ({ fake }) => {
  const client = fakeClient(fake);
  const before = await fetchReleasePages(client, repoRef('kubernetes/kubectl'));
  if (before.notModified) throw new Error('expected a listing');
  await before.pages.return(undefined);
  const created = fake.repository('kubernetes/kubectl').createRelease({ tagName: 'v9.9.9', createdAt: new Date('2030-01-01T00:00:00Z') });
  const after = await fetchReleasePages(client, repoRef('kubernetes/kubectl'), { etag: before.etag });
  if (after.notModified) throw new Error('expected a changed listing');
  assert.is.not(after.etag, before.etag);
  const page = (await after.pages.next()).value as ReleasePage;
  await after.pages.return(undefined);
  assert.is(page.releases[0]!.id, created.id, 'the newest release comes first');
  fake.repository('kubernetes/kubectl').deleteRelease(created.id);
});

releases('a repository without releases is one empty page', async ({ fake }) => {
  fake.addRepository({ owner: 'acme', name: 'no-releases' });
  const pages = await allPages(await fetchReleasePages(fakeClient(fake), repoRef('acme/no-releases')));
  assert.is(pages.length, 1);
  assert.equal(pages[0]!.releases, []);
  assert.is(pages[0]!.hasNextPage, false);
});

releases('Link headers: the next URL is taken, another origin is refused', () => {
  const base = 'https://api.github.com';
  const link = '<https://api.github.com/repositories/1/releases?per_page=100&page=1>; rel="prev", <https://api.github.com/repositories/1/releases?per_page=100&page=3>; rel="next", <https://api.github.com/repositories/1/releases?per_page=100&page=5>; rel="last"';
  assert.is(nextPageUrl(link, base, 'releases'), 'https://api.github.com/repositories/1/releases?per_page=100&page=3');
  assert.is(nextPageUrl('<https://api.github.com/x?page=1>; rel="first"', base, 'releases'), null);
  assert.is(nextPageUrl(undefined, base, 'releases'), null);
  const error = (() => {
    try {
      nextPageUrl('<https://elsewhere.example/releases?page=2>; rel="next"', base, 'releases');
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  assert.instance(error, GitHubMalformedResponseError);
});

releases('an unknown repository is a GitHubNotFoundError', async ({ fake }) => {
  const error = await rejection(fetchReleasePages(fakeClient(fake), repoRef('acme/missing')));
  assert.is(error.name, 'GitHubNotFoundError');
});

releases('a release without a title (GitHub sends "") has none (null), over REST and GraphQL alike', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'untitled' });
  repo.addTag({ name: 'v1.0.0' });
  const untitled = repo.createRelease({ tagName: 'v1.0.0', name: '' });
  const listed = (await allPages(await fetchReleasePages(fakeClient(fake), repoRef('acme/untitled')))).flatMap((page) => page.releases);
  assert.equal(listed.map((release) => [release.id, release.name]), [[untitled.id, null]]);
  const states = await fetchTagStates(fakeClient(fake), repoRef('acme/untitled'), ['v1.0.0']);
  assert.is(states.states[0]!.releases[0]!.name, null);
});

releases.run();
