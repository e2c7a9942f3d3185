import { bearerToken, matchesAnyToken, tokenDigest } from '../bearer-token.ts';

/**
 * Whether a request may read /metrics: always when METRICS_TOKEN is unset, else only with
 * `Authorization: Bearer <METRICS_TOKEN>`.
 */
export function metricsAccessAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const presented = bearerToken(authorization);
  return presented !== null && matchesAnyToken(presented, [tokenDigest(token)]);
}
