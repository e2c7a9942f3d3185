import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { syncProductDefinitions } from '../src/db/products.ts';
import {
  countWrites,
  fixturePayload,
  postDelivery,
  readDelivery,
  startIntake,
  TRACKED_REPOSITORY,
  widgetProduct,
  type Intake,
} from './support/webhooks.ts';
import { parseExposition } from './support/metrics.ts';

// POST /webhooks/github with real payloads: what is answered and stored, and the job the worker's
// enqueuer then gives it (`enqueueStored`, run here by the test).

const intake = suite<{ api: Intake }>('webhook intake', {} as never);

intake.before(async (context) => {
  context.api = await startIntake({ label: 'webhook_intake' });
});

intake.after(async (context) => {
  await context.api.close();
});

intake('a signed release delivery (JSON) is stored with its job and answered 202', async ({ api }) => {
  const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.2.3' });
  const answer = await postDelivery(api.server.url, { event: 'release', payload });
  assert.is(answer.status, 202);
  assert.equal(answer.body, { deliveryId: answer.deliveryId, status: 'queued' });

  const row = await readDelivery(api.database.db, answer.deliveryId);
  assert.ok(row, 'stored');
  assert.is(row.event, 'release');
  assert.is(row.action, 'published');
  assert.is(row.status, 'queued');
  assert.is(row.repositoryId, TRACKED_REPOSITORY.id);
  assert.is(row.repositoryFullName, TRACKED_REPOSITORY.fullName);
  assert.is(row.hookId, 292430182);
  assert.is(row.productIds.length, 1);
  assert.equal(row.payload, payload, 'the payload is stored as GitHub sent it');
  assert.is(row.headers['x-github-event'], 'release');
  assert.is(row.headers['x-github-delivery'], answer.deliveryId);
  assert.is(row.headers['x-github-hook-installation-target-type'], 'repository');
  assert.not.ok('x-hub-signature-256' in row.headers, 'the signature is not kept');
  assert.is(row.jobId, null, 'stored before its job: the worker enqueues it');
  await api.enqueueStored();
  assert.equal((await readDelivery(api.database.db, answer.deliveryId))?.jobData, { deliveryIds: [answer.deliveryId] }, 'its process-delivery job exists');
});

intake('a form-encoded delivery (payload=…) is verified over the raw form body and stored', async ({ api }) => {
  const payload = fixturePayload('create/payload', { repository: TRACKED_REPOSITORY, tag: 'v2.0.0' });
  const answer = await postDelivery(api.server.url, { event: 'create', payload, contentType: 'form' });
  assert.is(answer.status, 202);
  assert.is(answer.body.status, 'queued');
  const row = await readDelivery(api.database.db, answer.deliveryId);
  assert.ok(row);
  assert.equal(row.payload, payload);
  await api.enqueueStored();
  assert.equal((await readDelivery(api.database.db, answer.deliveryId))?.jobData, { deliveryIds: [answer.deliveryId] });
});

intake('every handled fixture is accepted once rewritten to the tracked repository', async ({ api }) => {
  const handled = [
    ['release', 'release/created'],
    ['release', 'release/created.with-discussion-url'],
    ['release', 'release/created.with-installation'],
    ['release', 'release/deleted'],
    ['release', 'release/deleted.with-reactions'],
    ['release', 'release/edited'],
    ['release', 'release/edited.with-reactions'],
    ['release', 'release/prereleased'],
    ['release', 'release/prereleased.with-discussion-url'],
    ['release', 'release/published.with-discussion-url'],
    ['release', 'release/released'],
    ['create', 'create/with-description'],
    ['create', 'create/with-installation'],
    ['create', 'create/with-organization'],
    ['delete', 'delete/payload'],
    ['delete', 'delete/with-installation'],
    ['delete', 'delete/with-organization'],
    ['push', 'push/1'],
    ['push', 'push/payload'],
    ['push', 'push/with-installation'],
    ['push', 'push/with-organization'],
  ] as const;
  for (const [event, fixture] of handled) {
    const answer = await postDelivery(api.server.url, { event, payload: fixturePayload(fixture, { repository: TRACKED_REPOSITORY }) });
    assert.is(answer.status, 202, fixture);
    assert.is(answer.body.status, 'queued', fixture);
    await api.enqueueStored();
    const row = await readDelivery(api.database.db, answer.deliveryId);
    assert.is(row?.status, 'queued', fixture);
    assert.equal(row?.jobData, { deliveryIds: [answer.deliveryId] }, fixture);
  }
});

