import { localResetTime } from './rate-limit-reset.ts';

// What one GitHub client has spent, for a sync run's result and request budget, and the rate-limit
// state GitHub last reported, for metrics and for failing fast once a limit is spent.
//
// Points follow GitHub's rules (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api):
// a REST request costs one point of the `core` bucket unless it is answered 304 to a conditional
// request; a GraphQL query costs its `rateLimit { cost }` of the `graphql` bucket. Answers that
// GitHub gave while refusing to work (5xx, rate-limit refusals) are not counted as spent.

export type RateLimitResource = 'core' | 'graphql' | (string & {});

export type RateLimitState = {
  limit: number;
  remaining: number;
  used: number;
  /** When the window resets, on this machine's clock (src/github/rate-limit-reset.ts). */
  resetAt: Date;
  /** x-ratelimit-reset as GitHub sent it: the window's identity. */
  window: number;
  observedAt: Date;
};

export type RequestStats = {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Requests answered 304 Not Modified (free on GitHub). */
  notModified: number;
  /** Rate-limit points spent, per bucket and in total. */
  points: { core: number; graphql: number; total: number };
  /** Requests per status code (0: no answer, e.g. a network error or a timeout). */
  byStatus: Record<string, number>;
  /** The last x-ratelimit-* headers GitHub sent, per resource. Not cleared by `reset()`. */
  rateLimits: Partial<Record<RateLimitResource, RateLimitState>>;
};

export type RecordedRequest = {
  resource: RateLimitResource;
  status: number;
  headers: Record<string, string | number | undefined> | undefined;
  /** GraphQL: the query's cost when the response reported `rateLimit { cost }`. */
  graphqlCost?: number | undefined;
  /** The answer was a refusal to work (5xx, rate limited): no point spent. */
  refused: boolean;
};

/** The bucket an answer's x-ratelimit-* headers named, and what they said. */
export type ReportedRateLimit = { resource: RateLimitResource; state: RateLimitState };

export class RequestAccounting {
  #requests = 0;
  #notModified = 0;
  #points = { core: 0, graphql: 0 };
  #byStatus: Record<string, number> = {};
  readonly #rateLimits = new Map<RateLimitResource, RateLimitState>();
  #secondaryLimitUntil: Date | undefined;

  /** Counts the request; returns the rate-limit state its answer reported, if any. */
  record(request: RecordedRequest): ReportedRateLimit | undefined {
    this.#requests += 1;
    this.#byStatus[String(request.status)] = (this.#byStatus[String(request.status)] ?? 0) + 1;
    const previous = this.#rateLimits.get(request.resource);
    const state = rateLimitFromHeaders(request.headers);
    const reported = state === undefined ? undefined : { resource: String(request.headers?.['x-ratelimit-resource'] ?? request.resource), state };
    if (reported !== undefined) this.#rateLimits.set(reported.resource, reported.state);
    if (request.status === 304) {
      this.#notModified += 1;
    } else if (!request.refused && request.status !== 0) {
      if (request.resource === 'graphql') {
        this.#points.graphql += graphqlPoints(request.graphqlCost, previous, state);
      } else {
        this.#points.core += 1;
      }
    }
    return reported === undefined ? undefined : { resource: reported.resource, state: { ...reported.state } };
  }

  /** The bucket's last known state, or undefined before any answer named it. */
  rateLimit(resource: RateLimitResource): RateLimitState | undefined {
    return this.#rateLimits.get(resource);
  }

  /**
   * A secondary rate limit was met and not waited out: GitHub asks for no request to any endpoint
   * before `until` (retry-after), and may ban an integration that keeps sending.
   * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
   */
  secondaryLimitMet(until: Date): void {
    if (this.#secondaryLimitUntil === undefined || until > this.#secondaryLimitUntil) this.#secondaryLimitUntil = until;
  }

  /** Until when a secondary limit met earlier forbids requests, or undefined when none does now. */
  secondaryLimitUntil(now = Date.now()): Date | undefined {
    return this.#secondaryLimitUntil !== undefined && this.#secondaryLimitUntil.getTime() > now ? this.#secondaryLimitUntil : undefined;
  }

  snapshot(): RequestStats {
    return {
      requests: this.#requests,
      notModified: this.#notModified,
      points: { ...this.#points, total: this.#points.core + this.#points.graphql },
      byStatus: { ...this.#byStatus },
      rateLimits: Object.fromEntries([...this.#rateLimits].map(([resource, state]) => [resource, { ...state }])),
    };
  }

  /** Zeroes the counters (a new sync run starts); the rate-limit states are kept. */
  reset(): void {
    this.#requests = 0;
    this.#notModified = 0;
    this.#points = { core: 0, graphql: 0 };
    this.#byStatus = {};
  }
}

function rateLimitFromHeaders(headers: RecordedRequest['headers']): RateLimitState | undefined {
  if (headers === undefined) return undefined;
  const limit = Number(headers['x-ratelimit-limit']);
  const remaining = Number(headers['x-ratelimit-remaining']);
  const reset = Number(headers['x-ratelimit-reset']);
  if (![limit, remaining, reset].every((value) => Number.isFinite(value)) || headers['x-ratelimit-remaining'] === undefined) return undefined;
  const used = Number(headers['x-ratelimit-used']);
  const observedAt = new Date();
  return {
    limit,
    remaining,
    used: Number.isFinite(used) ? used : limit - remaining,
    resetAt: localResetTime(reset, headers, observedAt.getTime()),
    window: reset,
    observedAt,
  };
}

/**
 * A query's cost: what it reported, else the growth of x-ratelimit-used within one window, else
 * one point (GitHub's minimum).
 */
function graphqlPoints(cost: number | undefined, previous: RateLimitState | undefined, current: RateLimitState | undefined): number {
  if (cost !== undefined) return cost;
  if (previous !== undefined && current !== undefined && previous.window === current.window) {
    const delta = current.used - previous.used;
    if (delta >= 0) return delta;
  }
  if (previous !== undefined && current !== undefined && current.window !== previous.window) return current.used;
  return 1;
}
