import { Router } from '@koa/router';
import Koa from 'koa';
import type { PgBoss } from 'pg-boss';
import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { createApp } from '../api/app.ts';
import { errorMiddleware } from '../api/error-middleware.ts';
import { loadConfig } from '../src/config.ts';
import { createDatabasePool, type Database } from '../src/db/pool.ts';
import { isDatabaseUnavailable } from '../src/db/unavailable.ts';
import { Lifecycle } from '../src/lifecycle.ts';
import { createBoss } from '../src/queues.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { serve, type TestServer } from './support/http.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';

// While PostgreSQL is out of reach the API answers at once: 503 `service_unavailable` with
// Retry-After for requests that need the database, 503 from readiness and health; and it serves
// again as soon as the database is back, without a restart. "At once" is checked as "does not hang":
// every request carries a 5 s abort signal.

type Context = {
  database: TestDatabase;
  proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  db: Database;
  boss: PgBoss;
  lifecycle: Lifecycle;
  api: TestServer;
  plain: TestServer;
};
const outage = suite<Context>('database unavailable', {} as never);

outage.before(async (context) => {
  context.database = await createTestDatabase({ label: 'unavailable' });
  const target = new URL(context.database.url);
  context.proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  context.db = await createDatabasePool(context.proxy.via(context.database.url), {
    logger: quietLogger,
    maximumPoolSize: 2,
    applicationName: 'release-registry-unavailable-test',
    connectionTimeoutMs: 2_000,
    acquireTimeoutMs: 2_000,
  });
  context.boss = createBoss(context.database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 1 });
  context.lifecycle = new Lifecycle();
  context.lifecycle.markReady();
  const config = loadConfig({ DATABASE_URL: context.database.url });
  context.api = await serve(createApp({ config, logger: quietLogger, db: context.db, boss: context.boss, lifecycle: context.lifecycle }));
  // A route that needs the database, and one with a bug, behind the API's error middleware.
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware(quietLogger));
  const router = new Router();
  router.get('/count', async (ctx) => {
    ctx.body = { products: await context.db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM products`) };
  });
  router.get('/bug', async (ctx) => {
    ctx.body = await context.db.oneFirst(sql.type(z.object({ x: z.number() }))`SELECT no_such_column AS x FROM products`);
  });
  app.use(router.routes());
  context.plain = await serve(app);
});

outage.after(async (context) => {
  await context.api.close();
  await context.plain.close();
  await context.db.end();
  await context.proxy.close();
  await context.database.drop();
});

const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(5_000) });

outage('while the database is down: 503 service_unavailable with Retry-After; back without a restart', async ({ proxy, api, plain }) => {
  assert.is((await get(`${plain.url}/count`)).status, 200);
  assert.is((await get(`${api.url}/-/readyz`)).status, 200);

  proxy.cut();
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const response = await get(`${plain.url}/count`);
    assert.is(response.status, 503, `attempt ${attempt}`);
    assert.is(response.headers.get('retry-after'), '1');
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error, { code: 'service_unavailable', message: 'the database is unavailable, try again shortly' });
  }
  const ready = await get(`${api.url}/-/readyz`);
  assert.is(ready.status, 503);
  assert.equal(((await ready.json()) as { database: string; lifecycle: string }).database, 'unavailable');
  assert.is((await get(`${api.url}/-/healthz`)).status, 503);
  assert.is((await get(`${api.url}/metrics`)).status, 200, 'metrics still answer');

  proxy.restore();
  assert.is((await get(`${plain.url}/count`)).status, 200, 'the pool reconnects on the next request');
  assert.is((await get(`${api.url}/-/readyz`)).status, 200);
});

outage('a query that is wrong is a 500, not a 503', async ({ plain }) => {
  const response = await get(`${plain.url}/bug`);
  assert.is(response.status, 500);
  assert.equal(await response.json(), { error: { code: 'internal_error', message: 'internal error' } });
});

outage('a stopping API is not ready and closes keep-alive connections', async ({ api, lifecycle }) => {
  lifecycle.markStopping();
  const response = await get(`${api.url}/-/readyz`);
  assert.is(response.status, 503);
  assert.equal(await response.json(), { status: 'not_ready', lifecycle: 'stopping', database: 'unchecked', durationMs: 0 });
  assert.is(response.headers.get('connection'), 'close');
  assert.is((await get(`${api.url}/-/healthz`)).status, 200, 'still alive while it drains');
});

outage('which errors mean "unavailable"', () => {
  const refused = Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })]), {
    message: '',
  });
  const withCode = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code });
  assert.ok(isDatabaseUnavailable(refused), 'refused on every address');
  assert.ok(isDatabaseUnavailable(new Error('wrapped', { cause: withCode('57P01') })), 'admin shutdown, in a cause');
  assert.ok(isDatabaseUnavailable(withCode('57P03')), 'starting up');
  assert.ok(isDatabaseUnavailable(withCode('08006')), 'connection failure');
  assert.ok(isDatabaseUnavailable(withCode('53300')), 'too many connections');
  assert.ok(isDatabaseUnavailable(new Error('Connection terminated unexpectedly')));
  assert.not.ok(isDatabaseUnavailable(withCode('42601')), 'syntax error');
  assert.not.ok(isDatabaseUnavailable(withCode('23505')), 'unique violation');
  assert.not.ok(isDatabaseUnavailable(withCode('08P01')), 'a message the server refused (too many parameters): our bug');
  assert.not.ok(isDatabaseUnavailable(new TypeError('x is undefined')));
  assert.not.ok(isDatabaseUnavailable('ECONNREFUSED'));
});

outage.run();
