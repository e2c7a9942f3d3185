import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { syncProductDefinitions } from '../src/db/products.ts';
import type { ReleaseView } from '../src/db/release-reads.ts';
import { tombstoneTags } from '../src/db/releases.ts';
import { AUTH, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases } from './support/seed.ts';
import type { TagFact } from '../src/db/releases.ts';

// Without a token only public releases of public products exist; a non-public product or version
// answers the same 404 as a missing one. With a token, internal and development releases too.

const visibility = suite<{ api: ReadApiHarness }>('read API visibility', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');
const tag = (name: string, n: number): TagFact => ({ name, refSha: sha(n), gitSha: sha(n + 500), taggedAt: new Date(Date.UTC(2024, 0, n)) });

async function versions(response: Response): Promise<string[]> {
  assert.is(response.status, 200);
  return ((await response.json()) as ReleaseView[]).map((release) => `${release.name}:${release.version}`);
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...body.error };
}

visibility.before(async (context) => {
  context.api = await startReadApi({ label: 'visibility' });
  const { db } = context.api.database;
  const products = await defineProducts(db, [productDefinition('open'), productDefinition('internal', { public: false, plainTagsPublic: true }), productDefinition('gone')]);
  // open: 1.0.0 public, 1.1.0 internal (no release), 1.2.0-rc.1 public development, 2.0.0 internal.
  await seedReleases(
    db,
    products.get('open')!,
    [tag('v1.0.0', 1), tag('v1.1.0', 2), tag('v1.2.0-rc.1', 3), tag('v2.0.0', 4), tag('v0.9.0', 5)],
    [githubRelease(1, 'v1.0.0'), githubRelease(2, 'v1.2.0-rc.1', { prerelease: true }), githubRelease(3, 'v0.9.0')],
  );
  await seedReleases(db, products.get('internal')!, [tag('v5.0.0', 6)]);
  await seedReleases(db, products.get('gone')!, [tag('v1.0.0', 7)], [githubRelease(4, 'v1.0.0')]);
  // v0.9.0 disappears from GitHub: tombstoned, hidden unless asked for.
  await db.transaction((transaction) => tombstoneTags(transaction, products.get('open')!.id, ['v0.9.0']));
  // `gone` leaves the products file: untracked, hidden from everyone.
  await syncProductDefinitions(db, [productDefinition('open'), productDefinition('internal', { public: false, plainTagsPublic: true })]);
});

visibility.after(async (context) => {
  await context.api.stop();
});

visibility('anonymous readers see public versions of public products only', async ({ api }) => {
  assert.equal(await versions(await api.get('/v1/releases/open')), ['open:v1.2.0-rc.1', 'open:v1.0.0']);
  assert.equal(await versions(await api.get('/v1/releases')), ['open:v1.2.0-rc.1', 'open:v1.0.0']);
  assert.equal(await versions(await api.get('/v1/releases/open?public=false')), [], 'asking for non-public ones shows nothing');
  const products = (await (await api.get('/v1/products')).json()) as Array<{ name: string; release_count: number }>;
  assert.equal(
    products.map((product) => [product.name, product.release_count]),
    [['open', 2]],
  );
});

visibility('with a token: internal and development releases, and non-public products', async ({ api }) => {
  assert.equal(await versions(await api.get('/v1/releases/open', { token: true })), ['open:v2.0.0', 'open:v1.2.0-rc.1', 'open:v1.1.0', 'open:v1.0.0']);
  assert.equal(await versions(await api.get('/v1/releases', { token: true })), [
    'internal:v5.0.0',
    'open:v2.0.0',
    'open:v1.2.0-rc.1',
    'open:v1.1.0',
    'open:v1.0.0',
  ]);
  assert.equal(await versions(await api.get('/v1/releases/open?public=false', { token: true })), ['open:v2.0.0', 'open:v1.1.0']);
  assert.equal(await versions(await api.get('/v1/releases/open?development=true', { token: true })), ['open:v1.2.0-rc.1']);
  const products = (await (await api.get('/v1/products', { token: true })).json()) as Array<{ name: string; release_count: number }>;
  assert.equal(
    products.map((product) => [product.name, product.release_count]),
    [
      ['internal', 1],
      ['open', 4],
    ],
  );
});

