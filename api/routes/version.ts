import type { Router } from '@koa/router';
import { buildInfo } from '../../src/build-info.ts';
import type { ApiDependencies } from '../dependencies.ts';
import type { RouteCatalog } from '../route-spec.ts';
import { versionInfoSchema } from '../schemas.ts';

/** GET /-/version: the package version and the commit (GIT_SHA, else `git rev-parse HEAD`; null when unknown). */
export function registerVersionRoute(router: Router, deps: ApiDependencies, catalog: RouteCatalog): void {
  catalog.add(
    router,
    {
      method: 'get',
      path: '/-/version',
      operationId: 'version',
      summary: 'The running version',
      tags: ['operations'],
      auth: 'none',
      responses: { 200: { description: 'Package version, commit and Node.js version', schema: versionInfoSchema } },
    },
    async (ctx) => {
      const { name, version, gitSha, node } = buildInfo(deps.config.GIT_SHA);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { name, version, gitSha, node };
    },
  );
}
