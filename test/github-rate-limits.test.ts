import * as assert from 'uvu/assert';
import { GitHubRateLimitedError } from '../src/errors.ts';
import { fetchReleasePages } from '../src/github/release-pages.ts';
import { fetchTagRefs } from '../src/github/tag-refs.ts';
import { tagPages } from '../src/github/tag-pages.ts';
import { allTags, fakeClient, fakeGitHubSuite, rejection, repoRef } from './support/github.ts';

const limits = fakeGitHubSuite('rate limits', ['sourcegraph__src-cli']);

limits.before.each(({ fake }) => {
  fake.setRateLimit('core', { limit: 5000, remaining: 5000 });
  fake.setRateLimit('graphql', { limit: 5000, remaining: 5000 });
});

const inAnHour = () => new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);

limits('REST: a spent primary limit fails fast with the reset time, and the next call sends nothing', async ({ fake }) => {
  const resetAt = inAnHour();
  fake.setRateLimit('core', { remaining: 0, resetAt });
  const client = fakeClient(fake);
  const error = await rejection(fetchTagRefs(client, repoRef('sourcegraph/src-cli')));
  assert.instance(error, GitHubRateLimitedError);
  assert.equal((error as GitHubRateLimitedError).resetAt, resetAt);
  assert.is(fake.counts().total, 1, 'not retried: the client does not sleep until the reset');
  assert.equal(fake.counts().byStatus, { '403': 1 });

  const again = await rejection(fetchReleasePages(client, repoRef('sourcegraph/src-cli')));
  assert.instance(again, GitHubRateLimitedError);
  assert.equal((again as GitHubRateLimitedError).resetAt, resetAt);
  assert.is(fake.counts().total, 1, 'known to be spent: no request at all');
  assert.equal(client.stats().rateLimits.core?.remaining, 0);
});

limits('REST: the limit running out midway through a listing stops it with the reset time', async ({ fake }) => {
  const resetAt = inAnHour();
  fake.setRateLimit('core', { remaining: 2, resetAt });
  const client = fakeClient(fake);
  const listing = await fetchReleasePages(client, repoRef('sourcegraph/src-cli'), {});
  if (listing.notModified) throw new Error('expected a listing');
  const pages: number[] = [];
  const error = await rejection(
    (async () => {
      for await (const page of listing.pages) pages.push(page.page);
    })(),
  );
  assert.equal(pages, [1, 2]);
  assert.instance(error, GitHubRateLimitedError);
  assert.equal((error as GitHubRateLimitedError).resetAt, resetAt);
});

limits('GraphQL: a spent limit (200 with RATE_LIMITED) fails fast with the reset time', async ({ fake }) => {
  const resetAt = inAnHour();
  fake.setRateLimit('graphql', { remaining: 0, resetAt });
  const client = fakeClient(fake);
  const error = await rejection(allTags(client, repoRef('sourcegraph/src-cli')));
  assert.instance(error, GitHubRateLimitedError);
  assert.equal((error as GitHubRateLimitedError).resetAt, resetAt);
  assert.is(fake.counts().total, 1);
  // The REST bucket is separate: the probe still works.
  const refs = await fetchTagRefs(client, repoRef('sourcegraph/src-cli'));
  assert.is(refs.notModified, false);
});

limits('GraphQL: the limit running out between pages defers the rest of the listing', async ({ fake }) => {
  fake.setRateLimit('graphql', { remaining: 1, resetAt: inAnHour() });
  const client = fakeClient(fake);
  const iterator = tagPages(client, repoRef('sourcegraph/src-cli'));
  const first = await iterator.next();
  assert.is(first.value?.tags.length, 100);
  assert.is(client.stats().rateLimits.graphql?.remaining, 0);
  const error = await rejection(iterator.next());
  assert.instance(error, GitHubRateLimitedError);
});

limits('a primary limit that resets within the allowed wait is waited for once', async ({ fake }) => {
  // The fake keeps the reset in whole seconds (as GitHub's header does), so a reset 1 s ahead
  // could be floored to a moment the first request already arrives after; 3 s leaves 2 s at least.
  fake.setRateLimit('core', { remaining: 0, resetAt: new Date(Date.now() + 3_000) });
  // The wait is real time (the reset is), so this client waits in seconds.
  const client = fakeClient(fake, { maxRateLimitWaitSeconds: 10, retryUnitMs: 1000 });
  const refs = await fetchTagRefs(client, repoRef('sourcegraph/src-cli'));
  assert.is(refs.notModified, false);
  assert.equal(fake.counts().byStatus, { '200': 1, '403': 1 });
});

limits('a secondary limit is retried after retry-after, bounded', async ({ fake }) => {
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 3, times: 2, endpoint: 'releases' });
  const client = fakeClient(fake);
  const listing = await fetchReleasePages(client, repoRef('sourcegraph/src-cli'));
  assert.is(listing.notModified, false);
  assert.equal(fake.counts().byStatus, { '200': 1, '403': 2 });
  assert.is(client.stats().requests, 3);
  assert.is(client.stats().points.core, 1, 'refusals spend nothing');
});

limits('a secondary limit that persists becomes GitHubRateLimitedError after the retries', async ({ fake }) => {
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 30, every: 1, resource: 'graphql' });
  const client = fakeClient(fake, { secondaryLimitRetries: 2 });
  const before = Date.now();
  const error = await rejection(allTags(client, repoRef('sourcegraph/src-cli')));
  assert.instance(error, GitHubRateLimitedError);
  const resetAt = (error as GitHubRateLimitedError).resetAt.getTime();
  assert.ok(resetAt >= before + 30_000, 'deferred by retry-after');
  assert.is(fake.counts().total, 3, 'the first attempt and two retries');
});

limits('a secondary limit asking for a long wait is not waited for', async ({ fake }) => {
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 900, times: 1, endpoint: 'matching-refs' });
  const client = fakeClient(fake, { maxSecondaryWaitSeconds: 120 });
  const error = await rejection(fetchTagRefs(client, repoRef('sourcegraph/src-cli')));
  assert.instance(error, GitHubRateLimitedError);
  assert.is(fake.counts().total, 1);
});

limits("the client's accounting mirrors the fake's buckets", async ({ fake }) => {
  const client = fakeClient(fake);
  await allTags(client, repoRef('sourcegraph/src-cli'));
  await fetchTagRefs(client, repoRef('sourcegraph/src-cli'));
  const stats = client.stats();
  assert.equal(stats.rateLimits.graphql?.remaining, fake.rateLimit('graphql').remaining);
  assert.equal(stats.rateLimits.core?.remaining, fake.rateLimit('core').remaining);
  assert.equal(stats.rateLimits.graphql?.resetAt, fake.rateLimit('graphql').resetAt);
  assert.equal({ core: stats.points.core, graphql: stats.points.graphql }, fake.counts().points);
  client.resetStats();
  assert.is(client.stats().requests, 0);
  assert.ok(client.stats().rateLimits.core !== undefined, 'rate-limit states survive a reset');
});

limits.run();
