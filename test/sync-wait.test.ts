import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QUEUES } from '../src/queues.ts';
import { waitForOutcome } from '../src/sync/sync-command.ts';
import type { SyncRunResult } from '../src/sync/sync-progress.ts';
import { createTestDatabase } from './support/database.ts';
import { startFakeGitHub } from './support/fake-github/index.ts';
import { startTestSyncWorker } from './support/sync.ts';

// `sync --wait` follows a sync that was handed on to another job (its worker stopped, or its run
// was reset) and reports where the sync ended, rather than "deferred for a rate limit" (exit 75) or
// "not run" (exit 1).

const result = (outcome: SyncRunResult['outcome']): SyncRunResult => ({
  product: 'helm',
  runId: 1,
  mode: 'full',
  releasesPass: 'full',
  outcome,
  tags: { listed: 261, added: 258, updated: 0, moved: 0, revived: 0, unchanged: 0, tombstoned: 0, skipped: 3, dropped: 0, read: 0 },
  releases: { listed: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, dropped: 0, pages: 0 },
  requests: 4,
  notModified: 0,
  points: { core: 1, graphql: 3, total: 4 },
  attempts: outcome === 'succeeded' ? 2 : 1,
  durationMs: 10,
  writeMs: 1,
  tagListingWriteMs: 1,
});

test('sync --wait follows a handed-on sync to the job that finished it', async () => {
  const database = await createTestDatabase({ label: 'sync_wait' });
  const fake = await startFakeGitHub();
  const { boss, stop } = await startTestSyncWorker(database, fake, { work: false });
  try {
    // Three jobs of one product, one after the other (the queue is exclusive): handed on by a
    // stopping worker, then reset under the next one, then finished.
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const outputs = [
      { ...result('deferred'), error: 'the worker stopped: the run goes on in a new job', handedOn: true, nextJobId: ids[1] },
      { superseded: true, nextJobId: ids[2] },
      result('succeeded'),
    ];
    for (const [index, id] of ids.entries()) {
      await boss.send(QUEUES.syncProduct, { product: 'helm', reason: 'cli' }, { id, singletonKey: 'helm' });
      const [job] = await boss.fetch(QUEUES.syncProduct);
      assert.is(job?.id, id);
      await boss.complete(QUEUES.syncProduct, id, outputs[index]);
    }
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const code = await waitForOutcome(boss, ids[0]!, 10, out);
    assert.is(code, 0, printed);
    assert.match(printed, `job ${ids[0]} handed the sync on to job ${ids[1]}`);
    assert.match(printed, `job ${ids[1]} handed the sync on to job ${ids[2]}`);
    assert.match(printed, /sync of helm succeeded/);
  } finally {
    await stop();
    await fake.close();
    await database.drop();
  }
});

test.run();
