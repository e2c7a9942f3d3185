import { compileErrors, dereference, validate } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../api/app.ts';
import { openApiPath, servedRoutes } from '../api/openapi.ts';
import { loadConfig } from '../src/config.ts';
import { createBoss } from '../src/queues.ts';
import { quietLogger } from './support/database.ts';
import { startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases } from './support/seed.ts';

// GET /openapi.json is a valid OpenAPI 3.1 document generated from the zod schemas of the routes;
// it describes every route the router serves, and real answers validate against what it says.

type Document = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters: Array<{ name: string; in: string }>; responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
};

const openapi = suite<{ api: ReadApiHarness; document: Document }>('OpenAPI document', {} as never);

openapi.before(async (context) => {
  context.api = await startReadApi({ label: 'openapi' });
  const products = await defineProducts(context.api.database.db, [productDefinition('app')]);
  const sha = (n: number) => n.toString(16).padStart(40, '0');
  await seedReleases(
    context.api.database.db,
    products.get('app')!,
    [
      { name: 'v1.0.0', refSha: sha(1), gitSha: sha(2), taggedAt: new Date('2024-01-01T00:00:00Z') },
      { name: 'v1.1.0-rc.1', refSha: sha(3), gitSha: null, taggedAt: null },
    ],
    [githubRelease(1, 'v1.0.0')],
  );
  await context.api.database.db.query(sql.unsafe`INSERT INTO webhook_deliveries (delivery_id, event, payload, status, error) VALUES ('d', 'release', '{}', 'failed', 'x')`);
  const response = await context.api.get('/openapi.json');
  assert.is(response.status, 200);
  context.document = (await response.json()) as Document;
});

openapi.after(async (context) => {
  await context.api.stop();
});

openapi('the document is valid OpenAPI 3.1', async ({ document }) => {
  assert.is(document.openapi, '3.1.0');
  const result = await validate(structuredClone(document) as never);
  assert.ok(result.valid, result.valid ? '' : compileErrors(result));
});

openapi('it describes every route the router serves, and nothing it does not', ({ api, document }) => {
  const config = loadConfig({ DATABASE_URL: api.database.url, API_TOKENS: 'x'.repeat(16) });
  const app = createApp({ config, logger: quietLogger, db: api.database.db, boss: createBoss(api.database.url, { logger: quietLogger, applicationName: 'test', maxConnections: 1 }) });
  // The router is the last middleware but one (allowedMethods); find it by its stack.
  const router = (app.middleware as Array<{ router?: Parameters<typeof servedRoutes>[0] }>).find((middleware) => middleware.router !== undefined)?.router;
  assert.ok(router !== undefined, 'found the router');
  const served = servedRoutes(router)
    .map((route) => `${route.method} ${openApiPath(route.path)}`)
    .sort();
  const described = Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`))
    .sort();
  assert.equal(described, served);
  for (const expected of [
    'get /-/healthz',
    'get /-/readyz',
    'get /-/version',
    'get /metrics',
    'get /openapi.json',
    'get /v1/releases',
    'get /v1/releases/{product}',
    'get /v1/releases/{product}/latest',
    'get /v1/releases/{product}/{version}',
    'post /v1/releases/{product}/next/{line}',
    'get /v1/products',
    'get /v1/products/{product}',
    'post /v1/products/{product}/sync',
    'get /v1/events',
    'get /v1/admin/deliveries',
  ]) {
    assert.ok(described.includes(expected), expected);
  }
});

openapi('query parameters are documented from the schemas that parse them', ({ document }) => {
  const list = document.paths['/v1/releases/{product}']!.get!;
  assert.equal(
    list.parameters.map((parameter) => `${parameter.in}:${parameter.name}`),
    ['path:product', 'query:limit', 'query:cursor', 'query:public', 'query:development', 'query:include_deleted', 'query:range', 'query:since', 'query:until'],
  );
  const operationIds = Object.values(document.paths).flatMap((operations) => Object.values(operations).map((operation) => operation.operationId));
  assert.is(new Set(operationIds).size, operationIds.length, 'operation ids are unique');
});

openapi('real answers validate against the documented response schemas', async ({ api, document }) => {
  const resolved = (await dereference(structuredClone(document) as never)) as unknown as Document;
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const requests: Array<[string, string, string, boolean]> = [
    ['/v1/releases', '/v1/releases', 'get', false],
    ['/v1/releases/{product}', '/v1/releases/app?include_deleted=true', 'get', true],
    ['/v1/releases/{product}/latest', '/v1/releases/app/latest', 'get', false],
    ['/v1/releases/{product}/{version}', '/v1/releases/app/v1.1.0-rc.1', 'get', true],
    ['/v1/products', '/v1/products', 'get', true],
    ['/v1/products/{product}', '/v1/products/app', 'get', false],
    ['/v1/events', '/v1/events', 'get', true],
    ['/v1/admin/deliveries', '/v1/admin/deliveries', 'get', true],
    ['/-/healthz', '/-/healthz', 'get', false],
    ['/-/readyz', '/-/readyz', 'get', false],
    ['/-/version', '/-/version', 'get', false],
  ];
  for (const [path, url, method, token] of requests) {
    const response = await api.get(url, { token });
    assert.is(response.status, 200, url);
    const schema = resolved.paths[path]![method]!.responses['200']!.content!['application/json']!.schema;
    const body: unknown = await response.json();
    const check = ajv.compile(schema);
    assert.ok(check(body), `${url}: ${ajv.errorsText(check.errors)}`);
  }
  // Error answers are documented where routes give them.
  const errors: Array<[string, string, string]> = [
    ['/v1/products', '/v1/products?x=1', '400'],
    ['/v1/products/{product}', '/v1/products/BAD', '400'],
    ['/v1/products/{product}', '/v1/products/nope', '404'],
    ['/v1/releases/{product}', '/v1/releases/app?range=nope', '400'],
  ];
  for (const [path, url, status] of errors) {
    const response = await api.get(url, { token: true });
    assert.is(String(response.status), status, url);
    assert.ok(resolved.paths[path]!.get!.responses[status], `${path} documents ${status}`);
  }
  const notFound = await api.get('/v1/releases/nope');
  const errorSchema = resolved.paths['/v1/releases/{product}']!.get!.responses['404']!.content!['application/json']!.schema;
  const check = ajv.compile(errorSchema);
  assert.ok(check(await notFound.json()), 'error answers match the Error schema');
});

openapi.run();
