import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { beginReleaseWrite } from '../src/db/product-locks.ts';
import { syncProductDefinitions, type Product } from '../src/db/products.ts';
import {
  deleteGithubReleases,
  refreshReleaseRows,
  setChangeSource,
  tombstoneTags,
  tombstoneTagsNotSeenInRun,
  upsertGithubReleases,
  upsertTags,
  type GithubReleaseFact,
  type TagFact,
} from '../src/db/releases.ts';
import { findRelease } from '../src/db/release-reads.ts';
import { DEFAULT_TAG_PATTERN } from '../src/domain/version.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { releaseRows } from './support/release-rows.ts';
import { seededRandom } from './support/seeded-random.ts';

const writes = suite<{ database: TestDatabase; product: Product; plain: Product }>('release writes', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');
const tag = (name: string, n: number, date = '2024-01-01T00:00:00Z'): TagFact => ({ name, refSha: sha(n), gitSha: sha(n + 1000), taggedAt: new Date(date) });
const release = (id: number, tagName: string, overrides: Partial<GithubReleaseFact> = {}): GithubReleaseFact => ({
  id,
  tagName,
  name: `Release ${tagName}`,
  draft: false,
  prerelease: false,
  createdAt: new Date('2024-02-01T00:00:00Z'),
  publishedAt: new Date('2024-02-02T00:00:00Z'),
  htmlUrl: `https://github.com/acme/app/releases/tag/${tagName}`,
  ...overrides,
});

async function byTag(context: { database: TestDatabase }, productId: number, name: string) {
  return (await releaseRows(context.database.db, productId)).find((candidate) => candidate.tag === name);
}

async function changeKinds(context: { database: TestDatabase }, productId: number) {
  return context.database.db.anyFirst(sql.type(z.object({ kind: z.string() }))`
    SELECT kind || ':' || (SELECT tag FROM releases r WHERE r.id = c.release_id) AS kind
    FROM release_changes c WHERE product_id = ${productId} ORDER BY id`);
}

writes.before(async (context) => {
  context.database = await createTestDatabase({ label: 'release_writes' });
  const products = await syncProductDefinitions(context.database.db, [
    { name: 'app', repository: 'acme/app', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: false, public: true },
    { name: 'plain', repository: 'acme/plain', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: true, public: true },
  ]);
  context.product = products.find((product) => product.name === 'app')!;
  context.plain = products.find((product) => product.name === 'plain')!;
});

writes.after(async (context) => {
  await context.database.drop();
});

writes('tags that match the pattern are stored, others skipped and counted; a repeat changes nothing', async (context) => {
  const { db } = context.database;
  const input = [tag('v1.0.0', 1), tag('v1.1.0-rc.1', 2), tag('not-a-version', 3), tag('v1.0', 4)];
  const first = await db.transaction((trx) => upsertTags(trx, context.product, input));
  assert.equal(first, { added: 2, updated: 0, moved: 0, revived: 0, unchanged: 0, skipped: 2 });
  const second = await db.transaction((trx) => upsertTags(trx, context.product, input));
  assert.equal(second, { added: 0, updated: 0, moved: 0, revived: 0, unchanged: 2, skipped: 2 });
  const stored = await releaseRows(context.database.db, context.product.id);
  assert.equal(stored.map((r) => r.tag), ['v1.0.0', 'v1.1.0-rc.1']);
  const rc = stored.find((r) => r.tag === 'v1.1.0-rc.1')!;
  assert.is(rc.isDevelopment, true, 'a prerelease version is a development release');
  assert.is(rc.public, false, 'a tag without a GitHub release is not public');
  assert.equal(await changeKinds(context, context.product.id), ['created:v1.0.0', 'created:v1.1.0-rc.1']);
});

writes('a published release makes the tag public with promoted_at; drafts never do', async (context) => {
  const { db } = context.database;
  await db.transaction((trx) => upsertGithubReleases(trx, context.product.id, [release(10, 'v1.0.0', { draft: true, publishedAt: null })]));
  let v100 = await byTag(context, context.product.id, 'v1.0.0');
  assert.is(v100!.public, false, 'a draft is never public');
  await db.transaction((trx) => upsertGithubReleases(trx, context.product.id, [release(10, 'v1.0.0')]));
  v100 = await byTag(context, context.product.id, 'v1.0.0');
  assert.is(v100!.public, true);
  assert.equal(v100!.promotedAt, new Date('2024-02-02T00:00:00Z'));
  assert.is(v100!.releaseName, 'Release v1.0.0');
  const kinds = await changeKinds(context, context.product.id);
  assert.is(kinds.at(-1), 'promoted:v1.0.0');
});

writes('a release marked prerelease makes the version a development release', async (context) => {
  const { db } = context.database;
  await db.transaction((trx) => upsertTags(trx, context.product, [tag('v1.2.0', 20)]));
  await db.transaction((trx) => upsertGithubReleases(trx, context.product.id, [release(20, 'v1.2.0', { prerelease: true })]));
  const v120 = await byTag(context, context.product.id, 'v1.2.0');
  assert.is(v120!.isDevelopment, true);
  assert.is(v120!.public, true);
});

writes('a release that arrives before its tag is applied when the tag arrives', async (context) => {
  const { db } = context.database;
  await db.transaction((trx) => upsertGithubReleases(trx, context.product.id, [release(30, 'v3.0.0')]));
  assert.is(await byTag(context, context.product.id, 'v3.0.0'), undefined, 'no tag, no release row');
  await db.transaction((trx) => upsertTags(trx, context.product, [tag('v3.0.0', 30)]));
  assert.is((await byTag(context, context.product.id, 'v3.0.0'))!.public, true);
});

writes('a moved tag updates its sha; a deleted release unpublishes', async (context) => {
  const { db } = context.database;
  const result = await db.transaction((trx) => upsertTags(trx, context.product, [tag('v3.0.0', 31)]));
  assert.is(result.moved, 1);
  assert.is((await byTag(context, context.product.id, 'v3.0.0'))!.gitSha, sha(1031));
  await db.transaction((trx) => deleteGithubReleases(trx, context.product.id, [30]));
  const v300 = await byTag(context, context.product.id, 'v3.0.0');
  assert.is(v300!.public, false);
  assert.is(v300!.promotedAt, null);
  const kinds = await changeKinds(context, context.product.id);
  assert.ok(kinds.includes('moved:v3.0.0'));
});

writes('a tag that disappears is tombstoned, never deleted, and revived when it returns', async (context) => {
  const { db } = context.database;
  assert.is(await db.transaction((trx) => tombstoneTags(trx, context.product.id, ['v1.2.0', 'v9.9.9'])), 1);
  assert.is((await byTag(context, context.product.id, 'v1.2.0'))!.deleted, true);
  assert.is(await db.transaction((trx) => tombstoneTags(trx, context.product.id, ['v1.2.0'])), 0, 'tombstoning twice is a no-op');
  const result = await db.transaction((trx) => upsertTags(trx, context.product, [tag('v1.2.0', 20)]));
  assert.is(result.revived, 1);
  assert.is((await byTag(context, context.product.id, 'v1.2.0'))!.deleted, false);
  const kinds = await changeKinds(context, context.product.id);
  assert.ok(kinds.includes('deleted:v1.2.0'));
  assert.is(kinds.at(-1), 'revived:v1.2.0');
});

writes('only tags missing from a complete listing run are tombstoned', async (context) => {
  const { db } = context.database;
  await db.transaction(async (trx) => {
    await upsertTags(trx, context.plain, [tag('1.0.0', 40), tag('1.1.0', 41), tag('1.2.0', 42)], { syncRunId: 1 });
    await upsertTags(trx, context.plain, [tag('1.0.0', 40), tag('1.2.0', 42)], { syncRunId: 2 });
    // Listed after every row here was written: none is spared for being newer than the listing.
    assert.is(await tombstoneTagsNotSeenInRun(trx, context.plain.id, 2, new Date('2100-01-01T00:00:00Z')), 1);
  });
  const plainRows = await releaseRows(context.database.db, context.plain.id);
  assert.equal(plainRows.filter((r) => r.deleted).map((r) => r.tag), ['1.1.0']);
  assert.ok(plainRows.every((r) => r.public), 'plain tags are public for plainTagsPublic products');
  assert.equal(plainRows.find((r) => r.tag === '1.0.0')!.promotedAt, new Date('2024-01-01T00:00:00Z'));
});

writes('tags that share a version: one canonical winner by the documented rule', async (context) => {
  const { db } = context.database;
  await db.transaction((trx) => upsertTags(trx, context.product, [tag('5.0.0', 50), tag('v5.0.0+build.1', 51), tag('v5.0.0', 52)]));
  let canonical = (await releaseRows(context.database.db, context.product.id)).filter((r) => r.version === '5.0.0' && r.isCanonical).map((r) => r.tag);
  assert.equal(canonical, ['v5.0.0'], 'v<version> wins among equals');
  await db.transaction((trx) => upsertGithubReleases(trx, context.product.id, [release(50, '5.0.0')]));
  canonical = (await releaseRows(context.database.db, context.product.id)).filter((r) => r.version === '5.0.0' && r.isCanonical).map((r) => r.tag);
  assert.equal(canonical, ['5.0.0'], 'a public tag wins over a non-public one');
  await db.transaction((trx) => tombstoneTags(trx, context.product.id, ['5.0.0']));
  canonical = (await releaseRows(context.database.db, context.product.id)).filter((r) => r.version === '5.0.0' && r.isCanonical).map((r) => r.tag);
  assert.equal(canonical, ['v5.0.0'], 'a live tag wins over a tombstoned one');
});

writes("a tag whose version changes: the version it leaves is ranked again, and keeps a canonical tag", async (context) => {
  // A new tag pattern reads stored tags anew, and the full listing that follows rewrites their
  // versions. A version a tag leaves may still be carried by other tags; if the tag that left was
  // its canonical one, another must take the flag, or the version vanishes from every read.
  const { db } = context.database;
  const base = [
    { name: 'app', repository: 'acme/app', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: false, public: true },
    { name: 'plain', repository: 'acme/plain', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: true, public: true },
  ];
  const dropsPrerelease = String.raw`^v?(?<version>\d+\.\d+\.\d+)(?:-.*)?$`;
  const define = async (tagPattern: string) =>
    (await syncProductDefinitions(db, [...base, { name: 'relisted', repository: 'acme/relisted', tagPattern, plainTagsPublic: false, public: true }])).find(
      (product) => product.name === 'relisted',
    )!;
  const canonicalOf = async (productId: number, version: string) =>
    (await releaseRows(db, productId)).filter((r) => r.version === version && r.isCanonical).map((r) => r.tag);

  let product = await define(dropsPrerelease);
  const tags = [tag('v2.0.0-rc.1', 80), tag('v2.0.0', 81)];
  await db.transaction((trx) => upsertTags(trx, product, tags));
  await db.transaction((trx) => upsertGithubReleases(trx, product.id, [release(80, 'v2.0.0-rc.1')]));
  assert.equal(await canonicalOf(product.id, '2.0.0'), ['v2.0.0-rc.1'], 'the published tag is canonical for 2.0.0 under the first pattern');

  product = await define(DEFAULT_TAG_PATTERN);
  await db.transaction((trx) => upsertTags(trx, product, tags));
  assert.equal(await canonicalOf(product.id, '2.0.0-rc.1'), ['v2.0.0-rc.1'], 'the moved tag is canonical for its new version');
  assert.equal(await canonicalOf(product.id, '2.0.0'), ['v2.0.0'], 'the tag left on 2.0.0 is canonical for it');
  assert.is((await findRelease(db, product.id, '2.0.0', { visibility: 'all' }))?.canonical_name, 'v2.0.0', 'GET by version still finds 2.0.0');
});

writes('the change log names its source and only records visible changes', async (context) => {
  const { db } = context.database;
  await db.transaction(async (trx) => {
    await setChangeSource(trx, 'webhook');
    await upsertTags(trx, context.product, [tag('v6.0.0', 60)]);
  });
  const source = await db.oneFirst(sql.type(z.object({ source: z.string().nullable() }))`
    SELECT source FROM release_changes ORDER BY id DESC LIMIT 1`);
  assert.is(source, 'webhook');
  const before = await db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM release_changes`);
  await db.transaction((trx) => upsertTags(trx, context.product, [tag('v6.0.0', 60)], { syncRunId: 99 }));
  const after = await db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM release_changes`);
  assert.is(after, before, 'marking a row as seen by a sync is not a change');
});

