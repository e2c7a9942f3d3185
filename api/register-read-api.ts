import type { Router } from '@koa/router';
import { createTokenChecker } from './auth.ts';
import type { ApiDependencies } from './dependencies.ts';
import type { ReadApi } from './read-api.ts';
import type { RouteCatalog } from './route-spec.ts';
import { registerAdminDeliveryRoutes } from './routes/admin-deliveries.ts';
import { registerEventRoutes } from './routes/events.ts';
import { registerOpenApiRoute } from './routes/openapi.ts';
import { registerProductRoutes } from './routes/products.ts';
import { registerReleaseRoutes } from './routes/releases.ts';

/** The read API v1, the admin calls and /openapi.json, on `router`. */
export function registerReadApi(router: Router, deps: ApiDependencies, catalog: RouteCatalog): ReadApi {
  const api: ReadApi = { deps, checkToken: createTokenChecker(deps.config.API_TOKENS), catalog };
  registerReleaseRoutes(router, api);
  registerProductRoutes(router, api);
  registerEventRoutes(router, api);
  registerAdminDeliveryRoutes(router, api);
  registerOpenApiRoute(router, api);
  return api;
}
