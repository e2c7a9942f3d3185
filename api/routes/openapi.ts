import type { Router } from '@koa/router';
import { z } from 'zod';
import { buildInfo } from '../../src/build-info.ts';
import { send, serialize, type Answer } from '../answer.ts';
import { buildOpenApiDocument } from '../openapi.ts';
import type { ReadApi } from '../read-api.ts';

// GET /openapi.json. Built on first request, when every route is registered, then kept: the
// routes do not change while the process runs.

export function registerOpenApiRoute(router: Router, api: ReadApi): void {
  let document: ReturnType<typeof serialize> | undefined;
  api.catalog.add(
    router,
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openApiDocument',
      summary: 'This document',
      tags: ['operations'],
      auth: 'none',
      responses: { 200: { description: 'The OpenAPI 3.1 document', schema: z.looseObject({ openapi: z.string() }) } },
    },
    async (ctx) => {
      if (document === undefined) {
        const { version } = buildInfo(api.deps.config.GIT_SHA);
        const answer: Answer = { json: buildOpenApiDocument(api.catalog.specs, { version }), tags: [] };
        document = serialize(answer);
      }
      send(ctx, 'anonymous', document);
    },
  );
}
