// GitHub says when a rate limit resets as a time of its own clock (x-ratelimit-reset, epoch
// seconds). A worker whose clock runs ahead would see that time as already past and try again at
// once, refused again, until its own clock got there; one running behind would wait too long. The
// answer's Date header shows GitHub's clock, so the reset is shifted by the difference, when that
// is more than the header's whole-second rounding and the trip can explain.

/** Differences up to this are rounding and latency, not a skewed clock. */
const CLOCK_SKEW_TOLERANCE_MS = 5_000;

/** x-ratelimit-reset (`resetSeconds`) as a time of this machine's clock, given the answer's headers. */
export function localResetTime(resetSeconds: number, headers: Record<string, unknown>, now = Date.now()): Date {
  const reset = resetSeconds * 1000;
  const githubNow = typeof headers.date === 'string' ? Date.parse(headers.date) : Number.NaN;
  const skew = Number.isFinite(githubNow) ? now - githubNow : 0;
  return new Date(Math.abs(skew) > CLOCK_SKEW_TOLERANCE_MS ? reset + skew : reset);
}
