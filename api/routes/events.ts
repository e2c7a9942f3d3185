import type { Router } from '@koa/router';
import { z } from 'zod';
import { FEED_START, findFeedPosition, listReleaseEvents } from '../../src/db/release-events.ts';
import { InvalidInputError } from '../../src/errors.ts';
import { pathWith, send, serialize } from '../answer.ts';
import { limitParam, productParam } from '../query-params.ts';
import type { ReadApi } from '../read-api.ts';
import { errorSchema, eventSchema } from '../schemas.ts';
import { visibilityOf, visibleProduct } from '../visible-product.ts';

// The change log as a feed (src/db/release-events.ts says why it is safe to follow).

// A feed answer changes as soon as a change commits: caches must ask again every time (the ETag
// makes that cheap), unlike release answers which may be a minute old.
const FEED_CACHE_CONTROL = { anonymous: 'public, no-cache', token: 'private, no-cache' } as const;

export function registerEventRoutes(router: Router, api: ReadApi): void {
  const { deps, checkToken, catalog } = api;

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/events',
      operationId: 'listEvents',
      summary: 'The change log, as a feed to follow',
      description: [
        'Changes to releases in commit-safe order: created, updated, promoted, moved, deleted, revived. Each event carries the release as it is now.',
        'Follow it by passing the `id` of the last event received as `after` (start with `after=0`); an empty array means nothing new yet.',
        'The order is id order except that a change whose transaction committed late comes after changes with larger ids that committed before it, so always continue from the last event received, not from the largest id.',
        'The `Link: <…>; rel="next"` header always names the request to make next.',
        'Without a token: events of public versions of public products, plus the event that made a version stop being public.',
      ].join(' '),
      tags: ['events'],
      auth: 'optional',
      query: z.strictObject({
        after: z
          .string()
          .regex(/^\d{1,15}$/, 'must be the id of an event (0 for the start)')
          .transform(Number)
          .prefault('0')
          .describe('The id of the last event received; 0 (default) starts from the beginning'),
        limit: limitParam,
        product: productParam.optional().describe('Only events of this product'),
      }),
      responses: {
        200: { description: 'A bare JSON array of events', schema: z.array(eventSchema), headers: ['ETag', 'Cache-Control', 'Link'] },
        304: { description: 'Not modified' },
        400: { description: 'A query parameter is not valid (or `after` names no event)', schema: errorSchema },
        404: { description: 'No such product', schema: errorSchema },
      },
    },
    async (ctx, { query }) => {
      const reader = checkToken(ctx);
      const product = query.product === undefined ? undefined : await visibleProduct(deps.db, query.product, reader, deps.cache);
      const position = query.after === 0 ? FEED_START : await findFeedPosition(deps.db, query.after);
      if (position === null) throw new InvalidInputError(`query parameter "after": there is no event ${query.after}`);
      const events = await listReleaseEvents(deps.db, {
        position,
        limit: query.limit,
        visibility: visibilityOf(reader),
        productId: product?.id,
      });
      const last = events.at(-1);
      const nextPath = pathWith(ctx, { after: String(last?.id ?? query.after) });
      send(ctx, reader, serialize({ json: events, nextPath, tags: [] }), { cacheControl: FEED_CACHE_CONTROL[reader] });
    },
  );
}
