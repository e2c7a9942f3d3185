import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import Bottleneck from 'bottleneck';
import type { z } from 'zod';
import { GitHubMalformedResponseError, GitHubRateLimitedError, issuesFromZod } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { graphqlErrorsOf, rateLimitOf, toGitHubError } from './github-error.ts';
import { isLockHeld } from './lock-bounds.ts';
import { RequestAccounting, type RateLimitResource, type ReportedRateLimit, type RequestStats } from './request-accounting.ts';

// The one Octokit factory. REST and GraphQL share one instance, so they share the token, the base
// URL, throttling, retries, accounting and logging. What happens to a request, from the outside in:
//
//   1. fail fast when the bucket it needs is known to be spent until a later reset, or a secondary
//      limit met and not waited out asks for no request yet (no request);
//   2. plugin-throttling: secondary rate limits are retried after `retry-after` (bounded); a spent
//      primary limit is NOT waited for (unless it resets within `maxRateLimitWaitSeconds`);
//   3. plugin-retry: 5xx and network errors are retried with quadratic backoff (bounded);
//   4. accounting and a debug log line for every HTTP request actually sent (retries included);
//   5. fetch with a timeout on the response headers.
//
// Under a product's lock (lock-bounds.ts) the same request waits for no rate limit, and all its
// attempts, backoffs included, share one deadline (`lockHeldBudgetMs`).
//
// Whatever still fails leaves as the project's errors (src/errors.ts): GitHubRateLimitedError
// carrying the reset time (the job is deferred to it), GitHubUnavailableError (retry later),
// GitHubNotFoundError, GitHubRequestRejectedError, GitHubMalformedResponseError; a 304 answer
// to a conditional request is thrown as Octokit's error, recognised with `isNotModified`.

/**
 * Registered before plugin-retry and plugin-throttling, so its hook runs inside theirs: it sees
 * every attempt they make, and counts and logs each one.
 */
const instrumentation: Parameters<typeof Octokit.plugin>[0] = (octokit, options) => {
  const settings = options.instrumentation as
    | { accounting: RequestAccounting; logger: Logger; onRequest?: GitHubClientOptions['onRequest'] }
    | undefined;
  if (settings === undefined) return;
  const { accounting, logger, onRequest } = settings;
  octokit.hook.wrap('request', async (request, requestOptions) => {
    const own = requestOptions.request as { lockHeld?: boolean; signal?: AbortSignal } | undefined;
    if (own?.lockHeld === true && own.signal?.aborted === true) {
      // A retry of a request under a product's lock, after its deadline (the caller has its error
      // already): nothing is sent, and the error is one neither plugin retries, so the chain ends
      // now rather than holding a throttling slot through the rest of its backoff.
      throw Object.assign(new Error('the deadline of a request under a product lock has passed'), {
        request: { ...requestOptions, request: { ...own, retries: 0 } },
        response: { status: 0, headers: {}, data: undefined },
      });
    }
    const started = performance.now();
    const resource = resourceOf(requestOptions.url);
    const endpoint = describeRequest(requestOptions.method, requestOptions.url);
    try {
      const response = await request(requestOptions);
      const graphqlCost = resource === 'graphql' ? costOf(response.data) : undefined;
      // GraphQL answers 200 to a query it refused for the rate limit.
      const refused = resource === 'graphql' && graphqlErrorsOf({ response }).some((item) => item.type === 'RATE_LIMITED');
      const rateLimit = accounting.record({ resource, status: response.status, headers: response.headers, graphqlCost, refused });
      onRequest?.({ resource, status: response.status, rateLimit });
      logger.debug({ endpoint, status: response.status, ms: elapsed(started), remaining: response.headers['x-ratelimit-remaining'] }, 'GitHub request');
      return response;
    } catch (error) {
      const failed = error as { response?: { status: number; headers: Record<string, string | number | undefined> } };
      const status = failed.response?.status ?? 0;
      const refused = status >= 500 || status === 0 || rateLimitOf(error) !== undefined;
      const rateLimit = accounting.record({ resource, status, headers: failed.response?.headers, refused });
      onRequest?.({ resource, status, rateLimit });
      logger.debug({ endpoint, status, ms: elapsed(started), err: status === 0 ? error : undefined }, 'GitHub request');
      throw error;
    }
  });
};

/** A request as plugin-throttling hands it to its handlers. */
type ThrottledRequest = { method: string; url: string; request?: object };