writes("a new row's fields, set by the insert's shortcut, are what the full refresh computes, whatever the order of writes", async (context) => {
  // upsertTags settles a new row itself in the common case (a version first seen, no GitHub
  // release yet) and leaves the rest to refreshReleaseRows: the two must agree. A seeded history of
  // tags with spellings that share versions, prereleases, build metadata, GitHub releases (drafts,
  // prereleases, unpublished) arriving before or after their tags, moves and tombstones; then a
  // refresh of every row must change nothing.
  const { db } = context.database;
  const products = await syncProductDefinitions(db, [
    { name: 'app', repository: 'acme/app', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: false, public: true },
    { name: 'plain', repository: 'acme/plain', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: true, public: true },
    { name: 'mixed', repository: 'acme/mixed', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: false, public: true },
    { name: 'mixed-plain', repository: 'acme/mixed-plain', tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: true, public: true },
  ]);
  const snapshot = (productId: number) => releaseRows(db, productId);
  for (const product of products.filter((candidate) => candidate.name.startsWith('mixed'))) {
    const random = seededRandom(product.id);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const spellings = [(v: string) => `v${v}`, (v: string) => v, (v: string) => `v${v}-rc.1`, (v: string) => `${v}+build.5`, (v: string) => `v${v}-beta`];
    const names = [...new Set(Array.from({ length: 160 }, () => pick(spellings)(`${pick([1, 2])}.${pick([0, 1, 2])}.${pick([0, 1, 2, 3])}`)))];
    let nextRelease = 1;
    for (let step = 0; step < 40; step += 1) {
      const batch = names.filter(() => random() < 0.15);
      await db.transaction(async (trx) => {
        await setChangeSource(trx, 'test');
        const action = random();
        if (action < 0.55) {
          const days = (name: string) => `2024-0${1 + (name.length % 9)}-1${Math.floor(random() * 10)}T00:00:00Z`;
          await upsertTags(trx, product, batch.map((name) => ({ ...tag(name, Math.floor(random() * 1_000)), taggedAt: random() < 0.2 ? null : new Date(days(name)) })));
        } else if (action < 0.85) {
          const releases = batch.map((name) =>
            release(nextRelease++, name, {
              draft: random() < 0.2,
              prerelease: random() < 0.3,
              publishedAt: random() < 0.15 ? null : new Date(`2024-03-0${1 + Math.floor(random() * 9)}T00:00:00Z`),
            }),
          );
          await upsertGithubReleases(trx, product.id, releases);
        } else {
          await tombstoneTags(trx, product.id, batch);
        }
      });
    }
    // Last, tags never seen, written once: rows only the shortcut has set (the history above has
    // refreshed most of its rows one way or another), with versions they share among themselves.
    await db.transaction(async (trx) => {
      await setChangeSource(trx, 'test');
      const fresh = Array.from({ length: 30 }, (_, index) => pick(spellings)(`3.${index % 10}.${Math.floor(index / 10)}`));
      await upsertTags(trx, product, [...new Set(fresh)].map((name, index) => ({ ...tag(name, 5_000 + index), taggedAt: index % 5 === 0 ? null : new Date(`2024-06-1${index % 10}T00:00:00Z`) })));
    });
    const written = await snapshot(product.id);
    assert.ok(written.length > 30, `${product.name}: a history worth checking (${written.length} rows)`);
    await db.transaction(async (trx) => {
      await setChangeSource(trx, 'test');
      await refreshReleaseRows(trx, product.id, 'all');
    });
    assert.equal(await snapshot(product.id), written, `${product.name}: the refresh changed nothing`);
  }
});

