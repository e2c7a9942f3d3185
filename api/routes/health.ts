import type { Router } from '@koa/router';
import { sql } from 'slonik';
import { z } from 'zod';
import type { ApiDependencies } from '../dependencies.ts';

// Liveness with a database check: load balancers take an instance out while its database is out
// of reach, and put it back without a restart once the pool reconnects.

const DATABASE_CHECK_TIMEOUT_MS = 1_000;

export function registerHealthRoutes(router: Router, deps: ApiDependencies): void {
  router.get('/-/healthz', async (ctx) => {
    const started = performance.now();
    const database = await checkDatabase(deps);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = database === 'ok' ? 200 : 503;
    ctx.body = { status: database === 'ok' ? 'ok' : 'unavailable', database, durationMs: Math.round(performance.now() - started) };
  });
}

async function checkDatabase(deps: ApiDependencies): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unavailable'>((resolve) => {
    timer = setTimeout(() => resolve('unavailable'), DATABASE_CHECK_TIMEOUT_MS);
  });
  const check = deps.db
    .oneFirst(sql.type(z.object({ ok: z.number() }))`SELECT 1 AS ok`)
    .then(() => 'ok' as const)
    .catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'database check failed');
      return 'unavailable' as const;
    });
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
