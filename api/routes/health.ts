import type { Router } from '@koa/router';
import { checkDatabase } from '../../src/db/check-database.ts';
import type { ApiDependencies } from '../dependencies.ts';
import type { RouteCatalog } from '../route-spec.ts';
import { healthSchema, readinessSchema } from '../schemas.ts';

// Liveness with a database check (/-/healthz) and readiness (/-/readyz). Load balancers take an
// instance out while its database is out of reach or while it starts or stops, and put it back
// without a restart once the pool reconnects. Both answer within a second.

export function registerHealthRoutes(router: Router, deps: ApiDependencies, catalog: RouteCatalog): void {
  catalog.add(
    router,
    {
      method: 'get',
      path: '/-/healthz',
      operationId: 'health',
      summary: 'Liveness, with a database check',
      tags: ['operations'],
      auth: 'none',
      responses: {
        200: { description: 'Healthy', schema: healthSchema },
        503: { description: 'The database is out of reach', schema: healthSchema },
      },
    },
    async (ctx) => {
      const started = performance.now();
      const database = await checkDatabase(deps.db, deps.logger);
      ctx.set('Cache-Control', 'no-store');
      ctx.status = database === 'ok' ? 200 : 503;
      ctx.body = { status: database === 'ok' ? 'ok' : 'unavailable', database, durationMs: Math.round(performance.now() - started) };
    },
  );

  // Ready = worth sending traffic to: started, not stopping, database reachable.
  catalog.add(
    router,
    {
      method: 'get',
      path: '/-/readyz',
      operationId: 'readiness',
      summary: 'Readiness: serving and the database reachable',
      tags: ['operations'],
      auth: 'none',
      responses: {
        200: { description: 'Ready', schema: readinessSchema },
        503: { description: 'Starting, stopping, or the database is out of reach', schema: readinessSchema },
      },
    },
    async (ctx) => {
      const started = performance.now();
      const lifecycle = deps.lifecycle?.state ?? 'ready';
      const database = lifecycle === 'ready' ? await checkDatabase(deps.db, deps.logger) : 'unchecked';
      const ready = lifecycle === 'ready' && database === 'ok';
      ctx.set('Cache-Control', 'no-store');
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? 'ready' : 'not_ready', lifecycle, database, durationMs: Math.round(performance.now() - started) };
    },
  );
}
