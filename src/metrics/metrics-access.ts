import { bearerToken, matchesAnyToken, tokenDigest } from '../bearer-token.ts';
import { UnauthorizedError } from '../errors.ts';

/**
 * Whether a request may read /metrics: always when METRICS_TOKEN is unset, else only with
 * `Authorization: Bearer <METRICS_TOKEN>`.
 */
export function metricsAccessAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const presented = bearerToken(authorization);
  return presented !== null && matchesAnyToken(presented, [tokenDigest(token)]);
}

/** What a request refused by metricsAccessAllowed is answered (the API's /metrics and the worker's alike). */
export function metricsAccessRefused(): UnauthorizedError {
  return new UnauthorizedError('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>', { challenge: 'Bearer realm="metrics"' });
}
