import type { Middleware } from 'koa';
import { startHttpRequest } from '../src/metrics/metrics.ts';

/**
 * Records every request in release_registry_http_request_duration_seconds and
 * release_registry_http_requests_in_flight. Registered first, so that it sees the status the error
 * middleware settled on. The route label is the pattern @koa/router matched (`/v1/releases/:product`),
 * never the raw path: paths are unbounded, patterns are not.
 */
export function httpMetricsMiddleware(): Middleware {
  return async (ctx, next) => {
    const finish = startHttpRequest();
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      finish(ctx.method, matched === undefined ? undefined : String(matched), ctx.status);
    }
  };
}