/** Whether the request was made under a product's lock (marked by the outermost hook below). */
function madeUnderLock(request: ThrottledRequest): boolean {
  return (request.request as { lockHeld?: boolean } | undefined)?.lockHeld === true;
}

const ThrottledOctokit = Octokit.plugin(instrumentation, retry, throttling);
type ThrottledOctokit = InstanceType<typeof ThrottledOctokit>;
export type GitHubOctokit = ThrottledOctokit;

export type GitHubClientOptions = {
  /** REST base URL (GITHUB_API_URL). GraphQL goes to `${baseUrl}/graphql`, or `/api/graphql` for GHES `/api/v3`. */
  baseUrl: string;
  token?: string | undefined;
  logger: Logger;
  /** Retries after the first attempt for 5xx answers and network errors. */
  retries?: number;
  /** Retries of a request refused by a secondary rate limit. */
  secondaryLimitRetries?: number;
  /** A secondary limit asking to wait longer than this is not waited for: GitHubRateLimitedError. */
  maxSecondaryWaitSeconds?: number;
  /** A spent primary limit that resets within this many seconds is waited for, once. */
  maxRateLimitWaitSeconds?: number;
  /**
   * Milliseconds per second of `retry-after` and per unit of retry backoff (1, 4, 9 units). 1000
   * in production; tests make it 1 so that a retry costs milliseconds.
   */
  retryUnitMs?: number;
  /** How long to wait for the response headers of one attempt. */
  requestTimeoutMs?: number;
  /** Milliseconds for all attempts of one request made while a product's lock is held. */
  lockHeldBudgetMs?: number;
  /**
   * Told of every HTTP request sent (retries included) with its status, 0 for no answer, and the
   * rate-limit state its answer reported (metrics).
   */
  onRequest?: (request: { resource: RateLimitResource; status: number; rateLimit: ReportedRateLimit | undefined }) => void;
};

export type GitHubClient = {
  readonly baseUrl: string;
  readonly octokit: GitHubOctokit;
  readonly accounting: RequestAccounting;
  readonly logger: Logger;
  /**
   * Runs a GraphQL query and parses `data` with `schema`. A response that does not match is a
   * GitHubMalformedResponseError; a query GitHub rejects is a GitHubRequestRejectedError.
   */
  graphql<T>(endpoint: string, query: string, variables: Record<string, unknown>, schema: z.ZodType<T>): Promise<T>;
  /** Requests made, 304s, points spent and rate-limit states since the last `resetStats()`. */
  stats(): RequestStats;
  resetStats(): void;
};

let clients = 0;

