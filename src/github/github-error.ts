import {
  AppError,
  ConfigError,
  GitHubNotFoundError,
  GitHubRateLimitedError,
  GitHubRequestRejectedError,
  GitHubUnavailableError,
} from '../errors.ts';
import { localResetTime } from './rate-limit-reset.ts';

// Turns what Octokit throws (RequestError "HttpError", the throttling plugin's GraphQL rate-limit
// error, @octokit/graphql's GraphqlResponseError, fetch failures) into the project's errors, so
// that callers branch on our classes only. Octokit's classes are recognised by shape, not by
// `instanceof`: they live in packages we do not depend on directly.

type HeaderBag = Record<string, string | number | undefined>;

type OctokitLikeError = Error & {
  status?: unknown;
  response?: { status?: number; headers?: HeaderBag; data?: unknown };
  headers?: HeaderBag;
  errors?: unknown;
};

export type GraphqlErrorItem = { type?: string; message?: string; path?: ReadonlyArray<string | number> };

/** A 304 answer to a conditional request: not an error for the caller, who asked for it. */
export function isNotModified(error: unknown): error is OctokitLikeError & { response: { headers: HeaderBag } } {
  return error instanceof Error && (error as OctokitLikeError).status === 304;
}

/** Whether GitHub refused because a rate limit (primary or secondary) is spent. */
export function rateLimitOf(error: unknown, now = Date.now()): { resetAt: Date; kind: 'primary' | 'secondary' } | undefined {
  if (!(error instanceof Error)) return undefined;
  const candidate = error as OctokitLikeError;
  const headers = candidate.response?.headers ?? candidate.headers ?? {};
  const status = typeof candidate.status === 'number' ? candidate.status : candidate.response?.status;
  const graphqlErrors = graphqlErrorsOf(candidate);
  const rateLimitedQuery = graphqlErrors.some((item) => item.type === 'RATE_LIMITED');
  if (rateLimitedQuery || ((status === 403 || status === 429) && String(headers['x-ratelimit-remaining']) === '0')) {
    const reset = Number(headers['x-ratelimit-reset']);
    return { resetAt: Number.isFinite(reset) && reset > 0 ? localResetTime(reset, headers, now) : new Date(now + 60_000), kind: 'primary' };
  }
  if ((status === 403 || status === 429) && (/secondary rate limit/i.test(candidate.message) || headers['retry-after'] !== undefined)) {
    // GitHub: without retry-after, wait at least one minute before retrying.
    const retryAfter = Number(headers['retry-after']);
    return { resetAt: new Date(now + (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 60) * 1000), kind: 'secondary' };
  }
  return undefined;
}

export function graphqlErrorsOf(error: unknown): GraphqlErrorItem[] {
  const candidate = error as OctokitLikeError;
  const fromData = (candidate.response?.data as { errors?: unknown } | undefined)?.errors;
  const list = Array.isArray(candidate.errors) ? candidate.errors : Array.isArray(fromData) ? fromData : [];
  return list.filter((item): item is GraphqlErrorItem => typeof item === 'object' && item !== null);
}

/** The project's error for anything a GitHub call threw. `endpoint` names the call in messages. */
export function toGitHubError(error: unknown, endpoint: string): Error {
  if (error instanceof AppError) return error;
  if (!(error instanceof Error)) return new GitHubUnavailableError(`${endpoint}: ${String(error)}`, undefined, { cause: error });
  if (isNotModified(error)) return error;
  const limited = rateLimitOf(error);
  if (limited !== undefined) return new GitHubRateLimitedError(limited.resetAt, { cause: error });

  const candidate = error as OctokitLikeError;
  const status = typeof candidate.status === 'number' ? candidate.status : undefined;
  if (error.name === 'GraphqlResponseError') {
    const items = graphqlErrorsOf(error);
    if (items.some((item) => item.type === 'NOT_FOUND')) {
      return new GitHubNotFoundError(endpoint, items.map((item) => item.message).join('; '));
    }
    if (items.some((item) => /something went wrong while executing your query|timeout/i.test(item.message ?? ''))) {
      return new GitHubUnavailableError(`${endpoint}: ${items[0]?.message ?? 'query failed'}`, undefined, { cause: error });
    }
    return new GitHubRequestRejectedError(endpoint, items.map((item) => item.message ?? item.type ?? 'error').join('; ') || error.message, status, {
      cause: error,
    });
  }
  // Octokit reports a request that got no answer (refused connection, reset, timeout) as a 500
  // without a response.
  if (status === undefined || (status === 500 && candidate.response === undefined)) {
    return new GitHubUnavailableError(`${endpoint}: no answer from GitHub (${firstLine(error.message)})`, undefined, { cause: error });
  }
  if (status >= 500) {
    return new GitHubUnavailableError(`${endpoint}: HTTP ${status}: ${firstLine(error.message)}`, status, { cause: error });
  }
  if (status === 401) return new ConfigError('GITHUB_TOKEN', `GitHub rejected the token (401 ${firstLine(error.message)})`, { cause: error });
  if (status === 404) return new GitHubNotFoundError(endpoint);
  return new GitHubRequestRejectedError(endpoint, firstLine(error.message), status, { cause: error });
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ - https:\/\/docs\.github\.com\S*$/, '');
}
