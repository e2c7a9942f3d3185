import { sql } from 'slonik';
import { suite, test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { findProductByName, recordRepositoryIdentity, syncProductDefinitions } from '../src/db/products.ts';
import { replayDeliveries } from '../src/webhooks/replay-deliveries.ts';
import { releaseEvent, tagDeleted, tagMoved, tagPushed } from './support/github-events.ts';
import { startFakeIngestion, type FakeIngestion } from './support/ingestion.ts';
import { releaseRows } from './support/release-rows.ts';
import { postDelivery, readDelivery, widgetProduct, type Delivery } from './support/webhooks.ts';

// Real payloads (rewritten to the tracked repository and re-signed) go through the intake and the
// worker, which reads the fake GitHub through the real client; the rows must say what GitHub says now.

type Ingestion = FakeIngestion;
const ingestion = suite<{ app: Ingestion }>('webhook ingestion', {} as never);

ingestion.before(async (context) => {
  context.app = await startFakeIngestion({ label: 'ingestion' });
});

ingestion.after(async (context) => {
  await context.app.close();
});

async function deliver(app: Ingestion, deliveries: Delivery[]): Promise<string[]> {
  const ids: string[] = [];
  for (const delivery of deliveries) {
    const answer = await postDelivery(app.server.url, delivery);
    assert.ok(answer.status === 200 || answer.status === 202, JSON.stringify(answer.body));
    ids.push(answer.deliveryId);
  }
  await app.settled(ids);
  return ids;
}

async function row(app: Ingestion, tag: string) {
  return (await releaseRows(app.database.db, 'widget')).find((candidate) => candidate.tag === tag);
}

ingestion('a pushed tag (create + push) becomes a release with its sha and date; the delivery is processed', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  const ref = github.addTag({ name: 'v1.0.0', taggerDate: new Date('2024-03-01T10:00:00Z') });
  const fact = github.expectedTag('v1.0.0')!;
  const ids = await deliver(app, tagPushed(repo, 'v1.0.0', ref.sha));
  const created = await row(app, 'v1.0.0');
  assert.ok(created);
  assert.is(created.version, '1.0.0');
  assert.is(created.refSha, fact.refSha);
  assert.is(created.gitSha, fact.gitSha);
  assert.equal(created.taggedAt, new Date('2024-03-01T10:00:00Z'));
  assert.is(created.public, false, 'not public without a published release');
  assert.is(created.deleted, false);
  for (const id of ids) assert.is((await readDelivery(app.database.db, id))?.status, 'processed');
  const source = await app.database.db.oneFirst(sql.type(z.object({ source: z.string().nullable() }))`
    SELECT c.source FROM release_changes c JOIN releases r ON r.id = c.release_id WHERE r.tag = 'v1.0.0' ORDER BY c.id LIMIT 1`);
  assert.is(source, 'webhook');
  const identity = await app.database.db.one(sql.type(z.object({ id: z.number().nullable(), name: z.string().nullable() }))`
    SELECT github_repository_id AS id, github_full_name AS name FROM products WHERE name = 'widget'`);
  assert.equal(identity, { id: repo.id, name: repo.fullName }, "GitHub's id and name are remembered");
});

ingestion('a published release makes the version public, with the release fields', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  github.addTag({ name: 'v1.1.0' });
  const release = github.createRelease({ tagName: 'v1.1.0', name: 'One point one', publishedAt: new Date('2024-04-02T08:00:00Z') });
  await deliver(app, [releaseEvent(repo, 'published', release)]);
  const published = await row(app, 'v1.1.0');
  assert.ok(published);
  assert.is(published.public, true);
  assert.is(published.githubReleaseId, release.id);
  assert.is(published.releaseName, 'One point one');
  assert.equal(published.promotedAt, new Date('2024-04-02T08:00:00Z'));
  assert.is(published.isDevelopment, false);
});

