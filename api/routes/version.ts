import type { Router } from '@koa/router';
import { buildInfo } from '../../src/build-info.ts';
import type { ApiDependencies } from '../dependencies.ts';

/** GET /-/version: the package version and the commit (GIT_SHA, else `git rev-parse HEAD`; null when unknown). */
export function registerVersionRoute(router: Router, deps: ApiDependencies): void {
  router.get('/-/version', (ctx) => {
    const { name, version, gitSha, node } = buildInfo(deps.config.GIT_SHA);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { name, version, gitSha, node };
  });
}
