import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { syncProductDefinitions } from '../src/db/products.ts';
import { sql } from 'slonik';
import { recordDeliveryFailure, storeDeliveries, STORED_DELIVERIES_CHANNEL } from '../src/db/webhook-deliveries.ts';
import { replayDeliveries } from '../src/webhooks/replay-deliveries.ts';
import { startDeliveryEnqueuer } from '../workers/delivery-enqueuer.ts';
import { quietLogger } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { runCli } from './support/processes.ts';
import { fixturePayload, postDelivery, readDelivery, startIntake, TRACKED_REPOSITORY, trackedReleaseDelivery, widgetProduct, type Intake } from './support/webhooks.ts';

// `release-registry replay <delivery-id>...` and `replay --failed`, through the real CLI.

const replay = suite<{ api: Intake; env: Record<string, string> }>('webhook replay', {} as never);

replay.before(async (context) => {
  context.api = await startIntake({ label: 'webhook_replay' });
  context.env = { DATABASE_URL: context.api.database.url, LOG_LEVEL: 'warn' };
});

replay.after(async (context) => {
  await context.api.close();
});

replay('replay --failed queues every failed delivery again; the enqueuer gives them one new job together', async ({ api, env }) => {
  const first = await postDelivery(api.server.url, { event: 'release', payload: fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.0.0' }) });
  const second = await postDelivery(api.server.url, { event: 'create', payload: fixturePayload('create/payload', { repository: TRACKED_REPOSITORY, tag: 'v1.0.1' }) });
  const untouched = await postDelivery(api.server.url, { event: 'create', payload: fixturePayload('create/payload', { repository: TRACKED_REPOSITORY, tag: 'v1.0.2' }) });
  await api.enqueueStored();
  const oldJob = (await readDelivery(api.database.db, first.deliveryId))!.jobId;
  const untouchedJob = (await readDelivery(api.database.db, untouched.deliveryId))!.jobId;
  const secondJob = (await readDelivery(api.database.db, second.deliveryId))!.jobId;
  await recordDeliveryFailure(
    api.database.db,
    [
      { deliveryId: first.deliveryId, jobId: oldJob! },
      { deliveryId: second.deliveryId, jobId: secondJob! },
    ],
    'GitHub unavailable',
    true,
  );

  // The replay wakes the worker's enqueuer, as the intake does.
  const listener = new pg.Client({ connectionString: api.database.url });
  await listener.connect();
  const announced: string[] = [];
  listener.on('notification', (message) => announced.push(message.channel));
  await listener.query(`LISTEN ${STORED_DELIVERIES_CHANNEL}`);
  const result = await runCli(['replay', '--failed'], env).finally(async () => {
    await listener.query('SELECT 1');
    await listener.end();
  });
  assert.is(result.code, 0, result.stderr);
  assert.ok(announced.includes(STORED_DELIVERIES_CHANNEL), 'announced');
  const lines = result.stdout.trim().split('\n').sort();
  assert.is(lines.length, 2, result.stdout);
  for (const deliveryId of [first.deliveryId, second.deliveryId]) {
    const row = await readDelivery(api.database.db, deliveryId);
    assert.is(row?.status, 'queued');
    assert.is(row?.error, null);
    assert.is(row?.jobId, null, 'off its old job, stored as the intake stores a delivery');
    assert.ok(lines.includes(`${deliveryId} queued for widget`), result.stdout);
  }
  // As the worker's enqueuer does: both in one job, not a job each.
  await api.enqueueStored();
  const [firstAfter, secondAfter] = [await readDelivery(api.database.db, first.deliveryId), await readDelivery(api.database.db, second.deliveryId)];
  assert.ok(firstAfter?.jobId);
  assert.is.not(firstAfter?.jobId, oldJob);
  assert.is(secondAfter?.jobId, firstAfter?.jobId);
  const named = (firstAfter?.jobData as { deliveryIds: string[] } | undefined)?.deliveryIds ?? [];
  assert.equal([...named].sort(), [first.deliveryId, second.deliveryId].sort(), 'the new job exists and names both');
  assert.is((await readDelivery(api.database.db, untouched.deliveryId))?.jobId, untouchedJob, 'a delivery that did not fail is left alone');
  const again = await runCli(['replay', '--failed'], env);
  assert.is(again.stdout.trim(), 'no failed deliveries');
});

replay('replay <id> matches products afresh: a delivery ignored for an untracked repository is queued once it is tracked', async ({ api, env }) => {
  const other = { id: 8080, fullName: 'acme/gadget' };
  const ignored = await postDelivery(api.server.url, { event: 'release', payload: fixturePayload('release/published', { repository: other }) });
  assert.is(ignored.body.status, 'ignored');
  const before = await runCli(['replay', ignored.deliveryId], env);
  assert.is(before.code, 0, before.stderr);
  assert.is(before.stdout.trim(), `${ignored.deliveryId} ignored: repository acme/gadget (id 8080) is not a tracked product`);

  await syncProductDefinitions(api.database.db, [widgetProduct(), widgetProduct({ name: 'gadget', repository: other.fullName })]);
  const after = await runCli(['replay', ignored.deliveryId], env);
  assert.is(after.code, 0, after.stderr);
  const row = await readDelivery(api.database.db, ignored.deliveryId);
  assert.is(row?.status, 'queued');
  assert.is(row?.ignoredReason, null);
  assert.is(row?.productIds.length, 1);
  assert.is(after.stdout.trim(), `${ignored.deliveryId} queued for gadget`);
  assert.is(row?.jobId, null, 'the enqueuer gives it its job');
});

replay('replay <known> <unknown> replays the known delivery and reports the unknown one', async ({ api, env }) => {
  const known = await postDelivery(api.server.url, { event: 'create', payload: fixturePayload('create/payload', { repository: TRACKED_REPOSITORY, tag: 'v2.0.0' }) });
  await api.enqueueStored();
  const oldJob = (await readDelivery(api.database.db, known.deliveryId))!.jobId;
  const result = await runCli(['replay', 'no-such-delivery', known.deliveryId], env);
  assert.is(result.code, 1);
  assert.match(result.stderr, /no stored delivery has the id no-such-delivery/);
  const row = await readDelivery(api.database.db, known.deliveryId);
  assert.is(row?.status, 'queued');
  assert.ok(oldJob);
  assert.is(row?.jobId, null, 'the known delivery is off its old job');
  assert.is(result.stdout.trim(), `${known.deliveryId} queued for widget`);

  const malformed = await runCli(['replay', '../etc'], env);
  assert.is(malformed.code, 2);
  assert.match(malformed.stderr, /not a GitHub delivery id: \.\.\/etc/);
});

replay('with an enqueuer running, a replay of many deliveries becomes jobs of up to 100, not a job per delivery', async ({ api }) => {
  const payload = Buffer.from(JSON.stringify(fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v3.0.0' })));
  const failed = Array.from({ length: 150 }, () => trackedReleaseDelivery(payload));
  await storeDeliveries(api.database.db, failed);
  const ids = failed.map((delivery) => delivery.deliveryId);
  await api.database.db.query(sql.unsafe`UPDATE webhook_deliveries SET status = 'failed' WHERE delivery_id = ANY(${sql.array(ids, 'text')})`);
  const enqueuer = startDeliveryEnqueuer({ db: api.database.db, boss: api.boss, databaseUrl: api.database.url, logger: quietLogger });
  try {
    await enqueuer.ready;
    const results = await replayDeliveries(api.database.db, ids);
    assert.ok(results.every((result) => result.status === 'queued'));
    const jobs = await eventually(
      async () => {
        const rows = await Promise.all(ids.map((id) => readDelivery(api.database.db, id)));
        return rows.map((row) => row?.jobId ?? null);
      },
      (jobIds) => jobIds.every((jobId) => jobId !== null),
      'the enqueuer gives every replayed delivery a job',
    );
    // Replayed 100 to a transaction, and a sweep sees a whole transaction or none of it.
    assert.equal([...Map.groupBy(jobs, (jobId) => jobId).values()].map((part) => part.length).sort((a, b) => b - a), [100, 50]);
  } finally {
    await enqueuer.stop();
  }
});

replay('an unknown delivery id stops with exit 1, bad arguments with exit 2, each with one clear line', async ({ env }) => {
  const unknown = await runCli(['replay', 'no-such-delivery'], env);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /no stored delivery has the id no-such-delivery/);
  const neither = await runCli(['replay'], env);
  assert.is(neither.code, 2);
  assert.match(neither.stderr, /name delivery ids or --failed/);
  const both = await runCli(['replay', '--failed', 'x'], env);
  assert.is(both.code, 2);
  const unknownFlag = await runCli(['replay', '--all'], env);
  assert.is(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /usage: release-registry replay/);
});

replay.run();
