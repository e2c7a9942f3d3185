import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, productDefinition, seedReleases, syntheticTags } from './support/seed.ts';

// A page on another origin (a documentation site) reads the public API from the browser: the
// answers carry the CORS headers a browser checks, preflights allow conditional reads but not a
// token, and nothing but reads of the public API is opened to other origins.

const cors = suite<{ api: ReadApiHarness }>('read API CORS', {} as never);
const ORIGIN = { Origin: 'https://docs.example.com' };

cors.before(async (context) => {
  context.api = await startReadApi({ label: 'cors' });
  const { db } = context.api.database;
  const products = await defineProducts(db, [productDefinition('app', { plainTagsPublic: true })]);
  await seedReleases(db, products.get('app')!, syntheticTags(5));
});

cors.after(async ({ api }) => {
  await api.stop();
});

cors('public reads carry Access-Control-Allow-Origin *, with ETag and Link readable, with or without an Origin', async ({ api }) => {
  for (const headers of [ORIGIN, {}]) {
    for (const path of ['/v1/releases/app/latest', '/v1/releases/app?limit=1', '/v1/products', '/openapi.json']) {
      const response = await api.get(path, { headers });
      assert.is(response.status, 200, path);
      assert.is(response.headers.get('access-control-allow-origin'), '*', path);
      assert.is(response.headers.get('access-control-expose-headers'), 'ETag, Link', path);
    }
  }
  const page = await api.get('/v1/releases/app?limit=1', { headers: ORIGIN });
  assert.match(page.headers.get('link') ?? '', /rel="next"/, 'the exposed Link is there to read');
  const etag = page.headers.get('etag')!;
  const notModified = await api.get('/v1/releases/app?limit=1', { headers: { ...ORIGIN, 'If-None-Match': etag } });
  assert.is(notModified.status, 304);
  assert.is(notModified.headers.get('access-control-allow-origin'), '*', 'a 304 is readable too');
});

cors('error answers of reads are readable by the page', async ({ api }) => {
  const missing = await api.get('/v1/releases/nope/latest', { headers: ORIGIN });
  assert.is(missing.status, 404);
  assert.is(missing.headers.get('access-control-allow-origin'), '*');
  assert.is(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
  const bad = await api.get('/v1/releases/app?range=nonsense', { headers: ORIGIN });
  assert.is(bad.status, 400);
  assert.is(bad.headers.get('access-control-allow-origin'), '*');
});

cors('a preflight allows GET and HEAD with If-None-Match, never Authorization', async ({ api }) => {
  const response = await fetch(`${api.server.url}/v1/releases/app/latest`, {
    method: 'OPTIONS',
    headers: { ...ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization, if-none-match' },
  });
  assert.is(response.status, 204);
  assert.is(response.headers.get('access-control-allow-origin'), '*');
  assert.is(response.headers.get('access-control-allow-methods'), 'GET, HEAD');
  const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
  assert.equal(allowed, ['if-none-match']);
  assert.not.ok(allowed.includes('authorization'), 'a page cannot send an API token across origins');
  assert.is(response.headers.get('access-control-max-age'), '86400');
});

cors('webhooks, writes, health and metrics are not opened to other origins', async ({ api }) => {
  const webhook = await fetch(`${api.server.url}/webhooks/github`, {
    method: 'OPTIONS',
    headers: { ...ORIGIN, 'Access-Control-Request-Method': 'POST' },
  });
  assert.is(webhook.headers.get('access-control-allow-origin'), null);
  const next = await fetch(`${api.server.url}/v1/releases/app/next/0.0`, { method: 'POST', headers: ORIGIN });
  assert.is(next.status, 200, 'the call itself works for tooling');
  assert.is(next.headers.get('access-control-allow-origin'), null, 'but a page cannot read it');
  for (const path of ['/-/healthz', '/metrics']) {
    const response = await api.get(path, { headers: ORIGIN });
    assert.is(response.headers.get('access-control-allow-origin'), null, path);
  }
});

cors.run();
