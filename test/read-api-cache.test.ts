import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../api/app.ts';
import { startLiveCache, type LiveCache } from '../api/live-cache.ts';
import { ResponseCache } from '../api/response-cache.ts';
import { loadConfig } from '../src/config.ts';
import { syncProductDefinitions, type Product } from '../src/db/products.ts';
import { setChangeSource, upsertGithubReleases, upsertTags, type TagFact } from '../src/db/releases.ts';
import { createBoss } from '../src/queues.ts';
import { quietLogger } from './support/database.ts';
import { serve } from './support/http.ts';
import { startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition } from './support/seed.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';
import { eventually } from './support/eventually.ts';

// Hot answers come from memory and go when the database says their data changed: a release
// written by the worker's writers (NOTIFY release_changes at commit) shows at once. While the
// notifications cannot be received nothing is cached, and a reconnect forgets everything, since
// notifications sent in between are lost.

const cache = suite<{ api: ReadApiHarness; app: Product; other: Product }>('read API response cache', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');
const tag = (name: string, n: number): TagFact => ({ name, refSha: sha(n), gitSha: sha(n + 1_000), taggedAt: new Date(Date.UTC(2024, 0, n)) });
let nextReleaseId = 1;

async function publish(api: ReadApiHarness, product: Product, name: string, n: number): Promise<void> {
  await api.database.db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'test');
    await upsertTags(transaction, product, [tag(name, n)]);
    await upsertGithubReleases(transaction, product.id, [githubRelease(nextReleaseId++, name)]);
  });
}

async function latest(url: string, product: string): Promise<{ version: string; cache: string | null }> {
  const response = await fetch(`${url}/v1/releases/${product}/latest`);
  assert.is(response.status, 200);
  return { version: ((await response.json()) as { version: string }).version, cache: response.headers.get('x-cache') };
}

cache.before(async (context) => {
  context.api = await startReadApi({ label: 'cache', cache: true });
  const products = await defineProducts(context.api.database.db, [productDefinition('app'), productDefinition('other')]);
  context.app = products.get('app')!;
  context.other = products.get('other')!;
  await publish(context.api, context.app, 'v1.0.0', 1);
  await publish(context.api, context.other, 'v7.0.0', 2);
});

cache.after(async (context) => {
  await context.api.stop();
});

cache('a hot answer is served from memory until a write of its product commits', async ({ api, app }) => {
  const url = api.server.url;
  // The seed's notifications may still be on their way and drop the first answer cached: wait
  // for an answer from memory.
  await eventually(() => latest(url, 'app'), (answer) => answer.cache === 'hit', 'a hot answer');
  const hits = api.live!.cache.stats.hits;
  assert.equal(await latest(url, 'app'), { version: 'v1.0.0', cache: 'hit' });
  assert.is(api.live!.cache.stats.hits, hits + 1);

  await publish(api, app, 'v1.1.0', 3);
  const fresh = await eventually(() => latest(url, 'app'), (answer) => answer.version === 'v1.1.0', 'the new release shows');
  assert.ok(fresh.cache === 'miss' || fresh.cache === 'hit');
  assert.ok(api.live!.cache.stats.invalidations > 0, 'dropped by a notification, not by expiry');
});

cache("a write of one product keeps the other products' answers", async ({ api, app }) => {
  const url = api.server.url;
  await latest(url, 'other');
  assert.is((await latest(url, 'other')).cache, 'hit');
  await fetch(`${url}/v1/releases`);
  assert.is((await fetch(`${url}/v1/releases`)).headers.get('x-cache'), 'hit');
  const invalidations = api.live!.cache.stats.invalidations;
  await publish(api, app, 'v1.2.0', 4);
  await eventually(async () => api.live!.cache.stats.invalidations, (count) => count > invalidations, 'notified');
  assert.is((await latest(url, 'other')).cache, 'hit', 'other product untouched');
  const all = await fetch(`${url}/v1/releases`);
  assert.is(all.headers.get('x-cache'), 'miss', 'the list of every product was dropped');
  assert.ok(((await all.json()) as Array<{ version: string }>).some((release) => release.version === 'v1.2.0'));
});

cache('a product setting change (visibility) drops its answers too', async ({ api }) => {
  const url = api.server.url;
  await latest(url, 'other');
  assert.is((await latest(url, 'other')).cache, 'hit');
  // The products file changes: `other` becomes internal, then public again.
  await syncProductDefinitions(api.database.db, [productDefinition('app'), productDefinition('other', { public: false })]);
  await eventually(() => fetch(`${url}/v1/releases/other/latest`), (response) => response.status === 404, 'hidden at once');
  await syncProductDefinitions(api.database.db, [productDefinition('app'), productDefinition('other')]);
  await eventually(() => fetch(`${url}/v1/releases/other/latest`), (response) => response.status === 200, 'visible again');
});

