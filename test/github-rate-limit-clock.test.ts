import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GitHubRateLimitedError } from '../src/errors.ts';
import { toGitHubError } from '../src/github/github-error.ts';
import { localResetTime } from '../src/github/rate-limit-reset.ts';

// GitHub's x-ratelimit-reset is a time of GitHub's clock. A worker whose clock is ten minutes ahead
// must still wait for the reset, not take it as past and be refused again at once, every retry.

const refusal = (githubNow: number, resetInSeconds: number) =>
  Object.assign(new Error('API rate limit exceeded'), {
    status: 403,
    response: {
      status: 403,
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(githubNow / 1000) + resetInSeconds),
        date: new Date(githubNow).toUTCString(),
      },
    },
  });

test("a refusal's reset time is shifted by the clock difference its Date header shows", () => {
  const now = Date.now();
  for (const skewMinutes of [10, -10]) {
    const githubNow = now - skewMinutes * 60_000;
    const error = toGitHubError(refusal(githubNow, 60), 'GET /repos/acme/widget/tags');
    assert.instance(error, GitHubRateLimitedError);
    const waitMs = (error as GitHubRateLimitedError).resetAt.getTime() - Date.now();
    assert.ok(waitMs > 55_000 && waitMs <= 61_000, `clock ${skewMinutes} min ahead: the reset is a minute away (${waitMs} ms)`);
  }
});

test('a difference the whole-second Date header explains changes nothing', () => {
  const now = Date.now();
  const reset = Math.floor(now / 1000) + 60;
  assert.equal(localResetTime(reset, { date: new Date(now - 900).toUTCString() }, now), new Date(reset * 1000));
  assert.equal(localResetTime(reset, {}, now), new Date(reset * 1000), 'no Date header: as sent');
});

test.run();
