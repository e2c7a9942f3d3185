import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Router } from '@koa/router';
import { PROJECT_ROOT } from '../../src/paths.ts';
import { send, serialize, type Answer } from '../answer.ts';
import { buildOpenApiDocument } from '../openapi.ts';
import type { ReadApi } from '../read-api.ts';

// GET /openapi.json. Built on first request, when every route is registered, then kept: the
// routes do not change while the process runs.

export function registerOpenApiRoute(router: Router, api: ReadApi): void {
  let document: ReturnType<typeof serialize> | undefined;
  router.get('/openapi.json', async (ctx) => {
    if (document === undefined) {
      const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
      const answer: Answer = { json: buildOpenApiDocument(api.catalog.specs, router, { version }), tags: [] };
      document = serialize(answer);
    }
    send(ctx, 'anonymous', document);
  });
}