writes('beginReleaseWrite holds the product lock, names the change source and turns JIT off, for its transaction only', async (context) => {
  const { db } = context.database;
  const settings = sql.type(z.object({ jit: z.string(), source: z.string().nullable(), locks: z.number() }))`
    SELECT current_setting('jit') AS jit, nullif(current_setting('release_registry.change_source', true), '') AS source,
           (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objid = ${context.product.id}) AS locks`;
  const inside = await db.transaction(async (trx) => {
    await beginReleaseWrite(trx, context.product.id, 'webhook');
    await upsertTags(trx, context.product, [tag('v7.0.0', 70)]);
    return trx.one(settings);
  });
  assert.equal(inside, { jit: 'off', source: 'webhook', locks: 1 });
  const source = await db.oneFirst(sql.type(z.object({ source: z.string().nullable() }))`
    SELECT source FROM release_changes ORDER BY id DESC LIMIT 1`);
  assert.is(source, 'webhook', 'the change log names it');
  const after = await db.transaction((trx) => trx.one(settings));
  assert.is(after.source, null);
  assert.is(after.locks, 0);
  const serverDefault = await db.oneFirst(sql.type(z.object({ value: z.string() }))`SELECT reset_val AS value FROM pg_settings WHERE name = 'jit'`);
  assert.is(after.jit, serverDefault, 'the server default is back');
});

writes.run();