intake('ping is answered 200 and recorded as ignored, without a job', async ({ api }) => {
  for (const fixture of ['ping/payload', 'ping/with-app_id', 'ping/with-organization']) {
    const answer = await postDelivery(api.server.url, { event: 'ping', payload: fixturePayload(fixture) });
    assert.is(answer.status, 200, fixture);
    assert.equal(answer.body, { deliveryId: answer.deliveryId, status: 'ignored', reason: 'ping' });
    const row = await readDelivery(api.database.db, answer.deliveryId);
    assert.is(row?.status, 'ignored');
    assert.is(row?.jobId, null);
  }
});

intake('an untracked repository is answered 202 and recorded as ignored with the reason', async ({ api }) => {
  // The fixture as GitHub sent it: Codertocat/Hello-World is no product here.
  const answer = await postDelivery(api.server.url, { event: 'release', payload: fixturePayload('release/published') });
  assert.is(answer.status, 202);
  assert.is(answer.body.status, 'ignored');
  assert.is(answer.body.reason, 'repository Codertocat/Hello-World (id 186853002) is not a tracked product');
  const row = await readDelivery(api.database.db, answer.deliveryId);
  assert.is(row?.status, 'ignored');
  assert.is(row?.ignoredReason, answer.body.reason);
  assert.is(row?.jobId, null);
  assert.equal(row?.productIds, []);
});

intake('events and actions we do not handle are answered 202 and recorded as ignored', async ({ api }) => {
  const cases = [
    { event: 'push', fixture: 'push/with-new-branch', reason: 'push to refs/heads/master is not a tag push' },
    { event: 'push', fixture: 'push/with-no-username-committer', reason: 'push to refs/heads/master is not a tag push' },
    { event: 'issues', fixture: 'release/published', reason: 'event "issues" is not handled' },
  ];
  for (const { event, fixture, reason } of cases) {
    const answer = await postDelivery(api.server.url, { event, payload: fixturePayload(fixture, { repository: TRACKED_REPOSITORY }) });
    assert.is(answer.status, 202, fixture);
    assert.equal(answer.body, { deliveryId: answer.deliveryId, status: 'ignored', reason });
    const row = await readDelivery(api.database.db, answer.deliveryId);
    assert.is(row?.ignoredReason, reason);
    assert.is(row?.jobId, null);
  }
  const branch = fixturePayload('create/payload', { repository: TRACKED_REPOSITORY });
  branch.ref_type = 'branch';
  const created = await postDelivery(api.server.url, { event: 'create', payload: branch });
  assert.is(created.status, 202);
  assert.is(created.body.reason, 'create of a branch is not handled');
  const assigned = fixturePayload('release/published', { repository: TRACKED_REPOSITORY });
  assigned.action = 'assigned';
  const unknownAction = await postDelivery(api.server.url, { event: 'release', payload: assigned });
  assert.is(unknownAction.status, 202);
  assert.is(unknownAction.body.reason, 'release action "assigned" is not handled');
});

intake('a repeated X-GitHub-Delivery is answered 200 and not queued again', async ({ api }) => {
  const payload = fixturePayload('release/released', { repository: TRACKED_REPOSITORY, tag: 'v3.0.0' });
  const first = await postDelivery(api.server.url, { event: 'release', payload });
  assert.is(first.status, 202);
  await api.enqueueStored();
  const before = await countWrites(api.database.db);
  const again = await postDelivery(api.server.url, { event: 'release', payload, deliveryId: first.deliveryId });
  assert.is(again.status, 200);
  assert.equal(again.body, { deliveryId: first.deliveryId, status: 'duplicate' });
  await api.enqueueStored();
  assert.equal(await countWrites(api.database.db), before, 'no second row, no second job');
  const row = await readDelivery(api.database.db, first.deliveryId);
  assert.is(row?.status, 'queued');
});

