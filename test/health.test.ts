import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../api/app.ts';
import { loadConfig } from '../src/config.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { createBoss } from '../src/queues.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './support/database.ts';
import { serve, type TestServer } from './support/http.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';

const health = suite<{ database: TestDatabase; server: TestServer }>('health', {} as never);

health.before(async (context) => {
  context.database = await createTestDatabase({ label: 'health' });
  const config = loadConfig({ DATABASE_URL: context.database.url });
  const boss = createBoss(context.database.url, { logger: quietLogger, applicationName: 'test', maxConnections: 1 });
  context.server = await serve(createApp({ config, logger: quietLogger, db: context.database.db, boss }));
});

health.after(async (context) => {
  await context.server.close();
  await context.database.drop();
});

health('GET /-/healthz answers 200 with the database checked', async ({ server }) => {
  const response = await fetch(`${server.url}/-/healthz`);
  assert.is(response.status, 200);
  const body = (await response.json()) as { status: string; database: string };
  assert.is(body.status, 'ok');
  assert.is(body.database, 'ok');
  assert.is(response.headers.get('cache-control'), 'no-store');
});

health('unknown routes are JSON 404s; known paths under another method are 405 with Allow', async ({ server }) => {
  const missing = await fetch(`${server.url}/no/such/route`);
  assert.is(missing.status, 404);
  assert.equal(await missing.json(), { error: { code: 'not_found', message: 'no route for GET /no/such/route' } });
  const wrongMethod = await fetch(`${server.url}/-/healthz`, { method: 'DELETE' });
  assert.is(wrongMethod.status, 405);
  assert.match(wrongMethod.headers.get('allow') ?? '', /GET/);
  const body = (await wrongMethod.json()) as { error: { code: string } };
  assert.is(body.error.code, 'method_not_allowed');
});

health('with the database out of reach the check answers 503 quickly', async ({ database }) => {
  // The pool reaches the database through a proxy, which then drops everything: the database is down.
  const target = new URL(database.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const db = await createDatabasePool(proxy.via(database.url), {
    logger: quietLogger,
    maximumPoolSize: 1,
    applicationName: 'test',
    connectionTimeoutMs: 500,
  });
  const config = loadConfig({ DATABASE_URL: database.url });
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'test', maxConnections: 1 });
  const server = await serve(createApp({ config, logger: quietLogger, db, boss }));
  try {
    assert.is((await fetch(`${server.url}/-/healthz`)).status, 200, 'up through the proxy');
    proxy.cut();
    const started = performance.now();
    const response = await fetch(`${server.url}/-/healthz`);
    assert.is(response.status, 503);
    assert.is(((await response.json()) as { database: string }).database, 'unavailable');
    // The check gives up after 1 s; without it the answer would wait for the pool's 5 s connection timeout.
    assert.ok(performance.now() - started < 3_000, 'answers within the check timeout');
    proxy.restore();
    assert.is((await fetch(`${server.url}/-/healthz`)).status, 200, 'serves again once the database is back, without a restart');
  } finally {
    await server.close();
    await db.end().catch(() => undefined);
    await proxy.close();
  }
});

health.run();
