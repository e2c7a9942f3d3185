import * as assert from 'uvu/assert';
import { GitHubMalformedResponseError, GitHubUnavailableError } from '../src/errors.ts';
import { createGitHubClient } from '../src/github/client.ts';
import { fetchReleasePages } from '../src/github/release-pages.ts';
import { fetchTagRefs } from '../src/github/tag-refs.ts';
import { fetchTagStates } from '../src/github/tag-states.ts';
import { tagPages } from '../src/github/tag-pages.ts';
import { quietLogger } from './support/database.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { allTags, fakeClient, fakeGitHubSuite, rejection, repoRef, TEST_TOKEN } from './support/github.ts';

const faults = fakeGitHubSuite('5xx, broken connections and malformed answers', ['helm__helm']);

const helm = repoRef('helm/helm');

faults('5xx answers are retried with backoff and the listing completes', async ({ fake }) => {
  fake.addFault({ kind: 'status', status: 502, every: 2, resource: 'graphql' });
  const client = fakeClient(fake);
  const tags = await allTags(client, helm);
  assert.is(tags.size, readTagList('helm__helm').length);
  // 3 pages; every 2nd GraphQL request fails once: 200, 502, 200, 502, 200.
  assert.equal(fake.counts().byStatus, { '200': 3, '502': 2 });
  assert.is(client.stats().requests, 5);
  assert.is(client.stats().points.graphql, 3, 'failed attempts spend nothing');
});

faults('5xx on every attempt ends in GitHubUnavailableError after a bounded number of retries', async ({ fake }) => {
  fake.addFault({ kind: 'status', status: 503, every: 1, endpoint: 'releases' });
  const client = fakeClient(fake, { retries: 3 });
  const error = await rejection(fetchReleasePages(client, helm));
  assert.instance(error, GitHubUnavailableError);
  assert.is((error as GitHubUnavailableError).httpStatus, 503);
  assert.is((error as GitHubUnavailableError).retryable, true);
  assert.is(fake.counts().total, 4, 'the first attempt and three retries');
});

faults('a dropped connection is retried like a 5xx', async ({ fake }) => {
  fake.addFault({ kind: 'disconnect', times: 1, endpoint: 'matching-refs' });
  const client = fakeClient(fake);
  const result = await fetchTagRefs(client, helm);
  assert.is(result.notModified, false);
  assert.is(fake.counts().total, 2);
  assert.equal(client.stats().byStatus, { '0': 1, '200': 1 });
});

faults('an unreachable GitHub is GitHubUnavailableError', async ({ fake }) => {
  const closed = await startFakeGitHub();
  const url = closed.url;
  await closed.close();
  const client = createGitHubClient({ baseUrl: url, token: TEST_TOKEN, logger: quietLogger, retryUnitMs: 1, retries: 1 });
  const error = await rejection(fetchTagRefs(client, helm));
  assert.instance(error, GitHubUnavailableError);
  assert.is((error as GitHubUnavailableError).httpStatus, undefined);
  assert.is(client.stats().requests, 2);
  assert.ok(fake.counts().total === 0);
});

for (const mode of ['invalid-json', 'wrong-shape'] as const) {
  faults(`${mode}: a GraphQL page that cannot be used is GitHubMalformedResponseError`, async ({ fake }) => {
    fake.addFault({ kind: 'malformed', mode, times: 1, operation: 'TagPage' });
    const error = await rejection(allTags(fakeClient(fake), helm));
    assert.instance(error, GitHubMalformedResponseError);
    assert.is((error as GitHubMalformedResponseError).endpoint, 'graphql TagPage');
  });

  faults(`${mode}: a release page that cannot be used is GitHubMalformedResponseError`, async ({ fake }) => {
    fake.addFault({ kind: 'malformed', mode, times: 1, endpoint: 'releases' });
    const listing = await fetchReleasePages(fakeClient(fake), helm);
    if (listing.notModified) throw new Error('expected a listing');
    const error = await rejection(listing.pages.next());
    assert.instance(error, GitHubMalformedResponseError);
  });

  faults(`${mode}: a matching-refs body that cannot be used is GitHubMalformedResponseError`, async ({ fake }) => {
    fake.addFault({ kind: 'malformed', mode, times: 1, endpoint: 'matching-refs' });
    const error = await rejection(fetchTagRefs(fakeClient(fake), helm));
    assert.instance(error, GitHubMalformedResponseError);
  });
}

faults('one bad tag in a page is dropped, logged and counted; the rest of the page is kept', async ({ fake }) => {
  fake.addFault({ kind: 'malformed', mode: 'bad-item', times: 1, operation: 'TagPage' });
  const client = fakeClient(fake);
  let dropped = 0;
  let kept = 0;
  for await (const page of tagPages(client, helm)) {
    dropped += page.dropped;
    kept += page.tags.length;
  }
  assert.is(dropped, 1);
  assert.is(kept, readTagList('helm__helm').length - 1);
});

faults('one bad release or ref is dropped and counted', async ({ fake }) => {
  fake.addFault({ kind: 'malformed', mode: 'bad-item', times: 1, endpoint: 'releases' });
  fake.addFault({ kind: 'malformed', mode: 'bad-item', times: 1, endpoint: 'matching-refs' });
  const client = fakeClient(fake);
  const listing = await fetchReleasePages(client, helm);
  if (listing.notModified) throw new Error('expected a listing');
  let dropped = 0;
  let kept = 0;
  for await (const page of listing.pages) {
    dropped += page.dropped;
    kept += page.releases.length;
  }
  assert.is(dropped, 1);
  assert.is(kept, readTagList('helm__helm').length - 1);
  const refs = await fetchTagRefs(client, helm);
  if (refs.notModified) throw new Error('expected refs');
  assert.is(refs.dropped, 1);
  assert.is(refs.refs.length, readTagList('helm__helm').length - 1);
});

faults('a malformed tag state is an error, never "no such tag"', async ({ fake }) => {
  fake.addFault({ kind: 'malformed', mode: 'wrong-shape', times: 1, operation: 'TagStates' });
  const error = await rejection(fetchTagStates(fakeClient(fake), helm, ['v3.21.4']));
  assert.instance(error, GitHubMalformedResponseError);
});

faults.run();
