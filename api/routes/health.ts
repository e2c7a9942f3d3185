import type { Router } from '@koa/router';
import { checkDatabase } from '../../src/db/check-database.ts';
import type { ApiDependencies } from '../dependencies.ts';

// Liveness with a database check (/-/healthz) and readiness (/-/readyz). Load balancers take an
// instance out while its database is out of reach or while it starts or stops, and put it back
// without a restart once the pool reconnects. Both answer within a second.

export function registerHealthRoutes(router: Router, deps: ApiDependencies): void {
  router.get('/-/healthz', async (ctx) => {
    const started = performance.now();
    const database = await checkDatabase(deps.db, deps.logger);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = database === 'ok' ? 200 : 503;
    ctx.body = { status: database === 'ok' ? 'ok' : 'unavailable', database, durationMs: Math.round(performance.now() - started) };
  });

  // Ready = worth sending traffic to: started, not stopping, database reachable.
  router.get('/-/readyz', async (ctx) => {
    const started = performance.now();
    const lifecycle = deps.lifecycle?.state ?? 'ready';
    const database = lifecycle === 'ready' ? await checkDatabase(deps.db, deps.logger) : 'unchecked';
    const ready = lifecycle === 'ready' && database === 'ok';
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', lifecycle, database, durationMs: Math.round(performance.now() - started) };
  });
}