export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const logger = options.logger.child({ component: 'github' });
  const accounting = new RequestAccounting();
  const unitMs = options.retryUnitMs ?? 1000;
  const maxRateLimitWait = options.maxRateLimitWaitSeconds ?? 0;
  const secondaryRetries = options.secondaryLimitRetries ?? 2;
  const maxSecondaryWait = options.maxSecondaryWaitSeconds ?? 120;
  const lockHeldBudgetMs = options.lockHeldBudgetMs ?? 10_000;
  clients += 1;

  const octokit: ThrottledOctokit = new ThrottledOctokit({
    baseUrl,
    ...(options.token !== undefined ? { auth: options.token } : {}),
    userAgent: 'release-registry',
    // Octokit's own request log says "error" for every 304 and failed attempt; failures reach the
    // caller as errors, and every request is logged below with its outcome.
    log: {
      debug: (message: string) => logger.trace(message),
      info: (message: string) => logger.trace(message),
      warn: (message: string) => logger.warn(message),
      error: (message: string) => logger.debug(message),
    },
    request: { fetch: fetchWithTimeout(options.requestTimeoutMs ?? 30_000) },
    instrumentation: { accounting, logger, onRequest: options.onRequest },
    retry: {
      retries: options.retries ?? 3,
      retryAfterBaseValue: unitMs,
      // 403 and 429 are rate limits, left to plugin-throttling (which knows how long to wait);
      // the others will not change by asking again (409: "Git Repository is empty.").
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
    },
    throttle: {
      id: `release-registry-${clients}`,
      retryAfterBaseValue: unitMs,
      fallbackSecondaryRateRetryAfter: 60,
      // plugin-throttling treats every GraphQL POST as a write (one per second, GitHub's advice for
      // mutations); this client only reads, one query at a time, which GitHub's secondary-limit
      // rules allow without a pause.
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }),
      onRateLimit: (retryAfter: number, request: ThrottledRequest, _octokit: unknown, retryCount: number) => {
        const wait = retryCount === 0 && retryAfter <= maxRateLimitWait && !madeUnderLock(request);
        logger.warn({ method: request.method, url: request.url, retryAfterSeconds: retryAfter, waiting: wait }, 'GitHub rate limit spent');
        return wait;
      },
      onSecondaryRateLimit: (retryAfter: number, request: ThrottledRequest, _octokit: unknown, retryCount: number) => {
        const wait = retryCount < secondaryRetries && retryAfter <= maxSecondaryWait && !madeUnderLock(request);
        logger.warn(
          { method: request.method, url: request.url, retryAfterSeconds: retryAfter, retryCount, waiting: wait },
          'GitHub secondary rate limit',
        );
        return wait;
      },
    },
  });

  // Outermost: one check and one error translation per call, whatever the plugins did inside.
  octokit.hook.wrap('request', async (request, requestOptions) => {
    const resource = resourceOf(requestOptions.url);
    const state = accounting.rateLimit(resource);
    if (state !== undefined && state.remaining === 0 && state.resetAt.getTime() > Date.now() + maxRateLimitWait * 1000) {
      throw new GitHubRateLimitedError(state.resetAt);
    }
    const secondaryUntil = accounting.secondaryLimitUntil();
    if (secondaryUntil !== undefined) throw new GitHubRateLimitedError(secondaryUntil);
    const endpoint = describeRequest(requestOptions.method, requestOptions.url);
    const failed = (error: unknown): Error => {
      const limited = rateLimitOf(error);
      if (limited?.kind === 'secondary') accounting.secondaryLimitMet(limited.resetAt);
      return toGitHubError(error, endpoint);
    };
    if (!isLockHeld()) {
      try {
        return await request(requestOptions);
      } catch (error) {
        throw failed(error);
      }
    }
    // Under a product's lock: one deadline for all attempts, and no rate limit waited for. Both
    // travel in the request's options, which the plugins hand on (the async context does not
    // survive their queues): `lockHeld` is read by the throttling handlers above, `signal` by
    // fetch on each attempt.
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException(`GitHub did not answer within ${lockHeldBudgetMs} ms, the most a request under a product's lock may take`, 'TimeoutError')),
      lockHeldBudgetMs,
    );
    const own = requestOptions.request as { signal?: AbortSignal } | undefined;
    requestOptions.request = { ...own, lockHeld: true, signal: own?.signal === undefined ? deadline.signal : AbortSignal.any([own.signal, deadline.signal]) };
    const attempts = Promise.resolve(request(requestOptions));
    // A retry may be waiting out its backoff when the deadline passes: the caller is answered then,
    // and the attempts left behind send nothing (the signal is aborted) and end unobserved.
    attempts.catch(() => undefined);
    try {
      return await Promise.race([attempts, whenAborted(deadline.signal)]);
    } catch (error) {
      throw failed(error);
    } finally {
      clearTimeout(timer);
    }
  });

  return {
    baseUrl,
    octokit,
    accounting,
    logger,
    async graphql<T>(endpoint: string, query: string, variables: Record<string, unknown>, schema: z.ZodType<T>): Promise<T> {
      let data: unknown;
      try {
        data = await octokit.graphql<unknown>(query, variables);
      } catch (error) {
        throw toGitHubError(error, endpoint);
      }
      const parsed = schema.safeParse(data);
      if (!parsed.success) throw new GitHubMalformedResponseError(endpoint, issuesFromZod(parsed.error.issues));
      return parsed.data;
    },
    stats: () => accounting.snapshot(),
    resetStats: () => accounting.reset(),
  };
}

function resourceOf(url: string): RateLimitResource {
  return /\/graphql$/.test(new URL(url, 'http://github.invalid').pathname) ? 'graphql' : 'core';
}

/** "GET /repos/{owner}/{repo}/releases": the route, without values, origin or query. */
function describeRequest(method: string, url: string): string {
  const path = /^https?:/.test(url) ? new URL(url).pathname : url.split('?')[0]!;
  return `${method} ${path}`;
}

function costOf(data: unknown): number | undefined {
  const cost = (data as { data?: { rateLimit?: { cost?: unknown } } } | undefined)?.data?.rateLimit?.cost;
  return typeof cost === 'number' ? cost : undefined;
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** Rejects with the signal's reason once it is aborted. */
function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
}

/**
 * fetch, aborted when the response headers take longer than `timeoutMs`. The body is read without
 * a deadline: a large listing streams for as long as it needs.
 */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`GitHub did not answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    try {
      return await fetch(input, { ...init, signal });
    } finally {
      clearTimeout(timer);
    }
  };
}