cache('when the listening connection drops: nothing is cached meanwhile, and the reconnect empties the cache', async ({ api }) => {
  const url = api.server.url;
  await latest(url, 'app');
  assert.is((await latest(url, 'app')).cache, 'hit');
  const clears = api.live!.cache.stats.clears;
  await api.database.db.query(sql.unsafe`
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'release-registry-api-listen'`);
  await eventually(async () => api.live!.cache.stats.clears, (count) => count >= clears + 2, 'disconnected and reconnected');
  await eventually(async () => api.live!.listener.listening, (listening) => listening, 'listening again');
  assert.is((await latest(url, 'app')).cache, 'miss', 'the cache started empty');
  assert.is((await latest(url, 'app')).cache, 'hit');
});

cache('a change missed while disconnected is never served stale', async ({ api, app }) => {
  // A second API whose listener reaches the database through a proxy that can be cut.
  const target = new URL(api.database.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  let live: LiveCache | undefined;
  const boss = createBoss(api.database.url, { logger: quietLogger, applicationName: 'test', maxConnections: 1 });
  const config = loadConfig({ DATABASE_URL: api.database.url });
  live = startLiveCache(proxy.via(api.database.url), quietLogger, { minBackoffMs: 20, maxBackoffMs: 100, heartbeatMs: 200 });
  await live.listener.ready;
  const server = await serve(createApp({ config, logger: quietLogger, db: api.database.db, boss, cache: live.cache }));
  try {
    const before = await latest(server.url, 'app');
    assert.is((await latest(server.url, 'app')).cache, 'hit');
    proxy.cut();
    await eventually(async () => live!.listener.listening, (listening) => !listening, 'the drop is noticed');
    assert.is((await latest(server.url, 'app')).cache, 'off', 'no cache while deaf');
    await publish(api, app, 'v1.3.0', 5);
    proxy.restore();
    await eventually(async () => live!.listener.listening, (listening) => listening, 'reconnected');
    const after = await latest(server.url, 'app');
    assert.is.not(after.version, before.version);
    assert.is(after.version, 'v1.3.0');
  } finally {
    await server.close();
    await live.stop();
    await proxy.close();
  }
});

cache('an answer computed while a change arrived is not stored', () => {
  const responses = new ResponseCache();
  responses.setEnabled(true);
  const answer = { body: Buffer.from('[]'), etag: '"x"', contentType: 'application/json' };
  const generation = responses.generation;
  responses.invalidate(1);
  assert.is(responses.set('key', answer, [1], generation), false, 'read before the change: refused');
  assert.is(responses.get('key'), undefined);
  assert.is(responses.set('key', answer, [1], responses.generation), true);
  assert.ok(responses.get('key') !== undefined);
  responses.invalidate(2);
  assert.ok(responses.get('key') !== undefined, 'another product leaves it');
  responses.invalidate(1);
  assert.is(responses.get('key'), undefined);
  responses.setEnabled(false);
  assert.is(responses.set('key', answer, [1], responses.generation), false, 'off: nothing stored');
});

cache('the cache is bounded in bytes, oldest first; product lookups go with their product', () => {
  const responses = new ResponseCache({ maxBytes: 10 });
  responses.setEnabled(true);
  const answer = (text: string) => ({ body: Buffer.from(text), etag: `"${text}"`, contentType: 'text/plain' });
  responses.set('a', answer('aaaaaa'), [1], responses.generation);
  responses.set('b', answer('bbbbbb'), [1], responses.generation);
  assert.is(responses.get('a'), undefined, 'evicted to stay under 10 bytes');
  assert.ok(responses.get('b') !== undefined);
  assert.is(responses.bytes, 6);
  assert.is(responses.set('c', answer('c'.repeat(11)), [1], responses.generation), false, 'larger than the whole cache');

  const product = { id: 7, name: 'app' } as Parameters<ResponseCache['setProduct']>[0];
  const stale = responses.generation;
  responses.invalidate(3);
  responses.setProduct(product, stale);
  assert.is(responses.getProduct('app'), undefined, 'looked up before a change: not kept');
  responses.setProduct(product, responses.generation);
  assert.is(responses.getProduct('app'), product);
  responses.invalidate(8);
  assert.is(responses.getProduct('app'), product);
  responses.invalidate(7);
  assert.is(responses.getProduct('app'), undefined);
});

cache.run();