ingestion('prereleased marks the version as development; unpublished makes it private again; deleted removes the release', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  github.addTag({ name: 'v1.2.0' });
  const release = github.createRelease({ tagName: 'v1.2.0', prerelease: true });
  await deliver(app, [releaseEvent(repo, 'prereleased', release)]);
  let current = await row(app, 'v1.2.0');
  assert.is(current?.public, true);
  assert.is(current?.isDevelopment, true);

  github.editRelease(release.id, { draft: true });
  await deliver(app, [releaseEvent(repo, 'unpublished', github.release(release.id)!)]);
  current = await row(app, 'v1.2.0');
  assert.is(current?.public, false);
  assert.is(current?.releaseDraft, true);

  github.deleteRelease(release.id);
  await deliver(app, [releaseEvent(repo, 'deleted', release)]);
  current = await row(app, 'v1.2.0');
  assert.is(current?.githubReleaseId, null);
  assert.is(current?.public, false);
  assert.is(current?.deleted, false, 'the tag itself is still there');
});

ingestion('a force-pushed tag moves; a deleted tag is tombstoned, and revived when pushed again', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  github.addTag({ name: 'v2.0.0' });
  await deliver(app, tagPushed(repo, 'v2.0.0', github.tagRef('v2.0.0')!.sha));
  const moved = github.moveTag('v2.0.0');
  await deliver(app, tagMoved(repo, 'v2.0.0', moved.sha));
  assert.is((await row(app, 'v2.0.0'))?.gitSha, github.expectedTag('v2.0.0')!.gitSha);
  assert.is((await row(app, 'v2.0.0'))?.refSha, moved.sha);

  github.deleteTag('v2.0.0');
  await deliver(app, tagDeleted(repo, 'v2.0.0'));
  assert.is((await row(app, 'v2.0.0'))?.deleted, true);

  const again = github.addTag({ name: 'v2.0.0' });
  await deliver(app, tagPushed(repo, 'v2.0.0', again.sha));
  const revived = await row(app, 'v2.0.0');
  assert.is(revived?.deleted, false);
  assert.is(revived?.refSha, again.sha);
  const kinds = await app.database.db.anyFirst(sql.type(z.object({ kind: z.string() }))`
    SELECT c.kind FROM release_changes c JOIN releases r ON r.id = c.release_id WHERE r.tag = 'v2.0.0' ORDER BY c.id`);
  assert.equal([...kinds], ['created', 'moved', 'deleted', 'revived']);
});

ingestion("an edit that renames a release's tag moves the release from the old tag to the new one", async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  github.addTag({ name: 'v3.0.0' });
  github.addTag({ name: 'v3.0.1' });
  const release = github.createRelease({ tagName: 'v3.0.0' });
  await deliver(app, [releaseEvent(repo, 'published', release)]);
  assert.is((await row(app, 'v3.0.0'))?.githubReleaseId, release.id);
  github.editRelease(release.id, { tagName: 'v3.0.1' });
  await deliver(app, [releaseEvent(repo, 'edited', github.release(release.id)!, { previousTag: 'v3.0.0' })]);
  assert.is((await row(app, 'v3.0.0'))?.githubReleaseId, null);
  assert.is((await row(app, 'v3.0.0'))?.public, false);
  assert.is((await row(app, 'v3.0.1'))?.githubReleaseId, release.id);
  assert.is((await row(app, 'v3.0.1'))?.public, true);
});

ingestion('a tag the product pattern does not match is skipped, and its delivery still processed', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  const ref = github.addTag({ name: 'nightly' });
  const ids = await deliver(app, tagPushed(repo, 'nightly', ref.sha));
  assert.is(await row(app, 'nightly'), undefined);
  for (const id of ids) assert.is((await readDelivery(app.database.db, id))?.status, 'processed');
});

