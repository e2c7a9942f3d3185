import type { Router } from '@koa/router';
import { z } from 'zod';
import { findLatestRelease, findRelease, listAllReleases, listProductReleases, nextPatch, type ReleaseFilters, type ReleaseView } from '../../src/db/release-reads.ts';
import { NotFoundError } from '../../src/errors.ts';
import { encodePrereleaseKey } from '../../src/domain/version.ts';
import { answerRead, nextPage, send, serialize } from '../answer.ts';
import { encodeReleaseCursor } from '../cursor.ts';
import { allReleasesCursorParam, booleanParam, dateParam, limitParam, productParam, productReleasesCursorParam, rangeParam, versionParam } from '../query-params.ts';
import type { ReadApi } from '../read-api.ts';
import { errorSchema, releaseSchema } from '../schemas.ts';
import { visibilityOf, visibleProduct } from '../visible-product.ts';

// The release endpoints: the compatible v1 surface (list, latest, next) and what goes beyond it
// (one version, filters, paging). Every answer is one object per version (src/db/release-reads.ts).

// The two lists take the same query but each its own cursor (api/query-params.ts).
const listQuery = <Cursor extends z.ZodType>(cursor: Cursor) =>
  z
    .strictObject({
      limit: limitParam,
      cursor,
      public: booleanParam('Only public (true) or only non-public (false) versions; anonymous readers only ever see public ones'),
      development: booleanParam('Only development (true) or only non-development (false) versions'),
      include_deleted: booleanParam('Also versions whose every tag was deleted from GitHub (they carry `deleted_at`); default false'),
      range: rangeParam,
      since: dateParam('since', 'Only versions created (tagged) at or after this date or instant'),
      until: dateParam('until', 'Only versions created before this instant, or up to the end of this date'),
    })
    .superRefine((query, ctx) => {
      if (query.since !== undefined && query.until !== undefined && query.since >= query.until) {
        ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be later than since' });
      }
    });

const allReleasesQuery = listQuery(allReleasesCursorParam);
const productReleasesQuery = listQuery(productReleasesCursorParam);

type ListQuery = z.output<typeof allReleasesQuery> | z.output<typeof productReleasesQuery>;

function filtersOf(query: ListQuery, visibility: ReleaseFilters['visibility']): ReleaseFilters {
  return {
    visibility,
    public: query.public,
    development: query.development,
    includeDeleted: query.include_deleted ?? false,
    range: query.range,
    since: query.since,
    until: query.until,
  };
}

const positionOf = (release: ReleaseView) => ({
  major: release.major,
  minor: release.minor,
  patch: release.patch,
  prereleaseKey: encodePrereleaseKey(release.prerelease),
});

const listResponses = {
  200: {
    description: 'A bare JSON array of releases, newest first by SemVer precedence. When more follow, `Link: <…>; rel="next"` names the next page.',
    schema: z.array(releaseSchema),
    headers: ['ETag', 'Cache-Control', 'Link'],
  },
  304: { description: 'Not modified (If-None-Match matched the ETag)' },
  400: { description: 'A query parameter is not valid', schema: errorSchema },
  401: { description: 'The bearer token is not valid', schema: errorSchema },
} as const;

const productParams = z.strictObject({ product: productParam });

