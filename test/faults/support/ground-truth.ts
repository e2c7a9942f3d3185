import { randomUUID } from 'node:crypto';
import * as assert from 'uvu/assert';
import type { Queryable } from '../../../src/db/pool.ts';
import { syncProduct } from '../../../src/sync/sync-product.ts';
import { createTestDatabase, quietLogger } from '../../support/database.ts';
import type { FakeGitHub } from '../../support/fake-github/index.ts';
import { fakeClient } from '../../support/github.ts';
import { releaseRows, type ReleaseRow } from '../../support/release-rows.ts';
import { defineProducts } from '../../support/sync.ts';
import type { ProductSpec } from './fault-stack.ts';

// The ground truth a scenario's database is compared with: a full sync of the fake GitHub's final
// state into a database of its own, by the sync code in this process, with no fault injected and
// nothing else running. Whatever path the scenario's rows took (webhooks through killed processes,
// syncs through 5xx and rate limits), the releases a client can see must be these.

/** The live release rows (tombstones left out: a fresh full sync has none) a full sync writes now. */
export async function fullSyncRows(fake: FakeGitHub, product: ProductSpec): Promise<ReleaseRow[]> {
  fake.clearFaults();
  for (const resource of ['core', 'graphql'] as const) fake.setRateLimit(resource, { remaining: fake.rateLimit(resource).limit });
  const truth = await createTestDatabase({ label: 'ground_truth' });
  try {
    const defined = (await defineProducts(truth.db, [product])).get(product.name)!;
    const attempt = await syncProduct({ db: truth.db, client: fakeClient(fake), logger: quietLogger, product: defined, owner: randomUUID(), mode: 'full' });
    if (attempt.outcome !== 'succeeded') throw new Error(`the reference sync did not succeed: ${JSON.stringify(attempt.result)}`);
    return liveRows(await releaseRows(truth.db, product.name));
  } finally {
    await truth.drop();
  }
}

export function liveRows(rows: readonly ReleaseRow[]): ReleaseRow[] {
  return rows.filter((row) => !row.deleted);
}

/** Asserts that the product's live rows in `db` are exactly the full sync's, row by row. */
export async function assertMatchesFullSync(db: Queryable, fake: FakeGitHub, product: ProductSpec): Promise<{ rows: number }> {
  const expected = await fullSyncRows(fake, product);
  const actual = liveRows(await releaseRows(db, product.name));
  const byTag = new Map(expected.map((row) => [row.tag, row]));
  const wrong = actual.filter((row) => JSON.stringify(row) !== JSON.stringify(byTag.get(row.tag)));
  const missing = expected.filter((row) => !actual.some((other) => other.tag === row.tag));
  assert.ok(
    wrong.length === 0 && missing.length === 0,
    `${product.name}: ${wrong.length} rows differ from a full sync, ${missing.length} missing; first: ${JSON.stringify(wrong[0] ?? missing[0])} expected ${JSON.stringify(byTag.get((wrong[0] ?? missing[0])?.tag ?? ''))}`,
  );
  assert.is(actual.length, expected.length);
  assert.ok(expected.length > 0, 'the comparison is not vacuous');
  return { rows: actual.length };
}