visibility('a non-public product or version answers the same 404 as a missing one, never 403', async ({ api }) => {
  const missing = await errorOf(await api.get('/v1/releases/nothing-here'));
  const internal = await errorOf(await api.get('/v1/releases/internal'));
  assert.equal([missing.status, missing.code], [404, 'not_found']);
  assert.equal([internal.status, internal.code], [404, 'not_found']);
  assert.is(internal.message, missing.message.replace('nothing-here', 'internal'), 'the same words');
  for (const path of ['/v1/releases/internal/latest', '/v1/releases/internal/v5.0.0', '/v1/products/internal', '/v1/releases/open/v2.0.0', '/v1/releases/open/1.1.0']) {
    assert.is((await api.get(path)).status, 404, path);
    assert.is((await api.get(path, { token: true })).status, 200, `${path} with a token`);
  }
  const next = await fetch(`${api.server.url}/v1/releases/internal/next/5.0`, { method: 'POST' });
  assert.is(next.status, 404);
  const nextWithToken = await fetch(`${api.server.url}/v1/releases/internal/next/5.0`, { method: 'POST', headers: AUTH });
  assert.is(await nextWithToken.text(), '5.0.1');
});

visibility('latest is the highest public, non-development, live version, with or without a token', async ({ api }) => {
  for (const token of [false, true]) {
    const latest = (await (await api.get('/v1/releases/open/latest', { token })).json()) as ReleaseView;
    assert.is(latest.version, 'v1.0.0');
  }
});

visibility('deleted versions are hidden unless include_deleted=true, and carry deleted_at', async ({ api }) => {
  assert.not.ok((await versions(await api.get('/v1/releases/open'))).includes('open:v0.9.0'));
  const withDeleted = (await (await api.get('/v1/releases/open?include_deleted=true')).json()) as ReleaseView[];
  const deleted = withDeleted.find((release) => release.version === 'v0.9.0');
  assert.ok(deleted !== undefined);
  assert.type(deleted.deleted_at, 'string');
  assert.equal(deleted.tags, ['v0.9.0'], 'the tags it had');
  assert.ok(withDeleted.filter((release) => release.version !== 'v0.9.0').every((release) => release.deleted_at === null));
  assert.is((await api.get('/v1/releases/open/v0.9.0')).status, 404);
  assert.is((await api.get('/v1/releases/open/v0.9.0?include_deleted=true')).status, 200);
});

visibility('an untracked product is gone for everyone', async ({ api }) => {
  for (const path of ['/v1/releases/gone', '/v1/releases/gone/latest', '/v1/products/gone']) {
    assert.is((await api.get(path, { token: true })).status, 404, path);
  }
  assert.not.ok((await versions(await api.get('/v1/releases', { token: true }))).some((version) => version.startsWith('gone:')));
});

visibility('a wrong or malformed token is a 401 with WWW-Authenticate, not an anonymous answer', async ({ api }) => {
  for (const header of ['Bearer not-the-token-at-all', 'Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${'x'.repeat(27)}`]) {
    const response = await fetch(`${api.server.url}/v1/releases/open`, { headers: { Authorization: header } });
    assert.is(response.status, 401, header);
    assert.is(response.headers.get('www-authenticate'), 'Bearer');
    assert.is(((await response.json()) as { error: { code: string } }).error.code, 'unauthorized');
  }
  const lowercase = await fetch(`${api.server.url}/v1/releases/internal`, { headers: { Authorization: AUTH.Authorization.replace('Bearer', 'bearer') } });
  assert.is(lowercase.status, 200, 'the scheme is case-insensitive');
});

visibility.run();