intake("GitHub's redelivery of a failed delivery, or of one no product matched that one matches now, is queued again", async ({ api }) => {
  const { db } = api.database;
  const payload = fixturePayload('release/released', { repository: TRACKED_REPOSITORY, tag: 'v3.1.0' });
  const first = await postDelivery(api.server.url, { event: 'release', payload });
  await api.enqueueStored();
  await db.query(sql.unsafe`UPDATE webhook_deliveries SET status = 'failed', error = 'GitHub was away' WHERE delivery_id = ${first.deliveryId}`);
  const redelivered = await postDelivery(api.server.url, { event: 'release', payload, deliveryId: first.deliveryId });
  assert.is(redelivered.status, 202);
  assert.equal(redelivered.body, { deliveryId: first.deliveryId, status: 'queued' });
  const row = await readDelivery(db, first.deliveryId);
  assert.equal([row?.status, row?.error, row?.jobId], ['queued', null, null], 'stored again as new, for the enqueuer');
  await api.enqueueStored();
  assert.ok((await readDelivery(db, first.deliveryId))?.jobId, 'and given a job');

  const elsewhere = { id: 4_242, fullName: 'acme/gadget' };
  const untracked = fixturePayload('release/released', { repository: elsewhere, tag: 'v1.0.0' });
  const ignored = await postDelivery(api.server.url, { event: 'release', payload: untracked });
  assert.is(ignored.body.status, 'ignored');
  const again = await postDelivery(api.server.url, { event: 'release', payload: untracked, deliveryId: ignored.deliveryId });
  assert.equal([again.status, again.body.status], [200, 'duplicate'], 'still no product: left as it was');
  await syncProductDefinitions(db, [widgetProduct(), widgetProduct({ name: 'gadget', repository: elsewhere.fullName })]);
  const tracked = await postDelivery(api.server.url, { event: 'release', payload: untracked, deliveryId: ignored.deliveryId });
  assert.equal([tracked.status, tracked.body.status], [202, 'queued'], 'its repository is a product now');

  const stillQueued = await postDelivery(api.server.url, { event: 'release', payload, deliveryId: first.deliveryId });
  assert.equal([stillQueued.status, stillQueued.body.status], [200, 'duplicate'], 'a queued delivery is not stored again');
});

intake('the same delivery arriving many times at once is stored and queued exactly once', async ({ api }) => {
  const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v4.0.0' });
  const deliveryId = crypto.randomUUID();
  const before = await countWrites(api.database.db);
  const answers = await Promise.all(Array.from({ length: 12 }, () => postDelivery(api.server.url, { event: 'release', payload, deliveryId })));
  const statuses = answers.map((answer) => answer.status).sort();
  assert.equal(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
  await api.enqueueStored();
  const after = await countWrites(api.database.db);
  assert.equal(after, { deliveries: before.deliveries + 1, jobs: before.jobs + 1 });
});

intake('a delivery matches a product by repository id after a rename, and every product sharing the repository', async ({ api }) => {
  const { syncProductDefinitions, recordRepositoryIdentity } = await import('../src/db/products.ts');
  const { widgetProduct } = await import('./support/webhooks.ts');
  const products = await syncProductDefinitions(api.database.db, [
    widgetProduct(),
    widgetProduct({ name: 'widget-app', tagPattern: '^app/v(?<version>\\d+\\.\\d+\\.\\d+)$' }),
  ]);
  await recordRepositoryIdentity(
    api.database.db,
    products.map((product) => product.id),
    TRACKED_REPOSITORY,
  );
  const renamed = fixturePayload('release/published', { repository: { id: TRACKED_REPOSITORY.id, fullName: 'acme-corp/widget-ng' } });
  const answer = await postDelivery(api.server.url, { event: 'release', payload: renamed });
  assert.is(answer.status, 202);
  assert.is(answer.body.status, 'queued');
  const row = await readDelivery(api.database.db, answer.deliveryId);
  assert.equal(row?.productIds.sort(), products.map((product) => product.id).sort());
});

intake('every answer is counted by outcome in release_registry_webhook_deliveries_total', async ({ api }) => {
  const counts = async () => {
    const exposition = parseExposition(await (await fetch(`${api.server.url}/metrics`)).text());
    const family = exposition.get('release_registry_webhook_deliveries_total');
    return Object.fromEntries((family?.samples ?? []).map((sample) => [sample.labels.outcome, sample.value]));
  };
  const before = await counts();
  const payload = fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v5.0.0' });
  const accepted = await postDelivery(api.server.url, { event: 'release', payload });
  await postDelivery(api.server.url, { event: 'release', payload, deliveryId: accepted.deliveryId });
  await postDelivery(api.server.url, { event: 'release', payload, secret: 'wrong-secret' });
  await postDelivery(api.server.url, { event: 'ping', payload: fixturePayload('ping/payload') });
  const after = await counts();
  const delta = (outcome: string) => (after[outcome] ?? 0) - (before[outcome] ?? 0);
  assert.equal(
    { accepted: delta('accepted'), duplicate: delta('duplicate'), unauthorized: delta('unauthorized'), ping: delta('ping'), invalid: delta('invalid') },
    { accepted: 1, duplicate: 1, unauthorized: 1, ping: 1, invalid: 0 },
  );
});

intake.run();
