import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { Product } from '../src/db/products.ts';
import { deleteGithubReleases, setChangeSource, tombstoneTags, upsertGithubReleases, upsertTags, type TagFact } from '../src/db/releases.ts';
import type { Queryable } from '../src/db/pool.ts';
import { releaseSchema, type eventSchema } from '../api/schemas.ts';
import { readPage, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { eventually } from './support/eventually.ts';
import { defineProducts, githubRelease, productDefinition } from './support/seed.ts';

// GET /v1/events: the change log as a feed. Followed with `after=<last id received>`, it must
// deliver every change exactly once, including a change whose transaction took its id early and
// committed late, which a follower going by id alone would skip.

type Event = z.infer<typeof eventSchema>;

const events = suite<{ api: ReadApiHarness; products: Map<string, Product> }>('read API events feed', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');
const tag = (name: string, n: number): TagFact => ({ name, refSha: sha(n), gitSha: sha(n + 1_000), taggedAt: new Date(Date.UTC(2024, 0, 1 + (n % 28))) });

async function write(api: ReadApiHarness, work: (db: Queryable) => Promise<unknown>): Promise<void> {
  await api.database.db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'test');
    await work(transaction);
  });
}

async function feed(api: ReadApiHarness, query: string, token = true): Promise<{ items: Event[]; next: string | null }> {
  const response = await api.get(`/v1/events?${query}`, { token });
  assert.is(response.status, 200, query);
  return readPage<Event>(response);
}

/** Reads the feed until `done` holds (see test/support/eventually.ts for why it may take a moment). */
function feedUntil(api: ReadApiHarness, query: string, done: (items: Event[]) => boolean, token = true): Promise<Event[]> {
  return eventually(
    async () => (await feed(api, query, token)).items,
    done,
    `the feed (${query})`,
  );
}

/** A transaction that stays open until `finish()` is called. */
function openTransaction(api: ReadApiHarness, work: (db: Queryable) => Promise<void>) {
  let finish: () => void = () => undefined;
  const release = new Promise<void>((resolve) => (finish = resolve));
  let started: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const done = api.database.db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'test');
    await work(transaction);
    started();
    await release;
  });
  return { ready, finish: async () => (finish(), await done) };
}

events.before(async (context) => {
  context.api = await startReadApi({ label: 'events', poolSize: 8 });
  context.products = await defineProducts(context.api.database.db, [
    productDefinition('app'),
    productDefinition('inflight', { plainTagsPublic: true }),
    productDefinition('late', { plainTagsPublic: true }),
    productDefinition('hidden', { public: false, plainTagsPublic: true }),
  ]);
});

events.after(async (context) => {
  await context.api.stop();
});

events('every kind of change, in order, each with the release as it is now', async ({ api, products }) => {
  const app = products.get('app')!;
  await write(api, (db) => upsertTags(db, app, [tag('v1.0.0', 1), tag('v1.1.0-rc.1', 2)]));
  await write(api, (db) => upsertGithubReleases(db, app.id, [githubRelease(1, 'v1.0.0')]));
  await write(api, (db) => upsertTags(db, app, [tag('v1.0.0', 3)]));
  await write(api, (db) => tombstoneTags(db, app.id, ['v1.1.0-rc.1']));
  await write(api, (db) => upsertTags(db, app, [tag('v1.1.0-rc.1', 2)]));
  await write(api, (db) => upsertTags(db, app, [tag('1.0.0', 4)]));

  const items = await feedUntil(api, 'product=app', (list) => list.length >= 7);
  assert.equal(
    items.map((event) => `${event.kind} ${event.tag}`),
    ['created v1.0.0', 'created v1.1.0-rc.1', 'promoted v1.0.0', 'moved v1.0.0', 'deleted v1.1.0-rc.1', 'revived v1.1.0-rc.1', 'created 1.0.0'],
  );
  assert.ok(items.every((event) => event.product === 'app' && event.source === 'test'));
  const moved = items[3]!;
  assert.equal(moved.changes.ref_sha, [sha(1), sha(3)]);
  // The release is the version as it is now: v1.0.0 has since gained the tag 1.0.0.
  for (const event of items.filter((item) => item.release.version === 'v1.0.0')) {
    const release = releaseSchema.parse(event.release);
    assert.equal(release.tags, ['1.0.0', 'v1.0.0']);
    assert.is(release.git_sha, sha(1_003));
    assert.is(release.public, true);
  }
  assert.is(items[4]!.release.deleted_at, null, 'revived since');
});

events('following the feed: the Link header names the next read; nothing new is an empty page', async ({ api }) => {
  const first = await feed(api, 'product=app&limit=3');
  assert.is(first.items.length, 3);
  const all: Event[] = [...first.items];
  let next = first.next;
  for (let reads = 0; reads < 10 && next !== null; reads += 1) {
    const response = await fetch(next, { headers: { Authorization: 'Bearer test-token-0123456789abcdef' } });
    const page = await readPage<Event>(response);
    if (page.items.length === 0) {
      assert.ok(page.next !== null && page.next.includes(`after=${all.at(-1)!.id}`), 'an empty page points at the same place');
      break;
    }
    all.push(...page.items);
    next = page.next;
  }
  const whole = await feed(api, 'product=app&limit=1000');
  assert.equal(
    all.map((event) => event.id),
    whole.items.map((event) => event.id),
  );
});

