import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { QUEUES } from '../src/queues.ts';
import { AUTH, readPage, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, productDefinition } from './support/seed.ts';

// Admin calls (token required): POST /v1/products/:product/sync enqueues a sync-product job, at most
// one queued or running per product; GET /v1/admin/deliveries lists stored webhook deliveries.

const admin = suite<{ api: ReadApiHarness }>('read API admin calls', {} as never);

admin.before(async (context) => {
  context.api = await startReadApi({ label: 'admin', queues: true });
  await defineProducts(context.api.database.db, [productDefinition('app'), productDefinition('internal', { public: false }), productDefinition('spare')]);
  // 130 failed deliveries, some processed ones; received_at spread, two sharing an instant.
  await context.api.database.db.query(sql.unsafe`
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository_full_name, product_ids, payload, status, error, attempts, received_at)
    SELECT 'failed-' || lpad(n::text, 3, '0'), 'release', 'published', 'acme/app', ARRAY(SELECT id FROM products WHERE name = 'app'),
           '{"big": true}', 'failed', 'processing failed: ' || n, 5,
           timestamptz '2024-01-01 00:00:00+00' + (CASE WHEN n = 2 THEN 1 ELSE n END) * interval '1 second' + interval '123 microseconds'
    FROM generate_series(1, 130) n`);
  await context.api.database.db.query(sql.unsafe`
    INSERT INTO webhook_deliveries (delivery_id, event, payload, status) SELECT 'ok-' || n, 'push', '{}', 'processed' FROM generate_series(1, 5) n`);
});

admin.after(async (context) => {
  await context.api.stop();
});

function post(api: ReadApiHarness, path: string, init: { body?: string; headers?: Record<string, string>; token?: boolean } = {}) {
  return fetch(`${api.server.url}${path}`, {
    method: 'POST',
    headers: { ...(init.token === false ? {} : AUTH), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

const jobCount = (api: ReadApiHarness) => api.boss.findJobs(QUEUES.syncProduct, { limit: 1000 }).then((jobs) => jobs.length);

admin('a sync request enqueues a sync-product job with the data contract and answers 202 with its id', async ({ api }) => {
  const response = await post(api, '/v1/products/app/sync', { body: '{"mode":"full"}', headers: { 'Content-Type': 'application/json' } });
  assert.is(response.status, 202);
  const body = (await response.json()) as { job_id: string; product: string; mode: string; already_queued: boolean };
  assert.equal({ ...body, job_id: 'x' }, { job_id: 'x', product: 'app', mode: 'full', already_queued: false });
  const [job] = await api.boss.findJobs(QUEUES.syncProduct, { id: body.job_id });
  assert.ok(job !== undefined);
  assert.equal(job.data, { product: 'app', reason: 'admin', mode: 'full' });
  assert.is(job.singletonKey, 'app');
});

admin('a second request while one is queued answers 202 with the same job, and queues nothing more', async ({ api }) => {
  const before = await jobCount(api);
  const first = (await (await post(api, '/v1/products/app/sync')).json()) as { job_id: string };
  const second = await post(api, '/v1/products/app/sync', { body: '{"mode":"incremental"}', headers: { 'Content-Type': 'application/json' } });
  assert.is(second.status, 202);
  const body = (await second.json()) as { job_id: string; already_queued: boolean; mode: string };
  assert.is(body.job_id, first.job_id);
  assert.is(body.already_queued, true);
  assert.is(body.mode, 'full', "the queued job's mode");
  assert.is(await jobCount(api), before);
});

admin('an empty body is allowed; non-public products can be synced with a token', async ({ api }) => {
  const response = await post(api, '/v1/products/internal/sync');
  assert.is(response.status, 202);
  assert.is(((await response.json()) as { mode: null }).mode, null);
});

admin('bad requests are refused and enqueue nothing', async ({ api }) => {
  const before = await jobCount(api);
  const cases: Array<[string, Parameters<typeof post>[2], number, string]> = [
    ['/v1/products/spare/sync', { token: false }, 401, 'unauthorized'],
    ['/v1/products/spare/sync', { headers: { Authorization: 'Bearer wrong-token-wrong-token' }, token: false }, 401, 'unauthorized'],
    ['/v1/products/spare/sync', { body: '{"mode":"sometimes"}', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid_input'],
    ['/v1/products/spare/sync', { body: '{"mode":"full","force":true}', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid_input'],
    ['/v1/products/spare/sync', { body: '{"mode":', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid_input'],
    ['/v1/products/spare/sync', { body: 'mode=full', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type'],
    ['/v1/products/spare/sync', { body: `{"mode":"${'x'.repeat(20_000)}"}`, headers: { 'Content-Type': 'application/json' } }, 413, 'payload_too_large'],
    ['/v1/products/nope/sync', {}, 404, 'not_found'],
  ];
  for (const [path, init, status, code] of cases) {
    const response = await post(api, path, init);
    assert.is(response.status, status, `${status} ${code}`);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.is(body.error.code, code);
  }
  const mode = await post(api, '/v1/products/spare/sync', { body: '{"mode":"sometimes"}', headers: { 'Content-Type': 'application/json' } });
  assert.match(((await mode.json()) as { error: { message: string } }).error.message, /body field "mode": must be "full" or "incremental"/);
  assert.is(await jobCount(api), before, 'no job');
});

admin('GET /v1/admin/deliveries lists failed deliveries, newest first, paged without gaps', async ({ api }) => {
  const seen: Array<{ delivery_id: string; status: string; error: string }> = [];
  let next: string | null = `${api.server.url}/v1/admin/deliveries?limit=50`;
  while (next !== null) {
    const response = await fetch(next, { headers: AUTH });
    assert.is(response.status, 200);
    assert.is(response.headers.get('cache-control'), 'private');
    const page: { items: typeof seen; next: string | null } = await readPage(response);
    seen.push(...page.items);
    next = page.next;
  }
  assert.is(seen.length, 130);
  assert.is(new Set(seen.map((delivery) => delivery.delivery_id)).size, 130, 'no duplicates');
  assert.ok(seen.every((delivery) => delivery.status === 'failed'));
  assert.is(seen[0]!.delivery_id, 'failed-130');
  assert.equal(seen.slice(-2).map((delivery) => delivery.delivery_id).sort(), ['failed-001', 'failed-002'], 'two at one instant, both');
  assert.not.ok('payload' in (seen[0] as object), 'no payloads in the listing');
  const processed = (await (await api.get('/v1/admin/deliveries?status=processed', { token: true })).json()) as unknown[];
  assert.is(processed.length, 5);
});

admin('the deliveries listing needs a token and a known status', async ({ api }) => {
  assert.is((await api.get('/v1/admin/deliveries')).status, 401);
  const bad = await api.get('/v1/admin/deliveries?status=broken', { token: true });
  assert.is(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /status.*must be one of/);
  assert.is((await api.get('/v1/admin/deliveries?cursor=abc', { token: true })).status, 400);
  const outOfRange = Buffer.from(JSON.stringify(['99999999999999999999', 'd-1'])).toString('base64url');
  assert.is((await api.get(`/v1/admin/deliveries?cursor=${outOfRange}`, { token: true })).status, 400, 'a position past bigint is refused, not a 500');
  const notAnId = Buffer.from(JSON.stringify(['1700000000000000', 'd\u0000'])).toString('base64url');
  assert.is((await api.get(`/v1/admin/deliveries?cursor=${notAnId}`, { token: true })).status, 400, 'a delivery id GitHub never sends is refused, not a 500');
  const count = await api.database.db.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM webhook_deliveries`);
  assert.is(count, 135, 'reads write nothing');
});

admin.run();
