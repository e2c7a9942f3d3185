import { Router } from '@koa/router';
import Koa from 'koa';
import { MethodNotAllowedError, NotFoundError } from '../src/errors.ts';
import type { ApiDependencies } from './dependencies.ts';
import { corsMiddleware } from './cors.ts';
import { errorMiddleware } from './error-middleware.ts';
import { httpMetricsMiddleware } from './http-metrics-middleware.ts';
import { registerReadApi } from './register-read-api.ts';
import { RouteCatalog } from './route-spec.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerVersionRoute } from './routes/version.ts';
import { registerWebhookRoutes } from './routes/webhooks.ts';

/** The API as a Koa application, without listening: tests and `api/server.ts` both use it. */
export function createApp(deps: ApiDependencies): Koa {
  const app = new Koa({ proxy: true });
  // Errors are answered by errorMiddleware; Koa's own handler would print them to stderr.
  app.silent = true;
  app.use(httpMetricsMiddleware());
  app.use(errorMiddleware(deps.logger));
  // A stopping API answers its in-flight requests with `Connection: close`, so keep-alive clients
  // reconnect (to another replica) instead of reusing a socket that is about to close.
  app.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      if (deps.lifecycle?.state === 'stopping') ctx.set('Connection', 'close');
    }
  });
  app.use(corsMiddleware());
  // Runs after the router: a path no route knows is a JSON 404; a known path under another method
  // (the router answered 405 with Allow and no body) is a JSON 405.
  app.use(async (ctx, next) => {
    await next();
    if (ctx.body != null) return;
    if (ctx.status === 404) throw new NotFoundError('route', `no route for ${ctx.method} ${ctx.path}`);
    if (ctx.status === 405) throw new MethodNotAllowedError(ctx.method, String(ctx.response.get('Allow')).split(/,\s*/));
  });

  // One router, so that a path known under another method answers 405 (with Allow), not 404.
  const router = new Router();
  // Every route goes through the catalog, so /openapi.json describes each one the router serves.
  const catalog = new RouteCatalog();
  registerHealthRoutes(router, deps, catalog);
  registerWebhookRoutes(router, deps, catalog);
  registerVersionRoute(router, deps, catalog);
  registerMetricsRoute(router, deps, catalog);
  registerReadApi(router, deps, catalog);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
