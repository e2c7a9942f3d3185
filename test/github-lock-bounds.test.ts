import * as assert from 'uvu/assert';
import { GitHubRateLimitedError, GitHubUnavailableError } from '../src/errors.ts';
import { whileLockHeld } from '../src/github/lock-bounds.ts';
import { fetchTagRefs } from '../src/github/tag-refs.ts';
import { fetchTagStates } from '../src/github/tag-states.ts';
import { fakeClient, fakeGitHubSuite, rejection, repoRef } from './support/github.ts';

// GitHub requests made while a product's lock is held (src/github/lock-bounds.ts): the same faults
// that the client rides out with patience elsewhere end quickly under the lock, as errors the
// callers already handle (a rate limit defers the job to its reset; anything else is retried later).

const bounds = fakeGitHubSuite('GitHub requests under a product lock', ['sourcegraph__src-cli']);

const srcCli = repoRef('sourcegraph/src-cli');
const names = ['3.0.0', '3.1.0'];

bounds('a secondary rate limit is waited for outside the lock, and is a GitHubRateLimitedError at once under it', async ({ fake }) => {
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 30, times: 1, resource: 'graphql' });
  const outside = await fetchTagStates(fakeClient(fake), srcCli, names);
  assert.is(outside.states.length, 2);
  assert.equal(fake.counts().byStatus, { '200': 1, '403': 1 }, 'outside: waited (30 ms with the test unit) and asked again');

  fake.resetRequests();
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 30, times: 1, resource: 'graphql' });
  const before = Date.now();
  const error = await rejection(whileLockHeld(() => fetchTagStates(fakeClient(fake), srcCli, names)));
  assert.instance(error, GitHubRateLimitedError);
  assert.ok((error as GitHubRateLimitedError).resetAt.getTime() >= before + 30_000, 'the reset is retry-after away');
  assert.equal(fake.counts().byStatus, { '403': 1 }, 'under the lock: not asked again');
});

bounds('a secondary limit given up on stops every request of the client until retry-after has passed', async ({ fake }) => {
  fake.addFault({ kind: 'secondary-rate-limit', retryAfter: 30, times: 1, resource: 'graphql' });
  const client = fakeClient(fake);
  assert.instance(await rejection(whileLockHeld(() => fetchTagStates(client, srcCli, names))), GitHubRateLimitedError);
  // The next product's read, and a REST call: GitHub asked for none before the reset.
  const again = await rejection(whileLockHeld(() => fetchTagStates(client, srcCli, ['3.2.0'])));
  assert.instance(again, GitHubRateLimitedError);
  assert.instance(await rejection(fetchTagRefs(client, srcCli)), GitHubRateLimitedError);
  assert.is(fake.counts().total, 1, 'nothing sent after the refusal');
  assert.equal((again as GitHubRateLimitedError).resetAt, client.accounting.secondaryLimitUntil());
});

bounds('a failing request is retried under the lock only until the deadline, backoff included', async ({ fake }) => {
  fake.addFault({ kind: 'status', status: 502, every: 1, resource: 'graphql' });
  const outside = fakeClient(fake, { retries: 3 });
  assert.instance(await rejection(fetchTagStates(outside, srcCli, names)), GitHubUnavailableError);
  assert.is(fake.counts().total, 4, 'outside: the first attempt and three retries');

  fake.resetRequests();
  // Backoff of 3, 12, 27 seconds: the first retry is still waiting when the 300 ms have passed
  // (long enough that a loaded machine still tells the deadline from the backoff).
  const underLock = fakeClient(fake, { retries: 3, retryUnitMs: 3_000, lockHeldBudgetMs: 300 });
  const started = performance.now();
  const error = await rejection(whileLockHeld(() => fetchTagStates(underLock, srcCli, names)));
  assert.instance(error, GitHubUnavailableError);
  assert.match((error as Error).message, /the most a request under a product's lock may take/);
  assert.ok(performance.now() - started < 2_500, 'answered at the deadline, not after the backoff');
  assert.is(fake.counts().total, 1);
  await new Promise((resolve) => setTimeout(resolve, 3_300));
  assert.is(fake.counts().total, 1, 'the retry left behind sends nothing');

  fake.resetRequests();
  fake.clearFaults();
  fake.addFault({ kind: 'status', status: 502, times: 1, resource: 'graphql' });
  const recovered = await whileLockHeld(() => fetchTagStates(fakeClient(fake), srcCli, names));
  assert.is(recovered.states.filter((state) => state.tag !== null).length, 2, 'a failure within the deadline is still retried');
  assert.equal(fake.counts().byStatus, { '200': 1, '502': 1 });
});

bounds('a GitHub that does not answer is given up at the deadline', async ({ fake }) => {
  fake.addFault({ kind: 'delay', ms: 5_000, every: 1, resource: 'graphql' });
  const client = fakeClient(fake, { lockHeldBudgetMs: 300, requestTimeoutMs: 30_000 });
  const started = performance.now();
  const error = await rejection(whileLockHeld(() => fetchTagStates(client, srcCli, names)));
  assert.instance(error, GitHubUnavailableError);
  assert.ok(performance.now() - started < 4_000, 'given up before GitHub answered');
});

bounds('the bounds end with the lock: later requests in the same process are patient again', async ({ fake }) => {
  const client = fakeClient(fake);
  await whileLockHeld(() => fetchTagStates(client, srcCli, names));
  fake.addFault({ kind: 'status', status: 503, times: 2, resource: 'graphql' });
  const states = await fetchTagStates(client, srcCli, names);
  assert.is(states.states.length, 2);
  assert.equal(fake.counts().byStatus, { '200': 2, '503': 2 });
});

bounds.run();
