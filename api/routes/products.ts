import type { Router } from '@koa/router';
import { z } from 'zod';
import { findProductView, listProductViews } from '../../src/db/product-reads.ts';
import { NotFoundError } from '../../src/errors.ts';
import { enqueueSync } from '../../src/sync/sync-job.ts';
import { answerRead, send, serialize } from '../answer.ts';
import { requireToken } from '../auth.ts';
import { readJsonBody } from '../json-body.ts';
import { productParam } from '../query-params.ts';
import type { ReadApi } from '../read-api.ts';
import { errorSchema, productSchema, syncAcceptedSchema, syncRequestSchema } from '../schemas.ts';
import { visibilityOf, visibleProduct } from '../visible-product.ts';

// Products: what is tracked, its latest version and how its last sync went; and the admin call
// that asks for a sync.

export function registerProductRoutes(router: Router, api: ReadApi): void {
  const { deps, checkToken, catalog } = api;

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/products',
      operationId: 'listProducts',
      summary: 'The tracked products',
      description: 'In name order. Without a token, public products only, and counts of public versions.',
      tags: ['products'],
      auth: 'optional',
      query: z.strictObject({}),
      responses: {
        200: { description: 'A bare JSON array of products', schema: z.array(productSchema), headers: ['ETag', 'Cache-Control'] },
        304: { description: 'Not modified' },
        400: { description: 'A query parameter (this list takes none)', schema: errorSchema },
      },
    },
    async (ctx) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => ({ json: await listProductViews(deps.db, visibilityOf(reader)), tags: ['all'] }));
    },
  );

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/products/:product',
      operationId: 'getProduct',
      summary: 'One product',
      tags: ['products'],
      auth: 'optional',
      params: z.strictObject({ product: productParam }),
      query: z.strictObject({}),
      responses: {
        200: { description: 'The product', schema: productSchema, headers: ['ETag', 'Cache-Control'] },
        304: { description: 'Not modified' },
        400: { description: 'A name no product can have, or a query parameter (it takes none)', schema: errorSchema },
        404: { description: 'No such product (or not visible without a token)', schema: errorSchema },
      },
    },
    async (ctx, { params }) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => {
        const view = await findProductView(deps.db, params.product, visibilityOf(reader));
        if (view === null) throw new NotFoundError('product', `product "${params.product}" not found`);
        // Tagged 'all': the answer is found by name, and the product id is not at hand here.
        return { json: view, tags: ['all'] };
      });
    },
  );

  catalog.add(
    router,
    {
      method: 'post',
      path: '/v1/products/:product/sync',
      operationId: 'syncProduct',
      summary: 'Ask for a sync of a product (admin)',
      description:
        'Enqueues a `sync-product` job and answers 202 with its id. At most one sync of a product is queued or running: while one is, its id is answered (`already_queued: true`).',
      tags: ['admin'],
      auth: 'required',
      params: z.strictObject({ product: productParam }),
      query: z.strictObject({}),
      body: { schema: syncRequestSchema, required: false, contentType: 'application/json' },
      responses: {
        202: { description: 'Enqueued (or already queued)', schema: syncAcceptedSchema },
        400: { description: 'The body is not valid', schema: errorSchema },
        401: { description: 'No valid API token', schema: errorSchema },
        404: { description: 'No such product', schema: errorSchema },
        413: { description: 'The body is too large', schema: errorSchema },
        415: { description: 'The body is not JSON', schema: errorSchema },
      },
    },
    async (ctx, { params }) => {
      requireToken(ctx, checkToken);
      const body = await readJsonBody(ctx, syncRequestSchema);
      const product = await visibleProduct(deps.db, params.product, 'token');
      const { jobId, mode, alreadyQueued } = await enqueueSync(deps.boss, { product: product.name, reason: 'admin', ...(body.mode === undefined ? {} : { mode: body.mode }) });
      deps.logger.info({ product: product.name, jobId, alreadyQueued, mode }, 'sync requested through the API');
      send(ctx, 'token', serialize({ json: { job_id: jobId, product: product.name, mode, already_queued: alreadyQueued }, tags: [] }), {
        cacheControl: 'no-store',
      });
      ctx.status = 202;
    },
  );
}