ingestion('a delivery sent twice (redelivery) is processed once', async ({ app }) => {
  const github = app.repository;
  const repo = app.repo;
  github.addTag({ name: 'v4.0.0' });
  const [delivery] = tagPushed(repo, 'v4.0.0', github.tagRef('v4.0.0')!.sha);
  const first = await postDelivery(app.server.url, delivery!);
  const second = await postDelivery(app.server.url, { ...delivery!, deliveryId: first.deliveryId });
  assert.is(first.status, 202);
  assert.is(second.status, 200);
  await app.settled([first.deliveryId]);
  const attempts = await app.database.db.oneFirst(sql.type(z.object({ attempts: z.number() }))`
    SELECT attempts FROM webhook_deliveries WHERE delivery_id = ${first.deliveryId}`);
  assert.is(attempts, 1);
  const changes = await app.database.db.oneFirst(sql.type(z.object({ count: z.number() }))`
    SELECT count(*)::int AS count FROM release_changes c JOIN releases r ON r.id = c.release_id WHERE r.tag = 'v4.0.0'`);
  assert.is(changes, 1, 'one change: created');
});

ingestion.run();

test('after a rename, deliveries under the new name keep their product and the worker reads GitHub by it', async () => {
  const app = await startFakeIngestion({ label: 'ingestion_rename' });
  try {
    const first = app.repository.addTag({ name: 'v1.0.0' });
    const before = tagPushed(app.repo, 'v1.0.0', first.sha).map((delivery) => postDelivery(app.server.url, delivery));
    await app.settled((await Promise.all(before)).map((answer) => answer.deliveryId));
    app.fake.renameRepository('acme/widget', 'acme-corp/widget-ng');
    const renamed = { id: app.repo.id, fullName: 'acme-corp/widget-ng' };
    const second = app.repository.addTag({ name: 'v1.1.0' });
    const answers = await Promise.all(tagPushed(renamed, 'v1.1.0', second.sha).map((delivery) => postDelivery(app.server.url, delivery)));
    for (const answer of answers) assert.is(answer.body.status, 'queued', 'matched by repository id');
    await app.settled(answers.map((answer) => answer.deliveryId));
    for (const answer of answers) assert.is((await readDelivery(app.database.db, answer.deliveryId))?.status, 'processed');
    assert.is((await releaseRows(app.database.db, 'widget')).find((row) => row.tag === 'v1.1.0')?.refSha, second.sha);
    const identity = await app.database.db.one(sql.type(z.object({ id: z.number().nullable(), name: z.string().nullable() }))`
      SELECT github_repository_id AS id, github_full_name AS name FROM products WHERE name = 'widget'`);
    assert.equal(identity, { id: app.repo.id, name: 'acme-corp/widget-ng' });
  } finally {
    await app.close();
  }
});

const productIdentity = (app: FakeIngestion) =>
  app.database.db.one(sql.type(z.object({ id: z.number().nullable(), name: z.string().nullable() }))`
    SELECT github_repository_id AS id, github_full_name AS name FROM products WHERE name = 'widget'`);

test("a delivery of the product's former repository, worked after the products file points it elsewhere, reads the new one", async () => {
  const app = await startFakeIngestion({ label: 'ingestion_redefined', products: [widgetProduct({ repository: 'acme/old-widget' })], startWorker: false });
  try {
    const old = app.fake.addRepository({ owner: 'acme', name: 'old-widget' });
    const stale = old.addTag({ name: 'v9.9.9' });
    const queued = await Promise.all(tagPushed({ id: old.id, fullName: old.fullName }, 'v9.9.9', stale.sha).map((delivery) => postDelivery(app.server.url, delivery)));
    for (const answer of queued) assert.is(answer.body.status, 'queued', 'matched by name to the product as then defined');
    // The operator points the product at acme/widget (deploys run this at migrate and worker start).
    await syncProductDefinitions(app.database.db, [widgetProduct()]);
    await app.startWorker();
    await app.settled(queued.map((answer) => answer.deliveryId));
    assert.equal(await productIdentity(app), { id: app.repo.id, name: 'acme/widget' }, "the product's repository is the one it names now");
    assert.is((await releaseRows(app.database.db, 'widget')).find((row) => row.tag === 'v9.9.9' && !row.deleted), undefined, "acme/widget has no v9.9.9: nothing of acme/old-widget's is written");
    const next = app.repository.addTag({ name: 'v1.0.0' });
    const answers = await Promise.all(tagPushed(app.repo, 'v1.0.0', next.sha).map((delivery) => postDelivery(app.server.url, delivery)));
    for (const answer of answers) assert.is(answer.body.status, 'queued', 'deliveries of acme/widget are the product\'s');
  } finally {
    await app.close();
  }
});