export function registerReleaseRoutes(router: Router, api: ReadApi): void {
  const { deps, checkToken, catalog } = api;

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/releases',
      operationId: 'listReleases',
      summary: "Every product's releases",
      description:
        'Products in name order (byte order), each product\'s versions newest first by SemVer precedence. Compatible with the Release Registry v1 list.',
      tags: ['releases'],
      auth: 'optional',
      query: allReleasesQuery,
      responses: listResponses,
    },
    async (ctx, { query }) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => {
        const rows = await listAllReleases(deps.db, filtersOf(query, visibilityOf(reader)), {
          limit: query.limit + 1,
          after: query.cursor,
        });
        const { page, nextPath } = nextPage(ctx, rows, query.limit, (last) => encodeReleaseCursor({ ...positionOf(last), product: last.name }));
        return { json: page, nextPath, tags: ['all'] };
      });
    },
  );

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/releases/:product',
      operationId: 'listProductReleases',
      summary: "One product's releases",
      description: 'Newest first by SemVer precedence: `[0]` is the highest version. Compatible with the Release Registry v1 list.',
      tags: ['releases'],
      auth: 'optional',
      params: productParams,
      query: productReleasesQuery,
      responses: { ...listResponses, 404: { description: 'No such product (or not visible without a token)', schema: errorSchema } },
    },
    async (ctx, { params, query }) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => {
        const product = await visibleProduct(deps.db, params.product, reader, deps.cache);
        const rows = await listProductReleases(deps.db, product.id, filtersOf(query, visibilityOf(reader)), {
          limit: query.limit + 1,
          after: query.cursor,
        });
        const { page, nextPath } = nextPage(ctx, rows, query.limit, (last) => encodeReleaseCursor(positionOf(last)));
        return { json: page, nextPath, tags: [product.id] };
      });
    },
  );

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/releases/:product/latest',
      operationId: 'getLatestRelease',
      summary: 'The latest release',
      description:
        'The highest version that is public, not development and not deleted (the same with or without a token). With `range`, the highest such version within it: what an upgrade checker pinned to a line (`~5.3`, `^5`) asks for.',
      tags: ['releases'],
      auth: 'optional',
      params: productParams,
      query: z.strictObject({ range: rangeParam }),
      responses: {
        200: { description: 'The release', schema: releaseSchema, headers: ['ETag', 'Cache-Control'] },
        304: { description: 'Not modified' },
        400: { description: 'The range is not a SemVer range', schema: errorSchema },
        404: { description: 'No such product, or no release qualifies', schema: errorSchema },
      },
    },
    async (ctx, { params, query }) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => {
        const product = await visibleProduct(deps.db, params.product, reader, deps.cache);
        const latest = await findLatestRelease(deps.db, product.id, query.range);
        if (latest === null) {
          const within = query.range === undefined ? '' : ` in the range "${query.range.text}"`;
          throw new NotFoundError('release', `product "${product.name}" has no public, non-development release${within}`);
        }
        return { json: latest, tags: [product.id] };
      });
    },
  );

  catalog.add(
    router,
    {
      method: 'get',
      path: '/v1/releases/:product/:version',
      operationId: 'getRelease',
      summary: 'One release',
      tags: ['releases'],
      auth: 'optional',
      params: z.strictObject({ product: productParam, version: versionParam }),
      query: z.strictObject({ include_deleted: booleanParam('Answer a deleted version too (with `deleted_at`) instead of 404') }),
      responses: {
        200: { description: 'The release', schema: releaseSchema, headers: ['ETag', 'Cache-Control'] },
        304: { description: 'Not modified' },
        400: { description: 'Not a SemVer version', schema: errorSchema },
        404: { description: 'No such product or version (or not visible without a token)', schema: errorSchema },
      },
    },
    async (ctx, { params, query }) => {
      const reader = checkToken(ctx);
      await answerRead(ctx, reader, deps.cache, async () => {
        const product = await visibleProduct(deps.db, params.product, reader, deps.cache);
        const release = await findRelease(deps.db, product.id, params.version, {
          visibility: visibilityOf(reader),
          includeDeleted: query.include_deleted ?? false,
        });
        if (release === null) throw new NotFoundError('release', `product "${product.name}" has no release v${params.version}`);
        return { json: release, tags: [product.id] };
      });
    },
  );

  catalog.add(
    router,
    {
      method: 'post',
      path: '/v1/releases/:product/next/:line',
      operationId: 'nextPatchVersion',
      summary: 'The next patch version of a line',
      description:
        'Plain text `major.minor.patch`: one more than the highest patch of major.minor ever tagged (any visibility, deleted tags included, so a number is never handed out twice); `.0` for a new line. When the highest patch exists only as prereleases (`1.2.0-rc.1`), that patch (`1.2.0`). Computes only, writes nothing.',
      tags: ['releases'],
      auth: 'optional',
      params: z.strictObject({
        product: productParam,
        line: z
          .string()
          .regex(/^v?\d{1,9}\.\d{1,9}$/, 'must be major.minor, for example 5.3')
          .transform((text) => text.replace(/^v/, '').split('.').map(Number) as [number, number])
          .describe('major.minor, for example `5.3`'),
      }),
      query: z.strictObject({}),
      responses: {
        200: { description: 'The version, e.g. `5.3.2`', schema: z.string().regex(/^\d+\.\d+\.\d+$/), contentType: 'text/plain' },
        400: { description: 'Not major.minor', schema: errorSchema },
        404: { description: 'No such product (or not visible without a token)', schema: errorSchema },
      },
    },
    async (ctx, { params }) => {
      const reader = checkToken(ctx);
      const product = await visibleProduct(deps.db, params.product, reader, deps.cache);
      const [major, minor] = params.line;
      const patch = await nextPatch(deps.db, product.id, major, minor);
      send(ctx, reader, serialize({ text: `${major}.${minor}.${patch}`, tags: [] }), { cacheControl: 'no-store' });
    },
  );
}
