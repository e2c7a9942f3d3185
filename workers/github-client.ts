import type { Config } from '../src/config.ts';
import { createGitHubClient, type GitHubClient } from '../src/github/client.ts';
import type { Logger } from '../src/logger.ts';
import { recordGitHubRequest, setGitHubRateLimit } from '../src/metrics/metrics.ts';

/**
 * The worker's GitHub client, for syncs and webhook ingestion alike, so that every request it sends
 * is counted in the metrics, and the rate-limit gauges follow each answer rather than a sync's end
 * (ingestion has no end at which to report them).
 */
export function createWorkerGitHubClient(config: Pick<Config, 'GITHUB_API_URL' | 'GITHUB_TOKEN'>, logger: Logger): GitHubClient {
  return createGitHubClient({
    baseUrl: config.GITHUB_API_URL,
    token: config.GITHUB_TOKEN,
    logger,
    onRequest: ({ resource, status, rateLimit }) => {
      recordGitHubRequest(resource === 'graphql' ? 'graphql' : 'rest', status === 0 ? 'error' : status);
      if (rateLimit !== undefined) setGitHubRateLimit(rateLimit.resource, rateLimit.state.remaining, rateLimit.state.limit, rateLimit.state.resetAt);
    },
  });
}
