import type { TokenChecker } from './auth.ts';
import type { ApiDependencies } from './dependencies.ts';
import type { RouteCatalog } from './route-spec.ts';

/** What the read API's route modules are registered with. */
export type ReadApi = {
  deps: ApiDependencies;
  checkToken: TokenChecker;
  catalog: RouteCatalog;
};
