import { sql } from 'slonik';
import { suite } from 'uvu';
import { z } from 'zod';
import * as assert from 'uvu/assert';
import { upsertGithubReleases } from '../src/db/releases.ts';
import { AUTH, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases } from './support/seed.ts';
import type { Product } from '../src/db/products.ts';

// HTTP caching: an ETag on every GET, If-None-Match answered 304 without a body, Cache-Control
// public for anonymous answers and private for token ones (Vary: Authorization), and a new ETag
// once the data changes.

const conditional = suite<{ api: ReadApiHarness; product: Product; lastChange: number }>('read API conditional requests', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');

conditional.before(async (context) => {
  context.api = await startReadApi({ label: 'conditional' });
  const products = await defineProducts(context.api.database.db, [productDefinition('app')]);
  context.product = products.get('app')!;
  await seedReleases(
    context.api.database.db,
    context.product,
    [1, 2, 3].map((n) => ({ name: `v1.${n}.0`, refSha: sha(n), gitSha: sha(n + 9), taggedAt: new Date(Date.UTC(2024, 0, n)) })),
    [githubRelease(1, 'v1.1.0'), githubRelease(2, 'v1.2.0')],
  );
  await context.api.database.db.query(sql.unsafe`INSERT INTO webhook_deliveries (delivery_id, event, payload, status) VALUES ('d-1', 'ping', '{}', 'failed')`);
  context.lastChange = await context.api.database.db.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT max(id)::int AS id FROM release_changes`);
});

conditional.after(async (context) => {
  await context.api.stop();
});

const GETS = [
  '/v1/releases',
  '/v1/releases/app',
  '/v1/releases/app?limit=1',
  '/v1/releases/app/latest',
  '/v1/releases/app/v1.1.0',
  '/v1/products',
  '/v1/products/app',
  '/v1/events',
  '/openapi.json',
];

conditional('every GET has an ETag, and If-None-Match with it answers 304 without a body', async ({ api, lastChange }) => {
  // The feed after the last change stays empty (a page before it could grow between two requests,
  // as the feed's horizon moves with transactions anywhere on the server).
  for (const path of [...GETS.filter((path) => path !== '/v1/events'), `/v1/events?after=${lastChange}`, '/v1/admin/deliveries']) {
    const token = path.startsWith('/v1/admin');
    const first = await api.get(path, { token });
    assert.is(first.status, 200, path);
    const etag = first.headers.get('etag');
    assert.ok(etag !== null && /^"[^"]+"$/.test(etag), `${path}: strong ETag`);
    await first.arrayBuffer();
    const again = await api.get(path, { token, headers: { 'If-None-Match': etag } });
    assert.is(again.status, 304, path);
    assert.is(again.headers.get('etag'), etag);
    assert.is(await again.text(), '', `${path}: no body`);
    const weak = await api.get(path, { token, headers: { 'If-None-Match': `"other", W/${etag}` } });
    assert.is(weak.status, 304, `${path}: weak comparison, lists`);
    const other = await api.get(path, { token, headers: { 'If-None-Match': '"something-else"' } });
    assert.is(other.status, 200, `${path}: another ETag gets the body`);
    await other.arrayBuffer();
  }
});

conditional('Cache-Control is public for a minute without a token, private with one; Vary names Authorization', async ({ api }) => {
  for (const path of GETS.filter((path) => path !== '/v1/events' && path !== '/openapi.json')) {
    const anonymous = await api.get(path);
    assert.is(anonymous.headers.get('cache-control'), 'public, max-age=60', path);
    assert.is(anonymous.headers.get('vary'), 'Authorization', path);
    const withToken = await api.get(path, { token: true });
    assert.is(withToken.headers.get('cache-control'), 'private', path);
  }
  assert.is((await api.get('/openapi.json')).headers.get('cache-control'), 'public, max-age=60');
  // A feed answer is out of date at the next commit: caches may keep it but must revalidate.
  assert.is((await api.get('/v1/events')).headers.get('cache-control'), 'public, no-cache');
  assert.is((await api.get('/v1/events', { token: true })).headers.get('cache-control'), 'private, no-cache');
  assert.is((await fetch(`${api.server.url}/v1/releases/app/next/1.1`, { method: 'POST' })).headers.get('cache-control'), 'no-store');
});

conditional('the ETag changes when the data does, and the old one no longer matches', async ({ api, product }) => {
  const before = await api.get('/v1/releases/app/latest');
  const etag = before.headers.get('etag')!;
  assert.is(((await before.json()) as { version: string }).version, 'v1.2.0');
  await api.database.db.transaction((transaction) => upsertGithubReleases(transaction, product.id, [githubRelease(3, 'v1.3.0')]));
  const after = await api.get('/v1/releases/app/latest', { headers: { 'If-None-Match': etag } });
  assert.is(after.status, 200);
  assert.is(((await after.json()) as { version: string }).version, 'v1.3.0');
  assert.is.not(after.headers.get('etag'), etag);
});

conditional('HEAD answers the headers of GET without the body', async ({ api }) => {
  const get = await api.get('/v1/releases/app');
  const head = await fetch(`${api.server.url}/v1/releases/app`, { method: 'HEAD', headers: {} });
  assert.is(head.status, 200);
  assert.is(head.headers.get('etag'), get.headers.get('etag'));
  assert.is(await head.text(), '');
  const withToken = await fetch(`${api.server.url}/v1/releases/app`, { method: 'HEAD', headers: AUTH });
  assert.is(withToken.headers.get('cache-control'), 'private');
});

conditional.run();
