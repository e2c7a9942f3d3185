import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { releaseEvent, tagDeleted, tagMoved, tagPushed } from './support/github-events.ts';
import { releaseRows, startIngestion, type Ingestion } from './support/ingestion.ts';
import { MemoryRepository } from './support/memory-github.ts';
import { postDelivery, readDelivery, TRACKED_REPOSITORY, type Delivery } from './support/webhooks.ts';

// Real payloads (rewritten to the tracked repository and re-signed) go through the intake and the
// worker; the rows must say what GitHub says now.

const ingestion = suite<{ app: Ingestion; github: MemoryRepository }>('webhook ingestion', {} as never);

ingestion.before(async (context) => {
  context.github = new MemoryRepository(TRACKED_REPOSITORY.id, TRACKED_REPOSITORY.fullName);
  context.app = await startIngestion({ label: 'ingestion', readTagStates: context.github.reader });
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

ingestion('a pushed tag (create + push) becomes a release with its sha and date; the delivery is processed', async ({ app, github }) => {
  const fact = github.addTag({ name: 'v1.0.0', taggedAt: new Date('2024-03-01T10:00:00Z') });
  const ids = await deliver(app, tagPushed(TRACKED_REPOSITORY, 'v1.0.0', fact.gitSha!));
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
  assert.equal(identity, { id: TRACKED_REPOSITORY.id, name: TRACKED_REPOSITORY.fullName }, "GitHub's id and name are remembered");
});

ingestion('a published release makes the version public, with the release fields', async ({ app, github }) => {
  github.addTag({ name: 'v1.1.0' });
  const release = github.createRelease({ tagName: 'v1.1.0', name: 'One point one', publishedAt: new Date('2024-04-02T08:00:00Z') });
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'published', release)]);
  const published = await row(app, 'v1.1.0');
  assert.ok(published);
  assert.is(published.public, true);
  assert.is(published.githubReleaseId, release.id);
  assert.is(published.releaseName, 'One point one');
  assert.equal(published.promotedAt, new Date('2024-04-02T08:00:00Z'));
  assert.is(published.isDevelopment, false);
});

ingestion('prereleased marks the version as development; unpublished makes it private again; deleted removes the release', async ({ app, github }) => {
  github.addTag({ name: 'v1.2.0' });
  const release = github.createRelease({ tagName: 'v1.2.0', prerelease: true });
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'prereleased', release)]);
  let current = await row(app, 'v1.2.0');
  assert.is(current?.public, true);
  assert.is(current?.isDevelopment, true);

  github.editRelease(release.id, { draft: true });
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'unpublished', github.release(release.id)!)]);
  current = await row(app, 'v1.2.0');
  assert.is(current?.public, false);
  assert.is(current?.releaseDraft, true);

  github.deleteRelease(release.id);
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'deleted', release)]);
  current = await row(app, 'v1.2.0');
  assert.is(current?.githubReleaseId, null);
  assert.is(current?.public, false);
  assert.is(current?.deleted, false, 'the tag itself is still there');
});

ingestion('a force-pushed tag moves; a deleted tag is tombstoned, and revived when pushed again', async ({ app, github }) => {
  github.addTag({ name: 'v2.0.0' });
  await deliver(app, tagPushed(TRACKED_REPOSITORY, 'v2.0.0', github.tag('v2.0.0')!.gitSha!));
  const moved = github.moveTag('v2.0.0');
  await deliver(app, tagMoved(TRACKED_REPOSITORY, 'v2.0.0', moved.gitSha!));
  assert.is((await row(app, 'v2.0.0'))?.gitSha, moved.gitSha);

  github.deleteTag('v2.0.0');
  await deliver(app, tagDeleted(TRACKED_REPOSITORY, 'v2.0.0'));
  assert.is((await row(app, 'v2.0.0'))?.deleted, true);

  const again = github.addTag({ name: 'v2.0.0' });
  await deliver(app, tagPushed(TRACKED_REPOSITORY, 'v2.0.0', again.gitSha!));
  const revived = await row(app, 'v2.0.0');
  assert.is(revived?.deleted, false);
  assert.is(revived?.gitSha, again.gitSha);
  const kinds = await app.database.db.anyFirst(sql.type(z.object({ kind: z.string() }))`
    SELECT c.kind FROM release_changes c JOIN releases r ON r.id = c.release_id WHERE r.tag = 'v2.0.0' ORDER BY c.id`);
  assert.equal([...kinds], ['created', 'moved', 'deleted', 'revived']);
});

ingestion("an edit that renames a release's tag moves the release from the old tag to the new one", async ({ app, github }) => {
  github.addTag({ name: 'v3.0.0' });
  github.addTag({ name: 'v3.0.1' });
  const release = github.createRelease({ tagName: 'v3.0.0' });
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'published', release)]);
  assert.is((await row(app, 'v3.0.0'))?.githubReleaseId, release.id);
  github.editRelease(release.id, { tagName: 'v3.0.1' });
  await deliver(app, [releaseEvent(TRACKED_REPOSITORY, 'edited', github.release(release.id)!, { previousTag: 'v3.0.0' })]);
  assert.is((await row(app, 'v3.0.0'))?.githubReleaseId, null);
  assert.is((await row(app, 'v3.0.0'))?.public, false);
  assert.is((await row(app, 'v3.0.1'))?.githubReleaseId, release.id);
  assert.is((await row(app, 'v3.0.1'))?.public, true);
});

ingestion('a tag the product pattern does not match is skipped, and its delivery still processed', async ({ app, github }) => {
  const fact = github.addTag({ name: 'nightly' });
  const ids = await deliver(app, tagPushed(TRACKED_REPOSITORY, 'nightly', fact.gitSha!));
  assert.is(await row(app, 'nightly'), undefined);
  for (const id of ids) assert.is((await readDelivery(app.database.db, id))?.status, 'processed');
});

ingestion('a delivery sent twice (redelivery) is processed once', async ({ app, github }) => {
  github.addTag({ name: 'v4.0.0' });
  const [delivery] = tagPushed(TRACKED_REPOSITORY, 'v4.0.0', github.tag('v4.0.0')!.gitSha!);
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