test("a delivery sent before a rename, worked once another repository took the old name, writes nothing and fails saying why", async () => {
  const app = await startFakeIngestion({ label: 'ingestion_name_taken', startWorker: false });
  try {
    // A sync has met the product's repository.
    const widget = await findProductByName(app.database.db, 'widget');
    await recordRepositoryIdentity(app.database.db, [widget!.id], { id: app.repo.id, fullName: app.repo.fullName });

    // Sent under the old name, worked after the rename and after acme/widget became another repository.
    const second = app.repository.addTag({ name: 'v1.1.0' });
    const late = await Promise.all(tagPushed(app.repo, 'v1.1.0', second.sha).map((delivery) => postDelivery(app.server.url, delivery)));
    app.fake.renameRepository('acme/widget', 'acme/widget-ng');
    const squatter = app.fake.addRepository({ owner: 'acme', name: 'widget' });
    squatter.addTag({ name: 'v1.1.0' });
    await app.startWorker();
    await app.settled(late.map((answer) => answer.deliveryId));
    for (const answer of late) {
      const delivery = await readDelivery(app.database.db, answer.deliveryId);
      assert.is(delivery?.status, 'failed');
      assert.match(delivery?.error ?? '', /not product widget's/);
    }
    assert.is((await releaseRows(app.database.db, 'widget')).find((row) => row.tag === 'v1.1.0'), undefined, "nothing of the other repository's is written");
    assert.equal(await productIdentity(app), { id: app.repo.id, name: 'acme/widget' }, 'the identity stays');

    // A delivery under the new name tells it; replayed, the failed ones are read by it.
    const third = app.repository.addTag({ name: 'v1.2.0' });
    const renamed = { id: app.repo.id, fullName: 'acme/widget-ng' };
    const newer = await Promise.all(tagPushed(renamed, 'v1.2.0', third.sha).map((delivery) => postDelivery(app.server.url, delivery)));
    await app.settled(newer.map((answer) => answer.deliveryId));
    assert.equal(await productIdentity(app), { id: app.repo.id, name: 'acme/widget-ng' });
    await replayDeliveries(app.database.db, late.map((answer) => answer.deliveryId));
    await app.settled(late.map((answer) => answer.deliveryId));
    for (const answer of late) assert.is((await readDelivery(app.database.db, answer.deliveryId))?.status, 'processed');
    assert.is((await releaseRows(app.database.db, 'widget')).find((row) => row.tag === 'v1.1.0')?.refSha, second.sha, "the product's own v1.1.0");
  } finally {
    await app.close();
  }
});

test('deliveries queued while no worker runs are applied in one batch: one GitHub query for all their tags', async () => {
  // One batch at a time: two concurrent fetches (SKIP LOCKED) could split the queued jobs between them.
  const app = await startFakeIngestion({ label: 'ingestion_batch', startWorker: false, worker: { concurrency: 1 } });
  try {
    const names = ['v1.0.0', 'v1.0.1', 'v1.1.0', 'v2.0.0-rc.1'];
    const ids: string[] = [];
    for (const name of names) {
      const ref = app.repository.addTag({ name });
      for (const delivery of tagPushed(app.repo, name, ref.sha)) ids.push((await postDelivery(app.server.url, delivery)).deliveryId);
    }
    app.fake.resetRequests();
    await app.startWorker();
    await app.settled(ids);
    assert.equal(app.fake.counts().byEndpoint, { graphql: 1 }, 'eight deliveries, one query');
    const rows = await releaseRows(app.database.db, 'widget');
    assert.equal(rows.map((row) => row.tag), ['v1.0.0', 'v1.0.1', 'v1.1.0', 'v2.0.0-rc.1']);
    assert.ok(rows.every((row) => row.refSha === app.repository.tagRef(row.tag)!.sha));
  } finally {
    await app.close();
  }
});

test.run();
