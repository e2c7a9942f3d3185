import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { syncProductDefinitions } from '../src/db/products.ts';
import { setChangeSource, upsertGithubReleases, upsertTags } from '../src/db/releases.ts';
import { replayDeliveries } from '../src/webhooks/replay-deliveries.ts';
import { randomChange } from './support/github-changes.ts';
import { fullState, startFakeIngestion } from './support/ingestion.ts';
import { releaseRows, type ReleaseRow } from './support/release-rows.ts';
import { seededRandom } from './support/seeded-random.ts';
import { postDelivery, widgetProduct, type Delivery } from './support/webhooks.ts';

// Any order of events, duplicates and replays converges to the rows a full sync of GitHub's final
// state writes. GitHub changes step by step (tags pushed, moved, deleted; releases created,
// published, unpublished, renamed, deleted); each step's deliveries join a pool from which random
// subsets are sent, concurrently and out of order, while GitHub keeps changing; some are sent twice
// under the same delivery id, some again under a new one. The worker reads the fake GitHub through
// the real client. The reference is a product of another repository that receives GitHub's final
// state in full (every tag, every release) through the sync's writers.

const SEED = Number(process.env.CONVERGENCE_SEED ?? 20_261_129);
const STEPS = 160;
const NAMES = ['v1.0.0', 'v1.0.1', 'v1.1.0', '1.1.0', 'v1.2.0-rc.1', 'v1.2.0', 'v2.0.0+build.5', 'v2.0.0', 'nightly'];

const comparable = (rows: ReleaseRow[]) => rows.map(({ deleted: _deleted, ...row }) => row);

test('a shuffled stream of real deliveries with duplicates converges to the full-sync state, and replaying it changes nothing', async () => {
  const rand = seededRandom(SEED);
  const latency = seededRandom(SEED + 1);
  const app = await startFakeIngestion({
    label: 'convergence',
    products: [widgetProduct(), widgetProduct({ name: 'reference', repository: 'acme/reference' })],
    worker: { batchSize: 10, concurrency: 2 },
    // Answers come back after a little random latency, so that a worker slot that read GitHub
    // earlier may try to write after one that read it later (what the product lock is for).
    wrapReader: (reader) => async (repository, names) => {
      const states = await reader(repository, names);
      // Its own generator: the changes GitHub goes through stay a function of the seed alone.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(latency() * 6)));
      return states;
    },
  });
  const github = app.repository;
  const repo = app.repo;
  try {
    const pending: Delivery[] = [];
    const sent: Array<{ delivery: Delivery; deliveryId: string }> = [];
    const accepted: string[] = [];
    let duplicatesAnswered = 0;
    const send = async (deliveries: Array<Delivery & { deliveryId?: string }>) => {
      const answers = await Promise.all(deliveries.map((delivery) => postDelivery(app.server.url, delivery)));
      answers.forEach((answer, index) => {
        if (answer.status === 202) accepted.push(answer.deliveryId);
        else if (answer.status === 200 && answer.body.status === 'duplicate') duplicatesAnswered += 1;
        else assert.unreachable(`unexpected answer ${answer.status} ${JSON.stringify(answer.body)}`);
        sent.push({ delivery: deliveries[index]!, deliveryId: answer.deliveryId });
      });
    };

    for (let index = 0; index < STEPS; index += 1) {
      pending.push(...randomChange(github, repo, rand, { names: NAMES }));
      if (rand() < 0.4 && pending.length > 0) {
        const burst: Array<Delivery & { deliveryId?: string }> = [];
        for (let count = 1 + Math.floor(rand() * 6); count > 0 && pending.length > 0; count -= 1) {
          burst.push(pending.splice(Math.floor(rand() * pending.length), 1)[0]!);
        }
        const earlier = sent[Math.floor(rand() * sent.length)];
        // GitHub redelivers under the same id; a second hook (or a manual resend) under a new one.
        if (earlier !== undefined && rand() < 0.5) burst.push({ ...earlier.delivery, deliveryId: earlier.deliveryId });
        if (earlier !== undefined && rand() < 0.3) burst.push({ ...earlier.delivery });
        await send(burst);
      }
    }
    while (pending.length > 0) await send(pending.splice(0, 10).sort(() => rand() - 0.5));
    await app.settled(accepted, 60_000);
    assert.ok(duplicatesAnswered > 0, 'the stream held redeliveries');

    // The reference: GitHub's final state written in full by the sync's writers.
    const reference = (await syncProductDefinitions(app.database.db, [widgetProduct(), widgetProduct({ name: 'reference', repository: 'acme/reference' })])).find(
      (product) => product.name === 'reference',
    );
    const final = fullState(github);
    await app.database.db.transaction(async (transaction) => {
      await setChangeSource(transaction, 'sync');
      await upsertTags(transaction, reference!, final.tags);
      await upsertGithubReleases(transaction, reference!.id, final.releases);
    });
    const expected = await releaseRows(app.database.db, 'reference');
    assert.ok(expected.length >= 3, `the final state has releases (${expected.length})`);
    assert.ok(expected.some((row) => row.public) && expected.some((row) => !row.public), 'public and private ones');

    const converged = async () => {
      const rows = await releaseRows(app.database.db, 'widget');
      assert.equal(comparable(rows.filter((row) => !row.deleted)), comparable(expected), 'live rows equal the full sync');
      const finalNames = new Set(github.tagNames());
      for (const row of rows.filter((candidate) => candidate.deleted)) assert.not.ok(finalNames.has(row.tag), `${row.tag} is tombstoned but exists`);
    };
    await converged();

    // Replaying every stored delivery, in any order, changes nothing.
    await replayDeliveries(app.database.db, [...accepted].sort(() => rand() - 0.5));
    await app.settled(accepted, 60_000);
    await converged();
  } finally {
    await app.close();
  }
});

test.run();
