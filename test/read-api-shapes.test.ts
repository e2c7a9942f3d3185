import semver from 'semver';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { deliverySchema, eventSchema, productSchema, releaseSchema } from '../api/schemas.ts';
import { DEFAULT_TAG_PATTERN, parseTag } from '../src/domain/version.ts';
import { readTagList } from './support/fixtures.ts';
import { eventually } from './support/eventually.ts';
import { startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases, tagFactFromFixture } from './support/seed.ts';

// Every endpoint answers the shapes it documents, and the release object keeps the compatible v1
// contract that existing clients decode (the Release Registry's ReleaseInfo: id, name, public,
// created_at, promoted_at, version, git_sha, is_development, tags, canonical_name). The contract
// schema below is written independently of the API's own schemas, from that client contract.


const rfc3339 = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/, 'RFC 3339')
  .refine((text) => !Number.isNaN(Date.parse(text)), 'a real instant');

const INT32_MAX = 2 ** 31 - 1;

/** The v1 release object as clients decode it (Go: int32 id, time.Time, *time.Time, string…). */
const compatibleRelease = z.looseObject({
  id: z.number().int().min(1).max(INT32_MAX),
  name: z.string().min(1),
  public: z.boolean(),
  created_at: rfc3339,
  promoted_at: rfc3339.nullable(),
  version: z.string().regex(/^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/),
  git_sha: z.string(),
  is_development: z.boolean(),
  tags: z.array(z.string()),
  canonical_name: z.string().min(1),
});

function assertParses(schema: z.ZodType, value: unknown, what: string): void {
  const result = schema.safeParse(value);
  assert.ok(result.success, `${what}: ${result.success ? '' : JSON.stringify(result.error.issues.slice(0, 3))}`);
}

const shapes = suite<{ api: ReadApiHarness; latestExpected: string; publishedVersions: string[] }>('read API shapes', {} as never);

shapes.before(async (context) => {
  context.api = await startReadApi({ label: 'shapes', queues: true });
  const { db } = context.api.database;
  const products = await defineProducts(db, [productDefinition('helm', { repository: 'helm/helm' })]);
  const helm = products.get('helm')!;
  const tags = readTagList('helm__helm').map(tagFactFromFixture);
  // v3.x finals get a published release; v3.12.0-rc.1 a release marked prerelease; one draft.
  const published = tags.filter((tag) => /^v3\.\d+\.\d+$/.test(tag.name));
  await seedReleases(db, helm, tags, [
    ...published.map((tag, index) => githubRelease(index + 1, tag.name)),
    githubRelease(9_001, 'v3.12.0-rc.1', { prerelease: true }),
    githubRelease(9_002, 'v2.16.1', { draft: true, publishedAt: null }),
  ]);
  context.publishedVersions = published.map((tag) => parseTag(tag.name, DEFAULT_TAG_PATTERN)!.version);
  context.latestExpected = `v${published.map((tag) => parseTag(tag.name, DEFAULT_TAG_PATTERN)!.version).sort(semver.rcompare)[0]}`;
  await db.query(sql.unsafe`
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository_full_name, product_ids, payload, status, error, attempts)
    VALUES ('d-1', 'release', 'published', 'helm/helm', ARRAY[${helm.id}::int], '{}', 'failed', 'boom', 5)`);
});

shapes.after(async (context) => {
  await context.api.stop();
});

shapes('GET /v1/releases and /v1/releases/:product are bare arrays of compatible release objects, [0] the highest', async ({ api }) => {
  for (const path of ['/v1/releases', '/v1/releases/helm', '/v1/releases/helm?limit=1000']) {
    for (const token of [false, true]) {
      const response = await api.get(path, { token });
      assert.is(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await response.json()) as unknown[];
      assert.ok(Array.isArray(body) && body.length > 0, `${path} is a non-empty bare array`);
      for (const item of body) {
        assertParses(compatibleRelease, item, path);
        assertParses(releaseSchema, item, path);
      }
      const versions = (body as Array<{ version: string }>).map((item) => item.version.slice(1));
      assert.equal(versions, [...versions].sort(semver.rcompare), `${path} is newest first`);
    }
  }
});

shapes('GET /v1/releases/:product/latest is one object: the highest public, non-development version', async ({ api, latestExpected }) => {
  const response = await api.get('/v1/releases/helm/latest');
  assert.is(response.status, 200);
  const latest = (await response.json()) as z.infer<typeof releaseSchema>;
  assertParses(compatibleRelease, latest, 'latest');
  assertParses(releaseSchema, latest, 'latest');
  assert.is(latest.version, latestExpected);
  assert.is(latest.public, true);
  assert.is(latest.is_development, false);
  assert.is(latest.name, 'helm');
  assert.is(latest.canonical_name, latestExpected);
  assert.ok(latest.tags.includes(latestExpected));
  assert.is(latest.git_sha.length, 40);
  assert.is(latest.promoted_at, '2024-01-02T00:00:00.000Z');
});

shapes('GET /v1/releases/:product/latest?range= is the highest public, non-development version in the range', async ({ api, publishedVersions }) => {
  const ranges = ['~3.5', '^3.0.0', '3.10.x', '>=3.2 <3.7', '<3.1.0', '3.12.0 - 3.12.3', '~3.12.0-rc.0'];
  let answered = 0;
  for (const range of ranges) {
    const expected = semver.maxSatisfying(publishedVersions, range);
    const response = await api.get(`/v1/releases/helm/latest?range=${encodeURIComponent(range)}`);
    if (expected === null) {
      assert.is(response.status, 404, `${range}: nothing qualifies`);
      assert.match(((await response.json()) as { error: { message: string } }).error.message, `in the range "${range}"`);
      continue;
    }
    assert.is(response.status, 200, range);
    assert.is(((await response.json()) as { version: string }).version, `v${expected}`, range);
    answered += 1;
  }
  assert.ok(answered >= 5, 'most ranges name versions that exist');
  const nothing = await api.get('/v1/releases/helm/latest?range=%5E9');
  assert.is(nothing.status, 404);
  const bad = await api.get('/v1/releases/helm/latest?range=not-a-range');
  assert.is(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, 'not a valid SemVer range');
});