events('a change in a transaction still running is not served until it commits', async ({ api, products }) => {
  const product = products.get('inflight')!;
  const running = openTransaction(api, (db) => upsertTags(db, product, [tag('v1.0.0', 10)]).then(() => undefined));
  await running.ready;
  // Committed after the running transaction began: served only once that one ends.
  await write(api, (db) => upsertTags(db, product, [tag('v2.0.0', 11)]));
  const during = await feed(api, 'product=inflight');
  assert.equal(during.items, [], 'neither the running change nor the later commit behind it');
  await running.finish();
  const after = await feedUntil(api, 'product=inflight', (items) => items.length === 2);
  assert.equal(
    after.map((event) => event.tag),
    ['v1.0.0', 'v2.0.0'],
  );
});

events('a change that took its id early and committed late is not skipped by a follower', async ({ api, products }) => {
  const product = products.get('late')!;
  const ids = z.object({ id: z.number() });
  // T0 begins first (it has the older transaction id) but writes its change last.
  let finishT0: () => void = () => undefined;
  const t0Gate = new Promise<void>((resolve) => (finishT0 = resolve));
  let t0Began: () => void = () => undefined;
  const t0Ready = new Promise<void>((resolve) => (t0Began = resolve));
  const t0 = api.database.db.transaction(async (transaction) => {
    await setChangeSource(transaction, 'test');
    await transaction.query(sql.unsafe`SELECT pg_current_xact_id()`);
    t0Began();
    await t0Gate;
    await upsertTags(transaction, product, [tag('v2.0.0', 21)]);
  });
  await t0Ready;
  // T1 takes the smaller change id and stays open…
  const t1 = openTransaction(api, (db) => upsertTags(db, product, [tag('v1.0.0', 20)]).then(() => undefined));
  await t1.ready;
  // …while T0 takes a larger id and commits.
  finishT0();
  await t0;
  const changeIds = await api.database.db.any(sql.type(ids)`
    SELECT c.id FROM release_changes c WHERE c.product_id = ${product.id} ORDER BY c.id`);
  assert.is(changeIds.length, 1, 'only the committed change is visible to others so far');

  // A follower reads T0's change (T0 is older than the oldest running transaction, T1)…
  const seen = await feedUntil(api, 'product=late', (items) => items.length === 1);
  assert.is(seen[0]!.tag, 'v2.0.0');
  // …then T1 commits its change, whose id is smaller than the one the follower already has.
  await t1.finish();
  const [t1Change] = await api.database.db.any(sql.type(ids)`
    SELECT c.id FROM release_changes c JOIN releases r ON r.id = c.release_id WHERE r.product_id = ${product.id} AND r.tag = 'v1.0.0'`);
  assert.ok(t1Change!.id < seen[0]!.id, 'the late change has the smaller id');
  const followed = await feedUntil(api, `product=late&after=${seen[0]!.id}`, (items) => items.length === 1);
  assert.is(followed[0]!.tag, 'v1.0.0', 'the follower still gets it');
});

events('anonymous followers see public versions of public products, and the change that unpublished one', async ({ api, products }) => {
  const app = products.get('app')!;
  const hidden = products.get('hidden')!;
  await write(api, (db) => upsertTags(db, hidden, [tag('v9.0.0', 30)]));
  await write(api, (db) => deleteGithubReleases(db, app.id, [1]));
  // While it is not public, the version's tag moves: nothing of that reaches anonymous readers.
  await write(api, (db) => upsertTags(db, app, [tag('v1.0.0', 31)]));
  const everything = await feedUntil(api, 'limit=1000', (items) => items.some((event) => event.product === 'hidden'));
  const anonymous = await feedUntil(api, 'limit=1000', (items) => items.some((event) => event.kind === 'updated' && event.tag === 'v1.0.0'), false);
  assert.not.ok(anonymous.some((event) => event.product === 'hidden'), 'no events of a non-public product');
  assert.not.ok(anonymous.some((event) => event.release.version === 'v1.1.0-rc.1'), 'no events of a non-public version');
  const unpublished = anonymous.find((event) => event.tag === 'v1.0.0' && event.changes.public !== undefined)!;
  assert.equal(unpublished.changes.public, [true, false]);
  assert.is(unpublished.release.public, false, 'so a follower can drop it');
  assert.equal(Object.keys(unpublished.release).sort(), ['deleted_at', 'id', 'major', 'minor', 'name', 'patch', 'prerelease', 'public', 'version'], 'its identity only');
  assert.equal(Object.keys(unpublished.changes).sort(), ['promoted_at', 'public'], 'not the release fields it lost');
  const withToken = everything.find((event) => event.id === unpublished.id)!;
  assert.ok(Object.keys(withToken.changes).length > 2, 'a token reader gets every change');
  assert.ok(anonymous.length < everything.length);
  assert.is((await api.get('/v1/events?product=hidden')).status, 404);
});

events('after must name an event; bad parameters are 400s', async ({ api }) => {
  for (const query of ['after=999999999', 'after=-1', 'after=x', 'limit=0', 'nope=1']) {
    const response = await api.get(`/v1/events?${query}`);
    assert.is(response.status, 400, query);
    assert.is(((await response.json()) as { error: { code: string } }).error.code, 'invalid_input');
  }
});

events.run();
