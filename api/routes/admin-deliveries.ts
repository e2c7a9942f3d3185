import type { Router } from '@koa/router';
import { z } from 'zod';
import { listDeliveries, type DeliveryPosition } from '../../src/db/delivery-reads.ts';
import { DELIVERY_STATUSES } from '../../src/db/webhook-deliveries.ts';
import { deliveryIdSchema } from '../../src/webhooks/delivery-id.ts';
import { nextPage, send, serialize } from '../answer.ts';
import { requireToken } from '../auth.ts';
import { limitParam } from '../query-params.ts';
import type { ReadApi } from '../read-api.ts';
import { deliverySchema, errorSchema } from '../schemas.ts';

// Stored webhook deliveries, newest first (admin): what failed and why.

// Microseconds since the epoch: 17 digits reach the year 5138, and stay inside PostgreSQL's bigint
// and timestamp ranges when the query turns them back into an instant.
const cursorSchema = z.tuple([z.string().regex(/^\d{1,17}$/), deliveryIdSchema]);

function encodeCursor(position: DeliveryPosition): string {
  return Buffer.from(JSON.stringify([position.receivedAtUs, position.deliveryId]), 'utf8').toString('base64url');
}

const deliveryCursorParam = z
  .string()
  .transform((text, ctx) => {
    try {
      const [receivedAtUs, deliveryId] = cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
      return { receivedAtUs, deliveryId };
    } catch {
      ctx.issues.push({ code: 'custom', input: text, message: 'is not a cursor this API issued (take it from the Link header of the previous page)' });
      return z.NEVER;
    }
  })
  .optional()
  .describe('Opaque position of the next page, from the Link header of the previous one');

export function registerAdminDeliveryRoutes(router: Router, api: ReadApi): void {
  const { deps, checkToken, catalog } = api;

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/admin/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'Stored webhook deliveries (admin)',
      description: 'Newest first, without payloads. `status` defaults to `failed`.',
      tags: ['admin'],
      auth: 'required',
      query: z.strictObject({
        status: z
          .enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(', ')}` })
          .prefault('failed')
          .describe('Deliveries in this state (default failed)'),
        limit: limitParam,
        cursor: deliveryCursorParam,
      }),
      responses: {
        200: { description: 'A bare JSON array of deliveries', schema: z.array(deliverySchema), headers: ['ETag', 'Cache-Control', 'Link'] },
        304: { description: 'Not modified' },
        400: { description: 'A query parameter is not valid', schema: errorSchema },
        401: { description: 'No valid API token', schema: errorSchema },
      },
    },
    async (ctx, { query }) => {
      requireToken(ctx, checkToken);
      const rows = await listDeliveries(deps.db, { status: query.status, limit: query.limit + 1, after: query.cursor });
      const { page, nextPath } = nextPage(ctx, rows, query.limit, (last) => encodeCursor(last.position));
      send(ctx, 'token', serialize({ json: page.map((row) => row.view), nextPath, tags: [] }));
    },
  );
}