shapes('a release marked prerelease on GitHub is development; drafts are never public', async ({ api }) => {
  const rc = (await (await api.get('/v1/releases/helm/v3.12.0-rc.1')).json()) as z.infer<typeof releaseSchema>;
  assert.is(rc.is_development, true);
  assert.is(rc.public, true);
  const draft = await api.get('/v1/releases/helm/2.16.1', { token: true });
  assert.is(draft.status, 200, 'found with or without v');
  const body = (await draft.json()) as z.infer<typeof releaseSchema>;
  assert.is(body.public, false);
  assert.is(body.promoted_at, null);
  assert.is(body.version, 'v2.16.1');
});

shapes('POST /v1/releases/:product/next/:major.:minor answers plain text major.minor.patch', async ({ api }) => {
  const response = await fetch(`${api.server.url}/v1/releases/helm/next/3.12`, { method: 'POST' });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  assert.match(text, /^3\.12\.\d+$/, 'no v, no newline');
});

shapes('GET /v1/products and /v1/products/:product answer product objects', async ({ api, latestExpected }) => {
  const list = (await (await api.get('/v1/products')).json()) as unknown[];
  assert.is(list.length, 1);
  assertParses(productSchema, list[0], 'product');
  const one = (await (await api.get('/v1/products/helm')).json()) as z.infer<typeof productSchema>;
  assertParses(productSchema, one, 'product');
  assert.is(one.latest_version, latestExpected);
  assert.is(one.repository, 'helm/helm');
  assert.ok(one.release_count > 10);
});

shapes('GET /v1/events answers events, each with its release', async ({ api }) => {
  const events = await eventually(
    async () => (await (await api.get('/v1/events?limit=50', { token: true })).json()) as unknown[],
    (list) => list.length === 50,
    'a full page of events',
  );
  for (const event of events) {
    assertParses(eventSchema, event, 'event');
    assertParses(compatibleRelease, (event as { release: unknown }).release, 'event release');
  }
});

shapes('admin answers: deliveries and the sync request', async ({ api }) => {
  const deliveries = (await (await api.get('/v1/admin/deliveries?status=failed', { token: true })).json()) as unknown[];
  assert.is(deliveries.length, 1);
  assertParses(deliverySchema, deliveries[0], 'delivery');
  assert.is((deliveries[0] as { products: string[] }).products[0], 'helm');
  const sync = await fetch(`${api.server.url}/v1/products/helm/sync`, { method: 'POST', headers: { Authorization: 'Bearer test-token-0123456789abcdef' } });
  assert.is(sync.status, 202);
  const body = (await sync.json()) as { job_id: string; product: string; already_queued: boolean };
  assert.match(body.job_id, /^[0-9a-f-]{36}$/);
  assert.is(body.product, 'helm');
});

shapes('errors are JSON { error: { code, message } } with the right status', async ({ api }) => {
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/v1/releases/nope', 404, 'not_found'],
    ['GET', '/v1/releases/helm/latest/extra', 404, 'not_found'],
    ['GET', '/v1/releases/helm?limit=5000', 400, 'invalid_input'],
    ['GET', '/v1/releases/helm?since=yesterday', 400, 'invalid_input'],
    ['GET', '/v1/releases/helm?since=2024-01-02&until=2024-01-01', 400, 'invalid_input'],
    ['GET', '/v1/releases/helm?since=2024-02-30T00:00:00Z', 400, 'invalid_input'],
    ['GET', '/v1/releases/helm?until=2024-04-30T24:00:00Z', 400, 'invalid_input'],
    ['GET', '/v1/releases/helm?since=2024-04-30T12:00:00%2B24:00', 400, 'invalid_input'],
    ['GET', `/v1/releases/helm/latest?range=${encodeURIComponent(Array.from({ length: 33 }, (_, index) => `${index}.x`).join(' || '))}`, 400, 'invalid_input'],
    ['GET', `/v1/releases/helm?range=${encodeURIComponent(Array.from({ length: 20 }, () => '0 1 2 3 4 5 6 7 8 9').join(' || '))}`, 400, 'invalid_input'],
    ['GET', '/v1/releases/helm/not-a-version', 400, 'invalid_input'],
    ['DELETE', '/v1/releases/helm', 405, 'method_not_allowed'],
    ['GET', '/v1/releases/helm/next/3.1', 405, 'method_not_allowed'],
    ['POST', '/v1/releases/helm/next/three', 400, 'invalid_input'],
    ['GET', '/v1/admin/deliveries', 401, 'unauthorized'],
    ['GET', '/v1/events?after=abc', 400, 'invalid_input'],
  ];
  for (const valid of ['since=2024-02-29T23:59:59.5%2B01:00', 'until=2024-12-31T23:59:59Z', `range=${encodeURIComponent('>=1 <2 || ^3')}`]) {
    assert.is((await fetch(`${api.server.url}/v1/releases/helm?${valid}`)).status, 200, valid);
  }
  for (const [method, path, status, code] of cases) {
    const response = await fetch(`${api.server.url}${path}`, { method });
    assert.is(response.status, status, `${method} ${path}`);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.is(body.error.code, code, `${method} ${path}`);
    assert.type(body.error.message, 'string');
    assert.ok(body.error.message.length > 5);
  }
});

shapes.run();
